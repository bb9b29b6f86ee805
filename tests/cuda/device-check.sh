#!/usr/bin/env bash
# tests/cuda/device-check.sh bundle|run: the CUDA backend checked on a GPU machine, in one run.
#
#   bash tests/cuda/device-check.sh bundle [BUILD_DIR]   here, after `make` and `make check` built
#                                                         everything (default _build/check)
#   bash tests/cuda/device-check.sh run                   there, from the repository root
#
# A GPU machine lent to a session is a bare CUDA image with no network: no Debian packages, no
# ../shared.  `bundle` therefore copies into .device/ (ignored by .gitignore; the device call
# carries it) what `run` needs: the built lorens, both backends, the kernel test, the
# shared libraries they load that such an image lacks (libyaml, SQLite, PCRE2, jansson, utf8proc,
# OpenBLAS and their own needs; never libc or the CUDA driver), the stories260K model and the
# ARC-Easy dev questions from ../shared.  Both machines must be x86-64 and the CUDA toolkit the
# same major version (13 here and there), since the plugin links cuBLAS by its soname.
#
# `run` prints one table, each row a check and its result:
#   1. every CUDA kernel against its CPU twin on random inputs (tests/cuda/test-cuda-kernels);
#   2. the CUDA backend against the CPU backend through the plugin ABI on a random model
#      (tests/cuda/test-cuda-backend: choice logits, losses, LoRA gradients, adapters after AdamW
#      steps, with and without dropout and the KL term, in fp32 and bf16);
#   3. the two backends from the command line: `lorens predict` of stories260K on 100 ARC-Easy
#      dev questions (choice probabilities), and a short `lorens run` of
#      tests/data/grids/device.yaml (every epoch's metrics and training losses, from the two
#      databases), then that run on the GPU in precision bf16 (its losses in the bf16 band of
#      docs/precision.md around the CPU's fp32 ones);
#   4. `lorens bench train --backend cuda` on a Llama-3.2-1B-shaped random model (hidden 2048,
#      16 layers, 32/8 heads, FFN 8192, vocab 128256), batch 16 x 512, r 8 on q,v: fp32 M = 1,
#      bf16 M = 1 and 5, and M = 5 with the members stacked (LORENS_STACK_MEMBERS=1: one
#      frozen product over every member's rows): tokens/s, MFU against the device's cuBLAS peak
#      in that precision as lorens measures it, memory held; then the device time of each kernel-table call in one bf16 step
#      (LORENS_CUDA_PROFILE).
# and exits non-zero if a check of 1-3 failed (the benchmark only reports).
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bundle=$top/.device

case ${1:-} in
bundle)
  build=${2:-_build/check}
  case $build in /*) ;; *) build=$top/$build ;; esac
  set -e
  rm -rf "$bundle"
  # The build tree's layout for the plugins, which the backend test expects under TOP_BUILDDIR.
  mkdir -p "$bundle/lib" "$bundle/plugins/cpu/.libs" "$bundle/plugins/cuda/.libs" "$bundle/data"
  cp "$build/lorens" "$bundle/"
  cp "$build/plugins/cpu/.libs/cpu.so" "$bundle/plugins/cpu/.libs/"
  cp "$build/plugins/cuda/.libs/cuda.so" "$bundle/plugins/cuda/.libs/"
  cp "$build/tests/cuda/test-cuda-kernels" "$build/tests/cuda/test-cuda-backend" "$bundle/"
  # Every library they load but the C library, the dynamic loader and the CUDA driver and
  # toolkit (the GPU image has its own, of the same major version).
  for f in "$bundle/lorens" "$bundle"/plugins/*/.libs/*.so "$bundle"/test-cuda-*; do
    ldd "$f" | awk '/=> \// {print $3}'
  done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
  cp -r "$top/../shared/models/stories260K" "$bundle/data/"
  head -n 100 "$top/../shared/data/arc-easy/ARC-Easy-Dev.jsonl" >"$bundle/data/arc-easy-dev.jsonl"
  # The device call carries at most 64 MiB and the libraries alone are more (OpenBLAS and oneDNN
  # ship kernels for every CPU): it carries one gzip archive, which `run` unpacks in place.
  tar -C "$bundle" -cf - . | gzip -6 >"$top/.device.tar.gz"
  rm -rf "$bundle"
  mkdir "$bundle"
  mv "$top/.device.tar.gz" "$bundle/bundle.tar.gz"
  du -sh "$bundle"
  exit 0
  ;;
run) ;;
*)
  echo "usage: $0 bundle [BUILD_DIR] | run" >&2
  exit 2
  ;;
esac

[ -f "$bundle/bundle.tar.gz" ] && [ ! -x "$bundle/lorens" ] && tar -C "$bundle" -xzf "$bundle/bundle.tar.gz"
[ -x "$bundle/lorens" ] || { echo "no $bundle/lorens: run '$0 bundle' first and carry .device" >&2; exit 2; }
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# cuBLAS and the CUDA runtime are the machine's own: where the loader's cache does not name them,
# look where toolkits and PyTorch's wheels keep them.
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13 '; then
  roots="/usr/local/cuda /usr/local/cuda-13* $(python3 -c 'import nvidia; print(*nvidia.__path__)' 2>/dev/null)"
  for d in $(find $roots -name 'libcu*.so.13' -printf '%h\n' 2>/dev/null | sort -u); do
    LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$d
  done
  echo "# CUDA libraries not in the loader's cache; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi
lorens=$bundle/lorens
plugins=(--backend-dir "$bundle/plugins/cpu/.libs" --backend-dir "$bundle/plugins/cuda/.libs")
work=$(mktemp -d)
# DEVICE_CHECK_LOGS=FILE.tar.gz keeps every step's log and TAP output (the device call brings
# back only what is written under its $OUT).
trap '[ -n "${DEVICE_CHECK_LOGS:-}" ] && tar -C "$work" -czf "$DEVICE_CHECK_LOGS" --exclude="*.db" .; rm -rf "$work"' EXIT
failed=0
row() { printf '| %-44s | %-52s |\n' "$1" "$2"; }
verdict() { # NAME STATUS DETAIL
  if [ "$2" -eq 0 ]; then row "$1" "ok: $3"; else row "$1" "FAILED: $3"; failed=1; fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/# /'
"$lorens" backends "${plugins[@]}" | sed 's/^/# /'
row "check" "result"

# 1. kernels
timeout 150 "$bundle/test-cuda-kernels" >"$work/kernels.tap" 2>&1
st=$?
grep '^# |' "$work/kernels.tap" | sed 's/^# //'
n_ok=$(grep -c '^ok ' "$work/kernels.tap")
n_bad=$(grep -c '^not ok ' "$work/kernels.tap")
grep -q '^1\.\.0 # SKIP' "$work/kernels.tap" && { n_bad=1; sed 's/^/# /' "$work/kernels.tap"; }
verdict "kernels against the CPU" $((st != 0 || n_bad != 0)) "$n_ok ok, $n_bad failed"

# 2. the backend against the CPU backend through the ABI: logits, losses, gradients, adapters
TOP_BUILDDIR=$bundle timeout 150 "$bundle/test-cuda-backend" >"$work/backend.tap" 2>&1
st=$?
grep -E '^(not )?ok ' "$work/backend.tap" | sed -n 's/^\(not ok\|ok\) [0-9]* - \(.*\)$/\1|\2/p' |
  while IFS='|' read -r res what; do row "${what%%:*}" "$res:${what#*:}"; done
n_ok=$(grep -c '^ok ' "$work/backend.tap")
n_bad=$(grep -c '^not ok ' "$work/backend.tap")
grep -q '^1\.\.0 # SKIP' "$work/backend.tap" && { n_bad=1; sed 's/^/# /' "$work/backend.tap"; }
verdict "backend against the CPU backend (ABI)" $((st != 0 || n_bad != 0)) "$n_ok ok, $n_bad failed"

# 3a. predict on both backends
for b in cpu cuda; do
  timeout 90 "$lorens" predict --backend "$b" "${plugins[@]}" --model "$bundle/data/stories260K" \
    --data "$bundle/data/arc-easy-dev.jsonl" --format arc --out "$work/predict-$b.jsonl" \
    >"$work/predict-$b.log" 2>&1 || { sed 's/^/# /' "$work/predict-$b.log"; }
done
detail=$(python3 - "$work/predict-cpu.jsonl" "$work/predict-cuda.jsonl" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
worst = max((abs(x - y) for p, q in zip(a, b) for ra, rb in zip(p["probs"], q["probs"])
             for x, y in zip(ra, rb)), default=float("nan"))
same = len(a) == len(b) == 100 and all(p["id"] == q["id"] for p, q in zip(a, b))
print("%d/%d questions, max |dp| %.2e" % (len(b), len(a), worst))
sys.exit(0 if same and worst <= 1e-4 else 1)
EOF
)
verdict "predict: stories260K, 100 ARC-Easy dev" $? "$detail (tolerance 1e-4)"

# 3b. a short run on both backends, every epoch's metrics compared; then the CUDA backend in
# precision bf16, whose training losses must stay in docs/precision.md's band around fp32's
for b in cpu cuda cuda-bf16; do
  sed "s|@MODEL@|$bundle/data/stories260K|; s|@DATA@|$bundle/data/arc-easy-dev.jsonl|; s|@BACKEND@|${b%-bf16}|" \
    "$top/tests/data/grids/device.yaml" >"$work/grid-$b.yaml"
  [ "$b" = cuda-bf16 ] && echo "precision: bf16" >>"$work/grid-$b.yaml"
  timeout 120 "$lorens" run "$work/grid-$b.yaml" --db "$work/run-$b.db" "${plugins[@]}" >"$work/run-$b.log" 2>&1 ||
    sed 's/^/# /' "$work/run-$b.log"
done
compare_runs() { # CPU_DB OTHER_DB MODE: fp32 (every value within 1e-3) or bf16 (losses in the band)
  python3 - "$@" <<'EOF'
import sqlite3, sys
def rows(path):
    db = sqlite3.connect(path)
    evals = db.execute("select r.seed, e.kind, e.idx, e.epoch, e.dataset, e.accuracy, e.nll, "
                       "e.ece, e.brier from evaluations e join runs r on r.id = e.run_id "
                       "where e.selection = 'epoch' order by 1, 2, 3, 4, 5").fetchall()
    losses = db.execute("select r.seed, 'loss', t.member, t.step, '', t.loss from train_log t "
                        "join runs r on r.id = t.run_id order by 1, 3, 4").fetchall()
    return [(k[:5], v) for k in evals for v in k[5:]], [(k[:5], k[5]) for k in losses]
(ea, la), (eb, lb) = rows(sys.argv[1]), rows(sys.argv[2])
a, b = ea + la, eb + lb
keys_same = [k for k, _ in a] == [k for k, _ in b]
worst = max((abs(x - y) / max(abs(x), 1e-3) for (_, x), (_, y) in zip(a, b)),
            default=float("nan"))
if sys.argv[3] == "fp32":
    print("%d values (metrics of every epoch, training losses), max relative difference %.2e"
          % (len(a), worst))
    sys.exit(0 if keys_same and a and worst <= 1e-3 else 1)
band = max((abs(x - y) / (0.02 * abs(x) + 0.01) for (_, x), (_, y) in zip(la, lb)),
           default=float("nan"))
print("%d training losses, worst %.2f of the band 2%% + 0.01; metrics differ by up to %.2e relative"
      % (len(la), band, worst))
sys.exit(0 if keys_same and la and band <= 1 else 1)
EOF
}
detail=$(compare_runs "$work/run-cpu.db" "$work/run-cuda.db" fp32)
verdict "run: tests/data/grids/device.yaml" $? "$detail (tolerance 1e-3)"
detail=$(compare_runs "$work/run-cpu.db" "$work/run-cuda-bf16.db" bf16)
verdict "run bf16 on cuda against fp32 on the CPU" $? "$detail"

# 4. the benchmark (reported, not judged): the 1B shape in fp32 and bf16, then one profiled bf16
# step (LORENS_CUDA_PROFILE: device time by kernel-table call)
bench() { # NAME PRECISION MEMBERS STEPS [ENV...]
  local name=$1 prec=$2 m=$3 steps=$4
  shift 4
  env "$@" timeout 150 "$lorens" bench train --backend cuda "${plugins[@]}" --dim 2048 --layers 16 \
    --heads 32 --kv-heads 8 --hidden 8192 --vocab 128256 --seq 512 --batch 16 --rank 8 \
    --targets q,v --members "$m" --precision "$prec" --steps "$steps" --warmup 1 --format json \
    >"$work/bench-$name.json" 2>"$work/bench-$name.log"
}
# "stacked": the members' rows through each frozen product at once (LORENS_STACK_MEMBERS=1)
for cfg in "fp32 1 5" "bf16 1 5" "bf16 5 3" "bf16 5 3 stacked"; do
  set -- $cfg
  name="$1-$2${4:+-$4}"
  if [ "${4:-}" = stacked ]; then
    bench "$name" "$1" "$2" "$3" LORENS_STACK_MEMBERS=1
  else
    bench "$name" "$1" "$2" "$3"
  fi
  detail=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
mfu = "MFU %.1f%% of %.0f GFLOP/s" % (100 * d["mfu"], d["peak_gflops"]) if d.get("mfu") else "no peak"
print("%.0f tokens/s, %.0f GFLOP/s, %s, step %.3f s, %.1f GiB held" % (d["tokens_per_s"], d["gflops"],
      mfu, d["median_step_s"], d.get("session_mb", 0) / 1024))' "$work/bench-$name.json" 2>&1) ||
    detail="did not run: $(tail -n 1 "$work/bench-$name.log")"
  row "bench: 1B shape, 16 x 512, r 8 q,v, $1, M = $2${4:+, $4}" "$detail"
done
bench profile bf16 1 2 LORENS_CUDA_PROFILE=1
grep '^cuda profile:' "$work/bench-profile.log" | sed 's/^/# /'
exit $failed
