/*
 * pretrain-model.h: a LLaMA model held as one flat float buffer, in the order a train_base
 * session's member state uses (lorens/backend.h), so that the same buffer is the backend's
 * initial weights, its state in a checkpoint, and the tensors of the Hugging Face files written at
 * the end, with nothing to reorder.
 */
#ifndef LORENS_PRETRAIN_MODEL_H
#define LORENS_PRETRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"
#include "pretrain/pretrain-config.h"

typedef struct lr_flat_tensor {
  char name[64];       /* Hugging Face name: "model.layers.3.self_attn.q_proj.weight" */
  uint32_t ndim;
  int64_t shape[2];
  size_t off, count;   /* in floats, within the flat buffer */
} lr_flat_tensor;

typedef struct lr_flat_model {
  lorens_model abi;       /* tensors point into data */
  lorens_tensor *layers;  /* n_layers * LORENS_SLOT_COUNT_V1_0 */
  lr_flat_tensor *tensors;
  size_t n_tensors;
  float *data;
  size_t n_params;
} lr_flat_model;

/* Lays out the model of c with `vocab` tokens and fills it as transformers initialises a
 * LlamaForCausalLM: matrices normal(0, init_std) from the portable RNG seeded by c->seed, norms
 * 1.  The same configuration gives the same floats on every machine. */
lr_status lr_flat_model_init(lr_flat_model *m, const lr_pretrain_config *c, int vocab, lr_err *err);
void lr_flat_model_release(lr_flat_model *m);

/* Writes config.json and model.safetensors (F32) into dir, each atomically.  bos/eos: token ids
 * for config.json (-1: none). */
lr_status lr_flat_model_write_hf(const lr_flat_model *m, const lr_pretrain_config *c,
                                 const char *dir, int32_t bos, int32_t eos, lr_err *err);

#endif /* LORENS_PRETRAIN_MODEL_H */
