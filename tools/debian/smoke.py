#!/usr/bin/env python3
"""Smoke test of an installed or unpacked lantern binary (tools/package-test.sh).

    smoke.py [--env-file FILE] COMMAND...   e.g. smoke.py /usr/bin/lantern
                                            or   smoke.py qemu-arm-static -cpu arm1176 ./lantern

Starts COMMAND --host 127.0.0.1 --port 0 (with FILE's uncommented LANTERN_* lines in its
environment, as systemd's EnvironmentFile= would give them), reads the port from its
"lantern listening on" line, then checks GET /client is 200 with the page, and that a WebSocket
gets the greeting and an echo of a masked text message. Prints one line; exits 1 on a failure.
"""
import base64
import os
import re
import socket
import struct
import subprocess
import sys

TIMEOUT = 30  # seconds per step: the ARM binaries run under qemu


def env_file(path):
    """KEY=VALUE lines as systemd reads them (comments skipped, one pair of quotes stripped)."""
    values = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values[key] = value
    return values


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_frame(sock):
    """One unfragmented, unmasked server frame: (opcode, payload)."""
    b0, b1 = recv_exact(sock, 2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exact(sock, 8))[0]
    return b0 & 0x0F, recv_exact(sock, length)


def check(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /client HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = reply.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" " or b"WebSocket" not in reply:
        raise RuntimeError("GET /client: %r" % status)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        key = base64.b64encode(os.urandom(16))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += recv_exact(s, 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("handshake: %r" % head.split(b"\r\n", 1)[0])
        opcode, greeting = read_frame(s)
        message = "hello from the package test".encode()
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(message)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(message)))
        opcode, echo = read_frame(s)
        if opcode != 1 or echo != message:
            raise RuntimeError("echo: opcode %d, %r" % (opcode, echo))
        s.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(struct.pack("!H", 1000))))
    return greeting.decode()


def main():
    args = sys.argv[1:]
    env = dict(os.environ)
    if args[:1] == ["--env-file"]:
        env.update(env_file(args[1]))
        args = args[2:]
    server = subprocess.Popen(args + ["--host", "127.0.0.1", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        found = re.search(r"lantern listening on .*:(\d+)", line)
        if not found:
            raise RuntimeError("no listening line: %r %r" % (line, server.stderr.read() if server.poll() is not None else ""))
        greeting = check(int(found.group(1)))
        print("smoke: %s: /client 200, greeting %r, echo OK" % (" ".join(args), greeting))
        return greeting
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line for the CI log, then fail
        print("smoke: FAILED: %s: %s" % (" ".join(sys.argv[1:]), error))
        sys.exit(1)
