#!/usr/bin/env python3
"""diff_vs_hf.py [--lorens PATH] [--seed N] [--lines N] [TOKENIZER.json | NAME]...: a random
differential check of `lorens tokenize` against Hugging Face `tokenizers` (pip install tokenizers).

Lines are random mixes of fragments chosen to stress the pipeline (contractions in both cases,
digit runs, many scripts, combining marks, ZWJ emoji, unusual spaces including NEL, special tokens
written out, the metaspace, control bytes).  Each tokenizer (a path, or a NAME under
../shared/tokenizers) encodes every line both ways; mismatches are printed (first 3) and counted,
and the exit status is 1 if there were any.  Not run by `make check` (it needs PyPI's tokenizers);
run it after changing the tokenizer.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAGMENTS = [" ", "  ", "\t", "a", "e", "the", "The", "'s", "'S", "'ll", "123", "4567890", "\u00e9",
             "e\u0301", "\u00df", "\u03a9", "\u0436", "\u4e2d", "\u65e5\u672c", "\ud55c", "\u0639",
             "\u05d0", "\u0928", "\u0e01", "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
             "\U0001f3f3\ufe0f\u200d\U0001f308", "\u00a0", "\u3000", "\u0085", "\u2028", "!", "?",
             "...", "\u2014", "\u201c", "(", ")", "{", "}", "<", ">", "<s>", "</s>", "<|endoftext|>",
             "<|begin_of_text|>", "\u2581", "\ufb01", "\u00bd", "\u00b2", "\u2163", "\u0663", "x", "Z",
             "_", "-", "0", "\r", "\x00", "\x1b", "\U0001d400", "\U00020000", "\ue000"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lorens", default=os.path.join(TOP, "_build", "check", "lorens"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("tokenizers", nargs="*", default=["gpt2", "llama2", "smollm2", "llama3"])
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lines = ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 25)))
             for _ in range(args.lines)]
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    bad = 0
    try:
        for name in args.tokenizers:
            tok = name if name.endswith(".json") else os.path.join(
                TOP, "..", "shared", "tokenizers", name, "tokenizer.json")
            hf = Tokenizer.from_file(tok)
            with open(path, "rb") as inp:
                out = subprocess.run([args.lorens, "tokenize", "--tokenizer", tok], stdin=inp,
                                     capture_output=True, check=True).stdout.decode().split("\n")
            n = 0
            for i, line in enumerate(lines):
                want = " ".join(map(str, hf.encode(line, add_special_tokens=False).ids))
                if out[i] != want:
                    n += 1
                    if n <= 3:
                        print(f"{name}: {line!r}\n  lorens {out[i]}\n  HF     {want}")
            print(f"{name}: {n} of {len(lines)} lines differ")
            bad += n
    finally:
        os.unlink(path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
