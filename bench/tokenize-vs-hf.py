#!/usr/bin/env python3
"""bench/tokenize-vs-hf.py [--build DIR] [--mb N] [--runs N] [--tokenizer NAME]...: the encoding
speed of `lorens tokenize --bench` against Hugging Face `tokenizers` (pip install tokenizers),
single-threaded (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false, one Tokenizer.encode call,
no encode_batch), on the same text in the same run.

The text is English from ../shared/data (ARC-Easy, ARC-Challenge and OpenBookQA: questions and
choices, one per line), repeated to N MB (default 4).  Each side encodes the whole text as one
string, once per run, from a fresh process with the tokenizer loaded (so both start with a cold
word cache); the median of RUNS (default 3) is reported, with the ratio lorens / HF.  Both sides'
token counts are printed and must agree.  Both are also timed encoding the text line by line (one
encode call per line, newline included; Python's loop is in HF's time), the realistic case for
prompts and the only fair one for Llama 2, which has no pre-tokenizer: its whole text is one
BPE word.  A benchmark, not a test.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(TOP, "..", "shared")

HF = r"""
import os, sys, time
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
t0 = time.perf_counter()
n = len(t.encode(text, add_special_tokens=False).ids)
dt = time.perf_counter() - t0
lines = text.splitlines(keepends=True)
t0 = time.perf_counter()
for line in lines:
    t.encode(line, add_special_tokens=False)
print(n, dt, time.perf_counter() - t0)
"""


def corpus_text(mb):
    lines = []
    for name in ("ARC-Easy", "ARC-Challenge"):
        for split in ("Train", "Dev", "Test"):
            path = os.path.join(SHARED, "data", name.lower(), f"{name}-{split}.jsonl")
            with open(path, encoding="utf-8") as f:
                for row in f:
                    q = json.loads(row)["question"]
                    lines.append(q["stem"] + " " + " ".join(
                        f"({c['label']}) {c['text']}" for c in q["choices"]))
    for split in ("train", "dev", "test"):
        with open(os.path.join(SHARED, "data", "openbookqa", f"{split}.tsv"),
                  encoding="utf-8") as f:
            next(f)
            for row in f:
                cols = row.rstrip("\n").split("\t")
                if len(cols) >= 3:
                    lines.append(cols[1] + " " + cols[2])
    base = "\n".join(lines) + "\n"
    reps = max(1, math.ceil(mb * 1e6 / len(base.encode())))
    return base * reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="_build/check")
    ap.add_argument("--mb", type=float, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokenizer", action="append")
    args = ap.parse_args()
    lorens = os.path.join(TOP, args.build, "lorens")
    env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(corpus_text(args.mb))
        path = f.name
    size = os.path.getsize(path)
    print(f"text: {size / 1e6:.2f} MB of ARC + OpenBookQA, repeated; {args.runs} runs each, "
          f"median; single thread")
    print(f"{'':20} {'--- whole text as one string ---':>44}   {'--- line by line ---':>33}")
    print(f"{'tokenizer':10} {'tokens':>9} {'lorens MB/s':>12} {'tokens/s':>10} {'HF MB/s':>9} "
          f"{'ratio':>6}   {'lorens MB/s':>12} {'HF MB/s':>9} {'ratio':>6}")
    try:
        for name in args.tokenizer or ["gpt2", "llama2", "llama3"]:
            tok = os.path.join(SHARED, "tokenizers", name, "tokenizer.json")
            l_s, ll_s, h_s, hl_s, l_n, h_n = [], [], [], [], None, None
            for _ in range(args.runs):
                out = subprocess.run([lorens, "tokenize", "--tokenizer", tok, "--bench", path],
                                     check=True, capture_output=True, text=True).stdout
                vals = dict(line.rsplit(": ", 1) for line in out.strip().splitlines())
                l_n, _ = int(vals["tokens"]), l_s.append(float(vals["seconds"]))
                ll_s.append(float(vals["lines: seconds"]))
                out = subprocess.run([sys.executable, "-c", HF, tok, path], check=True,
                                     capture_output=True, text=True, env=env).stdout.split()
                h_n, _ = int(out[0]), h_s.append(float(out[1]))
                hl_s.append(float(out[2]))
            lm, hm = size / 1e6 / statistics.median(l_s), size / 1e6 / statistics.median(h_s)
            hl = size / 1e6 / statistics.median(hl_s)
            ll = size / 1e6 / statistics.median(ll_s)
            agree = "" if l_n == h_n else f"  TOKEN COUNTS DIFFER: HF {h_n}"
            print(f"{name:10} {l_n:>9} {lm:>12.2f} {l_n / statistics.median(l_s):>10.0f} "
                  f"{hm:>9.2f} {lm / hm:>6.2f}   {ll:>12.2f} {hl:>9.2f} {ll / hl:>6.2f}{agree}",
                  flush=True)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
