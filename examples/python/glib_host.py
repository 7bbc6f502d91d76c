"""asyncio inside a GLib application (PyGObject, Gio.Application): the
"download" action (what a GTK button would activate, or
``gapplication action``) starts an asyncio download over a local socket;
the progress is shown on the terminal, the label of a GLib program.

Run:  python3 examples/python/glib_host.py
"""
import sys

from gi.repository import Gio

import guestpoll.glib
from download_helper import download


def show(text):
    print(f"label: {text}", flush=True)


@guestpoll.glib.async_handler
async def on_download(action):
    action.set_enabled(False)
    total = await download(show)
    show(f"done: {total} bytes")
    action.set_enabled(True)


app = Gio.Application(application_id="org.example.Download", flags=Gio.ApplicationFlags.NON_UNIQUE)
action = Gio.SimpleAction(name="download")
action.connect("activate", on_download)
app.add_action(action)
app.connect("activate", Gio.Application.hold)
with guestpoll.glib.start():
    app.run(sys.argv)
