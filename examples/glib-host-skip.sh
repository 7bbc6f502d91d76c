#!/bin/sh
# Stands in for examples/glib_host in `make check` when configure did not
# find glib-2.0: reports the skip (automake's exit status 77).
# SPDX-License-Identifier: MIT OR Apache-2.0
echo "SKIP: examples/glib_host: glib-2.0 was not found by configure (install libglib2.0-dev and re-run configure)"
exit 77
