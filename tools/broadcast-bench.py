#!/usr/bin/env python3
"""Broadcast fan-out figures: N clients x messages/s delivered, for one sender.

Spawns `lantern --mode broadcast` on 127.0.0.1 (port 0), connects N raw WebSocket clients
(standard library only, no deflate), and lets client 0 send M fixed-size text messages as fast
as the server delivers them back to it (at most --window messages outstanding, so no queue
overflows). Every client counts what it receives; the run ends when all N have all M.

    tools/broadcast-bench.py                              # dist/lantern, 10 and 50 clients
    tools/broadcast-bench.py --bin .build/release/lantern --clients 10,50,200 --messages 20000 --runs 3

Printed per run: clients, messages, seconds, messages/s sent, deliveries/s (N x M / seconds),
and the server's peak RSS. The client side is a single Python thread sharing the machine with
the server, so on a small box the figure is a lower bound of what the server can do.
"""
import argparse
import base64
import os
import selectors
import socket
import subprocess
import sys
import time


def start_server(binary, extra):
    args = [binary, "--host", "127.0.0.1", "--port", "0", "--mode", "broadcast", "--greeting", "",
            "--log-level", "warn", "--ping-interval", "0", "--max-connections", "4096"] + extra
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    if not line.startswith("lantern listening on "):
        proc.kill()
        sys.exit(f"server did not start: {line!r} {proc.stderr.read().decode()!r}")
    return proc, int(line.rsplit(":", 1)[1])


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            sys.exit("connection closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sys.exit(f"handshake refused: {head[:40]!r}")
    s.setblocking(False)
    return s


def open_count(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith("lantern_websocket_connections_open "):
            return int(line.split()[1])
    return -1


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(binary, clients, messages, size, window, extra):
    proc, port = start_server(binary, extra)
    try:
        socks = [connect(port) for _ in range(clients)]
        deadline = time.monotonic() + 10
        while open_count(port) != clients:  # every client registered before the first broadcast
            if time.monotonic() > deadline:
                sys.exit("clients did not all register")
            time.sleep(0.01)
        # A client frame: FIN+text, MASK bit, zero masking key (legal: any 32-bit key, RFC 6455
        # §5.3), so the payload goes out as is. The server's frame is 2 header bytes + payload.
        if size > 125:
            sys.exit("--size must be <= 125 (one-byte length)")
        frame = bytes([0x81, 0x80 | size]) + b"\0\0\0\0" + b"x" * size
        server_frame = 2 + size
        want = messages * server_frame
        received = [0] * clients
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_READ, i)
        sender = socks[0]
        sent = 0
        pending = b""
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        peak = rss_kib(proc.pid)
        last_sample = time.monotonic()
        start = time.monotonic()
        done = 0
        while done < clients:
            # Keep up to `window` messages in flight, measured at the sender's own copy.
            if not pending and sent < messages:
                room = window - (sent - received[0] // server_frame)
                batch = min(room, messages - sent, 256)
                if batch > 0:
                    pending = frame * batch
                    sent += batch
            if pending:
                try:
                    n = sender.send(pending)
                    pending = pending[n:]
                except BlockingIOError:
                    pass
            for key, _ in sel.select(timeout=0 if pending or sent < messages else 1):
                i = key.data
                try:
                    n = key.fileobj.recv_into(buf)
                except BlockingIOError:
                    continue
                if n == 0:
                    sys.exit(f"client {i} was closed by the server after {received[i] // server_frame} messages")
                if received[i] < want <= received[i] + n:
                    done += 1
                received[i] += n
            now = time.monotonic()
            if now - last_sample > 0.1:
                peak = max(peak, rss_kib(proc.pid))
                last_sample = now
            if now - start > 300:
                sys.exit(f"gave up after 300 s; received {[r // server_frame for r in received]}")
        elapsed = time.monotonic() - start
        if any(r != want for r in received):
            sys.exit(f"byte counts differ from {want}: {received}")
        for s in socks:
            s.close()
        return elapsed, max(peak, rss_kib(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--bin", default=os.path.join(root, "dist", "lantern"), help="server binary [dist/lantern]")
    p.add_argument("--clients", default="10,50", help="comma list of room sizes [10,50]")
    p.add_argument("--messages", type=int, default=20000, help="messages sent per run [20000]")
    p.add_argument("--size", type=int, default=32, help="payload bytes per message, <= 125 [32]")
    p.add_argument("--window", type=int, default=2000, help="messages in flight at most [2000]")
    p.add_argument("--runs", type=int, default=3, help="runs per room size; the median is reported [3]")
    p.add_argument("server_args", nargs="*", help="extra server flags, after --")
    a = p.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} is not an executable (tools/release.sh builds dist/lantern)")
    print(f"# {a.bin}, {a.size}-byte messages, one sender, window {a.window}; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'clients':>7} {'messages':>8} {'seconds':>8} {'sent/s':>9} {'delivered/s':>12} {'peak RSS':>9}")
    for n in [int(x) for x in a.clients.split(",")]:
        results = sorted(run(a.bin, n, a.messages, a.size, a.window, a.server_args) for _ in range(a.runs))
        elapsed, peak = results[len(results) // 2]
        print(f"{n:>7} {a.messages:>8} {elapsed:>8.2f} {a.messages / elapsed:>9.0f} "
              f"{n * a.messages / elapsed:>12.0f} {peak / 1024:>7.1f}MB", flush=True)


if __name__ == "__main__":
    main()
