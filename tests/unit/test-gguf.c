/*
 * test-gguf.c: the GGUF reader.  Every metadata type and array reads back as written, alignment
 * and tensor data land where they should, and every broken sample of tests/gguf-samples.c is
 * refused with its status and message, both from a buffer and from a mapped file.  The real
 * SmolLM2 Q4_1 file of ../shared is read when it is there; its figures were taken with gguf-py
 * 0.19.0 (GGUFReader) and agree with ../shared/research/gguf.md section 5.
 */
#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gguf.h"
#include "../gguf-samples.h"
#include "../tap.h"
#include "../tmpdir.h"

static char dir[1024];

static const char *path_of(const char *name) {
  static char buf[2048];
  return tmpdir_path(buf, sizeof buf, dir, name);
}

/* A sample's bytes in a buffer of exactly their size, so that ASan sees any over-read. */
static unsigned char *sample_bytes(const gguf_sample *s, size_t *len) {
  gguf_buf b = {0};
  unsigned char *p;
  s->build(&b);
  p = malloc(b.len ? b.len : 1);
  if (p && b.len)
    memcpy(p, b.p, b.len);
  *len = b.len;
  gb_release(&b);
  return p;
}

/* Parses a sample from memory; NULL (with a failed test) if it does not parse. */
static lr_gguf_file *parse_sample(const char *name, unsigned char **bytes) {
  const gguf_sample *s = gguf_sample_find(name);
  lr_gguf_file *f = NULL;
  size_t len;
  lr_err err;
  lr_err_init(&err);
  *bytes = s ? sample_bytes(s, &len) : NULL;
  if (*bytes == NULL || !tap_is_int(lr_gguf_parse(*bytes, len, name, &f, &err), LR_OK,
                                    "%s parses", name)) {
    tap_diag("%s", err.msg);
    return NULL;
  }
  return f;
}

/* ---- every sample, from memory and from a file --------------------------------------------------- */

static void check_sample(const gguf_sample *s) {
  size_t len;
  unsigned char *bytes = sample_bytes(s, &len);
  lr_gguf_file *f = NULL, *g = NULL;
  lr_err err, ferr;
  lr_status rc, frc;
  lr_err_init(&err);
  lr_err_init(&ferr);
  rc = lr_gguf_parse(bytes, len, s->name, &f, &err);
  if (s->message == NULL) {
    if (!tap_is_int(rc, LR_OK, "%s: parses", s->name))
      tap_diag("%s", err.msg);
  } else {
    tap_ok(rc == (lr_status)s->status && f == NULL, "%s: %s (got %s)", s->name,
           lr_status_name((lr_status)s->status), lr_status_name(rc));
    tap_like(err.msg, s->message, "%s: message", s->name);
    tap_is_str(err.file, s->name, "%s: the message names the file", s->name);
  }
  lr_gguf_close(f);
  /* The same bytes through mmap give the same outcome. */
  if (gw_write_file(path_of("sample.gguf"), bytes, len) != 0) {
    tap_ok(false, "%s: could not write the file", s->name);
  } else {
    frc = lr_gguf_open(path_of("sample.gguf"), &g, &ferr);
    tap_ok(frc == rc && strcmp(ferr.msg, err.msg) == 0 &&
           (rc == LR_OK || strstr(ferr.file, "sample.gguf")), "%s: the same from a mapped file",
           s->name);
    if (frc == LR_OK)
      tap_is_int((long long)lr_gguf_file_size(g), (long long)len, "%s: mapped whole", s->name);
    lr_gguf_close(g);
  }
  free(bytes);
}

/* ---- metadata ------------------------------------------------------------------------------------ */

static void check_int(const lr_gguf_file *f, const char *key, int64_t want) {
  int64_t v = 0;
  lr_err err;
  lr_err_init(&err);
  if (!tap_is_int(lr_gguf_get_int(f, key, &v, &err), LR_OK, "%s reads as an integer", key))
    tap_diag("%s", err.msg);
  tap_is_int(v, want, "%s = %lld", key, (long long)want);
}

static void check_fails(lr_status got, lr_err *err, lr_status want, const char *needle,
                        const char *what) {
  tap_is_str(lr_status_name(got), lr_status_name(want), "%s: %s", what, lr_status_name(want));
  tap_like(err->msg, needle, "%s: message", what);
  lr_err_init(err);
}

static void test_scalars(void) {
  unsigned char *bytes;
  lr_gguf_file *f = parse_sample("good-all-types", &bytes);
  const lr_gguf_kv *kv;
  const char *s;
  size_t len;
  double d;
  bool b;
  int64_t v;
  lr_err err;
  if (f == NULL)
    return;
  lr_err_init(&err);
  tap_is_int(lr_gguf_version(f), 2, "version 2 reads");
  tap_is_int((long long)lr_gguf_kv_count(f), 30, "30 pairs");
  tap_is_str(lr_gguf_kv_at(f, 0)->key, "general.alignment", "pairs in file order (first)");
  tap_is_str(lr_gguf_kv_at(f, 29)->key, "arr.empty", "pairs in file order (last)");
  tap_ok(lr_gguf_kv_at(f, 30) == NULL, "lr_gguf_kv_at past the end is NULL");

  check_int(f, "u8", 200);
  check_int(f, "i8", -100);
  check_int(f, "u16", 60000);
  check_int(f, "i16", -30000);
  check_int(f, "u32", 4000000000ll);
  check_int(f, "i32", -2000000000ll);
  check_int(f, "u64", 12345678901234ll);
  check_int(f, "i64", -1234567890123ll);
  check_int(f, "general.alignment", 64);
  tap_ok(lr_gguf_get_float(f, "f32", &d, &err) == LR_OK && d == (double)1e-5f,
         "f32 reads as the float32 1e-5");
  tap_ok(lr_gguf_get_float(f, "f64", &d, &err) == LR_OK && d == -2.25, "f64 reads -2.25");
  tap_ok(lr_gguf_get_bool(f, "bool.true", &b, &err) == LR_OK && b, "bool true");
  tap_ok(lr_gguf_get_bool(f, "bool.false", &b, &err) == LR_OK && !b, "bool false");
  tap_ok(lr_gguf_get_str(f, "str", &s, &len, &err) == LR_OK && len == 6 &&
         strcmp(s, "h\xc3\xa9llo") == 0, "a UTF-8 string reads back");
  tap_ok(lr_gguf_get_str(f, "str.empty", &s, &len, &err) == LR_OK && len == 0 && s[0] == '\0',
         "an empty string reads back");
  tap_ok(lr_gguf_get_str(f, "str.nul", &s, &len, &err) == LR_OK && len == 3 &&
         memcmp(s, "a\0b", 4) == 0, "a string with a NUL keeps its length");
  kv = lr_gguf_find_kv(f, "u16");
  tap_ok(kv && kv->type == LR_GGUF_UINT16 && kv->count == 1 && kv->elem_type == LR_GGUF_UINT16,
         "lr_gguf_find_kv gives the type");
  tap_ok(lr_gguf_find_kv(f, "u1") == NULL && lr_gguf_find_kv(f, "") == NULL,
         "unknown keys are not found");

  /* Wrong types, missing keys and range, each named. */
  check_fails(lr_gguf_get_int(f, "f32", &v, &err), &err, LR_EPARSE,
              "key 'f32' has type float32, expected an integer", "an integer from a float");
  check_fails(lr_gguf_get_int(f, "u64.big", &v, &err), &err, LR_EPARSE,
              "key 'u64.big': 9223372036854775808 is out of range", "a uint64 above INT64_MAX");
  check_fails(lr_gguf_get_int(f, "arr.u32", &v, &err), &err, LR_EPARSE,
              "key 'arr.u32' has type array of uint32, expected an integer",
              "an integer from an array");
  check_fails(lr_gguf_get_float(f, "u32", &d, &err), &err, LR_EPARSE,
              "has type uint32, expected a float32 or float64", "a float from an integer");
  check_fails(lr_gguf_get_str(f, "u8", &s, &len, &err), &err, LR_EPARSE,
              "key 'u8' has type uint8, expected a string", "a string from a uint8");
  check_fails(lr_gguf_get_bool(f, "u8", &b, &err), &err, LR_EPARSE, "expected a bool",
              "a bool from a uint8");
  check_fails(lr_gguf_get_array(f, "str", &kv, &err), &err, LR_EPARSE,
              "key 'str' has type string, expected an array", "an array from a string");
  check_fails(lr_gguf_get_int(f, "llama.block_count", &v, &err), &err, LR_ENOTFOUND,
              "missing key 'llama.block_count'", "a missing key");
  tap_ok(lr_gguf_get_int(f, "nope", &v, &err) == LR_ENOTFOUND &&
         strcmp(err.file, "good-all-types") == 0, "the missing-key error names the file");
  lr_gguf_close(f);
  free(bytes);
}

static void test_arrays(void) {
  unsigned char *bytes;
  lr_gguf_file *f = parse_sample("good-all-types", &bytes);
  static const struct {
    const char *key;
    uint64_t n;
    int64_t first, last;
  } ints[] = {
      {"arr.u8", 3, 1, 255},      {"arr.i8", 2, -1, 127},
      {"arr.u16", 2, 1, 65535},   {"arr.i16", 2, -32768, 7},
      {"arr.u32", 3, 30, 4294967295ll}, {"arr.i32", 2, -5, 2147483647},
      {"arr.i64", 2, INT64_MIN, 42},
  };
  const lr_gguf_kv *kv;
  const char *s;
  size_t len;
  int64_t v0, v1;
  double d;
  bool b0, b1, b2;
  lr_err err;
  if (f == NULL)
    return;
  lr_err_init(&err);
  for (size_t i = 0; i < LR_ARRAY_LEN(ints); i++) {
    tap_ok(lr_gguf_get_array(f, ints[i].key, &kv, &err) == LR_OK && kv->count == ints[i].n &&
           lr_gguf_array_int(f, kv, 0, &v0, &err) == LR_OK &&
           lr_gguf_array_int(f, kv, ints[i].n - 1, &v1, &err) == LR_OK && v0 == ints[i].first &&
           v1 == ints[i].last, "%s: %llu integers, first and last read back", ints[i].key,
           (unsigned long long)ints[i].n);
  }
  tap_ok(lr_gguf_get_array(f, "arr.u64", &kv, &err) == LR_OK &&
         lr_gguf_array_int(f, kv, 0, &v0, &err) == LR_OK && v0 == 0, "arr.u64[0] = 0");
  check_fails(lr_gguf_array_int(f, kv, 1, &v0, &err), &err, LR_EPARSE,
              "element 1, 18446744073709551615, is out of range", "arr.u64[1] is out of range");
  tap_ok(lr_gguf_get_array(f, "arr.f32", &kv, &err) == LR_OK && kv->elem_type == LR_GGUF_FLOAT32 &&
         lr_gguf_array_float(f, kv, 1, &d, &err) == LR_OK && d == (double)-1e-5f,
         "arr.f32[1] = -1e-5 as a float32");
  tap_ok(lr_gguf_get_array(f, "arr.f64", &kv, &err) == LR_OK &&
         lr_gguf_array_float(f, kv, 1, &d, &err) == LR_OK && d == -0.1, "arr.f64[1] = -0.1");
  tap_ok(lr_gguf_get_array(f, "arr.bool", &kv, &err) == LR_OK &&
         lr_gguf_array_bool(f, kv, 0, &b0, &err) == LR_OK &&
         lr_gguf_array_bool(f, kv, 1, &b1, &err) == LR_OK &&
         lr_gguf_array_bool(f, kv, 2, &b2, &err) == LR_OK && b0 && !b1 && b2,
         "arr.bool = [true, false, true]");
  if (tap_ok(lr_gguf_get_array(f, "arr.str", &kv, &err) == LR_OK && kv->count == 3 &&
             kv->elem_type == LR_GGUF_STRING, "arr.str: 3 strings")) {
    tap_ok(lr_gguf_array_str(f, kv, 0, &s, &len, &err) == LR_OK && len == 1 && s[0] == 'a',
           "arr.str[0] = \"a\"");
    tap_ok(lr_gguf_array_str(f, kv, 1, &s, &len, &err) == LR_OK && len == 0, "arr.str[1] = \"\"");
    tap_ok(lr_gguf_array_str(f, kv, 2, &s, &len, &err) == LR_OK && len == 3 &&
           memcmp(s, "ccc", 3) == 0, "arr.str[2] = \"ccc\"");
    check_fails(lr_gguf_array_str(f, kv, 3, &s, &len, &err), &err, LR_EINVAL,
                "key 'arr.str': element 3 asked for, but the array has 3", "past the end");
    check_fails(lr_gguf_array_int(f, kv, 0, &v0, &err), &err, LR_EINVAL,
                "has type array of string, expected an array of integers", "ints from strings");
  }
  tap_ok(lr_gguf_get_array(f, "arr.empty", &kv, &err) == LR_OK && kv->count == 0 &&
         kv->elem_type == LR_GGUF_UINT32, "an empty array");
  check_fails(lr_gguf_array_int(f, kv, 0, &v0, &err), &err, LR_EINVAL, "element 0 asked for",
              "an empty array has no element 0");
  kv = lr_gguf_find_kv(f, "u8");
  check_fails(lr_gguf_array_int(f, kv, 0, &v0, &err), &err, LR_EINVAL,
              "key 'u8' has type uint8, expected an array of integers", "elements of a scalar");
  lr_gguf_close(f);
  free(bytes);
}

static void check_format(const lr_gguf_file *f, const char *key, size_t max, const char *want) {
  char buf[256];
  lr_gguf_kv_format(f, lr_gguf_find_kv(f, key), max, buf, sizeof buf);
  tap_is_str(buf, want, "%s formats as %s", key, want);
}

static void test_format(void) {
  unsigned char *bytes;
  lr_gguf_file *f = parse_sample("good-all-types", &bytes);
  char small[8];
  if (f == NULL)
    return;
  check_format(f, "f32", 8, "1e-05");
  check_format(f, "f64", 8, "-2.25");
  check_format(f, "i8", 8, "-100");
  check_format(f, "u64.big", 8, "9223372036854775808");
  check_format(f, "bool.true", 8, "true");
  check_format(f, "str", 8, "h\xc3\xa9llo");
  check_format(f, "str.nul", 8, "a\\x00b");
  check_format(f, "arr.u8", 8, "[1, 2, 255] (3 x uint8)");
  check_format(f, "arr.u32", 2, "[30, 31, ...] (3 x uint32)");
  check_format(f, "arr.f32", 8, "[0.5, -1e-05] (2 x float32)");
  check_format(f, "arr.str", 8, "[a, , ccc] (3 x string)");
  check_format(f, "arr.empty", 8, "[] (0 x uint32)");
  lr_gguf_kv_format(f, lr_gguf_find_kv(f, "arr.u32"), 8, small, sizeof small);
  tap_ok(strlen(small) == sizeof small - 1, "a small buffer is filled and terminated");
  lr_gguf_close(f);
  free(bytes);
}

/* ---- tensors ------------------------------------------------------------------------------------- */

static void test_llama_tensors(void) {
  static const struct {
    const char *name;
    uint32_t type, n_dims;
    int64_t ne0, ne1;
    uint64_t nbytes;
  } want[TINY_TENSORS] = {
      {"token_embd.weight", LR_QTYPE_Q8_0, 2, TINY_EMBD, TINY_VOCAB, 34 * TINY_VOCAB},
      {"blk.0.attn_norm.weight", LR_QTYPE_F32, 1, TINY_EMBD, 1, 4 * TINY_EMBD},
      {"blk.0.attn_q.weight", LR_QTYPE_Q4_1, 2, TINY_EMBD, TINY_EMBD, 20 * TINY_EMBD},
      {"blk.0.ffn_down.weight", LR_QTYPE_Q4_0, 2, TINY_FF, TINY_EMBD, 2 * 18 * TINY_EMBD},
      {"blk.0.ffn_norm.weight", LR_QTYPE_F16, 1, TINY_EMBD, 1, 2 * TINY_EMBD},
      {"output_norm.weight", LR_QTYPE_F32, 1, TINY_EMBD, 1, 4 * TINY_EMBD},
  };
  unsigned char *bytes;
  lr_gguf_file *f = parse_sample("good-llama", &bytes);
  const lr_gguf_tensor *t;
  const char *s;
  uint64_t next = 0;
  float x;
  lr_err err;
  if (f == NULL)
    return;
  lr_err_init(&err);
  tap_is_int(lr_gguf_alignment(f), 32, "no general.alignment: alignment 32");
  tap_is_int((long long)(lr_gguf_data_start(f) % 32), 0, "the data section is aligned");
  tap_ok(lr_gguf_get_str(f, "general.architecture", &s, NULL, &err) == LR_OK &&
         strcmp(s, "llama") == 0, "general.architecture = llama");
  if (!tap_is_int((long long)lr_gguf_tensor_count(f), TINY_TENSORS, "6 tensors"))
    return;
  for (size_t i = 0; i < TINY_TENSORS; i++) {
    t = lr_gguf_tensor_at(f, i);
    tap_ok(strcmp(t->name, want[i].name) == 0 && lr_gguf_find_tensor(f, want[i].name) == t,
           "tensor %zu is %s, in file order, and found by name", i, want[i].name);
    tap_ok(t->type == want[i].type && t->n_dims == want[i].n_dims && t->ne[0] == want[i].ne0 &&
           t->ne[1] == want[i].ne1 && t->ne[2] == 1 && t->ne[3] == 1, "%s: %s, ne [%lld, %lld]",
           t->name, lr_quant_name((int)(want[i].type)), (long long)want[i].ne0,
           (long long)want[i].ne1);
    tap_is_int((long long)t->nbytes, (long long)want[i].nbytes, "%s: byte size", t->name);
    tap_ok(t->offset == next && t->offset % 32 == 0, "%s: packed at the next aligned offset",
           t->name);
    tap_ok(t->file_offset == lr_gguf_data_start(f) + t->offset &&
           (const unsigned char *)t->data == bytes + t->file_offset, "%s: data points into the "
           "buffer, no copy", t->name);
    next = (t->offset + t->nbytes + 31) / 32 * 32;
  }
  tap_is_int((long long)(lr_gguf_data_start(f) + next), (long long)lr_gguf_file_size(f),
             "the last tensor ends the file");
  t = lr_gguf_find_tensor(f, "token_embd.weight");
  tap_ok(((const unsigned char *)t->data)[0] == 32 && ((const unsigned char *)t->data)[1] == 39,
         "token_embd's bytes are the ones written");
  t = lr_gguf_find_tensor(f, "output_norm.weight");
  memcpy(&x, (const unsigned char *)t->data + 4 * (TINY_EMBD - 1), 4);
  tap_ok(x == 1.0f, "output_norm's last float is 1.0");
  tap_ok(lr_gguf_find_tensor(f, "output.weight") == NULL && lr_gguf_tensor_at(f, 6) == NULL,
         "an absent tensor is NULL");
  lr_gguf_close(f);
  free(bytes);
}

static void test_alignment_and_dims(void) {
  unsigned char *bytes;
  lr_gguf_file *f = parse_sample("good-all-types", &bytes);
  const lr_gguf_tensor *t;
  if (f == NULL)
    return;
  tap_is_int(lr_gguf_alignment(f), 64, "general.alignment = 64 is used");
  tap_is_int((long long)(lr_gguf_data_start(f) % 64), 0, "the data section starts at a multiple "
             "of 64");
  t = lr_gguf_find_tensor(f, "three.dims");
  tap_ok(t && t->n_dims == 3 && t->ne[0] == 4 && t->ne[1] == 2 && t->ne[2] == 3 && t->ne[3] == 1 &&
         t->numel == 24 && t->nbytes == 96 && t->offset == 0,
         "three.dims: F32 [4, 2, 3], 96 bytes");
  t = lr_gguf_find_tensor(f, "four.dims");
  tap_ok(t && t->n_dims == 4 && t->type == LR_QTYPE_BF16 && t->ne[3] == 3 && t->nbytes == 12 &&
         t->offset == 128, "four.dims: BF16 [2, 1, 1, 3] at offset 128 (96 rounded up to 64)");
  t = lr_gguf_find_tensor(f, "bytes");
  tap_ok(t && t->type == LR_QTYPE_I8 && t->nbytes == 5 && t->offset == 192 &&
         memcmp(t->data, bytes + lr_gguf_data_start(f) + 192, 5) == 0, "bytes: I8 [5] at 192");
  lr_gguf_close(f);
  free(bytes);

  f = parse_sample("good-no-tensors", &bytes);
  if (f) {
    tap_ok(lr_gguf_tensor_count(f) == 0 && lr_gguf_data_start(f) == lr_gguf_file_size(f),
           "no tensors: the data section is empty at the end of the file");
    lr_gguf_close(f);
  }
  free(bytes);
  f = parse_sample("good-kquant-gaps", &bytes);
  if (f) {
    t = lr_gguf_find_tensor(f, "k");
    tap_ok(t && t->type == LR_QTYPE_Q4_K && t->nbytes == 288 && t->offset == 64,
           "a Q4_K [256, 2] after a gap: 288 bytes at offset 64");
    lr_gguf_close(f);
  }
  free(bytes);
}

/* Resident pages of this process (/proc/self/statm), or -1. */
static long resident_pages(void) {
  long size, resident = -1;
  FILE *fp = fopen("/proc/self/statm", "r");
  if (fp == NULL)
    return -1;
  if (fscanf(fp, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(fp);
  return resident;
}

static uint64_t checksum(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

/* lr_gguf_release: a mapped file's pages under a tensor leave resident memory and read back the
 * same; a caller's buffer (anonymous memory, which would read back as zeros) is left alone. */
static void test_release(void) {
  enum { N = 1 << 18 }; /* 1 MiB of F32 */
  uint64_t ne[1] = {N};
  float *x = malloc(N * sizeof *x);
  unsigned char *copy = NULL;
  gguf_writer w;
  gguf_buf b = {0};
  lr_gguf_file *f = NULL;
  const lr_gguf_tensor *t;
  uint64_t sum;
  long before, after, page = sysconf(_SC_PAGESIZE);
  lr_err err;
  lr_err_init(&err);
  for (size_t i = 0; i < N; i++)
    x[i] = (float)i * 0.25f;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  gw_tensor(&w, "big", 1, ne, GW_F32, x, N * sizeof *x);
  gw_build(&w, &b);
  if (!tap_ok(gw_write_file(path_of("release.gguf"), b.p, b.len) == 0 &&
              lr_gguf_open(path_of("release.gguf"), &f, &err) == LR_OK, "release.gguf opens"))
    goto done;
  t = lr_gguf_find_tensor(f, "big");
  sum = checksum(t->data, (size_t)t->nbytes); /* touches every page */
  before = resident_pages();
  lr_gguf_release(f, t->data, (size_t)t->nbytes);
  after = resident_pages();
  tap_ok(before > 0 && after > 0 && before - after >= (long)t->nbytes / 2 / page,
         "released: resident memory drops by most of the tensor's 1 MiB (%ld -> %ld pages)",
         before, after);
  tap_ok(checksum(t->data, (size_t)t->nbytes) == sum, "and its bytes read back from the file");
  lr_gguf_release_metadata(f);
  tap_ok(strcmp(lr_gguf_find_kv(f, "general.architecture")->str, "llama") == 0,
         "after the metadata's pages go, its parsed keys and values remain");
  lr_gguf_close(f);
  f = NULL;

  /* The same bytes in a page-aligned buffer of our own. */
  if (posix_memalign((void **)&copy, (size_t)page, b.len) != 0)
    goto done;
  memcpy(copy, b.p, b.len);
  if (!tap_ok(lr_gguf_parse(copy, b.len, "release buffer", &f, &err) == LR_OK,
              "the buffer parses"))
    goto done;
  t = lr_gguf_find_tensor(f, "big");
  lr_gguf_release(f, t->data, (size_t)t->nbytes);
  lr_gguf_release_metadata(f);
  tap_ok(checksum(t->data, (size_t)t->nbytes) == sum && memcmp(copy, b.p, b.len) == 0,
         "a caller's buffer is never released: its bytes are intact");
  lr_gguf_release(f, copy + b.len - page, 2 * (size_t)page); /* past the end: ignored */
  tap_ok(memcmp(copy, b.p, b.len) == 0, "nor a range past its end");
done:
  lr_gguf_close(f);
  free(copy);
  free(b.p);
  gw_release(&w);
  free(x);
}

/* ---- tables -------------------------------------------------------------------------------------- */

static void test_types(void) {
  static const struct {
    uint32_t id;
    const char *name;
    uint32_t block, bytes;
  } known[] = {
      {0, "F32", 1, 4},        {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},
      {3, "Q4_1", 32, 20},     {6, "Q5_0", 32, 22},     {7, "Q5_1", 32, 24},
      {8, "Q8_0", 32, 34},     {9, "Q8_1", 32, 36},     {10, "Q2_K", 256, 84},
      {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144},  {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210},  {15, "Q8_K", 256, 292},  {16, "IQ2_XXS", 256, 66},
      {17, "IQ2_XS", 256, 74}, {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
      {20, "IQ4_NL", 32, 18},  {21, "IQ3_S", 256, 110}, {22, "IQ2_S", 256, 82},
      {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
      {26, "I32", 1, 4},       {27, "I64", 1, 8},       {28, "F64", 1, 8},
      {29, "IQ1_M", 256, 56},  {30, "BF16", 1, 2},      {34, "TQ1_0", 256, 54},
      {35, "TQ2_0", 256, 66},  {39, "MXFP4", 32, 17},
  };
  static const uint32_t unknown[] = {4, 5, 31, 32, 33, 36, 37, 38, 40, 41, 1000, UINT32_MAX};
  bool all = true;
  for (size_t i = 0; i < LR_ARRAY_LEN(known); i++) {
    const lr_quant_type_info *t = lr_quant_info((int)(known[i].id));
    if (!t || strcmp(t->name, known[i].name) != 0 || t->block_elems != known[i].block ||
        t->block_bytes != known[i].bytes || strcmp(lr_quant_name((int)(known[i].id)), t->name)) {
      tap_diag("ggml type %u: want %s %u/%u", known[i].id, known[i].name, known[i].block,
               known[i].bytes);
      all = false;
    }
  }
  tap_ok(all, "all 32 ggml types: names, block sizes and bytes per block");
  all = true;
  for (size_t i = 0; i < LR_ARRAY_LEN(unknown); i++)
    all = all && lr_quant_info((int)(unknown[i])) == NULL &&
          strcmp(lr_quant_name((int)(unknown[i])), "?") == 0;
  tap_ok(all, "removed and unknown ggml type numbers are unknown");
  tap_is_str(lr_gguf_type_name(LR_GGUF_FLOAT64), "float64", "value type names");
  tap_is_str(lr_gguf_type_name(13), "?", "an unknown value type");
  tap_is_str(lr_gguf_file_type_name(3), "MOSTLY_Q4_1", "file type 3 is MOSTLY_Q4_1");
  tap_is_str(lr_gguf_file_type_name(15), "MOSTLY_Q4_K_M", "file type 15 is MOSTLY_Q4_K_M");
  tap_ok(lr_gguf_file_type_name(4) == NULL && lr_gguf_file_type_name(-1) == NULL &&
         lr_gguf_file_type_name(1000) == NULL, "unused file types have no name");
}

static void test_sniff(void) {
  gguf_buf b = {0};
  gguf_sample_find("good-no-tensors")->build(&b);
  gw_write_file(path_of("model.bin"), b.p, b.len);
  gb_release(&b);
  tap_ok(lr_gguf_path_is_gguf(path_of("model.bin")), "a file with the magic is GGUF");
  tap_ok(lr_gguf_path_is_gguf(path_of("missing.gguf")), "a .gguf name is GGUF, even when missing");
  tap_ok(lr_gguf_path_is_gguf(path_of("MODEL.GGUF")), "in any case");
  tmpdir_write(dir, "config.json", "{}");
  tap_ok(!lr_gguf_path_is_gguf(path_of("config.json")), "another file is not");
  tap_ok(!lr_gguf_path_is_gguf(dir), "a directory is not");
  tap_ok(!lr_gguf_path_is_gguf(path_of("missing")), "a missing path without the suffix is not");
}

static void test_open_errors(void) {
  lr_gguf_file *f = NULL;
  lr_err err;
  lr_err_init(&err);
  tap_is_int(lr_gguf_open(path_of("nope.gguf"), &f, &err), LR_ENOTFOUND, "a missing file");
  tap_ok(f == NULL && strstr(err.file, "nope.gguf") != NULL, "names the path");
  lr_err_init(&err);
  tap_ok(lr_gguf_open(dir, &f, &err) != LR_OK && f == NULL, "a directory is refused");
  lr_gguf_close(NULL);
  tap_ok(true, "lr_gguf_close(NULL) is a no-op");
}

/* ---- the real file ------------------------------------------------------------------------------- */

static void test_real_file(void) {
  static const struct {
    const char *name;
    uint32_t type;
    int64_t ne0, ne1;
    uint64_t nbytes, file_offset;
  } tensors[] = {
      {"token_embd.weight", LR_QTYPE_Q8_0, 576, 49152, 30081024, 1785664},
      {"blk.0.attn_norm.weight", LR_QTYPE_F32, 576, 1, 2304, 31866688},
      {"blk.0.ffn_down.weight", LR_QTYPE_Q4_1, 1536, 576, 552960, 31868992},
      {"blk.0.attn_q.weight", LR_QTYPE_Q4_1, 576, 576, 207360, 33806656},
      {"blk.0.attn_k.weight", LR_QTYPE_Q4_1, 576, 192, 69120, 0},
      {"blk.29.ffn_norm.weight", LR_QTYPE_F32, 576, 1, 2304, 0},
      {"output_norm.weight", LR_QTYPE_F32, 576, 1, 2304, 98360128},
  };
  static const unsigned char q_block[20] = {0x0f, 0x30, 0xd8, 0xb9, 0x45, 0x87, 0x65, 0x40, 0x6f,
                                            0x65, 0x16, 0x4b, 0x67, 0x76, 0x64, 0x50, 0x22, 0x67,
                                            0x65, 0x5a};
  const char *top = getenv("TOP_SRCDIR");
  char path[2048];
  struct stat st;
  lr_gguf_file *f;
  const lr_gguf_kv *kv;
  const lr_gguf_tensor *t;
  size_t n_type[LR_QTYPE_LIMIT] = {0}, len;
  uint64_t end = 0;
  const char *s;
  int64_t v;
  double d;
  lr_err err;
  snprintf(path, sizeof path, "%s/../shared/models/smollm2-135m-instruct/"
           "SmolLM2-135M-Instruct.Q4_1.gguf", top ? top : "..");
  if (stat(path, &st) != 0) {
    tap_skip("../shared/models/smollm2-135m-instruct is not there", "the real SmolLM2 file");
    return;
  }
  lr_err_init(&err);
  if (!tap_is_int(lr_gguf_open(path, &f, &err), LR_OK, "SmolLM2-135M-Instruct.Q4_1.gguf opens")) {
    tap_diag("%s", err.msg);
    return;
  }
  tap_ok(lr_gguf_version(f) == 3 && lr_gguf_kv_count(f) == 33 && lr_gguf_tensor_count(f) == 272,
         "version 3, 33 pairs, 272 tensors");
  tap_ok(lr_gguf_alignment(f) == 32 && lr_gguf_data_start(f) == 1785664,
         "alignment 32, data at byte 1,785,664");
  tap_ok(lr_gguf_get_str(f, "general.architecture", &s, NULL, &err) == LR_OK &&
         strcmp(s, "llama") == 0, "architecture llama");
  check_int(f, "llama.block_count", 30);
  check_int(f, "llama.context_length", 8192);
  check_int(f, "llama.embedding_length", 576);
  check_int(f, "llama.feed_forward_length", 1536);
  check_int(f, "llama.attention.head_count", 9);
  check_int(f, "llama.attention.head_count_kv", 3);
  check_int(f, "llama.vocab_size", 49152);
  check_int(f, "general.file_type", 3);
  tap_ok(lr_gguf_get_float(f, "llama.attention.layer_norm_rms_epsilon", &d, &err) == LR_OK &&
         d == (double)1e-5f, "rms epsilon: the float32 1e-5");
  tap_ok(lr_gguf_get_float(f, "llama.rope.freq_base", &d, &err) == LR_OK && d == 100000.0,
         "rope.freq_base 100000");
  tap_ok(lr_gguf_get_array(f, "tokenizer.ggml.tokens", &kv, &err) == LR_OK &&
         kv->count == 49152 && lr_gguf_array_str(f, kv, 0, &s, &len, &err) == LR_OK &&
         len == 13 && memcmp(s, "<|endoftext|>", 13) == 0 &&
         lr_gguf_array_str(f, kv, 49151, &s, &len, &err) == LR_OK && len == 7 &&
         memcmp(s, "ectable", 7) == 0, "49152 tokens, <|endoftext|> first, ectable last");
  tap_ok(lr_gguf_get_array(f, "tokenizer.ggml.merges", &kv, &err) == LR_OK &&
         kv->count == 48900 && lr_gguf_array_str(f, kv, 0, &s, &len, &err) == LR_OK &&
         len == 4 && memcmp(s, "\xc4\xa0 t", 4) == 0, "48900 merges, the first 'Ġ t'");
  tap_ok(lr_gguf_get_array(f, "tokenizer.ggml.token_type", &kv, &err) == LR_OK &&
         kv->elem_type == LR_GGUF_INT32 && lr_gguf_array_int(f, kv, 16, &v, &err) == LR_OK &&
         v == 3 && lr_gguf_array_int(f, kv, 17, &v, &err) == LR_OK && v == 1,
         "token types: 16 CONTROL, 17 NORMAL");
  for (size_t i = 0; i < LR_ARRAY_LEN(tensors); i++) {
    t = lr_gguf_find_tensor(f, tensors[i].name);
    tap_ok(t && t->type == tensors[i].type && t->ne[0] == tensors[i].ne0 &&
           t->ne[1] == tensors[i].ne1 && t->nbytes == tensors[i].nbytes &&
           (tensors[i].file_offset == 0 || t->file_offset == tensors[i].file_offset),
           "%s: %s [%lld, %lld], %llu bytes", tensors[i].name, lr_quant_name((int)(tensors[i].type)),
           (long long)tensors[i].ne0, (long long)tensors[i].ne1,
           (unsigned long long)tensors[i].nbytes);
  }
  t = lr_gguf_find_tensor(f, "blk.0.attn_q.weight");
  tap_ok(t && memcmp(t->data, q_block, sizeof q_block) == 0,
         "blk.0.attn_q.weight's first Q4_1 block is the one in the notes");
  tap_ok(lr_gguf_find_tensor(f, "output.weight") == NULL, "no output.weight (tied embeddings)");
  for (size_t i = 0; i < lr_gguf_tensor_count(f); i++) {
    t = lr_gguf_tensor_at(f, i);
    n_type[t->type]++;
    if (t->file_offset + t->nbytes > end)
      end = t->file_offset + t->nbytes;
  }
  tap_ok(n_type[LR_QTYPE_Q4_1] == 210 && n_type[LR_QTYPE_F32] == 61 && n_type[LR_QTYPE_Q8_0] == 1,
         "210 Q4_1, 61 F32, 1 Q8_0");
  tap_is_int((long long)end, (long long)lr_gguf_file_size(f), "the data ends the file");
  lr_gguf_close(f);
}

int main(void) {
  if (tmpdir_make(dir, sizeof dir, "gguf") != 0)
    tap_skip_all("cannot make a scratch directory");
  for (size_t i = 0; i < gguf_n_samples; i++)
    check_sample(&gguf_samples[i]);
  test_scalars();
  test_arrays();
  test_format();
  test_llama_tensors();
  test_alignment_and_dims();
  test_release();
  test_types();
  test_sniff();
  test_open_errors();
  test_real_file();
  tmpdir_remove(dir);
  return tap_done();
}
