#!/bin/sh
# test-backends.sh: `lorens backends` over the test plugins and, when built, the CUDA backend.
. "$TOP_SRCDIR/tests/tap.sh"
# The ABI version the plugins here were built with: the installed header's.
abi=1.$(sed -n 's/^#define LORENS_BACKEND_ABI_MINOR \([0-9]*\)$/\1/p' "$TOP_SRCDIR/plugins/include/lorens/backend.h")

[ -d "$TEST_PLUGIN_DIR" ] || skip_all "test plugins not built ($TEST_PLUGIN_DIR)"

run "$LORENS" backends --backend-dir "$TEST_PLUGIN_DIR" --backend-dir /nonexistent/lorens-x
is "$status" 0 "backends lists a directory of bad plugins without failing"
like "$out" "$TEST_PLUGIN_DIR (--backend-dir)" "the search path shows where each directory came from"
like "$out" "/nonexistent/lorens-x (--backend-dir) [missing]" "a missing directory is marked"
like "$out" "install directory)" "the install directory is on the path"
like "$out" "testgood ABI $abi  version 0.0-test  usable: test device ready" "a good plugin is usable"
like "$out" "testunusable ABI $abi  version 0.0-test  unusable: no test device on this machine" \
  "an unusable plugin says why"
like "$out" "refused: built for backend ABI 2.${abi#1.}; this lorens speaks $abi" "another ABI major is refused"
like "$out" "refused: built for backend ABI major 2 (exports lorens_backend_v2)" \
  "a future entry symbol is recognised"
like "$out" "refused: not a lorens backend: no symbol 'lorens_backend_v1'" "a library without the entry symbol"
like "$out" "refused: its descriptor is 12 bytes" "a truncated descriptor"
like "$out" "refused: cannot load:" "a plugin that does not load"
like "$out" "$TEST_PLUGIN_DIR/good.so" "the file of each plugin is shown"

LORENS_BACKEND_PATH="/nonexistent/lorens-y:$TEST_PLUGIN_DIR" run "$LORENS" backends
like "$out" "$TEST_PLUGIN_DIR (LORENS_BACKEND_PATH)" "LORENS_BACKEND_PATH is searched"
like "$out" "testgood" "and its plugins found"

run "$LORENS" backends --backend-dir "$TEST_PLUGIN_DIR" --format json
is "$status" 0 "--format json exits 0"
if command -v python3 >/dev/null 2>&1; then
  printf '%s' "$out" > "$tap_tmp/backends.json"
  summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted(b.get("name", "-") + "=" + b["state"] for b in d["backends"]
                      if b["file"].startswith(sys.argv[2]))))' "$tap_tmp/backends.json" "$TEST_PLUGIN_DIR")
  is "$summary" "-=refused -=refused -=refused -=refused -=refused -=refused -=refused testgood=usable testunusable=unusable" \
    "the JSON lists every plugin with its state"
else
  skip "python3 not installed" "the JSON parses"
fi

run "$LORENS" backends --backend-dir "$TOP_BUILDDIR/plugins/cpu/.libs" --format json
like "$out" '"name": "cpu"' "the CPU backend is found"
like "$out" '"can_train": true' "and can train"
run "$LORENS" backends --backend-dir "$TOP_BUILDDIR/plugins/cpu/.libs"
like "$out" "cpu      ABI $abi  version " "the CPU backend is listed with its ABI and version"
like "$out" "usable: " "and is usable here"

cuda_dir="$TOP_BUILDDIR/plugins/cuda/.libs"
if [ "$LORENS_HAVE_CUDA" = yes ]; then
  run "$LORENS" backends --backend-dir "$cuda_dir"
  like "$out" "cuda     ABI $abi" "the CUDA backend loads"
  case $out in
    *"probe only"*) ok 1 "it has the session calls (it trains)" ;;
    *) ok 0 "it has the session calls (it trains)" ;;
  esac
  case $out in
    *"cuda     ABI $abi  version "*"  usable: "*"self-tests passed"*) ok 0 "the CUDA backend's probe ran its self-tests on a GPU"
      skip "a GPU is here" "a run on the CUDA backend without a device fails before it starts" ;;
    *"cuda     ABI $abi  version "*"  unusable: "*"CUDA device"*) ok 0 "the CUDA backend says there is no usable device here"
      run "$LORENS" bench train --backend cuda --backend-dir "$cuda_dir" --steps 1 --warmup 0
      is "$status" 1 "a session on the CUDA backend without a device is refused"
      like "$err" "backend 'cuda' ($cuda_dir/cuda.so) cannot run here: no usable CUDA device" \
        "naming the backend and the probe's words" ;;
    *) ok 1 "the CUDA backend reports usable or a device problem"; diag "$out" ;;
  esac
else
  skip "built without CUDA" "the CUDA backend loads"
  skip "built without CUDA" "it has the session calls (it trains)"
  skip "built without CUDA" "the CUDA backend's probe answers"
fi

done_testing
