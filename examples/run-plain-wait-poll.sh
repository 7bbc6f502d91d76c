#!/bin/sh
# Runs examples/plain_wait on the poll backend (a test of `make check`).
# SPDX-License-Identifier: MIT OR Apache-2.0
prog=./examples/plain_wait
expect='backend: poll,'
. "$(dirname "$0")/on-poll.sh"
