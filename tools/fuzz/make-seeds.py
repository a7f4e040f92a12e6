#!/usr/bin/env python3
"""Writes the seed corpora of tools/fuzz/seeds/ from RFC 6455 / RFC 7692 vectors (re-run after edits)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 §5.7


def masked(b0, payload, length_bytes=None):
    """A masked client frame (byte 0 given, the length in its shortest form unless given)."""
    n = len(payload)
    if length_bytes is None:
        length_bytes = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big") if n <= 0xFFFF \
            else bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return bytes([b0]) + length_bytes + KEY + bytes(p ^ KEY[i % 4] for i, p in enumerate(payload))


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# frame: 3 config bytes (see FrameFuzz.swift), then the stream.
WHOLE, BYTE, THREE, UNMASKED, COMPRESSED = 0x07, 0x00, 0x02, 0x10, 0x08
LIMIT_1MIB = bytes([0x80, 0x00])
hello_unmasked = bytes.fromhex("810548656c6c6f")                 # §5.7 single-frame unmasked text
hello_masked = bytes.fromhex("818537fa213d7f9f4d5158")           # §5.7 single-frame masked text
write("frame", "hello-unmasked", bytes([WHOLE | UNMASKED]) + LIMIT_1MIB + hello_unmasked)
write("frame", "hello-masked", bytes([WHOLE]) + LIMIT_1MIB + hello_masked)
write("frame", "hello-masked-bytewise", bytes([BYTE]) + LIMIT_1MIB + hello_masked)
write("frame", "fragmented-unmasked", bytes([THREE | UNMASKED]) + LIMIT_1MIB + bytes.fromhex("010348656c80026c6f"))
write("frame", "fragmented-masked-ping", bytes([THREE]) + LIMIT_1MIB
      + masked(0x01, b"Hel") + masked(0x89, b"Hello") + masked(0x80, b"lo"))
write("frame", "ping-unmasked", bytes([WHOLE | UNMASKED]) + LIMIT_1MIB + bytes.fromhex("890548656c6c6f"))
write("frame", "pong-masked", bytes([WHOLE]) + LIMIT_1MIB + bytes.fromhex("8a8537fa213d7f9f4d5158"))
write("frame", "binary-256-unmasked", bytes([0x06 | UNMASKED]) + LIMIT_1MIB + bytes.fromhex("827e0100") + bytes(range(256)))
write("frame", "binary-256-masked-limit-255", bytes([0x05, 0x00, 0xFF]) + masked(0x82, bytes(256)))
write("frame", "binary-64k-header-only", bytes([WHOLE | UNMASKED]) + LIMIT_1MIB + bytes.fromhex("827f0000000000010000") + b"abc")
write("frame", "binary-64k-limit-small", bytes([WHOLE, 0x10, 0x00]) + bytes.fromhex("82ff0000000000010000") + KEY)
write("frame", "close-1000-reason", bytes([0x04]) + LIMIT_1MIB + masked(0x88, b"\x03\xe8bye"))
write("frame", "close-empty", bytes([WHOLE]) + LIMIT_1MIB + masked(0x88, b""))
write("frame", "text-utf8", bytes([0x01]) + LIMIT_1MIB + masked(0x01, "κό".encode()) + masked(0x80, "σμε €𝄞".encode()))
# RFC 7692 §7.2.3.1: "Hello" compressed, unmasked and masked.
write("frame", "deflate-hello-unmasked", bytes([WHOLE | UNMASKED | COMPRESSED]) + LIMIT_1MIB + bytes.fromhex("c107f248cdc9c90700"))
write("frame", "deflate-hello-masked", bytes([WHOLE | COMPRESSED]) + LIMIT_1MIB + masked(0xC1, bytes.fromhex("f248cdc9c90700")))
write("frame", "deflate-huge-limit", bytes([WHOLE | COMPRESSED, 0xC0, 0x01]) + masked(0xC1, bytes.fromhex("f248cdc9c90700")))

# http: the raw request head.
write("http", "rfc6455-1.3", b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
      b"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n")
write("http", "upgrade-deflate", b"GET /ws?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
      b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\n"
      b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
write("http", "get-index-1.0", b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
write("http", "version-8", b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
      b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
write("http", "post-pipelined", b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n")

# extensions: header values, one per line.
write("extensions", "chrome", b"permessage-deflate; client_max_window_bits")
write("extensions", "firefox", b"permessage-deflate")
write("extensions", "both-no-context", b"permessage-deflate; server_no_context_takeover; client_no_context_takeover")
write("extensions", "quoted-bits", b'permessage-deflate; client_max_window_bits="15"; server_max_window_bits=8')
write("extensions", "fallbacks", b"permessage-deflate; server_max_window_bits=10; client_max_window_bits,\n"
      b"permessage-deflate; client_max_window_bits\nx-webkit-deflate-frame")
write("extensions", "unknown-then-good", b"permessage-deflate; foo=bar, PerMessage-Deflate ; server_max_window_bits = 9")

# inflate: 3 config bytes (see InflateFuzz.swift), then the data.
TEXT = 0x10
write("inflate", "rfc7692-hello", bytes([6 | TEXT, 0x00, 0x00]) + bytes.fromhex("f248cdc9c90700"))
write("inflate", "rfc7692-shared-window", bytes([6 | TEXT | (5 << 5), 0x01, 0x01]) + bytes.fromhex("f248cdc9c90700f200110000"))
write("inflate", "rfc7692-stored", bytes([6 | TEXT, 0x02, 0x02]) + bytes.fromhex("000500faff48656c6c6f00"))
write("inflate", "rfc7692-bfinal", bytes([6 | TEXT | 0x08, 0x0B, 0x03]) + bytes.fromhex("f348cdc9c9070000"))
write("inflate", "rfc7692-two-blocks", bytes([6, 0x13, 0x06]) + bytes.fromhex("f24805000000ffffcac9c90700"))
write("inflate", "plain-text", bytes([0, 0x1C, 0x07]) + b"Hello, Lantern! " * 6)
