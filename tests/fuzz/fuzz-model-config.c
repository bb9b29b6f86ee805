/*
 * fuzz-model-config.c: the config.json parser, over arbitrary text.
 *
 * Any input must either give a config whose whole-model rules hold (heads a multiple of kv heads,
 * a positive even head_dim, positive sizes, complete llama3 scaling), or fail with a parse or
 * "unsupported" status and a message.
 */
#include "compat.h"

#include <string.h>

#include "fuzz.h"
#include "model/model-config.h"

static void check_config(const lr_model_config *c) {
  FUZZ_CHECK(c->hidden_size > 0 && c->intermediate_size > 0 && c->num_hidden_layers > 0);
  FUZZ_CHECK(c->vocab_size > 0 && c->max_position_embeddings > 0);
  FUZZ_CHECK(c->num_attention_heads > 0 && c->num_key_value_heads > 0);
  FUZZ_CHECK(c->num_attention_heads % c->num_key_value_heads == 0);
  FUZZ_CHECK(c->head_dim > 0 && c->head_dim % 2 == 0);
  FUZZ_CHECK(c->rms_norm_eps > 0 && c->rope_theta > 0);
  FUZZ_CHECK(c->o_bias ? c->qkv_bias : 1);
  if (c->rope_scaling == LORENS_ROPE_LLAMA3)
    FUZZ_CHECK(c->rope_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor &&
               c->rope_original_max_position_embeddings > 0);
  else
    FUZZ_CHECK(c->rope_scaling == LORENS_ROPE_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_model_config c;
  lr_err err;
  lr_err_init(&err);
  if (lr_model_config_parse((const char *)data, size, "fuzz/config.json", &c, &err) != LR_OK) {
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_EUNSUPPORTED || err.code == LR_ENOMEM);
    FUZZ_CHECK(err.msg[0] != '\0' && strcmp(err.file, "fuzz/config.json") == 0);
    return 0;
  }
  FUZZ_CHECK(err.code == LR_OK);
  check_config(&c);
  return 0;
}
