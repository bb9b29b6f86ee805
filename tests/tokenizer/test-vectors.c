/*
 * test-vectors.c: lorens's tokenizer against ids made by Hugging Face `tokenizers`.
 *
 * Each set is a tokenizer.json and a pair of files: NAME.inp (texts, each followed by a line
 * "__ggml_vocab_test__") and NAME.out (one line of space-separated ids per text, no BOS).  Every
 * text must encode to exactly those ids, and decode back to itself.  The sets:
 *
 *   ../shared/tokenizers/vectors/{gpt-2,llama-spm,smollm}   (llama.cpp's, made with tokenizers)
 *   tests/tokenizer/vectors/{llama3,qwen2}                   (tests/tokenizer/make_vectors.py)
 *   tests/fixtures/gguf-tokenizer/NAME.gguf, and the SmolLM2 GGUF of ../shared on the smollm vectors
 *   and ARC-Easy prompts: tokenizers read from GGUF metadata against transformers' GGUF
 *   tokenizer (tests/fixtures/make_gguf_tokenizer_reference.py)
 *
 * qwen2 is Qwen2's pipeline (NFC, its Split regex, ByteLevel, its added tokens) on GPT-2's
 * vocabulary: ../shared/tokenizers/gpt2/tokenizer.json with qwen2-overlay.json's keys put over it
 * (tests/tokenizer/vectors/README.md says why).
 *
 * A set whose tokenizer.json is missing (../shared absent) is skipped with the reason.
 *
 *     test-vectors [TOKENIZER.json VECTORS-BASENAME [OVERLAY.json]]   one set, for debugging
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "text/tokenizer.h"
#include "../tap.h"

#define SEP "\n__ggml_vocab_test__\n"

static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, got;
  *n = 0;
  if (fp == NULL)
    return NULL;
  do {
    /* Grow while there is no room for a byte and the NUL: a full buffer must not end the loop. */
    if (*n + 1 >= cap && (buf = realloc(buf, cap = cap ? 2 * cap : 1 << 16)) == NULL)
      break;
    *n += got = fread(buf + *n, 1, cap - *n - 1, fp);
  } while (got > 0);
  fclose(fp);
  if (buf)
    buf[*n] = '\0';
  return buf;
}

/* Parses one line of ids; returns the pointer past its newline. */
static const char *parse_ids(const char *p, lr_ids *ids) {
  ids->n = 0;
  while (*p && *p != '\n') {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) {
      p++;
      continue;
    }
    lr_ids_push(ids, (int32_t)v, NULL);
    p = end;
  }
  return *p ? p + 1 : p;
}

static bool same_ids(const lr_ids *a, const lr_ids *b) {
  return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static void show_ids(const char *what, const lr_ids *ids) {
  char buf[2048];
  size_t used = 0;
  for (size_t i = 0; i < ids->n && used + 16 < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, " %ld", (long)ids->v[i]);
  buf[used] = '\0';
  tap_diag("%s:%s", what, buf);
}

/* The tokenizer of json with the top-level keys of overlay put over it, as JSON text. */
static char *overlaid(const char *json, const char *overlay) {
  json_error_t jerr;
  json_t *a = json_load_file(json, 0, &jerr), *b = json_load_file(overlay, 0, &jerr);
  char *text = NULL;
  if (a && b && json_object_update(a, b) == 0)
    text = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  json_decref(b);
  return text;
}

static lr_status load(const char *json, const char *overlay, lr_tokenizer **t, lr_err *err) {
  char *text;
  lr_status rc;
  if (overlay == NULL)
    return lr_tokenizer_load(json, t, err);
  if ((text = overlaid(json, overlay)) == NULL)
    return lr_fail(err, LR_EIO, "cannot read %s with %s over it", json, overlay);
  rc = lr_tokenizer_load_buffer(text, strlen(text), json, t, err);
  free(text);
  return rc;
}

/* Whether decoded text is the text, as far as decoding can give it back: SentencePiece-style
 * decoders drop the one leading space they add, so a text that starts with a space comes back
 * without it (HF's too), and an NFC normalizer gives back the NFC form. */
static bool round_trips(const char *decoded, const char *text, size_t n) {
  char *copy, *nfc;
  bool same;
  if (strlen(decoded) == n && memcmp(decoded, text, n) == 0)
    return true;
  if (n > 0 && text[0] == ' ' && strlen(decoded) == n - 1 && memcmp(decoded, text + 1, n - 1) == 0)
    return true;
  if ((copy = malloc(n + 1)) == NULL)
    return false;
  memcpy(copy, text, n);
  copy[n] = '\0';
  nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)copy);
  same = nfc && strcmp(nfc, decoded) == 0;
  free(nfc);
  free(copy);
  return same;
}

/* The next line of a .dec file: a JSON string (HF's decode), or NULL. */
static char *next_decoded(const char **d) {
  const char *nl;
  json_t *v;
  char *s = NULL;
  if (*d == NULL || **d == '\0' || (nl = strchr(*d, '\n')) == NULL)
    return NULL;
  v = json_loadb(*d, (size_t)(nl - *d), JSON_DECODE_ANY, NULL);
  if (json_is_string(v))
    s = strdup(json_string_value(v));
  json_decref(v);
  *d = nl + 1;
  return s;
}

/* Checks every text of inp (texts each followed by SEP; taken over) against the ids of out_base
 * .out (and the decoded texts of .dec, if there); returns the number that failed. */
static int check_texts(const char *json, const char *overlay, char *inp, const char *out_base,
                       int add_special, const char *name) {
  char path[4096];
  size_t n_out, n_dec, k = 0;
  char *out;
  lr_tokenizer *t;
  lr_err err;
  lr_ids got = {0}, want = {0};
  int failed = 0, decode_failed = 0;
  snprintf(path, sizeof path, "%s.out", out_base);
  out = slurp(path, &n_out);
  snprintf(path, sizeof path, "%s.dec", out_base);
  char *dec = slurp(path, &n_dec);
  const char *d = dec;
  lr_err_init(&err);
  if (!tap_ok(inp && out, "%s: texts and %s.out read", name, out_base) ||
      !tap_ok(load(json, overlay, &t, &err) == LR_OK, "%s: %s loads", name, json)) {
    tap_diag("%s", err.msg);
    free(inp);
    free(out);
    free(dec);
    return 1;
  }
  const char *p = inp, *q = out;
  for (char *sep; (sep = strstr(p, SEP)) != NULL; p = sep + strlen(SEP), k++) {
    q = parse_ids(q, &want);
    char *hf_text = next_decoded(&d);
    got.n = 0;
    lr_err_init(&err);
    if (lr_tokenizer_encode(t, p, (size_t)(sep - p), add_special, &got, &err) != LR_OK ||
        !same_ids(&got, &want)) {
      failed++;
      tap_diag("%s text %zu: '%.*s' %s", name, k, (int)(sep - p), p, err.msg);
      show_ids("got ", &got);
      show_ids("want", &want);
      free(hf_text);
      continue;
    }
    char *text = NULL;
    lr_err_init(&err);
    if (add_special) { /* the decoded text has BOS/EOS too: checked without them */
      free(hf_text);
      continue;
    }
    /* With HF's decoded text (.dec) it must be exactly that; else the text itself. */
    if (lr_tokenizer_decode(t, got.v, got.n, &text, &err) != LR_OK ||
        (hf_text ? strcmp(text, hf_text) != 0 : !round_trips(text, p, (size_t)(sep - p)))) {
      decode_failed++;
      tap_diag("%s text %zu decodes to '%s'%s%s", name, k, text ? text : err.msg,
               hf_text ? ", HF to " : "", hf_text ? hf_text : "");
    }
    free(text);
    free(hf_text);
  }
  tap_is_int(failed, 0, "%s: all %zu texts encode to HF's ids", name, k);
  tap_is_int(decode_failed, 0, "%s: and decode to %s", name,
             dec ? "HF's decoded text" : "the text again");
  lr_ids_release(&got);
  lr_ids_release(&want);
  lr_tokenizer_free(t);
  free(inp);
  free(out);
  free(dec);
  return failed;
}

/* A set of files: base.inp and base.out. */
static int check_set(const char *json, const char *overlay, const char *base, const char *name) {
  char path[4200];
  size_t n;
  if (access(json, R_OK) != 0) {
    tap_skip("tokenizer not found", "%s: %s", name, json);
    return 0;
  }
  snprintf(path, sizeof path, "%s.inp", base);
  return check_texts(json, overlay, slurp(path, &n), base, 0, name);
}

/* The texts tests/fixtures/make_gguf_tokenizer_reference.py's arc_texts renders from the first
 * n questions of an ARC jsonl file, in .inp form: per question its select prompt, then one cloze
 * text "question answer" per choice. */
static char *arc_texts(const char *path, size_t n) {
  FILE *fp = fopen(path, "r");
  char line[65536];
  lr_buf b = LR_BUF_INIT;
  for (size_t q = 0; fp && q < n && fgets(line, sizeof line, fp); q++) {
    json_t *row = json_loads(line, 0, NULL), *question = json_object_get(row, "question");
    const char *stem = json_string_value(json_object_get(question, "stem"));
    json_t *choices = json_object_get(question, "choices"), *c;
    size_t k;
    lr_buf_addf(&b, NULL, "Select one of the choices that answers the following question: %s "
                "Choices:", stem ? stem : "");
    json_array_foreach(choices, k, c) {
      lr_buf_addf(&b, NULL, " %c. %s", (int)('A' + k),
                  json_string_value(json_object_get(c, "text")));
    }
    lr_buf_addf(&b, NULL, " Answer:%s", SEP);
    json_array_foreach(choices, k, c) {
      lr_buf_addf(&b, NULL, "%s %s%s", stem ? stem : "",
                  json_string_value(json_object_get(c, "text")), SEP);
    }
    json_decref(row);
  }
  if (fp)
    fclose(fp);
  return b.buf ? b.buf : strdup("");
}

/* GGUF files against transformers' GGUF tokenizer (tests/fixtures/make_gguf_tokenizer_reference.py):
 * the tiny fixtures, and the shipped SmolLM2 file on llama.cpp's vectors and on ARC prompts,
 * whose ids its tokenizer.json must give too. */
static void check_gguf_sets(const char *top, const char *shared) {
  static const char *const tiny[] = {"gpt2", "smollm", "llama-bpe", "qwen2", "spm"};
  char base[3072], gguf[3200], out[3200], name[256], inp_path[3200], json[3200];
  size_t n;
  for (size_t i = 0; i < LR_ARRAY_LEN(tiny); i++) {
    snprintf(base, sizeof base, "%s/tests/fixtures/gguf-tokenizer/%s", top, tiny[i]);
    snprintf(gguf, sizeof gguf, "%s.gguf", base);
    snprintf(name, sizeof name, "%s.gguf", tiny[i]);
    check_set(gguf, NULL, base, name);
    snprintf(out, sizeof out, "%s-special", base);
    snprintf(inp_path, sizeof inp_path, "%s.inp", base);
    snprintf(name, sizeof name, "%s.gguf with BOS/EOS", tiny[i]);
    check_texts(gguf, NULL, slurp(inp_path, &n), out, 1, name);
  }
  snprintf(gguf, sizeof gguf, "%s/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
           shared);
  snprintf(json, sizeof json, "%s/tokenizers/smollm2/tokenizer.json", shared);
  if (access(gguf, R_OK) != 0 || access(json, R_OK) != 0) {
    tap_skip("../shared has no SmolLM2 GGUF file or tokenizer.json", "%s", gguf);
    return;
  }
  snprintf(inp_path, sizeof inp_path, "%s/tokenizers/vectors/smollm.inp", shared);
  snprintf(out, sizeof out, "%s/tests/fixtures/gguf-tokenizer/smollm2-vectors", top);
  check_texts(gguf, NULL, slurp(inp_path, &n), out, 0, "SmolLM2 GGUF, llama.cpp's vectors");
  snprintf(inp_path, sizeof inp_path, "%s/data/arc-easy/ARC-Easy-Dev.jsonl", shared);
  snprintf(out, sizeof out, "%s/tests/fixtures/gguf-tokenizer/smollm2-arc", top);
  check_texts(gguf, NULL, arc_texts(inp_path, 100), out, 0, "SmolLM2 GGUF, ARC-Easy prompts");
  check_texts(json, NULL, arc_texts(inp_path, 100), out, 0,
              "SmolLM2 tokenizer.json, the same ARC-Easy prompts");
}

int main(int argc, char **argv) {
  const char *top = getenv("TOP_SRCDIR");
  char shared[2048], json[4096], base[4096], overlay[4096], path_list[4096];
  static const char *const sets[][2] = {
      {"gpt-2", "gpt2"}, {"llama-spm", "llama2"}, {"smollm", "smollm2"}};
  char line[512], name[256], tok[256];
  FILE *list;
  if (argc == 3 || argc == 4) {
    check_set(argv[1], argc == 4 ? argv[3] : NULL, argv[2], "one set");
    return tap_done();
  }
  if (top == NULL || strlen(top) > 1024)
    tap_skip_all("TOP_SRCDIR is not set (run through make check)");
  snprintf(shared, sizeof shared, "%s/../shared", top);
  for (size_t i = 0; i < LR_ARRAY_LEN(sets); i++) {
    snprintf(json, sizeof json, "%s/tokenizers/%s/tokenizer.json", shared, sets[i][1]);
    snprintf(base, sizeof base, "%s/tokenizers/vectors/%s", shared, sets[i][0]);
    check_set(json, NULL, base, sets[i][0]);
  }
  /* Our own sets: "NAME BASE" lines, NAME-overlay.json (if any) over BASE's tokenizer.json. */
  snprintf(path_list, sizeof path_list, "%s/tests/tokenizer/vectors/sets.txt", top);
  if (!tap_ok((list = fopen(path_list, "r")) != NULL, "%s opens", path_list))
    return tap_done();
  while (fgets(line, sizeof line, list))
    if (line[0] != '#' && sscanf(line, "%255s %255s", name, tok) == 2) {
      snprintf(json, sizeof json, "%s/tokenizers/%s/tokenizer.json", shared, tok);
      snprintf(overlay, sizeof overlay, "%s/tests/tokenizer/vectors/%s-overlay.json", top, name);
      snprintf(base, sizeof base, "%s/tests/tokenizer/vectors/%s", top, name);
      check_set(json, access(overlay, R_OK) == 0 ? overlay : NULL, base, name);
    }
  fclose(list);
  check_gguf_sets(top, shared);
  return tap_done();
}
