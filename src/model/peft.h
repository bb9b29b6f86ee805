/*
 * peft.h: LoRA adapters in PEFT's layout on disk (adapter_config.json + adapter_model.safetensors).
 *
 * A lorens member and a PEFT adapter are the same object: reading one gives a member's weights
 * in the ABI's canonical order (adapters.h), and writing a member gives a directory that
 * `PeftModel.from_pretrained` loads.  Only what lorens trains is accepted: plain LoRA (no DoRA,
 * no per-module rank or alpha patterns, no bias, no fan_in_fan_out, no layer subsets or extra
 * saved modules) on any of q,k,v,o,gate,up,down; anything else is refused by name.
 */
#ifndef LORENS_PEFT_H
#define LORENS_PEFT_H

#include <stdint.h>

#include <lorens/backend.h>

#include "base/error.h"

typedef struct lr_peft_config {
  uint32_t rank;
  float alpha;
  int rslora;
  float dropout;
  uint32_t targets; /* lorens_lora_target bits */
} lr_peft_config;

/* Reads dir into *cfg and a malloc'ed array of the member's weights (*n floats) for model m. */
lr_status lr_peft_load(const char *dir, const lorens_model *m, lr_peft_config *cfg,
                       float **weights, uint64_t *n, lr_err *err);

/* Writes weights (canonical order for m and cfg) as a PEFT adapter into dir (created if
 * missing).  base_model is recorded as base_model_name_or_path. */
lr_status lr_peft_save(const char *dir, const lorens_model *m, const lr_peft_config *cfg,
                       const float *weights, const char *base_model, lr_err *err);

#endif /* LORENS_PEFT_H */
