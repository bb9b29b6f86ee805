/*
 * quant.h: ggml's tensor types (the types of GGUF tensors), their block sizes, and dequantization
 * exactly as ggml's reference code defines it (ggml/src/ggml-quants.c, dequantize_row_*).
 *
 * Shared code: compiled into each backend (plugins/common/) and into the host library, which
 * converts tensors with it for backends that take only fp32.  The frozen-GEMM path of the CPU
 * backend will dequantize tiles of weight rows with lr_quant_dequantize_row into per-thread
 * scratch and multiply those, so the model stays in its stored type in memory.
 *
 * A tensor of these types is a sequence of blocks along its rows (ne[0], the contiguous
 * dimension): each block holds block_elems consecutive elements in block_bytes bytes, and a row
 * of n elements takes n / block_elems blocks.  Multi-byte fields are little-endian and blocks may
 * sit at any address (no alignment is assumed).
 *
 * Exactness: every element is computed in float with the operations and the order of ggml's
 * reference (x*d + m; for K-quants d*sc and dmin*m first).  Its products are exact in float, so
 * each element is the formula's exact value rounded once: bit-identical to ggml's reference and to
 * gguf-py's numpy dequantize(), with or without FMA contraction (quant.c says why).  f16 and bf16
 * convert exactly (f16 subnormals included); a NaN stays a NaN of the same sign, its payload kept
 * (an f16 payload moves to the top of the float's mantissa, as numpy does).
 * Formulas and sources: ../shared/research/gguf.md, section 2.
 */
#ifndef LORENS_QUANT_H
#define LORENS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

/* ggml_type values: the numbers stored in GGUF tensor infos.  This is the one table of ggml types
 * in lorens (the GGUF reader uses it for sizes and names): every type has a name and a block
 * size, and the first group can also be dequantized (lr_quant_can_dequantize).  4, 5, 31-33 and
 * 36-38 were removed from ggml and are unknown numbers, like anything at or past
 * LR_QTYPE_LIMIT. */
typedef enum lr_qtype {
  LR_QTYPE_F32 = 0,
  LR_QTYPE_F16 = 1,
  LR_QTYPE_Q4_0 = 2,
  LR_QTYPE_Q4_1 = 3,
  LR_QTYPE_Q5_0 = 6,
  LR_QTYPE_Q5_1 = 7,
  LR_QTYPE_Q8_0 = 8,
  LR_QTYPE_Q2_K = 10,
  LR_QTYPE_Q3_K = 11,
  LR_QTYPE_Q4_K = 12,
  LR_QTYPE_Q5_K = 13,
  LR_QTYPE_Q6_K = 14,
  LR_QTYPE_BF16 = 30,
  /* Known, sized, but not dequantized by lorens. */
  LR_QTYPE_Q8_1 = 9,
  LR_QTYPE_Q8_K = 15,
  LR_QTYPE_IQ2_XXS = 16,
  LR_QTYPE_IQ2_XS = 17,
  LR_QTYPE_IQ3_XXS = 18,
  LR_QTYPE_IQ1_S = 19,
  LR_QTYPE_IQ4_NL = 20,
  LR_QTYPE_IQ3_S = 21,
  LR_QTYPE_IQ2_S = 22,
  LR_QTYPE_IQ4_XS = 23,
  LR_QTYPE_I8 = 24,
  LR_QTYPE_I16 = 25,
  LR_QTYPE_I32 = 26,
  LR_QTYPE_I64 = 27,
  LR_QTYPE_F64 = 28,
  LR_QTYPE_IQ1_M = 29,
  LR_QTYPE_TQ1_0 = 34,
  LR_QTYPE_TQ2_0 = 35,
  LR_QTYPE_MXFP4 = 39,
  LR_QTYPE_LIMIT = 40 /* every known number is below this */
} lr_qtype;

/* The largest block, in elements (the K-quants' 256): a scratch row of this many floats holds
 * any one block. */
#define LR_QUANT_MAX_BLOCK_ELEMS 256

typedef struct lr_quant_type_info {
  const char *name;     /* ggml's name: "F32", "Q4_K", ... */
  uint32_t block_elems; /* elements per block: 1 (F32, F16, BF16), 32 or 256 */
  uint32_t block_bytes; /* bytes per block */
} lr_quant_type_info;

/* The description of a ggml type number, or NULL for an unknown number. */
const lr_quant_type_info *lr_quant_info(int type);

/* Whether lr_quant_dequantize_row reads the type (the first group of lr_qtype). */
int lr_quant_can_dequantize(int type);

/* Shortcuts: the name ("?" for an unknown number), elements and bytes per block (0 for one). */
const char *lr_quant_name(int type);
size_t lr_quant_block_elems(int type);
size_t lr_quant_block_bytes(int type);

/*
 * The bytes of n elements of `type` into *bytes.  LORENS_EUNSUPPORTED for an unknown type,
 * LORENS_EINVAL when n is not a whole number of blocks or the size overflows a size_t.
 */
lorens_status lr_quant_row_bytes(int type, size_t n, size_t *bytes);

/*
 * Dequantizes n elements (n / block_elems blocks, read from src) into dst[0..n).  n may be 0.
 * LORENS_EUNSUPPORTED for an unsupported type and LORENS_EINVAL when n is not a multiple of the
 * block size; dst is left untouched then.  src and dst must not overlap.  Thread-safe (no state).
 */
lorens_status lr_quant_dequantize_row(int type, const void *src, float *dst, size_t n);

/*
 * The same, rounded to bf16 (the upper half of a float; round to nearest even, a NaN kept a quiet
 * NaN of the same sign), as ggml_compute_fp32_to_bf16 rounds: for a 16-bit compute path.
 */
lorens_status lr_quant_dequantize_row_bf16(int type, const void *src, uint16_t *dst, size_t n);

/* A base tensor's lorens dtype (plugin ABI) and ggml type number, each way: F32 0 <-> 0, F16 1 <-> 1,
 * BF16 2 <-> 30, LORENS_DTYPE_GGML(t) <-> t.  lr_quant_type_of_dtype gives -1 for a dtype that
 * is neither. */
int lr_quant_type_of_dtype(int32_t dtype);
int32_t lr_quant_dtype_of_type(int type);

/* One value: IEEE binary16 to float (exact, subnormals included), float to bf16 as above. */
float lr_quant_f16_to_f32(uint16_t h);
uint16_t lr_quant_f32_to_bf16(float f);

#endif /* LORENS_QUANT_H */
