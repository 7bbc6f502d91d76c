#!/bin/sh
# Runs examples/split_echo on the poll backend (a test of `make check`).
# SPDX-License-Identifier: MIT OR Apache-2.0
prog=./examples/split_echo
expect='backend: poll,'
. "$(dirname "$0")/on-poll.sh"
