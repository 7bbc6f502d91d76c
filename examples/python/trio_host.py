"""asyncio inside Trio: a Trio program awaits an asyncio download over a
local socket and shows its progress.

Run:  python3 examples/python/trio_host.py
"""
import trio

import guestpoll.trio
from download_helper import download


def show(text):
    print(f"label: {text}", flush=True)


async def main():
    total = await guestpoll.trio.run_asyncio(download, show)
    show(f"done: {total} bytes")


trio.run(main)
