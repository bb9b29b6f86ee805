/*
 * gguf-samples.c: the sample GGUF files (see gguf-samples.h).  Each broken one is a small valid
 * file with one thing wrong; its comment says what, and where the message points.
 */
#include <string.h>

#include <lorens/backend.h>

#include "gguf-samples.h"

/* Deterministic bytes for tensor data, different for each tensor. */
static void pattern(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 7 + seed * 31 + 1);
}

static void finish(gguf_writer *w, gguf_buf *out) {
  gw_build(w, out);
  gw_release(w);
}

/* ---- valid files --------------------------------------------------------------------------------- */

/* A LLaMA-shaped model of 1 block, hidden 32, with the keys and tensor types of a real Q4_1 file
 * (Q8_0 embeddings, Q4_1/Q4_0 matrices, F32/F16 norms). */
static void good_llama(gguf_buf *out) {
  static const char *const tokens[TINY_VOCAB] = {"<s>", "</s>", "a", "b", "c", "Ġa", "ab", "é"};
  const int32_t token_type[TINY_VOCAB] = {3, 3, 1, 1, 1, 1, 1, 1};
  unsigned char buf[2048];
  float ones[TINY_EMBD];
  uint16_t halves[TINY_EMBD];
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  gw_kv_str(&w, "general.name", "tiny-llama");
  gw_kv_int(&w, "general.file_type", GW_UINT32, 3);
  gw_kv_int(&w, "llama.context_length", GW_UINT32, 128);
  gw_kv_int(&w, "llama.embedding_length", GW_UINT32, TINY_EMBD);
  gw_kv_int(&w, "llama.block_count", GW_UINT32, 1);
  gw_kv_int(&w, "llama.feed_forward_length", GW_UINT32, TINY_FF);
  gw_kv_int(&w, "llama.attention.head_count", GW_UINT32, 4);
  gw_kv_int(&w, "llama.attention.head_count_kv", GW_UINT32, 2);
  gw_kv_f32(&w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  gw_kv_f32(&w, "llama.rope.freq_base", 10000.0f);
  gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
  gw_kv_array_str(&w, "tokenizer.ggml.tokens", TINY_VOCAB, tokens);
  gw_kv_array(&w, "tokenizer.ggml.token_type", GW_INT32, TINY_VOCAB, token_type,
              sizeof token_type); /* little-endian hosts only, as the reader's tests are */
  gw_kv_int(&w, "general.quantization_version", GW_UINT32, 2);
  for (int i = 0; i < TINY_EMBD; i++) {
    ones[i] = 1.0f;
    halves[i] = 0x3c00; /* 1.0 in binary16 */
  }
  pattern(buf, 34 * TINY_VOCAB, 1);
  gw_tensor(&w, "token_embd.weight", 2, (const uint64_t[]){TINY_EMBD, TINY_VOCAB}, GW_Q8_0, buf,
            34 * TINY_VOCAB);
  gw_tensor(&w, "blk.0.attn_norm.weight", 1, (const uint64_t[]){TINY_EMBD}, GW_F32, ones,
            sizeof ones);
  pattern(buf, 20 * TINY_EMBD, 2);
  gw_tensor(&w, "blk.0.attn_q.weight", 2, (const uint64_t[]){TINY_EMBD, TINY_EMBD}, GW_Q4_1, buf,
            20 * TINY_EMBD);
  pattern(buf, 2 * 18 * TINY_EMBD, 3);
  gw_tensor(&w, "blk.0.ffn_down.weight", 2, (const uint64_t[]){TINY_FF, TINY_EMBD}, GW_Q4_0, buf,
            2 * 18 * TINY_EMBD);
  gw_tensor(&w, "blk.0.ffn_norm.weight", 1, (const uint64_t[]){TINY_EMBD}, GW_F16, halves,
            sizeof halves);
  gw_tensor(&w, "output_norm.weight", 1, (const uint64_t[]){TINY_EMBD}, GW_F32, ones,
            sizeof ones);
  finish(&w, out);
}

/* One key of every value type, arrays of every element type, empty ones; version 2, alignment 64,
 * tensors of 3 and 4 dimensions.  tests/unit/test-gguf.c checks these exact values. */
static void good_all_types(gguf_buf *out) {
  static const char *const strs[3] = {"a", "", "ccc"};
  const uint8_t u8s[3] = {1, 2, 255};
  const int8_t i8s[2] = {-1, 127};
  const uint16_t u16s[2] = {1, 65535};
  const int16_t i16s[2] = {-32768, 7};
  const uint32_t u32s[3] = {30, 31, 4294967295u};
  const int32_t i32s[2] = {-5, 2147483647};
  const float f32s[2] = {0.5f, -1e-5f};
  const uint8_t bools[3] = {1, 0, 1};
  const uint64_t u64s[2] = {0, 18446744073709551615ull};
  const int64_t i64s[2] = {-9223372036854775807ll - 1, 42};
  const double f64s[2] = {3.25, -0.1};
  unsigned char data[256];
  gguf_writer w;
  gw_init(&w);
  w.version = 2;
  gw_alignment(&w, 64);
  gw_kv_int(&w, "u8", GW_UINT8, 200);
  gw_kv_int(&w, "i8", GW_INT8, (uint64_t)(int64_t)-100);
  gw_kv_int(&w, "u16", GW_UINT16, 60000);
  gw_kv_int(&w, "i16", GW_INT16, (uint64_t)(int64_t)-30000);
  gw_kv_int(&w, "u32", GW_UINT32, 4000000000u);
  gw_kv_int(&w, "i32", GW_INT32, (uint64_t)(int64_t)-2000000000);
  gw_kv_f32(&w, "f32", 1e-5f);
  gw_kv_int(&w, "bool.true", GW_BOOL, 1);
  gw_kv_int(&w, "bool.false", GW_BOOL, 0);
  gw_kv_str(&w, "str", "h\xc3\xa9llo");
  gw_kv_str(&w, "str.empty", "");
  gw_kv_strn(&w, "str.nul", "a\0b", 3);
  gw_kv_int(&w, "u64", GW_UINT64, 12345678901234ull);
  gw_kv_int(&w, "u64.big", GW_UINT64, 9223372036854775808ull);
  gw_kv_int(&w, "i64", GW_INT64, (uint64_t)-1234567890123ll);
  gw_kv_f64(&w, "f64", -2.25);
  gw_kv_array(&w, "arr.u8", GW_UINT8, 3, u8s, sizeof u8s);
  gw_kv_array(&w, "arr.i8", GW_INT8, 2, i8s, sizeof i8s);
  gw_kv_array(&w, "arr.u16", GW_UINT16, 2, u16s, sizeof u16s);
  gw_kv_array(&w, "arr.i16", GW_INT16, 2, i16s, sizeof i16s);
  gw_kv_array(&w, "arr.u32", GW_UINT32, 3, u32s, sizeof u32s);
  gw_kv_array(&w, "arr.i32", GW_INT32, 2, i32s, sizeof i32s);
  gw_kv_array(&w, "arr.f32", GW_FLOAT32, 2, f32s, sizeof f32s);
  gw_kv_array(&w, "arr.bool", GW_BOOL, 3, bools, sizeof bools);
  gw_kv_array(&w, "arr.u64", GW_UINT64, 2, u64s, sizeof u64s);
  gw_kv_array(&w, "arr.i64", GW_INT64, 2, i64s, sizeof i64s);
  gw_kv_array(&w, "arr.f64", GW_FLOAT64, 2, f64s, sizeof f64s);
  gw_kv_array_str(&w, "arr.str", 3, strs);
  gw_kv_array(&w, "arr.empty", GW_UINT32, 0, NULL, 0);
  pattern(data, sizeof data, 4);
  gw_tensor(&w, "three.dims", 3, (const uint64_t[]){4, 2, 3}, GW_F32, data, 4 * 2 * 3 * 4);
  gw_tensor(&w, "four.dims", 4, (const uint64_t[]){2, 1, 1, 3}, 30 /* BF16 */, data + 7, 12);
  gw_tensor(&w, "bytes", 1, (const uint64_t[]){5}, 24 /* I8 */, data + 100, 5);
  finish(&w, out);
}

/* Metadata only, no tensors and so no data section. */
static void good_no_tensors(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  finish(&w, out);
}

/* A K-quant (256-element blocks) and a 1-D F64, with gaps between tensors (allowed: only
 * overlaps are refused). */
static void good_kquant_gaps(gguf_buf *out) {
  unsigned char data[2 * 144];
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  pattern(data, sizeof data, 5);
  gw_tensor_info(&w, "k", 2, (const uint64_t[]){256, 2}, GW_Q4_K, 64);
  gw_tensor_info(&w, "d", 1, (const uint64_t[]){3}, GW_F64, 0);
  gw_data(&w, data, 24);
  gw_data(&w, NULL, 40);
  gw_data(&w, data, sizeof data);
  finish(&w, out);
}

/* ---- the header ---------------------------------------------------------------------------------- */

static void bad_empty(gguf_buf *out) { (void)out; }

static void bad_magic(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  memcpy(w.magic, "GGML", 4);
  finish(&w, out);
}

static void bad_version1(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  w.version = 1;
  finish(&w, out);
}

static void bad_version4(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  w.version = 4;
  finish(&w, out);
}

/* Version 3 written big-endian reads 0x03000000. */
static void bad_big_endian(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  w.version = 0x03000000;
  finish(&w, out);
}

/* Cut inside the tensor count. */
static void bad_truncated_header(gguf_buf *out) {
  good_no_tensors(out);
  out->len = 12;
}

static void bad_kv_count_huge(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  w.claim_counts = 1;
  w.n_kv_claim = (uint64_t)1 << 60;
  finish(&w, out);
}

static void bad_tensor_count_huge(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  w.claim_counts = 1;
  w.n_tensors_claim = (uint64_t)1 << 60;
  finish(&w, out);
}

/* 1000 pairs claimed, one there: more than the 45 bytes after the header can hold. */
static void bad_kv_count_short(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  w.claim_counts = 1;
  w.n_kv_claim = 1000;
  finish(&w, out);
}

/* Two pairs claimed, one there and room for more: the second runs out of bytes. */
static void bad_kv_missing(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  w.claim_counts = 1;
  w.n_kv_claim = 2;
  gw_raw_kv(&w, "\x20\0\0\0\0\0\0\0abcdefghijklmno", 23); /* key of 32 bytes, 15 there */
  finish(&w, out);
}

/* ---- metadata ------------------------------------------------------------------------------------ */

static void bad_key_empty(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_int(&w, "", GW_UINT32, 1);
  finish(&w, out);
}

/* 65536 bytes claimed: refused for its length before the file's size matters. */
static void bad_key_too_long(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gb_u64(&w.kvs, 65536);
  gw_raw_kv(&w, "general.", 8);
  gb_bytes(&w.kvs, NULL, 16);
  finish(&w, out);
}

static void bad_key_past_end(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gb_u64(&w.kvs, 100);
  gw_raw_kv(&w, "general.architecture", 20);
  finish(&w, out);
}

static void bad_key_nul(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_int(&w, "general.a", GW_UINT8, 1);
  w.kvs.p[8 + 7] = '\0'; /* "general\0a" */
  finish(&w, out);
}

static void bad_key_duplicate(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  gw_kv_int(&w, "general.file_type", GW_UINT32, 3);
  gw_kv_str(&w, "general.architecture", "qwen2");
  finish(&w, out);
}

static void bad_value_type(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_raw(&w, "general.x", 13, "\0\0\0\0\0\0\0\0", 8);
  finish(&w, out);
}

static void bad_nested_array(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "arr", 9 /* ARRAY */, 1, "\4\0\0\0\0\0\0\0\0\0\0\0", 12);
  finish(&w, out);
}

static void bad_array_elem_type(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "arr", 200, 1, "\0\0\0\0", 4);
  finish(&w, out);
}

/* 2^62 uint32 elements: 2^64 bytes, which a careless multiply wraps to 0. */
static void bad_array_count_overflow(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "arr", GW_UINT32, (uint64_t)1 << 62, "\1\0\0\0", 4);
  finish(&w, out);
}

static void bad_array_past_end(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "tokenizer.ggml.token_type", GW_INT32, 100, "\1\0\0\0\1\0\0\0", 8);
  finish(&w, out);
}

static void bad_string_past_end(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_raw(&w, "general.name", GW_STRING, "\xe8\x03\0\0\0\0\0\0tiny", 12);
  finish(&w, out);
}

/* A length of 2^64 - 1, which wraps any pointer it is added to. */
static void bad_string_len_overflow(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_raw(&w, "general.name", GW_STRING, "\xff\xff\xff\xff\xff\xff\xff\xfftiny", 12);
  finish(&w, out);
}

static void bad_string_array_count(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "tokenizer.ggml.tokens", GW_STRING, (uint64_t)1 << 61,
              "\1\0\0\0\0\0\0\0a", 9);
  finish(&w, out);
}

/* The second of two strings claims more bytes than are left. */
static void bad_string_array_element(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_array(&w, "tokenizer.ggml.merges", GW_STRING, 2,
              "\3\0\0\0\0\0\0\0a b\x80\0\0\0\0\0\0\0x", 20);
  finish(&w, out);
}

/* A uint64 value cut short by the end of the file. */
static void bad_value_truncated(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_raw(&w, "general.size", GW_UINT64, "\1\2\3", 3);
  finish(&w, out);
}

static void bad_alignment_type(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_int(&w, "general.alignment", GW_UINT64, 32);
  finish(&w, out);
}

static void bad_alignment_zero(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_int(&w, "general.alignment", GW_UINT32, 0);
  finish(&w, out);
}

static void bad_alignment_npot(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_kv_int(&w, "general.alignment", GW_UINT32, 48);
  finish(&w, out);
}

/* ---- tensor infos -------------------------------------------------------------------------------- */

/* A file with one pair and one F32 [8] tensor named name, with n_dims, ne, type and offset as
 * given (the data: 64 bytes, whatever the info says). */
static void one_tensor(gguf_buf *out, const char *name, uint32_t n_dims, const uint64_t *ne,
                       uint32_t type, uint64_t offset) {
  unsigned char data[64];
  gguf_writer w;
  gw_init(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  gw_tensor_info(&w, name, n_dims, ne, type, offset);
  pattern(data, sizeof data, 6);
  gw_data(&w, data, sizeof data);
  finish(&w, out);
}

static void bad_tensor_name_empty(gguf_buf *out) {
  one_tensor(out, "", 1, (const uint64_t[]){8}, GW_F32, 0);
}

static void bad_tensor_name_long(gguf_buf *out) {
  one_tensor(out, "blk.0.attn_q.weight." "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1,
             (const uint64_t[]){8}, GW_F32, 0);
}

static void bad_tensor_name_nul(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_tensor_info(&w, "blk.0", 1, (const uint64_t[]){8}, GW_F32, 0);
  w.infos.p[8 + 3] = '\0';
  gw_data(&w, NULL, 32);
  finish(&w, out);
}

static void bad_tensor_duplicate(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_tensor(&w, "output_norm.weight", 1, (const uint64_t[]){8}, GW_F32, NULL, 32);
  gw_tensor(&w, "token_embd.weight", 1, (const uint64_t[]){8}, GW_F32, NULL, 32);
  gw_tensor(&w, "output_norm.weight", 1, (const uint64_t[]){8}, GW_F32, NULL, 32);
  finish(&w, out);
}

static void bad_tensor_dims0(gguf_buf *out) {
  one_tensor(out, "w", 0, NULL, GW_F32, 0);
}

static void bad_tensor_dims5(gguf_buf *out) {
  one_tensor(out, "w", 5, (const uint64_t[]){1, 1, 1, 1, 8}, GW_F32, 0);
}

static void bad_tensor_ne_zero(gguf_buf *out) {
  one_tensor(out, "w", 2, (const uint64_t[]){8, 0}, GW_F32, 0);
}

static void bad_tensor_ne_negative(gguf_buf *out) {
  one_tensor(out, "w", 2, (const uint64_t[]){8, (uint64_t)-2}, GW_F32, 0);
}

/* 4 was Q4_2, removed from ggml. */
static void bad_tensor_type_removed(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){32}, 4, 0);
}

static void bad_tensor_type_unknown(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){8}, 1000, 0);
}

/* Q4_0 rows of 33 elements: not a whole number of 32-element blocks. */
static void bad_tensor_blocks(gguf_buf *out) {
  one_tensor(out, "blk.0.attn_q.weight", 2, (const uint64_t[]){33, 2}, GW_Q4_0, 0);
}

static void bad_tensor_numel_overflow(gguf_buf *out) {
  one_tensor(out, "w", 2, (const uint64_t[]){(uint64_t)1 << 32, (uint64_t)1 << 32}, GW_F32, 0);
}

/* 2^62 F64 elements: the count fits int64, the 2^65 bytes do not fit 64 bits. */
static void bad_tensor_size_overflow(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){(uint64_t)1 << 62}, GW_F64, 0);
}

static void bad_tensor_misaligned(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){8}, GW_F32, 16);
}

static void bad_tensor_out_of_range(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){8}, GW_F32, 64);
}

/* An offset near 2^64 that a careless offset + size check wraps back into the file. */
static void bad_tensor_offset_huge(gguf_buf *out) {
  one_tensor(out, "w", 1, (const uint64_t[]){8}, GW_F32, (uint64_t)0 - 32);
}

static void bad_tensor_too_big(gguf_buf *out) {
  one_tensor(out, "w", 2, (const uint64_t[]){8, 3}, GW_F32, 0);
}

static void bad_tensor_overlap(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_tensor_info(&w, "a", 1, (const uint64_t[]){16}, GW_F32, 0);
  gw_tensor_info(&w, "b", 1, (const uint64_t[]){8}, GW_F32, 32);
  gw_data(&w, NULL, 96);
  finish(&w, out);
}

static void bad_tensor_same_offset(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_tensor_info(&w, "a", 1, (const uint64_t[]){8}, GW_F32, 0);
  gw_tensor_info(&w, "b", 1, (const uint64_t[]){8}, GW_F32, 0);
  gw_data(&w, NULL, 32);
  finish(&w, out);
}

/* The infos end, and the file with them: no padding, no data. */
static void bad_no_data(gguf_buf *out) {
  gguf_writer w;
  gw_init(&w);
  gw_tensor_info(&w, "w", 1, (const uint64_t[]){8}, GW_F32, 0);
  gw_build(&w, out);
  out->len = 24 + 8 + 1 + 4 + 8 + 4 + 8;
  gw_release(&w);
}

/* good-llama cut in the middle of its last tensor's data. */
static void bad_truncated_data(gguf_buf *out) {
  good_llama(out);
  out->len -= 100;
}

/* good-llama cut inside its tensor infos. */
static void bad_truncated_infos(gguf_buf *out) {
  gguf_buf full = {0};
  good_llama(&full);
  gb_bytes(out, full.p, 1000);
  gb_release(&full);
}

#define OK 0
#define PARSE LORENS_EPARSE
#define UNSUP LORENS_EUNSUPPORTED

const gguf_sample gguf_samples[] = {
    {"good-llama", good_llama, OK, NULL},
    {"good-all-types", good_all_types, OK, NULL},
    {"good-no-tensors", good_no_tensors, OK, NULL},
    {"good-kquant-gaps", good_kquant_gaps, OK, NULL},
    {"bad-empty", bad_empty, PARSE, "byte 0: the file is 0 bytes: too short for a GGUF file"},
    {"bad-magic", bad_magic, PARSE, "byte 0: not a GGUF file: it starts with \"GGML\""},
    {"bad-version1", bad_version1, UNSUP, "byte 4: GGUF version 1 is not supported"},
    {"bad-version4", bad_version4, UNSUP, "byte 4: GGUF version 4 is not supported (only "
     "versions 2 and 3 are)"},
    {"bad-big-endian", bad_big_endian, UNSUP, "byte 4: the version reads 0x03000000: a "
     "big-endian GGUF file (version 3)"},
    {"bad-truncated-header", bad_truncated_header, PARSE, "byte 8: the tensor count needs 8 "
     "bytes, but the file ends at byte 12"},
    {"bad-kv-count-huge", bad_kv_count_huge, PARSE, "byte 16: the header claims "
     "1152921504606846976 metadata pairs; at most 1048576 are supported"},
    {"bad-tensor-count-huge", bad_tensor_count_huge, PARSE, "byte 8: the header claims "
     "1152921504606846976 tensors; at most 1048576"},
    {"bad-kv-count-short", bad_kv_count_short, PARSE, "byte 16: the header claims 1000 metadata "
     "pairs, but the 45 bytes after it can hold at most 3"},
    {"bad-kv-missing", bad_kv_missing, PARSE, "byte 69: metadata pair 2 of 2: the key of 32 "
     "bytes goes past the end of the file"},
    {"bad-key-empty", bad_key_empty, PARSE, "byte 24: metadata pair 1 of 1: the key is empty"},
    {"bad-key-too-long", bad_key_too_long, PARSE, "byte 24: metadata pair 1 of 1: the key is "
     "65536 bytes long; at most 65535 are allowed"},
    {"bad-key-past-end", bad_key_past_end, PARSE, "byte 24: metadata pair 1 of 1: the key of "
     "100 bytes goes past the end of the file (52 bytes"},
    {"bad-key-nul", bad_key_nul, PARSE, "metadata pair 1 of 1: the key holds a NUL byte"},
    {"bad-key-duplicate", bad_key_duplicate, PARSE, "key 'general.architecture': duplicate key "
     "(first at byte 24)"},
    {"bad-value-type", bad_value_type, UNSUP, "byte 41: key 'general.x': unknown value type 13"},
    {"bad-nested-array", bad_nested_array, UNSUP, "key 'arr': an array of arrays: nested arrays "
     "are not supported"},
    {"bad-array-elem-type", bad_array_elem_type, UNSUP, "key 'arr': unknown array element type "
     "200"},
    {"bad-array-count-overflow", bad_array_count_overflow, PARSE, "key 'arr': an array of "
     "4611686018427387904 uint32 (4611686018427387904 x 4 bytes) goes past the end of the file"},
    {"bad-array-past-end", bad_array_past_end, PARSE, "key 'tokenizer.ggml.token_type': an array "
     "of 100 int32"},
    {"bad-string-past-end", bad_string_past_end, PARSE, "key 'general.name': the string of 1000 "
     "bytes goes past the end of the file"},
    {"bad-string-len-overflow", bad_string_len_overflow, PARSE, "key 'general.name': the string "
     "of 18446744073709551615 bytes goes past the end"},
    {"bad-string-array-count", bad_string_array_count, PARSE, "key 'tokenizer.ggml.tokens': an "
     "array of 2305843009213693952 strings needs at least"},
    {"bad-string-array-element", bad_string_array_element, PARSE, "key 'tokenizer.ggml.merges': "
     "array element 1 of 128 bytes goes past the end of the file"},
    {"bad-value-truncated", bad_value_truncated, PARSE, "key 'general.size': the value needs 8 "
     "bytes, but the file ends"},
    {"bad-alignment-type", bad_alignment_type, PARSE, "byte 24: key 'general.alignment': must be "
     "a uint32, got uint64"},
    {"bad-alignment-zero", bad_alignment_zero, PARSE, "key 'general.alignment': must be a power "
     "of two, got 0"},
    {"bad-alignment-npot", bad_alignment_npot, PARSE, "key 'general.alignment': must be a power "
     "of two, got 48"},
    {"bad-tensor-name-empty", bad_tensor_name_empty, PARSE, "byte 69: tensor info 1 of 1: the "
     "tensor name is empty"},
    {"bad-tensor-name-long", bad_tensor_name_long, PARSE, "tensor info 1 of 1: the tensor name "
     "is 65 bytes long; at most 64 are allowed"},
    {"bad-tensor-name-nul", bad_tensor_name_nul, PARSE, "byte 24: tensor info 1 of 1: the tensor "
     "name holds a NUL byte"},
    {"bad-tensor-duplicate", bad_tensor_duplicate, PARSE, "tensor 'output_norm.weight': "
     "duplicate tensor name (first at byte 24)"},
    {"bad-tensor-dims0", bad_tensor_dims0, PARSE, "tensor 'w': has 0 dimensions; 1 to 4 are "
     "supported"},
    {"bad-tensor-dims5", bad_tensor_dims5, PARSE, "tensor 'w': has 5 dimensions; 1 to 4"},
    {"bad-tensor-ne-zero", bad_tensor_ne_zero, PARSE, "tensor 'w': ne[1] is 0; every dimension "
     "must be at least 1"},
    {"bad-tensor-ne-negative", bad_tensor_ne_negative, PARSE, "tensor 'w': ne[1] is negative "
     "(-2 as int64)"},
    {"bad-tensor-type-removed", bad_tensor_type_removed, UNSUP, "tensor 'w': unknown ggml type "
     "4"},
    {"bad-tensor-type-unknown", bad_tensor_type_unknown, UNSUP, "tensor 'w': unknown ggml type "
     "1000"},
    {"bad-tensor-blocks", bad_tensor_blocks, PARSE, "tensor 'blk.0.attn_q.weight': ne[0] = 33 is "
     "not a whole number of Q4_0 blocks (32 elements each)"},
    {"bad-tensor-numel-overflow", bad_tensor_numel_overflow, PARSE, "tensor 'w': shape has more "
     "elements than int64 can count"},
    {"bad-tensor-size-overflow", bad_tensor_size_overflow, PARSE, "tensor 'w': data size "
     "overflows 64 bits"},
    {"bad-tensor-misaligned", bad_tensor_misaligned, PARSE, "tensor 'w': data offset 16 is not a "
     "multiple of the alignment 32"},
    {"bad-tensor-out-of-range", bad_tensor_out_of_range, PARSE, "byte 69: tensor 'w': its data "
     "(32 bytes at offset 64 of the data section, which starts at byte 128) goes past the end "
     "of the file (192 bytes"},
    {"bad-tensor-offset-huge", bad_tensor_offset_huge, PARSE, "tensor 'w': its data (32 bytes at "
     "offset 18446744073709551584"},
    {"bad-tensor-too-big", bad_tensor_too_big, PARSE, "tensor 'w': its data (96 bytes at offset "
     "0"},
    {"bad-tensor-overlap", bad_tensor_overlap, PARSE, "tensor 'b': its data (file bytes 128..160) "
     "overlaps that of tensor 'a' (bytes 96..160)"},
    {"bad-tensor-same-offset", bad_tensor_same_offset, PARSE, "tensor 'b': its data (file bytes "
     "96..128) overlaps that of tensor 'a' (bytes 96..128)"},
    {"bad-no-data", bad_no_data, PARSE, "byte 57: the data section would start at byte 64"},
    {"bad-truncated-data", bad_truncated_data, PARSE, "tensor 'output_norm.weight': its data "
     "(128 bytes at offset"},
    {"bad-truncated-infos", bad_truncated_infos, PARSE, "the file ends at byte 1000 (truncated?)"},
};

const size_t gguf_n_samples = sizeof gguf_samples / sizeof gguf_samples[0];

const gguf_sample *gguf_sample_find(const char *name) {
  for (size_t i = 0; i < gguf_n_samples; i++)
    if (strcmp(gguf_samples[i].name, name) == 0)
      return &gguf_samples[i];
  return NULL;
}
