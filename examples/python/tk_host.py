"""asyncio inside a Tkinter app: a button starts an asyncio download over a
local socket, a label shows its progress.

Run:  python3 examples/python/tk_host.py
"""
import tkinter as tk

import guestpoll.tk
from download_helper import download

root = tk.Tk()
label = tk.Label(root, text="press Download", width=40)
label.pack()


@guestpoll.tk.async_handler
async def on_click():
    button.configure(state="disabled")
    total = await download(lambda text: label.configure(text=text))
    label.configure(text=f"done: {total} bytes")
    button.configure(state="normal")


button = tk.Button(root, text="Download", command=on_click)
button.pack()
guestpoll.tk.run(root)
