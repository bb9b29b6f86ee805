/*
 * model-config.h: a LLaMA-family config.json, read and checked.
 *
 * Hugging Face writes one config.json beside the weights; it fixes the shapes of every tensor and
 * the constants of the forward pass.  lorens accepts the decoders its backends implement exactly:
 * model_type llama, qwen2 and mistral (without sliding-window attention), SiLU MLPs, RoPE with no
 * scaling or Llama 3 scaling.  Anything else is refused with a message naming the field, rather
 * than run with numbers that would silently differ from the reference implementation.
 *
 * Defaults follow transformers' LlamaConfig: num_key_value_heads = num_attention_heads, head_dim
 * = hidden_size / num_attention_heads, rope_theta 10000, no rope scaling, untied embeddings, no
 * attention bias, hidden_act "silu".  A field given as null takes its default.  Unknown fields are
 * ignored: configs carry many that do not concern the forward pass (token ids, torch_dtype ...).
 */
#ifndef LORENS_MODEL_CONFIG_H
#define LORENS_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum lr_model_arch { LR_ARCH_LLAMA, LR_ARCH_QWEN2, LR_ARCH_MISTRAL } lr_model_arch;

/* Largest value accepted for any size or count in a config (keeps products in 64 bits, and
 * head counts times head_dim in 32). */
#define LR_CONFIG_INT_MAX (1 << 30)

typedef struct lr_model_config {
  lr_model_arch arch;
  int32_t hidden_size, intermediate_size, num_hidden_layers;
  int32_t num_attention_heads, num_key_value_heads, head_dim;
  int32_t vocab_size, max_position_embeddings;
  double rms_norm_eps, rope_theta;
  lorens_rope_scaling rope_scaling;        /* LORENS_ROPE_NONE or LORENS_ROPE_LLAMA3 */
  double rope_factor, rope_low_freq_factor, rope_high_freq_factor; /* LLAMA3 only */
  int32_t rope_original_max_position_embeddings;                   /* LLAMA3 only */
  bool tie_word_embeddings;
  bool qkv_bias;  /* q/k/v projections have biases: always for qwen2, attention_bias for llama */
  bool o_bias;    /* o_proj has a bias: attention_bias for llama */
} lr_model_config;

/* Parses config text (len bytes).  path names the file in messages: parse errors carry
 * path:line:col, field errors path and the field ("field 'num_hidden_layers' must be a positive
 * integer, got string").  Malformed text or a bad field is LR_EPARSE; a well-formed but
 * unsupported model (model_type, rope type, activation, sliding window) is LR_EUNSUPPORTED. */
lr_status lr_model_config_parse(const char *text, size_t len, const char *path,
                                lr_model_config *out, lr_err *err);

/* Reads and parses the file at path (LR_ENOTFOUND when it does not exist). */
lr_status lr_model_config_load(const char *path, lr_model_config *out, lr_err *err);

/* "llama", "qwen2", "mistral". */
const char *lr_model_arch_name(lr_model_arch arch);

#endif /* LORENS_MODEL_CONFIG_H */
