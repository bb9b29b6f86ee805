/*
 * model.h: a Hugging Face model directory, loaded into the backend ABI's lorens_model.
 *
 * A directory holds config.json and the weights, either in model.safetensors or in shards listed
 * by model.safetensors.index.json (whose "weight_map" maps each tensor name to its shard; each
 * shard is opened once).  lr_model_load maps every file, finds each tensor a LLaMA-family decoder
 * needs under its Hugging Face name, checks its dtype (F32, F16 or BF16) and shape against the
 * config, and fills a lorens_model whose tensors point into the mappings, ready to hand to a
 * backend session.  Nothing is copied, except (rarely) a tensor whose bytes are not aligned to
 * its element size in the file, which a backend could not read in place.
 *
 * Names:  model.embed_tokens.weight, model.norm.weight, lm_head.weight (absent or ignored when
 * tie_word_embeddings), and per layer N: model.layers.N.input_layernorm.weight,
 * .post_attention_layernorm.weight, .self_attn.{q,k,v,o}_proj.weight (and .bias where the config
 * calls for one) and .mlp.{gate,up,down}_proj.weight.  Other tensors in the files (a saved
 * rotary_emb.inv_freq, biases the config does not use) are ignored, as transformers ignores them.
 *
 * A GGUF file (a path ending in .gguf, or a file starting with the GGUF magic) is loaded by
 * lr_model_load_gguf (model-gguf.c): architectures llama and qwen2, the config from the
 * `{arch}.*` keys, tensors by llama.cpp's names (token_embd, blk.N.attn_norm, attn_q/k/v/output,
 * ffn_norm, ffn_gate/up/down, output_norm, output: absent means tied), kept in their stored type
 * in the mapped file (F32, F16, BF16 or ggml quant blocks, LORENS_DTYPE_GGML), llama's q/k rows
 * put back into Hugging Face's order in a copy.  docs/gguf.md.
 */
#ifndef LORENS_MODEL_H
#define LORENS_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/model-config.h"
#include "model/safetensors.h"

/* One weights file of a model. */
typedef struct lr_model_file {
  char *name;          /* as named in the directory: "model-00001-of-00002.safetensors" */
  char *path;          /* directory + "/" + name */
  lr_st_file *st;
  bool *used;          /* per tensor (lr_st_get order): true when the model uses it */
} lr_model_file;

typedef struct lr_model {
  lr_model_config config;
  lorens_model abi;         /* for backends: tensors point into the files' mappings */
  char *dir;                /* as given */
  char *index_name;         /* "model.safetensors.index.json" when sharded, else NULL */
  lr_model_file *files;     /* one, or one per shard in the order the index first names them */
  size_t n_files, files_cap;
  uint64_t n_params;        /* elements of the tensors the model uses (a tied head once) */
  uint64_t n_bytes;         /* their bytes as stored */
  uint64_t dtypes;          /* lr_dtype_bit of each dtype among them */
  struct lr_gguf_file *gguf; /* a GGUF model's mapped file, which its tensors point into */
  /* From malloc, owned: abi.layers, and aligned copies of misaligned tensors (and a GGUF
   * model's reordered q/k matrices). */
  lorens_tensor *layers;
  size_t layers_cap;        /* entries allocated in layers */
  void **copies;
  size_t n_copies, copies_cap;
} lr_model;

/* Loads the model in directory dir, or the GGUF file dir (lr_gguf_path_is_gguf), into *out.  On
 * failure *out is left empty (releasing it is allowed and does nothing) and err says which file,
 * which tensor, and what was expected. */
lr_status lr_model_load(const char *dir, lr_model *out, lr_err *err);

/* Loads a GGUF file (model-gguf.c).  dir is the path, files is empty (n_files 0), config as a
 * config.json would give it, tensors in their stored type; a GGUF architecture other than llama
 * and qwen2, per-layer
 * sizes that differ, RoPE scaling, attention biases in a llama and ggml types quant.h does not
 * dequantize are refused by name. */
lr_status lr_model_load_gguf(const char *path, lr_model *out, lr_err *err);

/* Fills m->abi from m->config and m->layers (for the loaders). */
void lr_model_fill_abi(lr_model *m);

/* Unmaps the files and frees everything; the lorens_model must no longer be in use. */
void lr_model_release(lr_model *m);

/* "F32", "F16", "BF16", or a ggml type's name ("Q4_1") for LORENS_DTYPE_GGML(t). */
const char *lr_dtype_name(int32_t dtype);

/* A bit for each dtype, for lr_model.dtypes: F32, F16, BF16 are bits 0-2, GGML(t) bit 3 + t. */
uint64_t lr_dtype_bit(int32_t dtype);

/* The dtype of bit i of lr_model.dtypes (the inverse of lr_dtype_bit). */
int32_t lr_dtype_of_bit(int i);

#endif /* LORENS_MODEL_H */
