"""`lantern -- PROGRAM` (issue 18) with permessage-deflate: `cat` behind the server, an
independent client (Python `websockets`) that compresses, messages up to 1 MiB.

Run: python -m pytest -q Tests/interop   (LANTERN_BIN selects the binary)
"""
import asyncio
import urllib.request

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from test_deflate import SIZES, Server, payloads


def metric(port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_cat_echoes_compressed_messages_up_to_1_mib():
    server = Server("--", "cat")
    try:
        async def run():
            async with websockets.connect(server.url, extensions=[ClientPerMessageDeflateFactory()],
                                          max_size=None, open_timeout=10) as ws:
                agreed = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
                for size in SIZES:
                    text = payloads(size)[0]  # text without a newline: one line, one message
                    await ws.send(text)
                    echoed = await asyncio.wait_for(ws.recv(), 60)
                    assert echoed == text, f"size {size}"
                return agreed

        assert "permessage-deflate" in asyncio.run(run())
        # Both ways compressed: what the client sent, and what cat's lines became.
        assert metric(server.port, 'lantern_deflate_bytes_received_total{form="compressed"}') > 0
        assert metric(server.port, 'lantern_deflate_bytes_sent_total{form="compressed"}') > 0
        assert metric(server.port, "lantern_programs_started_total") == 1
    finally:
        server.stop()
