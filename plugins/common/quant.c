/*
 * quant.c: ggml tensor types and their reference dequantization (quant.h).
 *
 * Each dequantizer follows ggml's dequantize_row_* (ggml/src/ggml-quants.c) operation for
 * operation: integers are converted to float and multiplied by the float scale, d*sc and dmin*m of
 * the K-quants are computed once per sub-block before the element loop, then x*d + m.  The loops
 * run over whole blocks with fixed trip counts so that the compiler vectorizes them; fields are
 * read byte by byte, so blocks need no alignment and the code is endian-independent.
 */
#include "compat.h"

#include <string.h>

#include "quant.h"

/* Why the results do not depend on how the compiler schedules them: the products are exact in
 * float.  An f16 scale has 11 significant bits and the integers it is multiplied by have at most 8
 * (Q8_0's quants, Q6_K's scales), so d*q and d*sc need at most 19 of a float's 24; the K-quants'
 * d1*q adds at most 5 bits to a d*sc of at most 17 (6-bit scales).  Only Q6_K's (d*sc)*q, 19 + 6
 * bits, can round, once, however it is grouped.  Every element is thus the exact value of ggml's
 * formula rounded once (at its addition or its last product): FMA contraction or another grouping
 * cannot change a bit, and the tests compare bit for bit without any -ffp-contract setting. */

#define QK 32   /* elements of the legacy blocks (Q4_0 ... Q8_0) */
#define QK_K 256 /* elements of a K-quant super-block */

static inline uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

/* Type punning through a union (defined in C11), which GCC vectorizes where it does not
 * vectorize the same punning through memcpy. */
typedef union pun32 {
  uint32_t u;
  float f;
} pun32;

static inline float bits_f32(uint32_t u) {
  return (pun32){.u = u}.f;
}

static inline uint32_t f32_bits(float f) {
  return (pun32){.f = f}.u;
}

/* Branch-free (masks, not selects) so that a loop over a row of f16 vectorizes: exponent and
 * mantissa move up 13 bits and the exponent from bias 15 to bias 127 (31, Inf and NaN, to 255,
 * the mantissa kept); subnormals are mant * 2^-24, exact in float. */
static inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t em = (uint32_t)(h & 0x7fffu) << 13, exp = (h >> 10) & 0x1fu;
  const uint32_t is_sub = 0u - (uint32_t)(exp == 0), is_special = 0u - (uint32_t)(exp == 31);
  const uint32_t normal = em + (112u << 23) + (is_special & (112u << 23));
  const uint32_t sub = f32_bits((float)(h & 0x3ffu) * 0x1p-24f);
  return bits_f32(sign | (sub & is_sub) | (normal & ~is_sub));
}

float lr_quant_f16_to_f32(uint16_t h) {
  return f16_to_f32(h);
}

/* ggml_compute_fp32_to_bf16: NaN forced quiet, otherwise round to nearest even. */
uint16_t lr_quant_f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((u >> 16) | 64);
  return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

/* ---- element types --------------------------------------------------------------------------- */

/* A copy where the host is little-endian like the file; byte by byte elsewhere. */
static void deq_f32(const uint8_t *restrict s, float *restrict y, size_t nb) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(y, s, nb * sizeof *y);
#else
  for (size_t i = 0; i < nb; i++, s += 4)
    y[i] = bits_f32((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                    (uint32_t)s[3] << 24);
#endif
}

/* Whole groups of 32 with a fixed trip count, which GCC's -O2 cost model vectorizes (it will not
 * vectorize a loop whose length needs a remainder), then the rest. */
enum { GROUP = 32 };

static void deq_f16(const uint8_t *restrict s, float *restrict y, size_t nb) {
  size_t i = 0;
  for (; i + GROUP <= nb; i += GROUP)
    for (int j = 0; j < GROUP; j++)
      y[i + j] = f16_to_f32(rd16(s + 2 * (i + j)));
  for (; i < nb; i++)
    y[i] = f16_to_f32(rd16(s + 2 * i));
}

static void deq_bf16(const uint8_t *restrict s, float *restrict y, size_t nb) {
  size_t i = 0;
  for (; i + GROUP <= nb; i += GROUP)
    for (int j = 0; j < GROUP; j++)
      y[i + j] = bits_f32((uint32_t)rd16(s + 2 * (i + j)) << 16);
  for (; i < nb; i++)
    y[i] = bits_f32((uint32_t)rd16(s + 2 * i) << 16);
}

/* ---- legacy 32-element blocks: low nibbles are elements 0..15, high nibbles 16..31 ------------ */

/* d:f16, qs[16]; y = (q - 8) * d */
static void deq_q4_0(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 18, y += QK) {
    const float d = f16_to_f32(rd16(s));
    const uint8_t *qs = s + 2;
    for (int j = 0; j < QK / 2; j++) {
      y[j] = (float)((qs[j] & 0x0F) - 8) * d;
      y[j + QK / 2] = (float)((qs[j] >> 4) - 8) * d;
    }
  }
}

/* d:f16, m:f16, qs[16]; y = q * d + m */
static void deq_q4_1(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 20, y += QK) {
    const float d = f16_to_f32(rd16(s)), m = f16_to_f32(rd16(s + 2));
    const uint8_t *qs = s + 4;
    for (int j = 0; j < QK / 2; j++) {
      y[j] = (float)(qs[j] & 0x0F) * d + m;
      y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
    }
  }
}

/* Bit j of Q5's qh (a little-endian u32) as byte j of hb, 0 or 0x10 (bit 4 of element j).  From
 * a table of nibbles, not qh >> j: SSE2 has no per-lane variable shift, so that would not
 * vectorize. */
static const uint8_t nibble_bits[16][4] = {
  {0, 0, 0, 0},    {16, 0, 0, 0},   {0, 16, 0, 0},   {16, 16, 0, 0},
  {0, 0, 16, 0},   {16, 0, 16, 0},  {0, 16, 16, 0},  {16, 16, 16, 0},
  {0, 0, 0, 16},   {16, 0, 0, 16},  {0, 16, 0, 16},  {16, 16, 0, 16},
  {0, 0, 16, 16},  {16, 0, 16, 16}, {0, 16, 16, 16}, {16, 16, 16, 16},
};

static inline void q5_high_bits(const uint8_t *qh, uint8_t hb[QK]) {
  for (int k = 0; k < 4; k++) {
    memcpy(hb + 8 * k, nibble_bits[qh[k] & 15], 4);
    memcpy(hb + 8 * k + 4, nibble_bits[qh[k] >> 4], 4);
  }
}

/* d:f16, qh:u32, qs[16]; bit j of qh is bit 4 of element j; y = (q - 16) * d */
static void deq_q5_0(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 22, y += QK) {
    const float d = f16_to_f32(rd16(s));
    const uint8_t *qs = s + 6;
    uint8_t hb[QK];
    q5_high_bits(s + 2, hb);
    for (int j = 0; j < QK / 2; j++) {
      y[j] = (float)((int)((qs[j] & 0x0F) | hb[j]) - 16) * d;
      y[j + QK / 2] = (float)((int)((qs[j] >> 4) | hb[j + QK / 2]) - 16) * d;
    }
  }
}

/* d:f16, m:f16, qh:u32, qs[16]; y = q * d + m */
static void deq_q5_1(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 24, y += QK) {
    const float d = f16_to_f32(rd16(s)), m = f16_to_f32(rd16(s + 2));
    const uint8_t *qs = s + 8;
    uint8_t hb[QK];
    q5_high_bits(s + 4, hb);
    for (int j = 0; j < QK / 2; j++) {
      y[j] = (float)((qs[j] & 0x0F) | hb[j]) * d + m;
      y[j + QK / 2] = (float)((qs[j] >> 4) | hb[j + QK / 2]) * d + m;
    }
  }
}

/* d:f16, qs:int8[32]; y = q * d */
static void deq_q8_0(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 34, y += QK) {
    const float d = f16_to_f32(rd16(s));
    const int8_t *qs = (const int8_t *)(s + 2); /* int8_t is two's complement by definition */
    for (int j = 0; j < QK; j++)
      y[j] = (float)qs[j] * d;
  }
}

/* ---- K-quants: 256-element super-blocks ------------------------------------------------------- */

/* scales[16] (low nibble scale, high nibble min), qs[64], d:f16, dmin:f16.  Each 128-element half
 * reads 32 bytes of qs four times, two bits at a time; each 16 elements have their own scale. */
static void deq_q2_k(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 84, y += QK_K) {
    const uint8_t *sc = s, *qs = s + 16;
    const float d = f16_to_f32(rd16(s + 80)), dmin = f16_to_f32(rd16(s + 82));
    for (int h = 0; h < 2; h++)
      for (int g = 0; g < 4; g++)
        for (int k = 0; k < 2; k++) {
          const uint8_t b = sc[8 * h + 2 * g + k];
          const float dl = d * (float)(b & 0xF), ml = dmin * (float)(b >> 4);
          const uint8_t *q = qs + 32 * h + 16 * k;
          float *out = y + 128 * h + 32 * g + 16 * k;
          for (int l = 0; l < 16; l++)
            out[l] = dl * (float)((q[l] >> (2 * g)) & 3) - ml;
        }
  }
}

/* hmask[32], qs[64], scales[12] (sixteen 6-bit scales), d:f16.  q = 2 low bits from qs, minus 4
 * when the element's hmask bit (bit 4h+g of hmask[l]) is clear. */
static void deq_q3_k(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 110, y += QK_K) {
    const uint8_t *hm = s, *qs = s + 32, *sc = s + 96;
    const float d = f16_to_f32(rd16(s + 108));
    int scale[16];
    for (int k = 0; k < 16; k++) {
      const int low4 = k < 8 ? sc[k] & 0xF : sc[k - 8] >> 4;
      const int high2 = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
      scale[k] = (low4 | high2 << 4) - 32;
    }
    for (int h = 0; h < 2; h++)
      for (int g = 0; g < 4; g++)
        for (int k = 0; k < 2; k++) {
          const float dl = d * (float)scale[8 * h + 2 * g + k];
          const uint8_t *q = qs + 32 * h + 16 * k, *m = hm + 16 * k;
          const int bit = 4 * h + g;
          float *out = y + 128 * h + 32 * g + 16 * k;
          for (int l = 0; l < 16; l++) {
            const int v = ((q[l] >> (2 * g)) & 3) - (((m[l] >> bit) & 1) ? 0 : 4);
            out[l] = dl * (float)v;
          }
        }
  }
}

/* get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) from scales[12]. */
static inline void scale_min_k4(int j, const uint8_t *q, unsigned *sc, unsigned *mn) {
  if (j < 4) {
    *sc = q[j] & 63u;
    *mn = q[j + 4] & 63u;
  } else {
    *sc = (q[j + 4] & 0xFu) | ((unsigned)(q[j - 4] >> 6) << 4);
    *mn = (unsigned)(q[j + 4] >> 4) | ((unsigned)(q[j] >> 6) << 4);
  }
}

/* d:f16, dmin:f16, scales[12], qs[128].  Each 32 bytes of qs hold 64 elements: low nibbles are
 * sub-block 2p, high nibbles sub-block 2p+1. */
static void deq_q4_k(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 144, y += QK_K) {
    const float d = f16_to_f32(rd16(s)), dmin = f16_to_f32(rd16(s + 2));
    const uint8_t *scales = s + 4, *qs = s + 16;
    for (int p = 0; p < 4; p++) {
      unsigned sc, mn;
      scale_min_k4(2 * p, scales, &sc, &mn);
      const float d1 = d * (float)sc, m1 = dmin * (float)mn;
      scale_min_k4(2 * p + 1, scales, &sc, &mn);
      const float d2 = d * (float)sc, m2 = dmin * (float)mn;
      const uint8_t *q = qs + 32 * p;
      float *out = y + 64 * p;
      for (int l = 0; l < 32; l++)
        out[l] = d1 * (float)(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; l++)
        out[32 + l] = d2 * (float)(q[l] >> 4) - m2;
    }
  }
}

/* d:f16, dmin:f16, scales[12], qh[32], qs[128]: Q4_K plus a fifth bit, bit s (the sub-block) of
 * qh[l]. */
static void deq_q5_k(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 176, y += QK_K) {
    const float d = f16_to_f32(rd16(s)), dmin = f16_to_f32(rd16(s + 2));
    const uint8_t *scales = s + 4, *qh = s + 16, *qs = s + 48;
    for (int p = 0; p < 4; p++) {
      unsigned sc, mn;
      scale_min_k4(2 * p, scales, &sc, &mn);
      const float d1 = d * (float)sc, m1 = dmin * (float)mn;
      scale_min_k4(2 * p + 1, scales, &sc, &mn);
      const float d2 = d * (float)sc, m2 = dmin * (float)mn;
      const uint8_t *q = qs + 32 * p;
      float *out = y + 64 * p;
      for (int l = 0; l < 32; l++)
        out[l] = d1 * (float)((q[l] & 0xFu) | (((qh[l] >> (2 * p)) & 1u) << 4)) - m1;
      for (int l = 0; l < 32; l++)
        out[32 + l] = d2 * (float)((q[l] >> 4) | (((qh[l] >> (2 * p + 1)) & 1u) << 4)) - m2;
    }
  }
}

/* ql[128], qh[64], scales:int8[16], d:f16.  Per 128-element half h and 32-element group g: the
 * low 4 bits from ql (bytes l or l+32, low or high nibble), the high 2 from bits 2g of qh[l];
 * y = (d * scale) * (q - 32) with one scale per 16 elements. */
static void deq_q6_k(const uint8_t *restrict s, float *restrict y, size_t nb) {
  for (size_t i = 0; i < nb; i++, s += 210, y += QK_K) {
    const float d = f16_to_f32(rd16(s + 208));
    const int8_t *sc = (const int8_t *)(s + 192);
    for (int h = 0; h < 2; h++)
      for (int g = 0; g < 4; g++)
        for (int k = 0; k < 2; k++) {
          const float dl = d * (float)sc[8 * h + 2 * g + k];
          const uint8_t *ql = s + 64 * h + 32 * (g & 1) + 16 * k;
          const uint8_t *qh = s + 128 + 32 * h + 16 * k;
          const int shift = g < 2 ? 0 : 4;
          float *out = y + 128 * h + 32 * g + 16 * k;
          for (int l = 0; l < 16; l++) {
            const int q = (int)(((ql[l] >> shift) & 0xF) | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
            out[l] = dl * (float)q;
          }
        }
  }
}

/* ---- the table ------------------------------------------------------------------------------- */

typedef void (*deq_fn)(const uint8_t *restrict src, float *restrict dst, size_t nblocks);

typedef struct type_entry {
  lr_quant_type_info info;
  deq_fn deq;
} type_entry;

/* Indexed by ggml type number; a NULL name is an unknown number, a NULL deq a type that is known
 * (sized) but not dequantized. */
static const type_entry types[] = {
  [LR_QTYPE_F32] = {{"F32", 1, 4}, deq_f32},
  [LR_QTYPE_F16] = {{"F16", 1, 2}, deq_f16},
  [LR_QTYPE_Q4_0] = {{"Q4_0", QK, 18}, deq_q4_0},
  [LR_QTYPE_Q4_1] = {{"Q4_1", QK, 20}, deq_q4_1},
  [LR_QTYPE_Q5_0] = {{"Q5_0", QK, 22}, deq_q5_0},
  [LR_QTYPE_Q5_1] = {{"Q5_1", QK, 24}, deq_q5_1},
  [LR_QTYPE_Q8_0] = {{"Q8_0", QK, 34}, deq_q8_0},
  [LR_QTYPE_Q2_K] = {{"Q2_K", QK_K, 84}, deq_q2_k},
  [LR_QTYPE_Q3_K] = {{"Q3_K", QK_K, 110}, deq_q3_k},
  [LR_QTYPE_Q4_K] = {{"Q4_K", QK_K, 144}, deq_q4_k},
  [LR_QTYPE_Q5_K] = {{"Q5_K", QK_K, 176}, deq_q5_k},
  [LR_QTYPE_Q6_K] = {{"Q6_K", QK_K, 210}, deq_q6_k},
  [LR_QTYPE_BF16] = {{"BF16", 1, 2}, deq_bf16},
  /* Sizes from gguf-py 0.19.0 GGML_QUANT_SIZES, except Q8_1: ggml's sizeof(block_q8_1) is 36
   * where gguf-py keeps a legacy 40 (../shared/research/gguf.md section 2.1).  Q8_1 and Q8_K are
   * activation types that files do not hold, listed so that the table is ggml's. */
  [LR_QTYPE_Q8_1] = {{"Q8_1", QK, 36}, NULL},
  [LR_QTYPE_Q8_K] = {{"Q8_K", QK_K, 292}, NULL},
  [LR_QTYPE_IQ2_XXS] = {{"IQ2_XXS", QK_K, 66}, NULL},
  [LR_QTYPE_IQ2_XS] = {{"IQ2_XS", QK_K, 74}, NULL},
  [LR_QTYPE_IQ3_XXS] = {{"IQ3_XXS", QK_K, 98}, NULL},
  [LR_QTYPE_IQ1_S] = {{"IQ1_S", QK_K, 50}, NULL},
  [LR_QTYPE_IQ4_NL] = {{"IQ4_NL", QK, 18}, NULL},
  [LR_QTYPE_IQ3_S] = {{"IQ3_S", QK_K, 110}, NULL},
  [LR_QTYPE_IQ2_S] = {{"IQ2_S", QK_K, 82}, NULL},
  [LR_QTYPE_IQ4_XS] = {{"IQ4_XS", QK_K, 136}, NULL},
  [LR_QTYPE_I8] = {{"I8", 1, 1}, NULL},
  [LR_QTYPE_I16] = {{"I16", 1, 2}, NULL},
  [LR_QTYPE_I32] = {{"I32", 1, 4}, NULL},
  [LR_QTYPE_I64] = {{"I64", 1, 8}, NULL},
  [LR_QTYPE_F64] = {{"F64", 1, 8}, NULL},
  [LR_QTYPE_IQ1_M] = {{"IQ1_M", QK_K, 56}, NULL},
  [LR_QTYPE_TQ1_0] = {{"TQ1_0", QK_K, 54}, NULL},
  [LR_QTYPE_TQ2_0] = {{"TQ2_0", QK_K, 66}, NULL},
  [LR_QTYPE_MXFP4] = {{"MXFP4", QK, 17}, NULL},
};

static const type_entry *entry_of(int type) {
  if (type < 0 || (size_t)type >= sizeof types / sizeof types[0] || !types[type].info.name)
    return NULL;
  return &types[type];
}

int lr_quant_can_dequantize(int type) {
  const type_entry *e = entry_of(type);
  return e && e->deq;
}

const lr_quant_type_info *lr_quant_info(int type) {
  const type_entry *e = entry_of(type);
  return e ? &e->info : NULL;
}

const char *lr_quant_name(int type) {
  const type_entry *e = entry_of(type);
  return e ? e->info.name : "?";
}

size_t lr_quant_block_elems(int type) {
  const type_entry *e = entry_of(type);
  return e ? e->info.block_elems : 0;
}

size_t lr_quant_block_bytes(int type) {
  const type_entry *e = entry_of(type);
  return e ? e->info.block_bytes : 0;
}

lorens_status lr_quant_row_bytes(int type, size_t n, size_t *bytes) {
  const type_entry *e = entry_of(type);
  if (!e)
    return LORENS_EUNSUPPORTED;
  if (n % e->info.block_elems != 0 || n / e->info.block_elems > SIZE_MAX / e->info.block_bytes)
    return LORENS_EINVAL;
  *bytes = n / e->info.block_elems * e->info.block_bytes;
  return LORENS_OK;
}

lorens_status lr_quant_dequantize_row(int type, const void *src, float *dst, size_t n) {
  const type_entry *e = entry_of(type);
  if (!e || !e->deq)
    return LORENS_EUNSUPPORTED;
  if (n % e->info.block_elems != 0)
    return LORENS_EINVAL;
  if (n > 0)
    e->deq(src, dst, n / e->info.block_elems);
  return LORENS_OK;
}

lorens_status lr_quant_dequantize_row_bf16(int type, const void *src, uint16_t *dst, size_t n) {
  const type_entry *e = entry_of(type);
  if (!e || !e->deq)
    return LORENS_EUNSUPPORTED;
  if (n % e->info.block_elems != 0)
    return LORENS_EINVAL;
  /* Through a float chunk on the stack: CHUNK is a whole number of blocks of every type. */
  enum { CHUNK = 4 * LR_QUANT_MAX_BLOCK_ELEMS };
  float tmp[CHUNK];
  const uint8_t *s = src;
  for (size_t done = 0; done < n;) {
    const size_t m = n - done < CHUNK ? n - done : CHUNK;
    e->deq(s, tmp, m / e->info.block_elems);
    for (size_t j = 0; j < m; j++)
      dst[done + j] = lr_quant_f32_to_bf16(tmp[j]);
    s += m / e->info.block_elems * e->info.block_bytes;
    done += m;
  }
  return LORENS_OK;
}

int lr_quant_type_of_dtype(int32_t dtype) {
  switch (dtype) {
  case LORENS_DTYPE_F32: return LR_QTYPE_F32;
  case LORENS_DTYPE_F16: return LR_QTYPE_F16;
  case LORENS_DTYPE_BF16: return LR_QTYPE_BF16;
  }
  return dtype >= LORENS_DTYPE_GGML_BASE ? dtype - LORENS_DTYPE_GGML_BASE : -1;
}

int32_t lr_quant_dtype_of_type(int type) {
  switch (type) {
  case LR_QTYPE_F32: return LORENS_DTYPE_F32;
  case LR_QTYPE_F16: return LORENS_DTYPE_F16;
  case LR_QTYPE_BF16: return LORENS_DTYPE_BF16;
  }
  return LORENS_DTYPE_GGML(type);
}
