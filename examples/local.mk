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
	examples/run-split-echo-poll.sh \
	examples/run-plain-wait-poll.sh

examples: examples/split_echo$(EXEEXT) examples/plain_wait$(EXEEXT)

.PHONY: examples
