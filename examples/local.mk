## examples/local.mk - the C examples (included by the top Makefile.am).
##
## `make check` builds the examples and runs each one twice: on the default
## backend, and through a small wrapper script on the poll backend.
## `make examples` only builds them.

check_PROGRAMS += examples/split_echo examples/plain_wait

examples_split_echo_SOURCES = examples/split_echo.c
examples_split_echo_LDADD = libguestpoll.la

examples_plain_wait_SOURCES = examples/plain_wait.c
examples_plain_wait_LDADD = libguestpoll.la

TESTS += \
	examples/split_echo \
	examples/plain_wait \
	examples/run-split-echo-poll.sh \
	examples/run-plain-wait-poll.sh

EXTRA_DIST += \
	examples/on-poll.sh \
	examples/run-split-echo-poll.sh \
	examples/run-plain-wait-poll.sh

# The C GLib host: libguestpoll's split wait inside a GLib main loop.  Built
# and run when configure found glib-2.0; otherwise make check reports it as
# skipped, with the reason.
if HAVE_GLIB
check_PROGRAMS += examples/glib_host
examples_glib_host_SOURCES = examples/glib_host.c
examples_glib_host_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
examples_glib_host_LDADD = libguestpoll.la $(GLIB_LIBS)
TESTS += examples/glib_host examples/run-glib-host-poll.sh
GP_GLIB_EXAMPLES = examples/glib_host$(EXEEXT)
else
TESTS += examples/glib-host-skip.sh
GP_GLIB_EXAMPLES =
endif
EXTRA_DIST += \
	examples/glib_host.c \
	examples/glib-host-skip.sh \
	examples/run-glib-host-poll.sh

# The Python host examples (run by tests/py/test_examples.py).
EXTRA_DIST += \
	examples/python/tk_host.py \
	examples/python/qt_host.py \
	examples/python/glib_host.py

examples: examples/split_echo$(EXEEXT) examples/plain_wait$(EXEEXT) $(GP_GLIB_EXAMPLES)

.PHONY: examples
