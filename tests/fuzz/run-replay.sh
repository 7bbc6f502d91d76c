#!/bin/sh
# Replays the committed fuzz corpus and the regression inputs through
# fuzz_api.c's checks (tests/fuzz/fuzz_replay, no libFuzzer needed), once per
# backend.
here=$(cd "$(dirname "$0")" && pwd)
bin=./tests/fuzz/fuzz_replay
test -x "$bin" || bin=$here/fuzz_replay
exec sh "$here/../each-backend.sh" "$bin" "$here/corpus" "$here/regressions"
