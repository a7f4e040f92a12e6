"""The access token (--access-token-file) with an independent client, the Python `websockets`
library: the token as a subprotocol item beside `lantern` (what the page sends) and as an
Authorization: Bearer header (what a script sends); wrong or missing tokens are refused 403.

Run: python -m pytest -q Tests/interop   (LANTERN_BIN selects the binary; default .build/debug/lantern)
"""
import asyncio
import os
import tempfile

import pytest
import websockets

from test_deflate import Server

TOKEN = "c2VjcmV0LXRva2VuLWZvci1pbnRlcm9w"


@pytest.fixture
def guarded():
    fd, path = tempfile.mkstemp(prefix="lantern-token-")
    os.write(fd, (TOKEN + "\n").encode())
    os.close(fd)
    s = Server("--access-token-file", path)
    yield s
    s.stop()
    os.unlink(path)


async def echo(url, **options):
    async with websockets.connect(url, open_timeout=10, **options) as ws:
        await ws.send("through the gate")
        return ws.subprotocol, await asyncio.wait_for(ws.recv(), 10)


def test_token_as_subprotocol(guarded):
    protocol, reply = asyncio.run(echo(guarded.url, subprotocols=["lantern", "lantern.token." + TOKEN]))
    assert reply == "through the gate"
    assert protocol == "lantern"  # the plain name is selected, never the token item


def test_token_as_bearer(guarded):
    protocol, reply = asyncio.run(echo(guarded.url, additional_headers={"Authorization": "Bearer " + TOKEN}))
    assert reply == "through the gate"
    assert protocol is None


@pytest.mark.parametrize("options", [
    {},
    {"subprotocols": ["lantern"]},
    {"subprotocols": ["lantern", "lantern.token.x" + TOKEN[1:]]},
    {"additional_headers": {"Authorization": "Bearer " + TOKEN[:-1]}},
])
def test_refused(guarded, options):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(echo(guarded.url, **options))
    assert refused.value.response.status_code == 403
