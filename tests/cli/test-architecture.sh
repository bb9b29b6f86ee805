#!/bin/sh
# test-architecture.sh: the layering rules of docs/internals.md hold (tests/check-architecture.py:
# every source file in a layer folder, no include of a later layer, no include cycle, SQL only in
# src/store/, plugin calls only in the session layer).
. "$TOP_SRCDIR/tests/tap.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
python3 "$TOP_SRCDIR/tests/check-architecture.py" "$TOP_SRCDIR"
