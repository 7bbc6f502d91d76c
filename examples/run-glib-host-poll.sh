#!/bin/sh
# Runs examples/glib_host on the poll backend (a test of `make check`).
# SPDX-License-Identifier: MIT OR Apache-2.0
prog=./examples/glib_host
expect='(backend poll)'
. "$(dirname "$0")/on-poll.sh"
