#!/usr/bin/env python3
"""check-bpe-hf.py CHECK --lorens PATH --dir DIR [--corpus FILE --vocab-size N]: checks a
tokenizer written by `lorens bpe-train` against Hugging Face (tests/cli/test-bpe-train.sh runs it).

CHECK is one of:
  encode        `lorens tokenize` (ids, and --add-bos) against tokenizers.Tokenizer.from_file on
                fixed strings (many scripts, emoji, odd whitespace, bytes never seen in training,
                "<s>" written out) and the corpus' first lines; decode gives the text back
  transformers  AutoTokenizer.from_pretrained(DIR): a fast tokenizer with bos <s> (0) and eos
                </s> (1), whose tokenizer(text) ids, with and without special tokens, are the
                ones `lorens tokenize` gives, and whose decode is the text
  train         HF's BpeTrainer on the same corpus (same vocab_size, min_frequency 2, the same
                special tokens and the 256-byte alphabet) learns the same vocab and merges; the
                corpus must not contain "<s>" or "</s>" written out (lorens cuts them out as the
                tokenizer would, HF's trainer does not)

Exit status 0 when everything matched, 1 on a mismatch (the first few are printed), 77 when a
module it needs (tokenizers; transformers for that check) cannot be imported.
"""
import argparse
import json
import os
import subprocess
import sys

SKIP = 77


def skip(module):
    print("%s cannot import %s" % (os.path.basename(sys.executable), module))
    return SKIP

FIXED = [
    "", "a", "Hello world", "Hello  world", "  leading and trailing  ", "tabs\tand\t\ttabs",
    "it's they're we'll I'd you've I'm she'S", "numbers 1234567 3.14159 -42 1e10",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 e\u0301", "\u4e2d\u6587\u65e5\u672c\u8a9e\ud55c\uad6d\uc5b4",
    "\u0639\u0631\u0628\u064a \u05e2\u05d1\u05e8\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940",
    "emoji \U0001f600 \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f\u200d\U0001f308",
    "odd spaces\u00a0\u3000\u2028\u0085end", "control \x00\x01\x1b\x7f bytes", "\r carriage\r",
    "<s> written out </s> and <s>glued</s>", "<<s>> </s/>", "punctuation!!! ??? ... --- ((x))",
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZ qqqqqqqqqq xxxxxxx", "_under_score__ and CamelCaseWords",
    "\U0001d400\U00020000\ue000 \ufb01 \u00bd\u00b2\u2163\u0663",
]


def strings(corpus, n_lines=200):
    out = list(FIXED)
    if corpus:
        with open(corpus, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if i >= n_lines:
                    break
                out.append(line.rstrip("\n"))
    return out


def lorens_ids(lorens, tokenizer_json, lines, add_bos):
    cmd = [lorens, "tokenize", "--tokenizer", tokenizer_json] + (["--add-bos"] if add_bos else [])
    text = "".join(s + "\n" for s in lines).encode("utf-8")
    r = subprocess.run(cmd, input=text, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("lorens tokenize failed: " + r.stderr.decode("utf-8", "replace"))
    rows = r.stdout.decode("utf-8").split("\n")[: len(lines)]
    return [[int(x) for x in row.split()] for row in rows]


def report(mismatches, what, total):
    for m in mismatches[:3]:
        print("MISMATCH %s: %r\n  lorens %s\n  hf     %s" % ((what,) + m))
    print("%s: %d strings, %d mismatches" % (what, total, len(mismatches)))
    return 1 if mismatches else 0


def check_encode(args):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return skip("tokenizers")
    path = os.path.join(args.dir, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    lines = strings(args.corpus)
    bad = []
    for add in (False, True):
        mine = lorens_ids(args.lorens, path, lines, add)
        for s, ids in zip(lines, mine):
            theirs = tok.encode(s, add_special_tokens=add).ids
            if ids != theirs:
                bad.append((s, ids, theirs))
            elif not add and tok.decode(theirs, skip_special_tokens=False) != s:
                bad.append((s, "decode", tok.decode(theirs, skip_special_tokens=False)))
    return report(bad, "tokenizers.Tokenizer", 2 * len(lines))


def check_transformers(args):
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return skip("transformers")
    tok = AutoTokenizer.from_pretrained(args.dir)
    facts = {"is_fast": tok.is_fast, "bos": (tok.bos_token, tok.bos_token_id),
             "eos": (tok.eos_token, tok.eos_token_id), "unk": tok.unk_token}
    want = {"is_fast": True, "bos": ("<s>", 0), "eos": ("</s>", 1), "unk": None}
    if facts != want:
        print("MISMATCH AutoTokenizer: got %r, want %r" % (facts, want))
        return 1
    lines = strings(args.corpus)
    path = os.path.join(args.dir, "tokenizer.json")
    bad = []
    for add in (False, True):
        mine = lorens_ids(args.lorens, path, lines, add)
        for s, ids in zip(lines, mine):
            theirs = tok(s, add_special_tokens=add)["input_ids"]
            if ids != theirs:
                bad.append((s, ids, theirs))
            elif not add and tok.decode(theirs) != s:
                bad.append((s, "decode", tok.decode(theirs)))
    print("AutoTokenizer: %s, bos %r, eos %r" % (type(tok).__name__, facts["bos"], facts["eos"]))
    return report(bad, "transformers.AutoTokenizer", 2 * len(lines))


def check_train(args):
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    except ImportError:
        return skip("tokenizers")
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=2,
                                  special_tokens=["<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer=trainer)
    hf = json.loads(tok.to_str())["model"]
    with open(os.path.join(args.dir, "tokenizer.json"), encoding="utf-8") as f:
        mine = json.load(f)["model"]
    hf_merges = [" ".join(m) if isinstance(m, list) else m for m in hf["merges"]]
    print("BpeTrainer: %d tokens, %d merges; lorens: %d tokens, %d merges"
          % (len(hf["vocab"]), len(hf_merges), len(mine["vocab"]), len(mine["merges"])))
    if hf["vocab"] != mine["vocab"]:
        print("MISMATCH: the vocabularies differ")
        return 1
    for i, (a, b) in enumerate(zip(hf_merges, mine["merges"])):
        if a != b:
            print("MISMATCH: merge %d is %r for BpeTrainer, %r for lorens" % (i, a, b))
            return 1
    return 0 if len(hf_merges) == len(mine["merges"]) else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("check", choices=["encode", "transformers", "train"])
    ap.add_argument("--lorens", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--corpus")
    ap.add_argument("--vocab-size", type=int)
    args = ap.parse_args()
    if args.check == "train" and (args.corpus is None or args.vocab_size is None):
        ap.error("train needs --corpus and --vocab-size")
    return {"encode": check_encode, "transformers": check_transformers,
            "train": check_train}[args.check](args)


if __name__ == "__main__":
    sys.exit(main())
