"""Builds the guestpoll Python package with libguestpoll's C sources compiled
into the extension module: ``pip install .`` and ``python -m build`` need
neither autotools nor an installed libguestpoll.

The autotools build (``./configure && make``) makes the same module from the
same sources; ``configure`` writes ``config.h`` there, and here build_ext
writes an equivalent one after asking the compiler the same questions.  The
version is read from ``include/guestpoll.h``, the one place it is kept.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    with open(os.path.join(HERE, "include", "guestpoll.h"), encoding="utf-8") as f:
        m = re.search(r'^#define GUESTPOLL_VERSION_STRING "([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError("GUESTPOLL_VERSION_STRING not found in include/guestpoll.h")
    return m.group(1)


# (macro, headers, body of main): what configure.ac checks, for config.h.
PROBES = [
    ("HAVE_SYS_EPOLL_H", ["sys/epoll.h"], "return 0;"),
    ("HAVE_EPOLL_CREATE1", ["sys/epoll.h"], "return epoll_create1(0);"),
    ("HAVE_SYS_EVENTFD_H", ["sys/eventfd.h"], "return 0;"),
    ("HAVE_EVENTFD", ["sys/eventfd.h"], "return eventfd(0, 0);"),
    ("HAVE_POLL_H", ["poll.h"], "return 0;"),
    ("HAVE_PPOLL", ["stddef.h", "poll.h"], "return ppoll(NULL, 0, NULL, NULL);"),
    ("HAVE_PIPE2", ["unistd.h", "fcntl.h"], "int f[2]; return pipe2(f, O_CLOEXEC);"),
    ("HAVE_ACCEPT4", ["stddef.h", "sys/socket.h"], "return accept4(0, NULL, NULL, 0);"),
    ("HAVE_LINUX_FUTEX_H", ["linux/futex.h"], "return 0;"),
    ("HAVE_SYS_SYSCALL_H", ["sys/syscall.h"], "return 0;"),
    ("HAVE_CLOCK_GETTIME", ["time.h"], "struct timespec t; return clock_gettime(CLOCK_MONOTONIC, &t);"),
    ("HAVE_KQUEUE", ["sys/types.h", "sys/event.h", "sys/time.h"], "return kqueue();"),
]

# The kqueue backend keeps a 64-bit token in kevent.udata, a pointer: like
# configure.ac, leave it out on targets with smaller pointers (the compiler
# is asked, so a cross or 32-bit build is judged by its target).
PTR64_PROBE = ([], "typedef char gp_ptr64[sizeof(void *) >= 8 ? 1 : -1]; (void)sizeof(gp_ptr64); return 0;")

# Which backend source each platform feature brings in.
BACKENDS = [
    ("src/backend_epoll.c", "HAVE_EPOLL_CREATE1"),
    ("src/backend_kqueue.c", "HAVE_KQUEUE"),
    ("src/backend_iocp.c", "_WIN32"),
    ("src/backend_poll.c", "POSIX"),
]


class BuildExt(build_ext):
    """build_ext that probes the compiler, writes config.h and picks the
    backend sources before compiling."""

    def _probe(self, tmp: str, headers: list[str], body: str) -> bool:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w", encoding="utf-8") as f:
            f.write("#define _GNU_SOURCE 1\n")
            f.writelines(f"#include <{h}>\n" for h in headers)
            f.write(f"int main(void) {{ {body} }}\n")
        try:
            objs = self.compiler.compile([src], output_dir=tmp)
            self.compiler.link_executable(objs, "probe", output_dir=tmp)
        except Exception:  # CompileError, LinkError: the feature is absent
            return False
        return True

    def _config(self, incdir: str) -> set[str]:
        have: set[str] = set()
        if sys.platform == "win32":
            have.add("_WIN32")
        else:
            have.add("POSIX")
            with tempfile.TemporaryDirectory() as tmp:
                for macro, headers, body in PROBES:
                    if self._probe(tmp, headers, body):
                        have.add(macro)
                if "HAVE_KQUEUE" in have and not self._probe(tmp, *PTR64_PROBE):
                    self.warn("kqueue found, but the kqueue backend needs 64-bit pointers; not built")
                    have.discard("HAVE_KQUEUE")
        lines = [
            "/* config.h - written by setup.py (build_ext) for a pip build. */",
            "#ifndef _GNU_SOURCE",
            "#define _GNU_SOURCE 1",
            "#endif",
            "#ifndef _DEFAULT_SOURCE",
            "#define _DEFAULT_SOURCE 1",
            "#endif",
        ]
        lines += [f"#define {m} 1" for m, _, _ in PROBES if m in have]
        os.makedirs(incdir, exist_ok=True)
        with open(os.path.join(incdir, "config.h"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return have

    def build_extension(self, ext: Extension) -> None:
        incdir = os.path.join(self.build_temp, "guestpoll-config")
        have = self._config(incdir)
        ext.include_dirs.insert(0, incdir)
        ext.sources += [src for src, need in BACKENDS if need in have and os.path.exists(src)]
        if "POSIX" in have and self.compiler.compiler_type != "msvc":
            ext.extra_compile_args += ["-std=c11", "-fvisibility=hidden"]
            if sys.platform.startswith("linux"):
                ext.libraries.append("pthread")
        if sys.platform == "win32":
            ext.define_macros.append(("GP_STATIC", "1"))
            ext.libraries += ["ws2_32"]
            if self.compiler.compiler_type == "msvc":
                # C11 with <stdatomic.h>: Visual Studio 2022 17.5 or newer.
                ext.extra_compile_args += ["/std:c11", "/experimental:c11atomics"]
            else:  # mingw-w64, as ./dev winpy builds it
                ext.extra_compile_args += ["-std=c11"]
        super().build_extension(ext)


setup(
    version=read_version(),
    ext_modules=[
        Extension(
            "guestpoll._guestpoll",
            sources=["pyext/module.c", "pyext/selector.c", "pyext/bridge.c", "src/poller.c"],
            depends=["pyext/module.h", "pyext/selector.h", "pyext/bridge.h"],
            include_dirs=["include", "src", "pyext"],
            define_macros=[("GP_BUILDING_LIBRARY", "1")],
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
