#!/usr/bin/env python3
"""make_vectors.py: reference encodings for tests/tokenizer/test-vectors, made with Hugging Face
`tokenizers` (pip install tokenizers; run offline, then commit what it writes).

    python3 tests/tokenizer/make_vectors.py [--shared ../shared] [--qwen-tiktoken FILE --out DIR]

Writes, in tests/tokenizer/vectors/:
  llama3.inp / llama3.out        TEXTS with ../shared/tokenizers/llama3/tokenizer.json
  qwen2.inp / qwen2.out          TEXTS with the Qwen2 pipeline on the GPT-2 vocabulary:
  qwen2-overlay.json             GPT-2's model (../shared/tokenizers/gpt2) with Qwen2's normalizer,
                                 pre-tokenizer, decoder and added tokens, as this overlay gives them
The .inp format is llama.cpp's (each text followed by a line __ggml_vocab_test__); .out has one
line of space-separated ids per text, without special tokens (add_special_tokens=False); .dec
one JSON string per text: HF's decode of those ids (skip_special_tokens=False).

--qwen-tiktoken FILE builds a full Qwen tokenizer.json from the Qwen vocabulary in tiktoken form
(dashscope's resources/qwen.tiktoken, pip download dashscope) with merges derived as transformers'
TikTokenConverter derives them, and writes it with its vectors to DIR (not committed: 7 MB).
"""
import argparse
import base64
import copy
import json
import os
import sys

from tokenizers import Tokenizer

SEP = "\n__ggml_vocab_test__\n"

TEXTS = [
    "Hello world",
    " Hello world",
    "Hello, World! How's it going? I'm fine, you'll see; we'd've known. THEY'RE HERE, it'S",
    "Question: Which of these is a mammal? (A) shark (B) whale (C) trout (D) eel\nAnswer:",
    "   leading spaces, trailing spaces   ",
    "tabs\tand\t\ttabs\n\nnew\r\nlines\n\n\n  \n\t\n",
    "     ",
    "\n",
    "",
    "a",
    "1 12 123 1234 12345 123456789012345678901234567890",
    "3.14159 2,718 1e-10 0x1F -42 +7 1/2 50% $19.99 \u00bd \u00b2 \u2163 \u0663\u0664\u0665",
    "Gr\u00fc\u00dfe aus M\u00fcnchen! \u00c9l\u00e8ve, na\u00efve caf\u00e9, se\u00f1or, \u0141\u00f3d\u017a",
    "e\u0301 vs \u00e9 (combining acute vs precomposed), \ufb01 ligature, \u212b angstrom",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? "
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03ba\u03b5\u03af\u03bc\u03b5\u03bd\u03bf",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002"
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 "
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 "
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "emoji: \U0001f600\U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d"
    "\U0001f466 \U0001f3f3\ufe0f\u200d\U0001f308 \U0001f1e9\U0001f1ea \U0001f999.cpp",
    "def f(x):\n    return x ** 2  # square\n\nif __name__ == '__main__':\n\tprint(f(3))\n",
    "int main(void) { for (int i = 0; i < 10; i++) printf(\"%d\\n\", i); return 0; }",
    "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html> {\"key\": [1, 2, null]}",
    "mixed: caf\u00e9 \u4e2d\u6587 123abc abc123 ABC_def-ghi.jkl \u2014 \u201cquotes\u201d "
    "\u2018single\u2019 \u2026",
    "   \u00a0\u2003 unusual spaces\u3000here\u2028and\u0085there",
    "!!!???... ---=== ***  ;;;:::",
    "Don't can't won't shouldn't y'all o'clock rock'n'roll '' ' 's",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u00e0\u00e1\u00e2\u00e3\u00e4\u00e5\u00e6\u00e7\u00e8\u00e9\u00ea\u00eb \u0100\u0101\u0102",
    "\U00010348 \U0001d400\U0001d401 \U00020000 private \ue000 replacement \ufffd",
]

# Texts with the tokenizers' added tokens in them (matched before pre-tokenization).
LLAMA3_SPECIAL = [
    "<|begin_of_text|>Hello<|end_of_text|>",
    "a<|reserved_special_token_0|>b <|eot_id|> c",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>",
]
QWEN2_SPECIAL = [
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more",
]

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def qwen2_pipeline(first_added_id):
    """Qwen2's tokenizer.json, all but the model (as Qwen/Qwen2-* ship it)."""
    def added(i, content):
        return {"id": first_added_id + i, "content": content, "single_word": False,
                "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    return {
        "added_tokens": [added(0, "<|endoftext|>"), added(1, "<|im_start|>"),
                         added(2, "<|im_end|>")],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
    }


def bl(add_prefix_space=False, use_regex=False):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
            "use_regex": use_regex}


def split(behavior, pattern, invert=False):
    return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}


def seq(*steps):
    return {"type": "Sequence", "pretokenizers": list(steps)}


def metaspace(scheme, split_):
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme,
            "split": split_}


def added(i, content, **flags):
    a = {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": False}
    a.update(flags)
    return a


# Components the real files above do not use, each on a real vocabulary: (name, base, overlay).
# The overlays replace top-level keys of the base tokenizer.json.
VARIANTS = [
    ("split-removed", "gpt2", {"pre_tokenizer": seq(
        split("Removed", {"Regex": r"\s+"}), bl(True, True))}),
    ("split-merged-previous", "gpt2", {"pre_tokenizer": seq(
        split("MergedWithPrevious", {"String": " "}), bl())}),
    ("split-merged-next", "gpt2", {"pre_tokenizer": seq(
        split("MergedWithNext", {"Regex": r"[,.!?;:]"}), bl())}),
    ("split-contiguous-invert", "gpt2", {"pre_tokenizer": seq(
        split("Contiguous", {"Regex": r"\p{L}"}, invert=True), bl())}),
    ("split-isolated-invert", "gpt2", {"pre_tokenizer": seq(
        split("Isolated", {"Regex": r"\d+|\s"}, invert=True), bl())}),
    ("digits-contiguous", "gpt2", {"pre_tokenizer": seq(
        {"type": "Digits", "individual_digits": False}, bl(True, True))}),
    ("nfkc-replace", "gpt2", {"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": r"\d+"}, "content": "#"},
        {"type": "Replace", "pattern": {"String": "  "}, "content": " "}]},
        "pre_tokenizer": bl(True, True)}),
    ("metaspace-first", "llama2", {"normalizer": None, "pre_tokenizer": metaspace("first", True),
                                   "decoder": metaspace("first", True)}),
    ("metaspace-always-nosplit", "llama2", {"normalizer": None,
                                            "pre_tokenizer": metaspace("always", False),
                                            "decoder": metaspace("always", False)}),
    ("metaspace-never", "llama2", {"normalizer": None, "pre_tokenizer": metaspace("never", True),
                                   "decoder": metaspace("never", True)}),
    ("added-strip", "gpt2", {"added_tokens": [
        added(50256, "<|endoftext|>", special=True),
        added(50257, "<mask>", lstrip=True, special=True),
        added(50258, "[END]", rstrip=True, special=True),
        added(12792, "fox", single_word=True),  # already in the vocabulary, as HF requires
        added(50259, "\u00e9t\u00e9", normalized=True)],
        "normalizer": {"type": "NFC"}, "pre_tokenizer": bl(False, True)}),
]
VARIANT_TEXTS = TEXTS + [
    "The <mask> jumped. A  <mask>  B [END]   after fox foxes firefox fox.",
    "e\u0301te\u0301 and \u00e9t\u00e9, <mask><mask>[END][END]x",
]


def write_set(outdir, name, tok, texts):
    with open(os.path.join(outdir, name + ".inp"), "w", encoding="utf-8", newline="") as f:
        for t in texts:
            f.write(t + SEP)
    with open(os.path.join(outdir, name + ".out"), "w", encoding="utf-8", newline="") as f, \
         open(os.path.join(outdir, name + ".dec"), "w", encoding="utf-8", newline="") as d:
        for t in texts:
            ids = tok.encode(t, add_special_tokens=False).ids
            f.write(" ".join(str(i) for i in ids) + "\n")
            d.write(json.dumps(tok.decode(ids, skip_special_tokens=False)) + "\n")
    print(f"{name}: {len(texts)} texts")


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def qwen_from_tiktoken(path):
    """A Qwen tokenizer.json from qwen.tiktoken (base64 token, rank per line)."""
    b2u = bytes_to_unicode()
    vocab = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                vocab["".join(b2u[b] for b in base64.b64decode(tok))] = int(rank)
    merges = []
    for token, rank in vocab.items():  # transformers' generate_merges
        local = [(token[:i], token[i:], rank) for i in range(1, len(token))
                 if token[:i] in vocab and token[i:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2])
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
             "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
             "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b, _ in merges]}
    doc = {"version": "1.0", "truncation": None, "padding": None}
    doc.update(qwen2_pipeline(len(vocab)))
    doc["model"] = model
    return doc


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    ap.add_argument("--qwen-tiktoken")
    ap.add_argument("--out")
    args = ap.parse_args()
    outdir = os.path.join(here, "vectors")
    tokdir = os.path.join(args.shared, "tokenizers")

    if args.qwen_tiktoken:
        os.makedirs(args.out, exist_ok=True)
        doc = qwen_from_tiktoken(args.qwen_tiktoken)
        path = os.path.join(args.out, "qwen-tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        write_set(args.out, "qwen", Tokenizer.from_file(path), TEXTS + QWEN2_SPECIAL)
        return

    with open(os.path.join(outdir, "sets.txt"), "w", encoding="utf-8") as sets:
        sets.write("# name base-tokenizer (../shared/tokenizers/BASE/tokenizer.json); "
                   "NAME-overlay.json, if any, goes over it\n")
        sets.write("llama3 llama3\nqwen2 gpt2\n")
        for name, base, overlay in VARIANTS:
            with open(os.path.join(tokdir, base, "tokenizer.json"), encoding="utf-8") as f:
                doc = json.load(f)
            doc.update(overlay)
            with open(os.path.join(outdir, name + "-overlay.json"), "w", encoding="utf-8") as f:
                json.dump(overlay, f, ensure_ascii=False, indent=1)
                f.write("\n")
            write_set(outdir, name, Tokenizer.from_str(json.dumps(doc)), VARIANT_TEXTS)
            sets.write(f"{name} {base}\n")

    llama3 = Tokenizer.from_file(os.path.join(tokdir, "llama3", "tokenizer.json"))
    write_set(outdir, "llama3", llama3, TEXTS + LLAMA3_SPECIAL)

    with open(os.path.join(tokdir, "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        gpt2 = json.load(f)
    # GPT-2 has 50257 tokens; <|endoftext|> (50256) is already in its vocabulary.
    overlay = qwen2_pipeline(50256)
    with open(os.path.join(outdir, "qwen2-overlay.json"), "w", encoding="utf-8") as f:
        json.dump(overlay, f, ensure_ascii=False, indent=1)
        f.write("\n")
    doc = copy.deepcopy(gpt2)
    doc.update(overlay)
    write_set(outdir, "qwen2", Tokenizer.from_str(json.dumps(doc)), TEXTS + QWEN2_SPECIAL)


if __name__ == "__main__":
    sys.exit(main())
