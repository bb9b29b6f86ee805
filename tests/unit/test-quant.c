/*
 * test-quant.c: ggml tensor types and their dequantization (plugins/common/quant.h) against
 * gguf-py, bit for bit: random blocks of every type (tests/fixtures/quant/NAME.bin), bf16 rounding,
 * every f16 value against its definition, and, when ../shared has it, two tensors of the shipped
 * SmolLM2 Q4_1 GGUF read at offsets the fixture script recorded (smollm2-q4_1.json).  The
 * fixtures and the script that made them: tests/fixtures/README.md.
 */
#include "compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "../tap.h"
#include "base/sha256.h"
#include "quant.h"

/* The types and sizes of ../shared/research/gguf.md section 2.1. */
static const struct {
  int type;
  const char *name;
  size_t elems, bytes;
} want_types[] = {
  {0, "F32", 1, 4},      {1, "F16", 1, 2},      {2, "Q4_0", 32, 18},   {3, "Q4_1", 32, 20},
  {6, "Q5_0", 32, 22},   {7, "Q5_1", 32, 24},   {8, "Q8_0", 32, 34},   {10, "Q2_K", 256, 84},
  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},
  {30, "BF16", 1, 2},
};

static const char *top_srcdir(void) {
  const char *top = getenv("TOP_SRCDIR");
  return top ? top : "..";
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* The whole file into malloc'd memory, or NULL. */
static uint8_t *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf = NULL;
  long size;
  if (!fp)
    return NULL;
  if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
      (buf = malloc((size_t)size + 1)) != NULL && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
    free(buf);
    buf = NULL;
  }
  fclose(fp);
  *len = buf ? (size_t)size : 0;
  return buf;
}

/* Counts the elements of got that differ from want in their bits, printing the first few. */
static size_t count_diffs(const float *got, const float *want, size_t n, size_t block_elems) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    if (bits_of(got[i]) != bits_of(want[i]) && bad++ < 4)
      tap_diag("block %zu element %zu: got %a (0x%08x), want %a (0x%08x)", i / block_elems,
               i % block_elems, got[i], (unsigned)bits_of(got[i]), want[i],
               (unsigned)bits_of(want[i]));
  return bad;
}

static void test_table(void) {
  bool ok = true;
  for (size_t i = 0; i < LR_ARRAY_LEN(want_types); i++) {
    const lr_quant_type_info *info = lr_quant_info(want_types[i].type);
    if (!info || strcmp(info->name, want_types[i].name) != 0 ||
        info->block_elems != want_types[i].elems || info->block_bytes != want_types[i].bytes ||
        lr_quant_block_elems(want_types[i].type) != want_types[i].elems ||
        lr_quant_block_bytes(want_types[i].type) != want_types[i].bytes ||
        strcmp(lr_quant_name(want_types[i].type), want_types[i].name) != 0) {
      tap_diag("type %d (%s): got %s", want_types[i].type, want_types[i].name,
               info ? info->name : "NULL");
      ok = false;
    }
  }
  tap_ok(ok, "13 types: ggml's numbers, names, elements and bytes per block");
  {
    /* 4, 5 and 31 are removed numbers; 40 and up are unknown. */
    const int unknown[] = {-1, 4, 5, 31, 40, 1000};
    /* Known to ggml (Q8_1 and Q8_K never appear in files), sized, but not dequantized. */
    const int sized[] = {9, 15, 16, 20, 29, 39};
    float y[32];
    bool none = true, only_sized = true;
    for (size_t i = 0; i < LR_ARRAY_LEN(unknown); i++)
      none = none && !lr_quant_info(unknown[i]) && lr_quant_block_elems(unknown[i]) == 0 &&
             lr_quant_block_bytes(unknown[i]) == 0 && strcmp(lr_quant_name(unknown[i]), "?") == 0;
    tap_ok(none, "unknown type numbers have no description");
    for (size_t i = 0; i < LR_ARRAY_LEN(sized); i++)
      only_sized = only_sized && lr_quant_info(sized[i]) && lr_quant_block_bytes(sized[i]) > 0 &&
                   !lr_quant_can_dequantize(sized[i]) &&
                   lr_quant_dequantize_row(sized[i], y, y, 0) == LORENS_EUNSUPPORTED;
    tap_ok(only_sized, "types lorens does not dequantize are sized but refused");
  }
  {
    /* The status first: a check's arguments are evaluated in no fixed order. */
    size_t b = 1;
    lorens_status st = lr_quant_row_bytes(LR_QTYPE_Q4_1, 576, &b);
    tap_ok(st == LORENS_OK && b == 360, "a 576-wide Q4_1 row is 18 blocks of 20 bytes (got %zu)", b);
    st = lr_quant_row_bytes(LR_QTYPE_Q8_0, 576, &b);
    tap_ok(st == LORENS_OK && b == 612, "a 576-wide Q8_0 row is 612 bytes (got %zu)", b);
    st = lr_quant_row_bytes(LR_QTYPE_Q6_K, 1536, &b);
    tap_ok(st == LORENS_OK && b == 1260,
           "a 1536-wide Q6_K row is 6 super-blocks of 210 bytes (got %zu)", b);
    st = lr_quant_row_bytes(LR_QTYPE_BF16, 7, &b);
    tap_ok(st == LORENS_OK && b == 14, "7 bf16 elements are 14 bytes (got %zu)", b);
    st = lr_quant_row_bytes(LR_QTYPE_Q4_K, 0, &b);
    tap_ok(st == LORENS_OK && b == 0, "0 elements, 0 bytes");
    b = 7;
    st = lr_quant_row_bytes(LR_QTYPE_Q4_K, 576, &b);
    tap_ok(st == LORENS_EINVAL && b == 7,
           "576 is not a whole number of K-quant blocks: EINVAL, nothing written");
    tap_ok(lr_quant_row_bytes(LR_QTYPE_F32, SIZE_MAX, &b) == LORENS_EINVAL,
           "a byte size past SIZE_MAX: EINVAL");
    tap_ok(lr_quant_row_bytes(15, 256, &b) == LORENS_OK && b == 292,
           "Q8_K, sized but not dequantized: 292 bytes a block");
    tap_ok(lr_quant_row_bytes(4, 32, &b) == LORENS_EUNSUPPORTED, "a removed number: EUNSUPPORTED");
  }
}

static void test_refusals(void) {
  float dst[600];
  uint8_t src[8 * 210] = {0};
  uint16_t dst16[600];
  bool ok = true;
  for (size_t i = 0; i < LR_ARRAY_LEN(want_types); i++) {
    const size_t be = want_types[i].elems;
    if (be == 1)
      continue;
    const size_t bad[] = {1, be - 1, be + 1, 2 * be + be / 2};
    for (size_t k = 0; k < LR_ARRAY_LEN(bad); k++) {
      for (size_t j = 0; j < LR_ARRAY_LEN(dst); j++)
        dst[j] = 12345.0f;
      dst16[0] = 0x1234;
      if (lr_quant_dequantize_row(want_types[i].type, src, dst, bad[k]) != LORENS_EINVAL ||
          lr_quant_dequantize_row_bf16(want_types[i].type, src, dst16, bad[k]) != LORENS_EINVAL ||
          dst16[0] != 0x1234) {
        tap_diag("%s n=%zu accepted", want_types[i].name, bad[k]);
        ok = false;
      }
      for (size_t j = 0; j < LR_ARRAY_LEN(dst); j++)
        if (dst[j] != 12345.0f) {
          tap_diag("%s n=%zu wrote dst[%zu]", want_types[i].name, bad[k], j);
          ok = false;
          break;
        }
    }
  }
  tap_ok(ok, "n not a multiple of the block size: EINVAL, dst untouched");
  tap_ok(lr_quant_dequantize_row(LR_QTYPE_Q4_0, NULL, NULL, 0) == LORENS_OK &&
         lr_quant_dequantize_row_bf16(LR_QTYPE_Q6_K, NULL, NULL, 0) == LORENS_OK,
         "n = 0 reads and writes nothing");
  tap_ok(lr_quant_dequantize_row(15, src, dst, 256) == LORENS_EUNSUPPORTED &&
         lr_quant_dequantize_row(-3, src, dst, 32) == LORENS_EUNSUPPORTED &&
         lr_quant_dequantize_row_bf16(9, src, dst16, 32) == LORENS_EUNSUPPORTED,
         "an unsupported type: EUNSUPPORTED");
}

/* Every f16 bit pattern against the definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals
 * 2^-14 * m/1024, Inf, and NaN of the same sign with the payload in the top mantissa bits. */
static void test_f16_exhaustive(void) {
  size_t bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    const float got = lr_quant_f16_to_f32((uint16_t)h);
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    const bool neg = (h & 0x8000) != 0;
    bool ok;
    if (e == 31 && m != 0) {
      ok = isnan(got) && !!signbit(got) == neg && (bits_of(got) & 0x7fffffu) == m << 13;
    } else {
      double v = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);
      ok = got == (float)(neg ? -v : v) && !!signbit(got) == neg;
    }
    if (!ok && bad++ < 4)
      tap_diag("f16 0x%04x -> %a (0x%08x)", (unsigned)h, got, (unsigned)bits_of(got));
  }
  tap_ok(bad == 0, "every one of the 65536 f16 values converts exactly (%zu wrong)", bad);

  /* The f16 row converter takes the same path as the scalar one, NaNs included. */
  {
    uint8_t *src = malloc(2 * 65536);
    float *dst = malloc(sizeof *dst * 65536);
    bad = 0;
    for (uint32_t h = 0; src && dst && h < 65536; h++) {
      src[2 * h] = (uint8_t)h;
      src[2 * h + 1] = (uint8_t)(h >> 8);
    }
    if (src && dst && lr_quant_dequantize_row(LR_QTYPE_F16, src, dst, 65536) == LORENS_OK) {
      for (uint32_t h = 0; h < 65536; h++)
        bad += bits_of(dst[h]) != bits_of(lr_quant_f16_to_f32((uint16_t)h));
    } else {
      bad = 1;
    }
    tap_ok(bad == 0, "an F16 row of all 65536 patterns equals the scalar conversion bit for bit");
    free(src);
    free(dst);
  }
}

static void test_bf16_rounding(void) {
  char path[4096];
  size_t len;
  snprintf(path, sizeof path, "%s/tests/fixtures/quant/f32-to-bf16.bin", top_srcdir());
  uint8_t *buf = slurp(path, &len);
  if (!buf || len < 12 || memcmp(buf, "LRBF16R1", 8) != 0 || len != 12 + 6 * (size_t)le32(buf + 8)) {
    tap_ok(false, "%s: missing or malformed", path);
    free(buf);
    return;
  }
  const size_t n = le32(buf + 8);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    const float in = float_of(le32(buf + 12 + 4 * i));
    const uint16_t want = (uint16_t)(buf[12 + 4 * n + 2 * i] | buf[12 + 4 * n + 2 * i + 1] << 8);
    const uint16_t got = lr_quant_f32_to_bf16(in);
    if (got != want && bad++ < 4)
      tap_diag("0x%08x: got 0x%04x, want 0x%04x", (unsigned)bits_of(in), got, want);
  }
  tap_ok(n > 1000 && bad == 0, "f32 -> bf16 rounds as gguf-py/ggml on %zu values, ties and NaNs "
         "included (%zu wrong)", n, bad);
  free(buf);
}

/* One tests/fixtures/quant/NAME.bin against lr_quant_dequantize_row, whole, block by block, from
 * an odd address, and rounded to bf16. */
static void test_fixture(int type, const char *name) {
  char path[4096];
  size_t len;
  snprintf(path, sizeof path, "%s/tests/fixtures/quant/%s.bin", top_srcdir(), name);
  uint8_t *buf = slurp(path, &len);
  if (!buf || len < 24 || memcmp(buf, "LRQUANT1", 8) != 0) {
    tap_ok(false, "%s: missing or malformed", path);
    free(buf);
    return;
  }
  const size_t be = le32(buf + 12), bb = le32(buf + 16), nb = le32(buf + 20), n = nb * be;
  tap_ok(le32(buf + 8) == (uint32_t)type && be == lr_quant_block_elems(type) &&
         bb == lr_quant_block_bytes(type) && len == 24 + nb * bb + 4 * n && nb > 0,
         "%s: the fixture's type and gguf-py's block sizes (%zu elements, %zu bytes) are ours",
         name, be, bb);
  if (len != 24 + nb * bb + 4 * n || be != lr_quant_block_elems(type)) {
    free(buf);
    return;
  }
  const uint8_t *blocks = buf + 24;
  float *want = malloc(sizeof *want * n), *got = malloc(sizeof *got * n);
  uint8_t *odd = malloc(nb * bb + 1);
  uint16_t *got16 = malloc(sizeof *got16 * n);
  if (!want || !got || !odd || !got16) {
    tap_ok(false, "%s: out of memory", name);
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    want[i] = float_of(le32(blocks + nb * bb + 4 * i));

  tap_ok(lr_quant_dequantize_row(type, blocks, got, n) == LORENS_OK &&
         count_diffs(got, want, n, be) == 0,
         "%s: %zu blocks as one row equal gguf-py bit for bit", name, nb);

  memset(got, 0xff, sizeof *got * n);
  bool ok = true;
  for (size_t b = 0; b < nb; b++)
    ok = ok && lr_quant_dequantize_row(type, blocks + b * bb, got + b * be, be) == LORENS_OK;
  tap_ok(ok && count_diffs(got, want, n, be) == 0, "%s: block by block, the same", name);

  memcpy(odd + 1, blocks, nb * bb);
  memset(got, 0xff, sizeof *got * n);
  tap_ok(lr_quant_dequantize_row(type, odd + 1, got, n) == LORENS_OK &&
         count_diffs(got, want, n, be) == 0, "%s: from an odd address, the same", name);

  size_t bad = 0;
  if (lr_quant_dequantize_row_bf16(type, blocks, got16, n) != LORENS_OK)
    bad = n;
  for (size_t i = 0; bad < n && i < n; i++)
    bad += got16[i] != lr_quant_f32_to_bf16(want[i]);
  tap_ok(bad == 0, "%s: to bf16, each value rounded (%zu wrong)", name, bad);
done:
  free(want);
  free(got);
  free(odd);
  free(got16);
  free(buf);
}

/* Little-endian bytes of n floats into a SHA-256. */
static void hash_floats(lr_sha256 *h, const float *v, size_t n) {
  uint8_t le[4 * 64];
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    for (; k < 64 && i < n; k++, i++) {
      const uint32_t u = bits_of(v[i]);
      le[4 * k] = (uint8_t)u;
      le[4 * k + 1] = (uint8_t)(u >> 8);
      le[4 * k + 2] = (uint8_t)(u >> 16);
      le[4 * k + 3] = (uint8_t)(u >> 24);
    }
    lr_sha256_update(h, le, 4 * k);
  }
}

static bool same_values(const float *got, json_t *want, const char *what) {
  bool ok = json_array_size(want) == 64;
  for (size_t i = 0; ok && i < 64; i++)
    if (got[i] != (float)json_number_value(json_array_get(want, i))) {
      tap_diag("%s[%zu]: got %.9g, want %.9g", what, i, got[i],
               json_number_value(json_array_get(want, i)));
      ok = false;
    }
  return ok;
}

/* One tensor of the shipped GGUF, read at the recorded offset and dequantized row by row. */
static void test_model_tensor(FILE *fp, json_t *t) {
  const char *name = json_string_value(json_object_get(t, "name"));
  const int type = (int)json_integer_value(json_object_get(t, "type"));
  const size_t ne0 = (size_t)json_integer_value(json_array_get(json_object_get(t, "ne"), 0));
  const size_t rows = (size_t)json_integer_value(json_object_get(t, "rows"));
  const size_t n_bytes = (size_t)json_integer_value(json_object_get(t, "n_bytes"));
  const long long off = json_integer_value(json_object_get(t, "file_offset"));
  const char *type_name = json_string_value(json_object_get(t, "type_name"));
  size_t row_bytes = 0;
  const bool sized = lr_quant_row_bytes(type, ne0, &row_bytes) == LORENS_OK;
  if (!name)
    name = "?";
  tap_ok(type_name && strcmp(lr_quant_name(type), type_name) == 0 && sized &&
         row_bytes == (size_t)json_integer_value(json_object_get(t, "row_bytes")) &&
         rows * row_bytes == n_bytes,
         "%s: %s, rows of %zu elements in %zu bytes", name, lr_quant_name(type), ne0, row_bytes);
  uint8_t *raw = malloc(n_bytes ? n_bytes : 1);
  float *row = malloc(sizeof *row * (ne0 ? ne0 : 1));
  if (!raw || !row || rows * row_bytes != n_bytes || fseeko(fp, (off_t)off, SEEK_SET) != 0 ||
      fread(raw, 1, n_bytes, fp) != n_bytes) {
    tap_ok(false, "%s: %zu bytes at offset %lld could not be read", name, n_bytes, off);
    free(raw);
    free(row);
    return;
  }
  lr_sha256 h;
  uint8_t digest[LR_SHA256_DIGEST];
  char hex[LR_SHA256_HEX];
  double sum = 0, sumsq = 0;
  bool ok = true;
  lr_sha256_init(&h);
  for (size_t r = 0; r < rows; r++) {
    ok = ok && lr_quant_dequantize_row(type, raw + r * row_bytes, row, ne0) == LORENS_OK;
    for (size_t j = 0; j < ne0; j++) {
      sum += row[j];
      sumsq += (double)row[j] * row[j];
    }
    hash_floats(&h, row, ne0);
    if (r == 0)
      tap_ok(same_values(row, json_object_get(t, "row0_first64"), "row 0"),
             "%s: row 0, the first 64 values", name);
    if (r == rows - 1)
      tap_ok(same_values(row, json_object_get(t, "last_row_first64"), "last row"),
             "%s: row %zu (the last), the first 64 values", name, r);
  }
  lr_sha256_final(&h, digest);
  for (size_t i = 0; i < LR_SHA256_DIGEST; i++)
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  tap_ok(ok, "%s: %zu rows dequantized", name, rows);
  tap_is_str(hex, json_string_value(json_object_get(t, "sha256_f32")),
             "%s: all %zu values equal gguf-py's bit for bit (SHA-256 of the float32 tensor)",
             name, rows * ne0);
  /* The reference sums are exactly rounded (fsum); ours add in order, off by rounding only. */
  tap_is_near(sum, json_number_value(json_object_get(t, "sum")), 1e-6, 1e-9, "%s: sum", name);
  tap_is_near(sumsq, json_number_value(json_object_get(t, "sumsq")), 1e-6, 1e-9, "%s: sum of "
              "squares", name);
  if (rows >= 16) {
    /* A tile of 8 rows in one call, as the frozen GEMM will take them. */
    float *tile = malloc(sizeof *tile * 8 * ne0);
    ok = tile && lr_quant_dequantize_row(type, raw + 8 * row_bytes, tile, 8 * ne0) == LORENS_OK;
    for (size_t r = 0; ok && r < 8; r++)
      ok = lr_quant_dequantize_row(type, raw + (8 + r) * row_bytes, row, ne0) == LORENS_OK &&
           memcmp(row, tile + r * ne0, sizeof *row * ne0) == 0;
    tap_ok(ok, "%s: rows 8..15 in one call equal the rows one by one", name);
    free(tile);
  }
  free(raw);
  free(row);
}

static void test_model(void) {
  char ref_path[4096], model[4096];
  const char *shared = getenv("LORENS_SHARED_DIR");
  char fallback[4096];
  json_error_t jerr;
  if (!shared) {
    snprintf(fallback, sizeof fallback, "%s/../shared", top_srcdir());
    shared = fallback;
  }
  snprintf(ref_path, sizeof ref_path, "%s/tests/fixtures/quant/smollm2-q4_1.json", top_srcdir());
  json_t *ref = json_load_file(ref_path, 0, &jerr);
  if (!ref) {
    tap_ok(false, "%s:%d: %s", ref_path, jerr.line, jerr.text);
    return;
  }
  const char *rel = json_string_value(json_object_get(ref, "file"));
  struct stat st;
  FILE *fp = NULL;
  if (rel && snprintf(model, sizeof model, "%s/%s", shared, rel) < (int)sizeof model)
    fp = fopen(model, "rb");
  if (!fp) {
    tap_skip("the shipped GGUF is not there", "%s", model);
    json_decref(ref);
    return;
  }
  const long long want_size = json_integer_value(json_object_get(ref, "file_size"));
  tap_ok(fstat(fileno(fp), &st) == 0 && (long long)st.st_size == want_size,
         "%s is the file the reference was made from (%lld bytes)", model, want_size);
  json_t *tensors = json_object_get(ref, "tensors");
  tap_ok(json_array_size(tensors) == 2, "the reference names two tensors");
  for (size_t i = 0; i < json_array_size(tensors); i++)
    test_model_tensor(fp, json_array_get(tensors, i));
  fclose(fp);
  json_decref(ref);
}

int main(void) {
  test_table();
  test_refusals();
  test_f16_exhaustive();
  test_bf16_rounding();
  for (size_t i = 0; i < LR_ARRAY_LEN(want_types); i++)
    test_fixture(want_types[i].type, want_types[i].name);
  test_model();
  return tap_done();
}
