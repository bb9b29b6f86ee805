/*
 * test-grid.c: grid files (grid.h): expansion, defaults, run_key stability, every validation error
 * with its position, the typed run configuration read back from canonical JSON (run-config.h),
 * the summary columns, canonical reals and SHA-256 (FIPS 180-4 vectors).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/canonical-json.h"
#include "base/json-util.h"
#include "base/sha256.h"
#include "grid/grid-schema.h"
#include "grid/grid.h"
#include "grid/run-config.h"
#include "../tap.h"

#define FILE_NAME "g.yaml"
#define HEAD "name: t\nmodel: m\ndata: {train: {path: data/ARC-Easy-Test.jsonl}}\n"

static lr_status parse(const char *text, lr_grid *g, lr_err *err) {
  lr_err_init(err);
  return lr_grid_parse(FILE_NAME, text, strlen(text), "/base", g, err);
}

/* Parses text that must be valid; returns the number of cells (-1 on error, with a diagnostic). */
static long count_cells(const char *text) {
  lr_grid g;
  lr_err err;
  long n;
  char msg[2048];
  if (parse(text, &g, &err) != LR_OK) {
    lr_err_format(&err, msg, sizeof msg);
    tap_diag("unexpected error: %s", msg);
    return -1;
  }
  n = (long)g.n_cells;
  lr_grid_release(&g);
  return n;
}

/* The run_key of a grid with one cell ("" on error). */
static void key_of(const char *text, char key[65]) {
  lr_grid g;
  lr_err err;
  char msg[2048];
  key[0] = '\0';
  if (parse(text, &g, &err) != LR_OK) {
    lr_err_format(&err, msg, sizeof msg);
    tap_diag("unexpected error: %s", msg);
    return;
  }
  if (g.n_cells == 1)
    memcpy(key, g.cells[0].run_key, 65);
  lr_grid_release(&g);
}

/* text must fail with exactly "g.yaml:LINE:COL: MSG". */
static void error_is(const char *text, const char *want, const char *what) {
  lr_grid g;
  lr_err err;
  char got[2048];
  if (parse(text, &g, &err) == LR_OK) {
    lr_grid_release(&g);
    tap_ok(false, "%s: accepted", what);
    return;
  }
  lr_err_format(&err, got, sizeof got);
  tap_is_str(got, want, "%s", what);
  tap_ok(g.cells == NULL && g.n_cells == 0 && g.name == NULL, "%s: the grid is left empty", what);
}

/* ---- SHA-256 and canonical numbers ---------------------------------------------------------------- */

static void test_sha256(void) {
  char hex[65], *million = malloc(1000000);
  lr_sha256 s;
  uint8_t d[32];
  lr_sha256_hex("", 0, hex);
  tap_is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256('')");
  lr_sha256_hex("abc", 3, hex);
  tap_is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
  lr_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
  tap_is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448-bit message");
  lr_sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112, hex);
  tap_is_str(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", "896-bit message");
  memset(million, 'a', 1000000);
  lr_sha256_hex(million, 1000000, hex);
  tap_is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million 'a'");
  /* The same million bytes in uneven pieces. */
  lr_sha256_init(&s);
  for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 7 % 1000 + 1)
    lr_sha256_update(&s, million + off, off + step > 1000000 ? 1000000 - off : step);
  lr_sha256_final(&s, d);
  tap_ok(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0, "incremental updates give the same digest");
  free(million);
}

static void real_is(double d, const char *want) {
  char buf[LR_REAL_TEXT_MAX];
  lr_format_real(d, buf);
  tap_is_str(buf, want, "canonical real %s", want);
}

static void test_canonical(void) {
  json_t *v = json_pack("{s:i, s:[f, s], s:{s:b, s:n}}", "b", 1, "a", 1e-4, "x\"y", "c", "z", 0, "y");
  char *text = lr_json_canonical(v, NULL), buf[LR_REAL_TEXT_MAX];
  real_is(1e-4, "0.0001");
  real_is(0.0001, "0.0001");
  real_is(16, "16.0");
  real_is(100, "100.0");
  real_is(-0.0, "0.0");
  real_is(1e-5, "1e-05");
  real_is(1e-8, "1e-08");
  real_is(0.1, "0.1");
  real_is(0.999, "0.999");
  real_is(2.5e20, "2.5e+20");
  real_is(1e15, "1e+15");
  real_is(123456.5, "123456.5");
  real_is(1.0 / 3, "0.3333333333333333");
  tap_ok(!lr_format_real(1.0 / 0.0, buf), "infinity has no canonical form");
  tap_is_str(text, "{\"a\":[0.0001,\"x\\\"y\"],\"b\":1,\"c\":{\"y\":null,\"z\":false}}",
             "canonical JSON: sorted keys, no spaces, jansson escapes");
  free(text);
  json_decref(v);
}

/* ---- expansion ------------------------------------------------------------------------------------ */

static const char *const demo =
    "# a demo grid\n"
    "name: demo\n"
    "model: models/tiny\n"
    "data:\n"
    "  train: {format: arc, path: data/ARC-Easy-Train.jsonl}\n"
    "  eval:\n"
    "    - {name: arc-e-test, format: arc, path: data/ARC-Easy-Test.jsonl}\n"
    "grid:\n"
    "  lora.rank: [4, 8]\n"
    "  regularizer.kl.weight: [0, 0.1]\n"
    "  train.lr: [1e-4, 5e-5]\n"
    "  seed: [0, 1]\n"
    "zip:\n"
    "  - [regularizer.kl.weight, train.lr]\n"
    "exclude:\n"
    "  - {lora.rank: 4, seed: 1}\n"
    "include:\n"
    "  - {lora.rank: 16, seed: 7}\n"
    "  - {lora.rank: 8, seed: 0}\n"     /* already a cell: dropped */
    "  - {seed: 7, lora.rank: 16}\n";   /* the first include again: dropped */

static void test_expansion(void) {
  lr_grid g;
  lr_err err;
  tap_is_int(count_cells(HEAD), 1, "no grid: one cell");
  tap_is_int(count_cells(HEAD "grid: {lora.rank: [4, 8], seed: [0, 1, 2]}\n"), 6, "grid: 2 x 3");
  tap_is_int(count_cells(HEAD "grid: {lora.rank: [4, 8], seed: [0, 1], train.lr: [1, 2]}\n"
                              "zip: [[seed, train.lr]]\n"), 4, "zip: 2 x (2 zipped)");
  tap_is_int(count_cells(HEAD "grid: {lora.rank: [4, 8], seed: [0, 1]}\n"
                              "exclude: [{lora.rank: 4}]\n"), 2, "exclude by one key");
  tap_is_int(count_cells(HEAD "grid: {lora.rank: [4, 8], seed: [0, 1]}\n"
                              "exclude: [{lora.rank: 4, seed: 0}, {seed: 1, lora.rank: 8}]\n"), 2,
             "exclude needs every key of an entry to match");
  tap_is_int(count_cells(HEAD "grid: {lora.rank: [4, 8]}\nexclude: [{lora.alpha: 16}]\n"
                              "include: [{lora.rank: 4}]\n"), 1,
             "exclude matches keys outside the grid (defaults too); include adds back");
  tap_is_int(count_cells(HEAD "include: [{seed: 0}, {seed: 1}]\n"), 2,
             "an include equal to the base cell is dropped");
  tap_is_int(count_cells(HEAD "grid: {lora.targets: [[q, v], 'q,k,v,o', all]}\n"), 3,
             "target lists as axis values");
  tap_is_int(count_cells(HEAD "grid: {data.train: [{path: a.jsonl}, {path: b.jsonl, format: obqa, "
                              "limit: 100}]}\n"), 2, "whole data sets as axis values");
  tap_is_int(count_cells(HEAD "grid: {data.eval: [[], [{path: x.jsonl}, {path: y.jsonl}]]}\n"), 2,
             "whole evaluation lists as axis values");
  tap_is_int(count_cells(HEAD "grid: {data.train.limit: [10, 20], ensemble.randomness.init: "
                              "[vary, fixed]}\n"), 4, "nested paths");

  if (parse(demo, &g, &err) != LR_OK) {
    tap_ok(false, "the demo grid parses: %s", err.msg);
    return;
  }
  tap_is_str(g.name, "demo", "name");
  tap_is_str(g.base_dir, "/base", "base_dir");
  tap_is_int((long long)g.n_cells, 8 - 2 + 1, "demo: 2 x 2 x 2, 2 excluded, 1 of 3 includes kept");
  tap_is_int((long long)g.n_axes, 4, "four axes");
  tap_is_int((long long)g.n_grid_axes, 4, "all from the grid (include keys are axes already)");
  tap_is_str(g.axes[0], "lora.rank", "axes in file order");
  tap_is_str(g.axes[3], "seed", "axes in file order (last)");
  if (g.n_cells == 7) {
    static const long ranks[] = {4, 4, 8, 8, 8, 8, 16}, seeds[] = {0, 0, 0, 1, 0, 1, 7};
    static const double kls[] = {0, 0.1, 0, 0, 0.1, 0.1, 0}, lrs[] = {1e-4, 5e-5, 1e-4, 1e-4, 5e-5, 5e-5, 1e-4};
    for (int i = 0; i < 7; i++) {
      const json_t *c = g.cells[i].config, *ax = g.cells[i].axes;
      bool ok = json_integer_value(lr_json_path_get(c, "lora.rank")) == ranks[i] &&
                json_integer_value(lr_json_path_get(c, "seed")) == seeds[i] &&
                json_real_value(lr_json_path_get(c, "regularizer.kl.weight")) == kls[i] &&
                json_real_value(lr_json_path_get(c, "train.lr")) == lrs[i] &&
                json_integer_value(json_object_get(ax, "lora.rank")) == ranks[i] &&
                json_object_size(ax) == 4;
      tap_ok(ok, "cell %d: rank %ld, kl %g with lr %g (zipped), seed %ld", i, ranks[i], kls[i],
             lrs[i], seeds[i]);
      tap_is_int((long long)strlen(g.cells[i].run_key), 64, "cell %d: run_key is 64 hex digits", i);
    }
  }
  lr_grid_release(&g);
  tap_ok(g.cells == NULL && g.name == NULL, "release leaves the grid empty");
}

static void test_defaults(void) {
  lr_grid g;
  lr_err err;
  const json_t *c;
  if (parse(HEAD, &g, &err) != LR_OK || g.n_cells != 1) {
    tap_ok(false, "the minimal grid parses: %s", err.msg);
    return;
  }
  c = g.cells[0].config;
  tap_is_str(json_string_value(lr_json_path_get(c, "data.train.name")), "ARC-Easy-Test",
             "a data set's name defaults to its file name without the extension");
  tap_is_str(json_string_value(lr_json_path_get(c, "data.train.format")), "arc", "format: arc");
  tap_ok(json_is_null(lr_json_path_get(c, "data.validation")), "validation: null");
  tap_ok(json_array_size(lr_json_path_get(c, "data.eval")) == 0 && json_is_array(lr_json_path_get(c, "data.eval")), "eval: []");
  tap_ok(json_is_null(lr_json_path_get(c, "tokenizer")), "tokenizer: null");
  tap_is_str(json_string_value(lr_json_path_get(c, "backend")), "cpu", "backend: cpu");
  tap_ok(json_is_real(lr_json_path_get(c, "lora.alpha")) && json_real_value(lr_json_path_get(c, "lora.alpha")) == 16,
         "lora.alpha: 16.0, a real");
  tap_is_int(json_integer_value(lr_json_path_get(c, "lora.rank")), 8, "lora.rank: 8");
  tap_is_int((long long)json_array_size(lr_json_path_get(c, "lora.targets")), 2, "lora.targets: [q, v]");
  tap_ok(json_real_value(lr_json_path_get(c, "train.adam.eps")) == 1e-8, "train.adam.eps: 1e-8");
  tap_is_str(json_string_value(lr_json_path_get(c, "regularizer.kl.direction")), "forward", "kl direction");
  tap_is_int(json_integer_value(lr_json_path_get(c, "ensemble.size")), 5, "ensemble.size: 5");
  tap_is_str(json_string_value(lr_json_path_get(c, "ensemble.randomness.dropout")), "vary", "randomness");
  tap_ok(lr_json_path_get(c, "runtime") == NULL && lr_json_path_get(c, "name") == NULL,
         "runtime and name are not part of the config");
  tap_is_int(g.runtime.jobs, 1, "runtime.jobs: 1");
  tap_ok(g.runtime.n_devices == 0 && g.runtime.timeout == 0, "runtime: no devices, no timeout");
  tap_is_int((long long)g.n_axes, 0, "no axes");
  tap_is_int((long long)json_object_size(g.cells[0].axes), 0, "an empty axes object");
  tap_is_str(g.cells[0].canonical,
             "{\"backend\":\"cpu\",\"data\":{\"eval\":[],\"train\":{\"format\":\"arc\",\"group\":null,"
             "\"limit\":0,\"name\":\"ARC-Easy-Test\",\"path\":\"data/ARC-Easy-Test.jsonl\",\"split\":null,"
             "\"subjects\":null},\"validation\":null},\"ensemble\":{\"randomness\":{\"data\":\"vary\","
             "\"dropout\":\"vary\",\"init\":\"vary\"},\"size\":5},\"lora\":{\"alpha\":16.0,\"dropout\":0.0,"
             "\"rank\":8,\"rslora\":false,\"targets\":[\"q\",\"v\"]},\"model\":\"m\",\"prompt\":{\"bos\":true,"
             "\"max_len\":0,\"template\":\"select\"},\"regularizer\":{\"early_stopping\":{\"metric\":\"none\","
             "\"mode\":\"stop\",\"patience\":1},\"kl\":{\"direction\":\"forward\",\"support\":\"choices\","
             "\"weight\":0.0},\"weight_decay\":{\"a\":0.0,\"b\":0.0,\"mode\":\"decoupled\"}},\"seed\":0,"
             "\"tokenizer\":null,\"train\":{\"adam\":{\"beta1\":0.9,\"beta2\":0.999,\"eps\":1e-08},"
             "\"batch_size\":8,\"epochs\":3,\"eval_every\":1,\"grad_clip\":0.0,\"lr\":0.0001,\"max_len\":0,"
             "\"schedule\":\"constant\",\"warmup_steps\":0}}",
             "the canonical form of the defaults");
  lr_grid_release(&g);
  if (parse("name: t\nmodel: m\ndata: {train: {path: a.jsonl}}\nruntime: {jobs: 4, devices: [0, 2], "
            "timeout: 90}\n", &g, &err) == LR_OK) {
    tap_ok(g.runtime.jobs == 4 && g.runtime.n_devices == 2 && g.runtime.devices[1] == 2 &&
           g.runtime.timeout == 90, "runtime values");
    lr_grid_release(&g);
  } else {
    tap_ok(false, "runtime grid parses: %s", err.msg);
  }
}

/* ---- run_key stability ---------------------------------------------------------------------------- */

static const char *const base_block =
    "name: t\n"
    "model: m\n"
    "data:\n"
    "  train: {path: a.jsonl, format: arc}\n"
    "  eval: [{path: e.jsonl}]\n"
    "lora: {rank: 8, alpha: 16, targets: [q, v]}\n"
    "train: {lr: 1e-4, adam: {beta2: 0.999}}\n"
    "seed: 3\n";

static void same_key(const char *a, const char *b, const char *what) {
  char ka[65], kb[65];
  key_of(a, ka);
  key_of(b, kb);
  tap_ok(ka[0] && strcmp(ka, kb) == 0, "same run_key: %s", what);
}

static void other_key(const char *a, const char *b, const char *what) {
  char ka[65], kb[65];
  key_of(a, ka);
  key_of(b, kb);
  tap_ok(ka[0] && kb[0] && strcmp(ka, kb) != 0, "different run_key: %s", what);
}

static void test_run_key(void) {
  same_key(base_block,
           "# comments change nothing\n"
           "seed: 3   # the seed\n"
           "train:\n"
           "  adam:\n"
           "    beta2: 0.999\n"
           "  lr: 0.0001\n"
           "lora:\n"
           "  targets: 'v,q'\n"
           "  alpha: 16.0\n"
           "  rank: 8\n"
           "data:\n"
           "  eval:\n"
           "    - path: \"e.jsonl\"\n"
           "      ood: false\n"
           "  train:\n"
           "    format: 'arc'\n"
           "    path: a.jsonl\n"
           "    name: a\n"
           "model: \"m\"\n"
           "name: renamed\n"
           "runtime: {jobs: 8, devices: [0, 1]}\n",
           "comments, key order, flow vs block style, quoting, lr 1e-4 vs 0.0001, alpha 16 vs 16.0, "
           "target order, defaults spelled out, name and runtime");
  same_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                       "lora: {rank: 8, alpha: 1.6e1}\ntrain: {lr: 1.0e-4}\nseed: 3\n",
           "defaults omitted, exponent spellings");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "lora: {rank: 8, alpha: 16}\ntrain: {lr: 1.1e-4}\nseed: 3\n", "train.lr");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "lora: {rank: 8, alpha: 16}\ntrain: {adam: {beta2: 0.99}}\nseed: 3\n",
            "train.adam.beta2 (nested)");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl, limit: 5}, eval: [{path: "
                        "e.jsonl}]}\nseed: 3\n", "data.train.limit (nested)");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl, "
                        "ood: true}]}\nseed: 3\n", "data.eval[0].ood (in a list)");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "lora: {targets: [q, k, v]}\nseed: 3\n", "lora.targets");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "seed: 4\n", "seed");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "ensemble: {randomness: {init: fixed}}\nseed: 3\n", "ensemble.randomness.init");
  other_key(base_block, "name: t\nmodel: m2\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "seed: 3\n", "model");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl, name: b}, eval: [{path: "
                        "e.jsonl}]}\nseed: 3\n", "data.train.name");
  other_key(base_block, "name: t\nmodel: m\ndata: {train: {path: a.jsonl}, eval: [{path: e.jsonl}]}\n"
                        "regularizer: {kl: {weight: 0.0001}}\nseed: 3\n", "regularizer.kl.weight");
  other_key(HEAD, HEAD "tokenizer: t.json\n", "tokenizer");
  same_key(HEAD "seed: 5\n", HEAD "grid: {seed: [5]}\n", "a one-value axis equals the value in the base");
  /* precision came after run_keys were recorded: its default leaves them where they were. */
  same_key(HEAD, HEAD "precision: fp32\n", "precision fp32 spelled out");
  same_key(HEAD, HEAD "grid: {precision: [fp32]}\n", "precision fp32 as an axis value");
  same_key(HEAD, HEAD "runtime: {precision: fp32}\n", "runtime.precision fp32");
  other_key(HEAD, HEAD "precision: bf16\n", "precision bf16");
  same_key(HEAD "precision: bf16\n", HEAD "runtime: {precision: bf16}\n",
           "runtime.precision bf16 is every cell's precision");
  same_key(HEAD, HEAD "precision: fp32\nruntime: {precision: bf16}\n",
           "a cell's own precision wins over runtime.precision");
  tap_is_int(count_cells(HEAD "grid: {precision: [fp32, bf16]}\n"), 2, "precision as a grid axis");
  tap_is_int(count_cells(HEAD "grid: {precision: [fp32, bf16], seed: [1, 2]}\n"
                              "exclude: [{precision: fp32, seed: 1}, {precision: bf16, seed: 2}]\n"),
             2, "exclude matches precision, its default too");
  tap_is_int(count_cells(HEAD "runtime: {precision: bf16}\ngrid: {seed: [1, 2]}\n"
                              "exclude: [{precision: bf16, seed: 1}]\n"),
             1, "and the precision runtime.precision gives");
  error_is(HEAD "precision: bf8\n",
           FILE_NAME ":4:12: precision: must be one of fp32|bf16, not 'bf8'", "a bad precision");
}

/* ---- validation errors ---------------------------------------------------------------------------- */

#define BASE "name: t\nmodel: m\ndata: {train: {path: a.jsonl}}\n"

/* A ranged field set on line 4 with a one-line flow mapping ("lora: {rank: 0}"); the value starts
 * two columns after the line's last ':'. */
static void range_error(const char *line, const char *path, const char *want) {
  char text[512], expect[512];
  int col = (int)(strrchr(line, ':') - line) + 3;
  snprintf(text, sizeof text, BASE "%s\n", line);
  snprintf(expect, sizeof expect, FILE_NAME ":4:%d: %s: %s", col, path, want);
  error_is(text, expect, line);
}

static void test_range_errors(void) {
  range_error("lora: {rank: 0}", "lora.rank", "must be an integer in [1, 4096], not 0");
  range_error("lora: {rank: 4097}", "lora.rank", "must be an integer in [1, 4096], not 4097");
  range_error("lora: {alpha: 0}", "lora.alpha", "must be a number > 0, not 0");
  range_error("lora: {alpha: -1.5}", "lora.alpha", "must be a number > 0, not -1.5");
  range_error("lora: {dropout: 1}", "lora.dropout", "must be a number in [0, 1), not 1");
  range_error("lora: {dropout: -0.1}", "lora.dropout", "must be a number in [0, 1), not -0.1");
  range_error("train: {epochs: -1}", "train.epochs", "must be an integer >= 0, not -1");
  range_error("train: {batch_size: 0}", "train.batch_size", "must be an integer >= 1, not 0");
  range_error("train: {lr: 0}", "train.lr", "must be a number > 0, not 0");
  range_error("train: {lr: .inf}", "train.lr", "must be a number > 0, not .inf");
  range_error("train: {lr: .nan}", "train.lr", "must be a number > 0, not .nan");
  range_error("train: {warmup_steps: -1}", "train.warmup_steps", "must be an integer >= 0, not -1");
  range_error("train: {adam: {beta1: 1}}", "train.adam.beta1", "must be a number in [0, 1), not 1");
  range_error("train: {adam: {beta2: 1.5}}", "train.adam.beta2", "must be a number in [0, 1), not 1.5");
  range_error("train: {adam: {eps: 0}}", "train.adam.eps", "must be a number > 0, not 0");
  range_error("train: {max_len: -1}", "train.max_len", "must be an integer >= 0, not -1");
  range_error("train: {grad_clip: -1}", "train.grad_clip", "must be a number >= 0, not -1");
  range_error("train: {eval_every: 0}", "train.eval_every", "must be an integer >= 1, not 0");
  range_error("prompt: {max_len: -1}", "prompt.max_len", "must be an integer >= 0, not -1");
  range_error("regularizer: {kl: {weight: -1}}", "regularizer.kl.weight", "must be a number >= 0, not -1");
  range_error("regularizer: {weight_decay: {a: -1}}", "regularizer.weight_decay.a",
              "must be a number >= 0, not -1");
  range_error("regularizer: {weight_decay: {b: -0.5}}", "regularizer.weight_decay.b",
              "must be a number >= 0, not -0.5");
  range_error("regularizer: {early_stopping: {patience: 0}}", "regularizer.early_stopping.patience",
              "must be an integer >= 1, not 0");
  range_error("ensemble: {size: 0}", "ensemble.size", "must be an integer in [1, 64], not 0");
  range_error("ensemble: {size: 65}", "ensemble.size", "must be an integer in [1, 64], not 65");
  range_error("seed: -1", "seed", "must be an integer >= 0, not -1");
  range_error("seed: 9223372036854775808", "seed",
              "must be an integer >= 0, not 9223372036854775808 (too large)");
  range_error("runtime: {jobs: 0}", "runtime.jobs", "must be an integer >= 1, not 0");
  range_error("runtime: {threads: -1}", "runtime.threads", "must be an integer >= 0, not -1");
  range_error("runtime: {retries: -1}", "runtime.retries", "must be an integer >= 0, not -1");
  range_error("runtime: {timeout: -1}", "runtime.timeout", "must be a number >= 0, not -1");
  error_is(BASE "runtime: {devices: [0, -1]}\n",
           FILE_NAME ":4:24: runtime.devices[1]: must be an integer in [0, 65535], not -1", "runtime.devices");
  error_is("name: t\nmodel: m\ndata: {train: {path: a.jsonl, limit: -1}}\n",
           FILE_NAME ":3:38: data.train.limit: must be an integer >= 0, not -1", "data.train.limit");
}

static void test_type_errors(void) {
  error_is(BASE "lora:\n  rnak: 8\n",
           FILE_NAME ":5:3: lora.rnak: unknown key 'rnak' (did you mean 'rank'?)", "a mistyped key");
  error_is(BASE "seeds: 1\n", FILE_NAME ":4:1: seeds: unknown key 'seeds' (did you mean 'seed'?)",
           "a mistyped top-level key");
  error_is(BASE "gird: {}\n", FILE_NAME ":4:1: gird: unknown key 'gird' (did you mean 'grid'?)",
           "a mistyped grid section");
  error_is(BASE "lora: {learning_rate: 1}\n",
           FILE_NAME ":4:8: lora.learning_rate: unknown key 'learning_rate'", "an unknown key");
  error_is(BASE "lora: {rank: eight}\n",
           FILE_NAME ":4:14: lora.rank: must be an integer in [1, 4096], not a string ('eight')",
           "a string for an integer");
  error_is(BASE "lora: {rank: 8.0}\n",
           FILE_NAME ":4:14: lora.rank: must be an integer in [1, 4096], not a number (8.0)",
           "a real for an integer");
  error_is(BASE "lora: {rank: '8'}\n",
           FILE_NAME ":4:14: lora.rank: must be an integer in [1, 4096], not a string ('8')",
           "a quoted number is a string");
  error_is("name: t\nmodel: 123\ndata: {train: {path: a.jsonl}}\n",
           FILE_NAME ":2:8: model: must be a string, not an integer (123)", "a number for a string");
  error_is(BASE "backend: true\n", FILE_NAME ":4:10: backend: must be a string, not a boolean (true)",
           "a boolean for a string");
  error_is(BASE "backend: ''\n", FILE_NAME ":4:10: backend: must not be empty", "an empty string");
  error_is(BASE "backend:\n", FILE_NAME ":4:9: backend: must be a string, not null", "null for a string");
  error_is(BASE "lora: {rslora: yes}\n",
           FILE_NAME ":4:16: lora.rslora: must be true or false, not a string ('yes')",
           "YAML 1.1 booleans are strings");
  error_is(BASE "train: {schedule: cosin}\n",
           FILE_NAME ":4:19: train.schedule: must be one of constant|linear|cosine, not 'cosin' "
           "(did you mean 'cosine'?)", "a mistyped choice");
  error_is(BASE "regularizer: {kl: {support: all}}\n",
           FILE_NAME ":4:29: regularizer.kl.support: must be one of choices|vocab, not 'all'",
           "a wrong choice");
  error_is(BASE "prompt: {template: 1}\n",
           FILE_NAME ":4:20: prompt.template: must be one of select|qa|cloze, not an integer (1)",
           "a number for a choice");
  error_is(BASE "lora: {targets: [q, vv]}\n",
           FILE_NAME ":4:21: lora.targets[1]: unknown LoRA target 'vv' (did you mean 'v'?) (targets: "
           "q,k,v,o,gate,up,down or all)", "a mistyped LoRA target");
  error_is(BASE "lora: {targets: 'q,,v'}\n",
           FILE_NAME ":4:17: lora.targets: an empty LoRA target name in 'q,,v'", "an empty target name");
  error_is(BASE "grid: {seed: [0, 1]}\nzip: [[seed, seed]]\n",
           FILE_NAME ":5:14: zip[0][1]: seed is listed twice", "an axis twice in one zip");
  error_is(BASE "lora: {targets: []}\n",
           FILE_NAME ":4:17: lora.targets: must list at least one LoRA target", "no LoRA targets");
  error_is(BASE "lora: 8\n", FILE_NAME ":4:7: lora: must be a mapping, not an integer (8)",
           "a scalar for a mapping");
  error_is(BASE "lora: [rank]\n", FILE_NAME ":4:7: lora: must be a mapping, not a list",
           "a list for a mapping");
  error_is("name: t\nmodel: m\ndata: {train: a.jsonl}\n",
           FILE_NAME ":3:15: data.train: must be a data set mapping (format, path ...), not a string "
           "('a.jsonl')", "a path for a data set");
  error_is("name: t\nmodel: m\ndata: {train: {path: a.jsonl, format: squad}}\n",
           FILE_NAME ":3:39: data.train.format: must be one of arc|obqa|csqa|mmlu|jsonl, not 'squad'",
           "an unknown data set format");
  error_is("name: t\nmodel: m\ndata: {train: {path: a.jsonl, ood: true}}\n",
           FILE_NAME ":3:31: data.train.ood: unknown key 'ood'", "ood is for evaluation sets only");
  error_is("name: t\nmodel: m\ndata: {train: {path: a.jsonl, group: stem}}\n",
           FILE_NAME ":3:31: data.train.group: only for format mmlu (this data set's format is arc)",
           "MMLU filters on another format");
  error_is("name: t\nmodel: m\ndata:\n  train: {path: a.jsonl}\n  eval: [{path: x/e.jsonl}, {path: "
           "y/e.jsonl}]\n",
           FILE_NAME ":5:29: data.eval[1]: evaluation set name 'e' is already used by data.eval[0]; "
           "give one of them a name", "two evaluation sets with one name");
  error_is("name: t\ndata: {train: {path: a.jsonl}}\n", FILE_NAME ":1:1: missing required key 'model'",
           "model is required");
  error_is("name: t\nmodel: m\n", FILE_NAME ":1:1: missing required key 'data'", "data is required");
  error_is("name: t\nmodel: m\ndata:\n  eval: []\n", FILE_NAME ":4:3: data: missing required key 'train'",
           "data.train is required");
  error_is("name: t\nmodel: m\ndata:\n  train: {format: arc}\n",
           FILE_NAME ":4:10: data.train: missing required key 'path'", "a data set's path is required");
  error_is("model: m\ndata: {train: {path: a.jsonl}}\n", FILE_NAME ":1:1: missing required key 'name'",
           "name is required");
  error_is("name: my sweep\nmodel: m\ndata: {train: {path: a.jsonl}}\n",
           FILE_NAME ":1:7: name: must be 1 to 128 letters, digits, '_', '.' or '-', starting with a "
           "letter or digit, not 'my sweep'", "a name with a space");
  error_is("name: 2024\nmodel: m\ndata: {train: {path: a.jsonl}}\n",
           FILE_NAME ":1:7: name: must be a string, not an integer (2024)", "a number for the name");
}

static void test_yaml_errors(void) {
  char deep[256];
  error_is(BASE "lora:\n  rank: 4\n  rank: 8\n",
           FILE_NAME ":6:3: lora: duplicate key 'rank' (first at 5:3)", "a duplicate key");
  error_is(BASE "seed: 1\nseed: 2\n", FILE_NAME ":5:1: duplicate key 'seed' (first at 4:1)",
           "a duplicate top-level key");
  error_is(BASE "lora:\n\trank: 8\n",
           FILE_NAME ":5:1: invalid YAML: while scanning for the next token found character that "
           "cannot start any token", "a tab");
  error_is(BASE "lora: {rank: 8\n",
           FILE_NAME ":5:1: invalid YAML: while parsing a flow mapping did not find expected ',' or '}'",
           "an unclosed flow mapping");
  error_is(BASE "x: &a 1\nseed: *a\n",
           FILE_NAME ":5:7: seed: aliases (*a) are not supported: write the value out", "an alias");
  error_is(BASE "---\nname: u\n",
           FILE_NAME ":4:1: more than one YAML document: a grid file holds one", "two documents");
  error_is("", FILE_NAME ":1:1: the file is empty", "an empty file");
  error_is("# nothing\n", FILE_NAME ":1:1: the file is empty", "a file of comments");
  error_is("- a\n", FILE_NAME ":1:1: must be a mapping of keys (name, model, data ...), not a list",
           "a list at the top");
  error_is(BASE "seed: !!binary abc\n",
           FILE_NAME ":4:7: seed: unsupported YAML tag 'tag:yaml.org,2002:binary'", "an unknown tag");
  error_is(BASE "seed: \xff\n", FILE_NAME ":4:7: invalid YAML: invalid leading UTF-8 octet",
           "bytes that are not UTF-8");
  error_is(BASE "{a: 1}: 2\n",
           FILE_NAME ":4:1: mapping keys must be scalars, not mappings or lists", "a mapping as a key");
  snprintf(deep, sizeof deep, BASE "x: %070d\n", 0);
  for (char *p = strchr(deep, 'x') + 3; *p == '0'; p++)
    *p = '[';
  error_is(deep, FILE_NAME ":4:68: nested more than 64 levels deep", "deep nesting");
}

static void test_grid_errors(void) {
  lr_grid g;
  lr_err err;
  char msg[2048];
  const char *big = BASE "grid: {seed: [0, 1, 2, 3], lora.rank: [1, 2, 3]}\n";
  error_is(BASE "grid:\n  lora.rnak: [1]\n",
           FILE_NAME ":5:3: grid.lora.rnak: unknown key 'rnak' (did you mean 'rank'?)",
           "a mistyped grid path");
  error_is(BASE "grid:\n  lora.rank: [4, 0]\n",
           FILE_NAME ":5:18: grid.lora.rank[1]: must be an integer in [1, 4096], not 0",
           "a bad grid value points at the value");
  error_is(BASE "grid:\n  data.train: [{path: a.jsonl}, {path: b.jsonl, format: arcc}]\n",
           FILE_NAME ":5:57: grid.data.train[1].format: must be one of arc|obqa|csqa|mmlu|jsonl, not "
           "'arcc' (did you mean 'arc'?)", "a data set in a grid value is checked like one in the base");
  error_is(BASE "grid:\n  seed: []\n", FILE_NAME ":5:9: grid.seed: must be a non-empty list of values",
           "an empty axis");
  error_is(BASE "grid:\n  seed: 3\n", FILE_NAME ":5:9: grid.seed: must be a non-empty list of values",
           "a scalar axis");
  error_is(BASE "grid: [seed]\n",
           FILE_NAME ":4:7: grid: must be a mapping of key paths to lists of values", "a list as grid");
  error_is(BASE "grid:\n  train.lr: [1, 1.0]\n",
           FILE_NAME ":5:17: grid.train.lr[1]: the same value as grid.train.lr[0]", "a repeated value");
  error_is(BASE "grid:\n  lora.targets: [[q, v], 'v,q']\n",
           FILE_NAME ":5:26: grid.lora.targets[1]: the same value as grid.lora.targets[0]",
           "a repeated value in another spelling");
  error_is(BASE "grid:\n  data.eval.path: [a]\n",
           FILE_NAME ":5:3: grid.data.eval.path: data.eval is not a mapping: a grid can only vary it as "
           "a whole", "a path into a list");
  error_is(BASE "grid:\n  runtime.jobs: [1, 2]\n",
           FILE_NAME ":5:3: grid.runtime.jobs: 'runtime' is not part of a run's configuration and "
           "cannot vary", "runtime cannot vary");
  error_is(BASE "grid:\n  data.train: [{path: b.jsonl}]\n  data.train.limit: [1, 2]\n",
           FILE_NAME ":6:3: grid.data.train.limit: overlaps the grid axis data.train (5:3); vary a "
           "value or the mapping that holds it, not both", "overlapping axes");
  error_is(BASE "grid:\n  data.validation.limit: [1, 2]\n",
           FILE_NAME ":5:3: grid.data.validation.limit: data.validation is null in the base "
           "configuration; set it there, or vary data.validation as a whole", "a path under null");
  error_is(BASE "grid: {seed: [0, 1], train.lr: [1, 2]}\nzip: [[seed, train.lrr]]\n",
           FILE_NAME ":5:14: zip[0][1]: 'train.lrr' is not a grid axis (did you mean 'train.lr'?)",
           "a zip path not in the grid");
  error_is(BASE "grid: {seed: [0, 1], train.lr: [1, 2, 3]}\nzip: [[seed, train.lr]]\n",
           FILE_NAME ":5:14: zip[0][1]: train.lr has 3 values but seed has 2; zipped axes move "
           "together and need the same number of values", "zipped axes of unequal lengths");
  error_is(BASE "grid: {seed: [0, 1]}\nzip: [[seed]]\n",
           FILE_NAME ":5:7: zip[0]: must be a list of at least two grid axes", "a zip of one");
  error_is(BASE "grid: {seed: [0, 1], train.lr: [1, 2], lora.rank: [1, 2]}\n"
                "zip: [[seed, train.lr], [lora.rank, seed]]\n",
           FILE_NAME ":5:37: zip[1][1]: seed is already zipped in zip[0]", "an axis in two zips");
  error_is(BASE "grid: {seed: [0, 1]}\nexclude: [{lora.rank: 8}]\n",
           FILE_NAME ":5:10: exclude: removes every cell of the grid", "excluding everything");
  error_is(BASE "exclude: [{lora.rank: 0}]\n",
           FILE_NAME ":4:23: exclude[0].lora.rank: must be an integer in [1, 4096], not 0",
           "a bad exclude value");
  error_is(BASE "exclude: [{}]\n",
           FILE_NAME ":4:11: exclude[0]: must be a mapping of key paths to values", "an empty exclude");
  error_is(BASE "include: [{sed: 1}]\n",
           FILE_NAME ":4:12: include[0].sed: unknown key 'sed' (did you mean 'seed'?)",
           "a mistyped include key");
  error_is("name: t\nmodel: m\ndata: {train: {path: m/, format: mmlu, group: stem}}\n"
           "grid:\n  data.train.format: [mmlu, arc]\n",
           FILE_NAME ":5:3: grid: the cell data.train.format=\"arc\": data.train: subjects, group and "
           "split are only for format mmlu (this data set's format is arc)",
           "a cell that breaks a rule between keys");

  lr_err_init(&err);
  tap_ok(lr_grid_parse_capped(FILE_NAME, big, strlen(big), NULL, 12, &g, &err) == LR_OK &&
         g.n_cells == 12, "12 cells under a cap of 12");
  lr_grid_release(&g);
  lr_err_init(&err);
  tap_ok(lr_grid_parse_capped(FILE_NAME, big, strlen(big), NULL, 11, &g, &err) == LR_EINVAL,
         "12 cells over a cap of 11");
  lr_err_format(&err, msg, sizeof msg);
  tap_is_str(msg, FILE_NAME ":4:7: grid: expands to more than 11 cells, the most a sweep may have",
             "the cap is named");
}

/* ---- the typed configuration ---------------------------------------------------------------------- */

static void test_run_config(void) {
  lr_grid g;
  lr_err err;
  lr_run_config c;
  lr_run_summary s;
  const char *text =
      "name: rc\nmodel: models/tiny\ntokenizer: tok.json\nbackend: cuda\n"
      "data:\n  train: {format: mmlu, path: mmlu/, subjects: [anatomy, virology], split: dev, limit: 50}\n"
      "  validation: {format: obqa, path: obqa/dev.jsonl}\n"
      "  eval: [{path: e.jsonl, ood: true}, {name: f, format: csqa, path: f.jsonl}]\n"
      "prompt: {template: qa, bos: false, max_len: 256}\n"
      "lora: {targets: 'up,q,down', rank: 4, alpha: 8, dropout: 0.1, rslora: true}\n"
      "train: {epochs: 2, batch_size: 4, lr: 3e-4, schedule: cosine, warmup_steps: 10, "
      "adam: {beta1: 0.8, beta2: 0.99, eps: 1e-6}, max_len: 128, grad_clip: 1, eval_every: 2}\n"
      "regularizer: {kl: {weight: 0.5, support: vocab, direction: reverse}, weight_decay: {a: 0.01, b: "
      "0.02, mode: l2}, early_stopping: {metric: accuracy, patience: 3, mode: select}}\n"
      "ensemble: {size: 16, randomness: {init: vary, data: fixed, dropout: vary}}\n"
      "seed: 9223372036854775807\n"
      "grid: {lora.rank: [4, 8]}\n";
  if (parse(text, &g, &err) != LR_OK) {
    tap_ok(false, "the run-config grid parses: %s", err.msg);
    return;
  }
  for (size_t i = 0; i < g.n_cells; i++) {
    lr_err_init(&err);
    if (!tap_ok(lr_run_config_parse(g.cells[i].canonical, &c, &err) == LR_OK, "cell %zu reads back", i)) {
      tap_diag("%s", err.msg);
      continue;
    }
    tap_is_int(c.rank, i == 0 ? 4 : 8, "rank");
    if (i == 0) {
      tap_is_str(c.model, "models/tiny", "model");
      tap_is_str(c.tokenizer, "tok.json", "tokenizer");
      tap_is_str(c.backend, "cuda", "backend");
      tap_ok(c.train.format == LR_DATASET_MMLU && c.train.limit == 50 && !c.train.ood, "train format, limit");
      tap_is_str(c.train.subjects, "anatomy,virology", "subjects as a list become a comma string");
      tap_is_str(c.train.split, "dev", "split");
      tap_ok(c.train.group == NULL, "no group");
      tap_is_str(c.train.name, "mmlu", "the name of a directory");
      tap_ok(c.has_validation && c.validation.format == LR_DATASET_OBQA, "validation");
      tap_is_str(c.validation.name, "dev", "validation name from its path");
      tap_ok(c.n_eval == 2 && c.eval[0].ood && !c.eval[1].ood && c.eval[1].format == LR_DATASET_CSQA,
             "eval sets");
      tap_is_str(c.n_eval == 2 ? c.eval[1].name : "", "f", "eval name");
      tap_is_str(c.template_name, "qa", "template");
      tap_ok(!c.bos && c.prompt_max_len == 256, "bos, prompt max_len");
      tap_is_int(c.targets, LORENS_LORA_Q | LORENS_LORA_UP | LORENS_LORA_DOWN, "targets mask");
      tap_ok(c.alpha == 8 && c.lora_dropout == 0.1 && c.rslora, "alpha, dropout, rslora");
      tap_ok(c.epochs == 2 && c.batch_size == 4 && c.lr == 3e-4 && c.schedule == LR_SCHEDULE_COSINE &&
             c.warmup_steps == 10, "epochs, batch size, lr, schedule, warmup");
      tap_ok(c.beta1 == 0.8 && c.beta2 == 0.99 && c.eps == 1e-6 && c.train_max_len == 128 &&
             c.grad_clip == 1 && c.eval_every == 2, "adam, max_len, grad_clip, eval_every");
      tap_ok(c.kl_weight == 0.5 && c.kl_support == LR_KL_SUPPORT_VOCAB && c.kl_direction == LR_KL_REVERSE,
             "kl");
      tap_ok(c.wd_a == 0.01 && c.wd_b == 0.02 && c.wd_mode == LR_WD_L2, "weight decay");
      tap_ok(c.es_metric == LR_ES_ACCURACY && c.es_patience == 3 && c.es_mode == LR_ES_SELECT,
             "early stopping");
      tap_ok(c.ensemble_size == 16 && c.vary_init && !c.vary_data && c.vary_dropout, "ensemble");
      tap_ok(c.seed == 9223372036854775807ULL, "the largest seed");
      lr_run_summary_of(&c, &s);
      tap_is_str(s.dataset, "mmlu", "summary: dataset");
      tap_is_str(s.regularizer, "kl+wd_a+wd_b+early_stop+dropout", "summary: every regularizer");
      tap_ok(s.reg_strength == 0.5, "summary: strength is the kl weight");
      tap_is_str(s.randomness, "init+dropout", "summary: randomness");
      tap_ok(s.rank == 4 && s.ensemble_size == 16 && s.lr == 3e-4 && s.seed == c.seed, "summary numbers");
    }
    lr_run_config_release(&c);
  }
  lr_grid_release(&g);
}

static void summary_of(const char *extra, const char *reg, double strength, const char *randomness) {
  char text[512];
  lr_grid g;
  lr_err err;
  lr_run_config c;
  lr_run_summary s;
  snprintf(text, sizeof text, BASE "%s\n", extra);
  if (parse(text, &g, &err) != LR_OK || lr_run_config_parse(g.cells[0].canonical, &c, &err) != LR_OK) {
    tap_ok(false, "%s: %s", extra, err.msg);
    return;
  }
  lr_run_summary_of(&c, &s);
  tap_is_str(s.regularizer, reg, "summary of '%s': regularizer", extra);
  tap_ok(s.reg_strength == strength, "summary of '%s': strength %g", extra, strength);
  tap_is_str(s.randomness, randomness, "summary of '%s': randomness", extra);
  tap_is_str(s.dataset, "a", "summary of '%s': dataset", extra);
  lr_run_config_release(&c);
  lr_grid_release(&g);
}

static void test_summary(void) {
  summary_of("seed: 1", "none", 0, "init+data+dropout");
  summary_of("regularizer: {weight_decay: {a: 0.1, b: 0.2}}", "wd_a+wd_b", 0.2, "init+data+dropout");
  summary_of("regularizer: {weight_decay: {a: 0.1}}", "wd_a", 0.1, "init+data+dropout");
  summary_of("lora: {dropout: 0.05}", "dropout", 0.05, "init+data+dropout");
  summary_of("regularizer: {early_stopping: {metric: nll}}\ngrid: {data.validation: [{path: v.jsonl}]}", "early_stop", 0, "init+data+dropout");
  summary_of("ensemble: {randomness: {init: fixed, data: fixed, dropout: fixed}}", "none", 0, "none");
  summary_of("ensemble: {randomness: {init: fixed, dropout: fixed}}", "none", 0, "data");
}

static void run_config_error(const char *json, const char *want, const char *what) {
  lr_run_config c;
  lr_err err;
  char got[2048];
  lr_err_init(&err);
  if (!tap_ok(lr_run_config_parse(json, &c, &err) != LR_OK, "%s: refused", what))
    return;
  lr_err_format(&err, got, sizeof got);
  if (strstr(want, "not JSON: ") != NULL) /* the rest is jansson's text, which varies by version */
    tap_like(got, want, "%s: message", what);
  else
    tap_is_str(got, want, "%s: message", what);
  tap_ok(c.model == NULL && c.eval == NULL, "%s: the config is left empty", what);
}

static void test_run_config_errors(void) {
  lr_run_config c;
  lr_err err;
  run_config_error("{\"model\":", "run config: not JSON: ", "truncated JSON");
  run_config_error("[1]", "run config: must be a mapping of keys (name, model, data ...), not a list",
                   "not an object");
  run_config_error("{\"model\":\"m\",\"data\":{\"train\":{\"path\":\"a\"}},\"lora\":{\"rank\":0}}",
                   "run config: lora.rank: must be an integer in [1, 4096], not 0", "a bad value");
  run_config_error("{\"model\":\"m\",\"data\":{\"train\":{\"path\":\"a\"}},\"lora\":{\"rnak\":8}}",
                   "run config: lora.rnak: unknown key 'rnak' (did you mean 'rank'?)", "an unknown key");
  run_config_error("{\"model\":\"m\"}", "run config: missing required key 'data'", "a missing key");
  lr_err_init(&err);
  tap_ok(lr_run_config_parse("{\"model\":\"m\",\"data\":{\"train\":{\"path\":\"x/a.jsonl\"}}}", &c, &err) == LR_OK &&
         c.rank == 8 && strcmp(c.train.name, "a") == 0 && c.lr == 1e-4,
         "a config without defaults takes them (older stored configs still read)");
  lr_run_config_release(&c);
}

static void test_paths(void) {
  char *p = lr_path_resolve("/base/dir", "models/tiny"), name[64];
  tap_is_str(p, "/base/dir/models/tiny", "relative paths join the grid's directory");
  free(p);
  p = lr_path_resolve("/base/dir", "/abs/model");
  tap_is_str(p, "/abs/model", "absolute paths stay");
  free(p);
  lr_dataset_default_name("data/ARC-Easy-Test.jsonl", name, sizeof name);
  tap_is_str(name, "ARC-Easy-Test", "default name: basename without extension");
  lr_dataset_default_name("data/mmlu/", name, sizeof name);
  tap_is_str(name, "mmlu", "default name of a directory");
  lr_dataset_default_name("a.b.jsonl", name, sizeof name);
  tap_is_str(name, "a.b", "only the last extension goes");
  lr_dataset_default_name(".hidden", name, sizeof name);
  tap_is_str(name, ".hidden", "a leading dot is not an extension");
}

static void test_load(void) {
  lr_grid g;
  lr_err err;
  char path[4096];
  const char *top = getenv("TOP_SRCDIR");
  snprintf(path, sizeof path, "%s/experiments/example-grid.yaml", top ? top : ".");
  lr_err_init(&err);
  if (!tap_ok(lr_grid_load(path, &g, &err) == LR_OK, "the example grid loads")) {
    tap_diag("%s", err.msg);
    return;
  }
  tap_ok(g.base_dir[0] == '/' && strstr(g.base_dir, "experiments") != NULL, "base_dir is absolute");
  tap_ok(g.text_len > 0 && strlen(g.text_sha256) == 64 && strncmp(g.text, "# example", 9) == 0,
         "the text and its hash are kept");
  tap_ok(g.n_cells > 1, "the example has several runs");
  lr_grid_release(&g);
  lr_err_init(&err);
  tap_ok(lr_grid_load("/nonexistent/grid.yaml", &g, &err) == LR_ENOTFOUND, "a missing file");
}

int main(void) {
  test_sha256();
  test_canonical();
  test_expansion();
  test_defaults();
  test_run_key();
  test_range_errors();
  test_type_errors();
  test_yaml_errors();
  test_grid_errors();
  test_run_config();
  test_summary();
  test_run_config_errors();
  test_paths();
  test_load();
  return tap_done();
}
