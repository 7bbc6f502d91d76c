"""The shared part of the download-button examples (qt_host.py, tk_host.py,
glib_host.py, trio_host.py): an asyncio "download" over a local socket.

``await download(show)`` starts a local asyncio server that streams
CHUNKS chunks of CHUNK bytes a little apart, downloads them with asyncio
streams, calls ``show(text)`` with the progress after each read, and
returns the number of bytes received.  Every example counts its lines
without this file, as the peers' versions were counted.
"""

from __future__ import annotations

import asyncio
from typing import Callable

CHUNK = 16 * 1024
CHUNKS = 24
TOTAL = CHUNK * CHUNKS


async def _serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for i in range(CHUNKS):
        writer.write(bytes([i % 256]) * CHUNK)
        await writer.drain()
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()


async def download(show: Callable[[str], object]) -> int:
    """Downloads TOTAL bytes from a local asyncio server; shows progress."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        total = 0
        while data := await reader.read(CHUNK):
            total += len(data)
            show(f"downloading: {total} bytes")
        writer.close()
        await writer.wait_closed()
    return total
