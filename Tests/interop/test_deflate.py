"""permessage-deflate (RFC 7692) against the spawned lantern binary, with an independent peer:
the Python `websockets` client and raw frames built here with Python's zlib.

Run: python -m pytest -q Tests/interop   (LANTERN_BIN selects the binary; default .build/debug/lantern)
"""
import asyncio
import base64
import os
import re
import select
import socket
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("LANTERN_BIN") or str(ROOT / ".build" / "debug" / "lantern")
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]
# LANTERN_EMULATED=1: the binary runs under qemu-user (CI's ARM builds); anything measured
# differently for that prints an "EMULATED:" line.
EMULATED = os.environ.get("LANTERN_EMULATED") == "1"


def guest_rss_kb(pid):
    """Under qemu-user VmRSS also holds qemu's own memory (its executable, translated code and a
    glibc heap that grows with every guest thread it has run), none of it the server's. qemu puts
    the guest at guest_base 0 (a 32-bit guest below 4 GiB; aarch64's image at 0x200000, its mmaps
    from 0x5500000000) and its own brk heap and image above (0x55..., 0x7f...), its mmaps higher
    still: the guest's share is the Rss of the mappings below both qemu's [heap] and its executable
    image. None if no file-backed mapping (the guest binary) lies there. Same rule as ProcStat.residentKB in the Swift suite."""
    exe = os.readlink(f"/proc/{pid}/exe")
    maps = []
    for line in open(f"/proc/{pid}/smaps"):
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            fields = line.split(None, 5)
            maps.append([int(fields[0].split("-")[0], 16), fields[5].strip() if len(fields) > 5 else "", 0])
        elif line.startswith("Rss:") and maps:
            maps[-1][2] = int(line.split()[1])
    host = [start for start, path, _ in maps if path in (exe, "[heap]")]
    if not host:
        return None
    guest = [m for m in maps if m[0] < min(host)]
    if not any(path.startswith("/") for _, path, _ in guest):
        return None
    return sum(rss for _, _, rss in guest)


class Server:
    def __init__(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
        self.proc = subprocess.Popen(
            [BIN, "--host", "127.0.0.1", "--port", "0", "--greeting", "", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        # A server that never prints its first line must fail the test, not hang the run.
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.proc.kill()
            raise AssertionError("server printed nothing within 10 s")
        line = self.proc.stdout.readline().decode()
        match = re.search(r":(\d+)\s*$", line)
        assert match, f"no port in first line: {line!r}"
        self.port = int(match.group(1))
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def rss_kb(self, note=None):
        """VmRSS; under emulation the guest's share (guest_rss_kb), reported through `note`."""
        vm = 0
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                vm = int(line.split()[1])
        if not EMULATED:
            return vm
        guest = guest_rss_kb(self.proc.pid)
        if guest is None:
            note and note("cannot tell the guest's memory from qemu's in smaps: RSS includes qemu's")
            return vm
        note and note("RSS is the guest's mappings, not VmRSS: "
                      "qemu's own heap and translated code grow with every thread it runs")
        return guest

    def stop(self):
        self.proc.terminate()
        try:
            assert self.proc.wait(timeout=5) == 0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def payloads(size):
    text = ("Lantern échoes {\"n\": %d, \"ok\": true} " * (size // 30 + 1)).encode()[:size]
    text = text.decode("utf-8", errors="ignore")
    return [text, os.urandom(size)]


async def echo_all(url, factory):
    async with websockets.connect(url, extensions=[factory], max_size=None, open_timeout=10) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        for size in SIZES:
            for message in payloads(size):
                await ws.send(message)
                echoed = await asyncio.wait_for(ws.recv(), 20)
                assert echoed == message, f"size {size} {type(message).__name__}"
        return agreed


@pytest.mark.parametrize("bits", [9, 10, 11, 12, 13, 14, 15])
@pytest.mark.parametrize("no_context", [False, True])
def test_echo_with_client_window_bits(server, bits, no_context):
    factory = ClientPerMessageDeflateFactory(
        client_max_window_bits=bits, client_no_context_takeover=no_context,
        server_no_context_takeover=no_context)
    agreed = asyncio.run(echo_all(server.url, factory))
    assert agreed and agreed.startswith("permessage-deflate")
    if no_context:
        assert "server_no_context_takeover" in agreed


@pytest.mark.parametrize("bits", [8, 9, 12, 15])
def test_echo_with_server_window_bits(server, bits):
    factory = ClientPerMessageDeflateFactory(server_max_window_bits=bits)
    agreed = asyncio.run(echo_all(server.url, factory))
    assert f"server_max_window_bits={min(bits, 12)}" in agreed


def test_client_window_without_value_is_limited_by_the_server(server):
    agreed = asyncio.run(echo_all(server.url, ClientPerMessageDeflateFactory(client_max_window_bits=True)))
    assert "client_max_window_bits=14" in agreed


def test_no_deflate_flag_declines():
    s = Server("--no-deflate")
    try:
        agreed = asyncio.run(echo_all(s.url, ClientPerMessageDeflateFactory()))
        assert agreed is None
    finally:
        s.stop()


def test_spent_budget_declines_deflate_for_new_connections():
    """--deflate-budget covers inflaters: a client that agreed to deflate may send a compressed
    message at any time, so its inflater's memory (14-bit window here: ~24 KB) is promised when
    deflate is agreed. One promise fits in 40,000 bytes, two do not, even before any message."""
    async def run(url):
        factory = ClientPerMessageDeflateFactory
        async with websockets.connect(url, extensions=[factory()], open_timeout=10) as first:
            assert first.response.headers.get("Sec-WebSocket-Extensions") is not None
            async with websockets.connect(url, extensions=[factory()], open_timeout=10) as second:
                assert second.response.headers.get("Sec-WebSocket-Extensions") is None
                await first.send("a compressed message makes the server create its inflater " * 20)
                await asyncio.wait_for(first.recv(), 10)
                await second.send("still served, uncompressed")
                assert await asyncio.wait_for(second.recv(), 10) == "still served, uncompressed"
        # Both gone: once the server's threads have let go of them (just after the clients see
        # the close), the promise is back and a new client gets deflate again.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while True:
            async with websockets.connect(url, extensions=[factory()], open_timeout=10) as third:
                if third.response.headers.get("Sec-WebSocket-Extensions") is not None:
                    break
            assert loop.time() < deadline, "deflate still declined 5 s after the clients left"
            await asyncio.sleep(0.05)

    s = Server("--deflate-budget", "40000")
    try:
        asyncio.run(run(s.url))
    finally:
        s.stop()


# ---------------------------------------------------------------- raw frames

def handshake(port, extensions="permessage-deflate"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if extensions:
        request += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    sock.sendall((request + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "closed during handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, head.decode()


def frame(opcode, payload, fin=True, rsv1=False):
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return header + mask + masked


def read_close_code(sock, timeout=20):
    """Reads frames until a close frame; returns its code (None if TCP ended first)."""
    sock.settimeout(timeout)
    buffer = b""
    while True:
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length = struct.unpack("!H", buffer[2:4])[0]
                offset = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length = struct.unpack("!Q", buffer[2:10])[0]
                offset = 10
            if len(buffer) < offset + length:
                break
            opcode = buffer[0] & 0x0F
            payload = buffer[offset:offset + length]
            buffer = buffer[offset + length:]
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buffer += chunk


def compress(data, wbits=-15):
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def test_rsv1_on_continuation_is_1002(server):
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x1, compress(b"Hel"), fin=False, rsv1=True) + frame(0x0, b"lo", rsv1=True))
    assert read_close_code(sock) == 1002


def test_rsv1_on_control_frame_is_1002(server):
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x9, b"", rsv1=True))
    assert read_close_code(sock) == 1002


def test_rsv1_without_negotiation_is_1002(server):
    sock, head = handshake(server.port, extensions=None)
    assert "Sec-WebSocket-Extensions" not in head
    sock.sendall(frame(0x1, compress(b"Hello"), rsv1=True))
    assert read_close_code(sock) == 1002


def test_rfc7692_hello_vector_is_inflated(server):
    sock, _ = handshake(server.port)
    # RFC 7692 §7.2.3.1: "Hello" compressed with no BFINAL block.
    sock.sendall(frame(0x1, bytes.fromhex("f248cdc9c90700"), rsv1=True))
    sock.settimeout(10)
    reply = sock.recv(64)
    assert reply[0] & 0x0F == 0x1
    body = reply[2:]
    if reply[0] & 0x40:
        body = zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff")
    assert body == b"Hello"


def test_corrupt_compressed_data_is_1007(server):
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x2, b"\xff\xff\xff\xff\xff", rsv1=True))
    assert read_close_code(sock) == 1007


def test_invalid_utf8_after_inflation_is_1007(server):
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x1, compress(b"ok \xed\xa0\x80 bad"), rsv1=True))
    assert read_close_code(sock) == 1007


@pytest.mark.parametrize("inflated_mb", [16, 1024])
def test_bomb_is_1009_and_memory_stays_flat(server, inflated_mb, emulated_note):
    # Deflate's best ratio is ~1032:1, so 1 GB of zeros needs ~1 MB on the wire: the smallest
    # message that can claim to inflate to 1 GB.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    bomb = b"".join(c.compress(zeros) for _ in range(inflated_mb)) + c.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]
    before = server.rss_kb(lambda text: emulated_note(f"test_bomb_is_1009_and_memory_stays_flat: {text}"))
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x2, bomb, rsv1=True))
    assert read_close_code(sock, timeout=60) == 1009
    after = server.rss_kb()
    # The limit is 1 MiB of output: a few MiB of buffers at most, never the claimed size.
    assert after - before < 24 * 1024, f"RSS grew {before} -> {after} kB"
    # The server still serves.
    agreed = asyncio.run(echo_all(server.url, ClientPerMessageDeflateFactory()))
    assert agreed


def test_inflated_message_counts_in_max_buffered_bytes():
    """An inflated message shares --max-buffered-bytes while it is handled: ~4 KB on the wire that
    inflates to 4 MiB, against a 1 MiB budget, is refused with 1013 instead of being held (its
    echo could then sit in a blocked write for the send timeout). A message under the budget
    still echoes."""
    s = Server("--max-message-bytes", str(16 << 20), "--max-buffered-bytes", str(1 << 20))
    try:
        sock, _ = handshake(s.port)
        sock.sendall(frame(0x2, compress(bytes(512 << 10)), rsv1=True))
        sock.settimeout(10)
        first = sock.recv(2)
        assert first[0] & 0x0F == 0x2, f"expected the 512 KiB echo first, got {first!r}"
        sock.close()
        sock, _ = handshake(s.port)
        sock.sendall(frame(0x2, compress(bytes(4 << 20)), rsv1=True))
        assert read_close_code(sock) == 1013
    finally:
        s.stop()


def test_context_takeover_pair_from_rfc7692(server):
    # RFC 7692 §7.2.3.2: the second "Hello" reuses the first one's window: f2 00 11 00 00.
    sock, _ = handshake(server.port)
    sock.sendall(frame(0x1, bytes.fromhex("f248cdc9c90700"), rsv1=True))
    sock.sendall(frame(0x1, bytes.fromhex("f200110000"), rsv1=True))
    sock.settimeout(10)
    data = b""
    inflater = zlib.decompressobj(-15)
    messages = []
    while len(messages) < 2:
        chunk = sock.recv(4096)
        assert chunk
        data += chunk
        while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
            n = data[1] & 0x7F
            body, compressed = data[2:2 + n], data[0] & 0x40
            data = data[2 + n:]
            messages.append(inflater.decompress(body + b"\x00\x00\xff\xff") if compressed else body)
    assert messages == [b"Hello", b"Hello"]


def test_unix_socket_with_a_real_client(tmp_path):
    """--unix-socket: the Python `websockets` client dials the socket file (unix_connect), with
    permessage-deflate, and the server names the client a trusted proxy forwards."""
    path = str(tmp_path / "lantern.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    proc = subprocess.Popen([BIN, "--unix-socket", path, "--trust-proxy", "unix", "--greeting", ""],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "server printed nothing within 10 s"
        assert proc.stdout.readline().decode().strip() == f"lantern listening on unix:{path}"

        async def talk():
            async with websockets.unix_connect(
                    path, uri="ws://box.local/ws", compression="deflate",
                    additional_headers={"X-Forwarded-For": "198.51.100.77"}) as ws:
                assert ws.response.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate")
                for message in ["over a socket file", "x" * 70000, b"\x00\xff" * 1000]:
                    await ws.send(message)
                    assert await ws.recv() == message
        asyncio.run(talk())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "ws-open" in err.decode() and "peer=198.51.100.77 " in err.decode(), err.decode()
    assert not os.path.exists(path), "socket file left after a clean exit"
