"""asyncio inside a Qt (PySide6 or PyQt6) app: a button starts an asyncio
download over a local socket, a label shows its progress.

Run:  python3 examples/python/qt_host.py   (QT_QPA_PLATFORM=offscreen headless)
"""
import sys

from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget

import guestpoll.qt
from download_helper import download


class Window(QWidget):
    def __init__(self):
        super().__init__()
        self.label = QLabel("press Download")
        self.button = QPushButton("Download")
        self.button.clicked.connect(self.on_click)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.button)

    @guestpoll.qt.asyncslot
    async def on_click(self):
        self.button.setEnabled(False)
        total = await download(self.label.setText)
        self.label.setText(f"done: {total} bytes")
        self.button.setEnabled(True)


app = QApplication(sys.argv)
window = Window()
window.show()
guestpoll.qt.run()
