/*
 * test-safetensors.c: the safetensors reader: values round-trip, and every malformed header is
 * refused with a status and a message that names the file and the tensor.
 *
 * Files are written into a scratch directory by tests/st-writer.c; the header text of the bad
 * cases is spelled out here, so each case reads as the file it tests.
 */
#include "compat.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "../st-writer.h"
#include "../tap.h"
#include "../tmpdir.h"

static char dir[1024];

static const char *path_of(const char *name) {
  static char buf[2048];
  return tmpdir_path(buf, sizeof buf, dir, name);
}

/* Writes a file with this header and n zero bytes of data, opens it, and checks the outcome. */
static void expect_bad(const char *header, size_t n, lr_status want, const char *needle,
                       const char *what) {
  static const unsigned char zeros[256];
  lr_st_file *f = NULL;
  lr_err err;
  lr_err_init(&err);
  if (n > sizeof zeros || st_write(path_of("bad.safetensors"), header, zeros, n) != 0) {
    tap_ok(false, "%s: could not write the test file", what);
    return;
  }
  tap_is_str(lr_status_name(lr_st_open(path_of("bad.safetensors"), &f, &err)),
             lr_status_name(want), "%s: %s", what, lr_status_name(want));
  tap_like(err.msg, needle, "%s: message", what);
  tap_ok(f == NULL && strstr(err.file, "bad.safetensors") != NULL, "%s: names the file", what);
  lr_st_close(f);
}

static void test_round_trip(void) {
  const float a[6] = {1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 1e-3f};
  const uint16_t h[4] = {st_f32_to_bf16(1.0f), st_f32_to_bf16(-2.5f), 0, st_f32_to_bf16(0.5f)};
  const int8_t s = -7;
  const int64_t sa[2] = {2, 3}, sh[1] = {4}, sz[2] = {0, 5};
  const lr_st_tensor *t;
  const char *key, *value;
  st_builder b;
  lr_st_file *f;
  lr_err err;

  stb_init(&b);
  stb_add(&b, "layers.10.w", "F32", 2, sa, a, sizeof a);
  stb_add(&b, "layers.2.h", "BF16", 1, sh, h, sizeof h);
  stb_add(&b, "scalar", "I8", 0, NULL, &s, 1);
  stb_add(&b, "empty", "F16", 2, sz, NULL, 0);
  stb_add_metadata(&b, "{\"format\":\"pt\",\"note\":\"x\"}");
  tap_ok(stb_write(&b, path_of("good.safetensors")) == 0, "wrote a valid file");
  stb_release(&b);

  lr_err_init(&err);
  if (!tap_is_int(lr_st_open(path_of("good.safetensors"), &f, &err), LR_OK, "a valid file opens")) {
    tap_diag("%s", err.msg);
    return;
  }
  tap_is_int((long long)lr_st_count(f), 4, "four tensors");
  tap_is_str(lr_st_get(f, 0)->name, "empty", "sorted by name: empty first");
  tap_is_str(lr_st_get(f, 1)->name, "layers.2.h", "layer numbers sort as numbers (2 before 10)");
  tap_is_str(lr_st_get(f, 2)->name, "layers.10.w", "then layers.10");
  tap_ok(lr_st_get(f, 4) == NULL, "lr_st_get past the end is NULL");
  t = lr_st_find(f, "layers.10.w");
  tap_ok(t && t->dtype == LR_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3,
         "F32 [2, 3] found by name");
  tap_ok(t && t->numel == 6 && t->nbytes == 24 && memcmp(t->data, a, sizeof a) == 0,
         "its 6 values read back exactly");
  tap_is_int(t ? (long long)t->file_offset : -1, 8 + (long long)lr_st_header_size(f),
             "the first tensor starts right after the header");
  t = lr_st_find(f, "layers.2.h");
  tap_ok(t && t->dtype == LR_ST_BF16 && memcmp(t->data, h, sizeof h) == 0, "BF16 bytes read back");
  t = lr_st_find(f, "scalar");
  tap_ok(t && t->ndim == 0 && t->numel == 1 && *(const int8_t *)t->data == -7, "a scalar (rank 0)");
  t = lr_st_find(f, "empty");
  tap_ok(t && t->numel == 0 && t->nbytes == 0, "a zero-size tensor is legal");
  tap_ok(lr_st_find(f, "nope") == NULL, "an unknown name is NULL");
  tap_is_str(lr_st_metadata(f, "format"), "pt", "metadata value by key");
  tap_ok(lr_st_metadata(f, "missing") == NULL, "a missing metadata key is NULL");
  tap_is_int((long long)lr_st_metadata_count(f), 2, "two metadata pairs");
  lr_st_metadata_at(f, 1, &key, &value);
  tap_ok(strcmp(key, "note") == 0 && strcmp(value, "x") == 0, "metadata pairs in header order");
  tap_is_int(lr_st_header_size(f) % 8, 0, "the builder pads the header like Python does");
  lr_st_close(f);
}

/* The same bytes through lr_st_parse: no file involved, the buffer is borrowed. */
static void test_parse_buffer(void) {
  const char header[] = "{\"x\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
  unsigned char buf[sizeof header - 1 + 8 + 3];
  lr_st_file *f;
  lr_err err;
  size_t n = sizeof header - 1;
  for (int i = 0; i < 8; i++)
    buf[i] = (unsigned char)(n >> (8 * i));
  memcpy(buf + 8, header, n);
  memcpy(buf + 8 + n, "abc", 3);
  lr_err_init(&err);
  tap_is_int(lr_st_parse(buf, sizeof buf, "mem", &f, &err), LR_OK, "lr_st_parse reads a buffer");
  tap_ok(f && lr_st_find(f, "x") && lr_st_find(f, "x")->data == buf + 8 + n,
         "tensor data points into the caller's buffer");
  tap_is_str(f ? lr_st_name(f) : NULL, "mem", "the name given is kept for messages");
  lr_st_close(f);
  lr_err_init(&err);
  tap_is_int(lr_st_parse(buf, 5, "mem", &f, &err), LR_EPARSE, "a 5-byte buffer is refused");
  tap_is_str(err.file, "mem", "the error names the buffer");
  tap_like(err.msg, "file is 5 bytes: too short for the 8-byte header length", "and says why");
}

static void test_prelude(void) {
  lr_st_file *f = NULL;
  lr_err err;
  int fd;
  tap_ok(st_write_raw(path_of("long.safetensors"), 1000, "{}", NULL, 0) == 0, "wrote a file");
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("long.safetensors"), &f, &err), LR_EPARSE,
             "a header length past the end of the file is refused");
  tap_like(err.msg, "header length 1000 goes beyond the end of the file (10 bytes",
           "the message gives both numbers");

  /* A sparse file: 101 MiB long, costing no disk, whose length field asks for all of it. */
  fd = open(path_of("huge.safetensors"), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  tap_ok(fd >= 0 && ftruncate(fd, (off_t)101 << 20) == 0 && close(fd) == 0, "made a sparse file");
  fd = open(path_of("huge.safetensors"), O_WRONLY);
  {
    unsigned char len[8];
    uint64_t n = ((uint64_t)100 << 20) + 1;
    for (int i = 0; i < 8; i++)
      len[i] = (unsigned char)(n >> (8 * i));
    tap_ok(fd >= 0 && write(fd, len, 8) == 8 && close(fd) == 0, "wrote its length field");
  }
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("huge.safetensors"), &f, &err), LR_EPARSE,
             "an absurd header length is refused before parsing");
  tap_like(err.msg, "header length 104857601 is absurdly large (the limit is 100 MiB)",
           "the message gives the length and the limit");

  tap_ok(st_write_raw(path_of("empty.safetensors"), 0, "", NULL, 0) == 0 &&
         truncate(path_of("empty.safetensors"), 0) == 0, "made an empty file");
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("empty.safetensors"), &f, &err), LR_EPARSE, "an empty file");
  tap_like(err.msg, "file is 0 bytes", "is too short");

  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("nonexistent.safetensors"), &f, &err), LR_ENOTFOUND,
             "a missing file is LR_ENOTFOUND");
  tap_like(err.msg, "cannot open: No such file", "with the system's reason");
  lr_err_init(&err);
  tap_is_int(lr_st_open(dir, &f, &err), LR_EIO, "a directory is refused");
  tap_like(err.msg, "is a directory", "saying so");
}

static void test_bad_json(void) {
  expect_bad("{\"a\": {\n  \"dtype\": F32}}", 0, LR_EPARSE, "header is not valid JSON: invalid token "
             "near 'F' (header line 2, column 12)", "JSON syntax error located by line and column");
  expect_bad("[1, 2]", 0, LR_EPARSE, "header must be a JSON object, got array", "an array header");
  expect_bad("", 0, LR_EPARSE, "header is not valid JSON", "an empty header");
  expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, LR_EPARSE,
             "duplicate object key", "a tensor named twice");
  expect_bad("{\"w\": 3}", 0, LR_EPARSE, "tensor 'w': entry must be an object, got integer",
             "an entry that is not an object");
}

static void test_bad_dtype(void) {
  expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LR_EPARSE,
             "tensor 'w': missing 'dtype'", "missing dtype");
  expect_bad("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LR_EPARSE,
             "tensor 'w': 'dtype' must be a string, got integer", "dtype of the wrong type");
  expect_bad("{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             LR_EUNSUPPORTED, "tensor 'w': unknown dtype 'Q4_K'", "an unknown dtype is named");
}

static void test_bad_shape(void) {
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, LR_EPARSE,
             "tensor 'w': missing 'shape'", "missing shape");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2x2\",\"data_offsets\":[0,16]}}", 16, LR_EPARSE,
             "tensor 'w': 'shape' must be an array, got string", "shape not an array");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", 16, LR_EPARSE,
             "tensor 'w': shape[1] must be a non-negative integer, got a negative one",
             "a negative dimension");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2.0],\"data_offsets\":[0,16]}}", 16, LR_EPARSE,
             "tensor 'w': shape[1] must be a non-negative integer, got real", "a real dimension");
  expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
             LR_EPARSE, "tensor 'w': shape has 9 dimensions; at most 8 are supported", "rank 9");
  expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,1]}}",
             1, LR_EPARSE, "tensor 'w': shape has more elements than 64 bits can count",
             "an element count that overflows");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,2],\"data_offsets\":[0,8]}}",
             8, LR_EPARSE, "needs more than 2^64 bytes", "a byte size that overflows");
}

static void test_bad_offsets(void) {
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, LR_EPARSE,
             "tensor 'w': missing 'data_offsets'", "missing data_offsets");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, LR_EPARSE,
             "tensor 'w': 'data_offsets' must be [begin, end], got an array of 3",
             "three offsets");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 4, LR_EPARSE,
             "'data_offsets' must be [begin, end], got object", "offsets not an array");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4, LR_EPARSE,
             "tensor 'w': 'data_offsets' must hold two non-negative integers", "a string offset");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, LR_EPARSE,
             "must hold two non-negative integers", "a negative offset");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, LR_EPARSE,
             "tensor 'w': data_offsets [8, 4] begin after they end", "begin after end");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12, LR_EPARSE,
             "tensor 'w': data_offsets [0, 16] go beyond the data section (12 bytes; is the file "
             "truncated?)", "a tensor past the end of the data");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, LR_EPARSE,
             "tensor 'w': F32 [2, 3] needs 24 bytes, but data_offsets [0, 20] hold 20",
             "byte size differs from numel * dtype size");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[12,20]}}", 20, LR_EPARSE,
             "tensors 'a' (bytes ", "overlapping tensors");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[12,20]}}", 20, LR_EPARSE,
             "and 'b' (bytes ", "the message names both");
  expect_bad("{\"big\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
             "\"in\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
             "\"after\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]}}", 32, LR_EPARSE,
             "overlap", "a tensor inside another is an overlap too");
}

static void test_good_edge_cases(void) {
  static const unsigned char data[16];
  lr_st_file *f = NULL;
  lr_err err;
  /* Zero-size tensors take no bytes, so they may sit anywhere, even inside another tensor. */
  st_write(path_of("edge.safetensors"),
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
           "\"__metadata__\":null,\"extra\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[16,16]"
           ",\"comment\":\"ignored\"}}", data, 16);
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("edge.safetensors"), &f, &err), LR_EPARSE,
             "a scalar needs one element: BOOL [] with no bytes is refused");
  lr_st_close(f);
  st_write(path_of("edge.safetensors"),
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
           "\"__metadata__\":null,\"hole\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[16,16]"
           ",\"comment\":\"unknown keys are ignored\"}}", data, 16);
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("edge.safetensors"), &f, &err), LR_OK,
             "zero-size tensors, a null __metadata__ and unknown entry keys are accepted");
  if (err.code)
    tap_diag("%s", err.msg);
  tap_is_int(f ? (long long)lr_st_metadata_count(f) : -1, 0, "null metadata has no pairs");
  lr_st_close(f);
  st_write(path_of("none.safetensors"), "{}", NULL, 0);
  lr_err_init(&err);
  tap_is_int(lr_st_open(path_of("none.safetensors"), &f, &err), LR_OK, "a file with no tensors");
  tap_ok(f && lr_st_count(f) == 0 && lr_st_find(f, "x") == NULL, "holds nothing");
  lr_st_close(f);
}

static void test_bad_metadata(void) {
  expect_bad("{\"__metadata__\":[\"pt\"]}", 0, LR_EPARSE,
             "'__metadata__' must be an object of strings, got array", "metadata not an object");
  expect_bad("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0, LR_EPARSE,
             "'__metadata__': value of 'step' must be a string, got integer",
             "a metadata value that is not a string");
}

static void test_dtype_table(void) {
  lr_st_dtype t;
  static const struct { const char *name; size_t size; } want[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1},
      {"F8_E5M2", 1}};
  int good = 1;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    good &= lr_st_dtype_from_name(want[i].name, &t) && lr_st_dtype_size(t) == want[i].size &&
            strcmp(lr_st_dtype_name(t), want[i].name) == 0;
  tap_ok(good, "every standard dtype name is known, with its size");
  tap_ok(!lr_st_dtype_from_name("f32", &t), "dtype names are case-sensitive, as in the format");
}

static void test_shape_format(void) {
  char buf[64];
  const int64_t s[3] = {4096, 11008, 1};
  lr_shape_format(buf, sizeof buf, s, 2);
  tap_is_str(buf, "[4096, 11008]", "shapes print as Python lists");
  lr_shape_format(buf, sizeof buf, s, 0);
  tap_is_str(buf, "[]", "a scalar's shape is []");
  lr_shape_format(buf, 6, s, 3);
  tap_is_int((long long)strlen(buf), 5, "a short buffer truncates and terminates");
}

int main(void) {
  if (tmpdir_make(dir, sizeof dir, "safetensors") != 0)
    tap_skip_all("cannot create a scratch directory");
  test_round_trip();
  test_parse_buffer();
  test_prelude();
  test_bad_json();
  test_bad_dtype();
  test_bad_shape();
  test_bad_offsets();
  test_good_edge_cases();
  test_bad_metadata();
  test_dtype_table();
  test_shape_format();
  tmpdir_remove(dir);
  return tap_done();
}
