/*
 * run-config.h: a run's configuration as C values, read back from its canonical JSON.
 *
 * The scheduler stores each cell's canonical JSON (grid.h) in the database; a worker reads it back
 * with lr_run_config_parse, which checks it against the same schema a grid file is checked against
 * (grid-schema.c), so a worker never runs a configuration the grid module would have refused.
 * Keys missing from the JSON take their defaults, so configurations stored by an older lorens
 * still read.  Paths are as written in the grid file: resolve them with lr_path_resolve against
 * the sweep's base directory.
 */
#ifndef LORENS_RUN_CONFIG_H
#define LORENS_RUN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "text/dataset.h"

enum lr_schedule { LR_SCHEDULE_CONSTANT, LR_SCHEDULE_LINEAR, LR_SCHEDULE_COSINE };
enum lr_kl_support { LR_KL_SUPPORT_CHOICES, LR_KL_SUPPORT_VOCAB };
enum lr_kl_direction { LR_KL_FORWARD /* KL(p_theta || p_0) */, LR_KL_REVERSE };
enum lr_wd_mode { LR_WD_DECOUPLED, LR_WD_L2 };
enum lr_es_metric { LR_ES_NONE, LR_ES_NLL, LR_ES_ACCURACY };
enum lr_es_mode { LR_ES_STOP, LR_ES_SELECT };

typedef struct lr_data_spec {
  char *name, *path;
  char *subjects, *group, *split; /* MMLU filters; NULL = none */
  lr_dataset_format format;
  long limit;                     /* 0 = all examples */
  bool ood;                       /* evaluation sets only */
} lr_data_spec;

typedef struct lr_run_config {
  char *model, *tokenizer /* NULL = MODEL/tokenizer.json */, *backend;
  int precision;    /* lorens_precision: fp32, bf16 (the order of the key's choices) */
  lr_data_spec train;
  bool has_validation;
  lr_data_spec validation;
  lr_data_spec *eval;
  size_t n_eval;
  char *template_name;
  bool bos;
  long prompt_max_len;
  uint32_t targets; /* LORENS_LORA_* mask */
  long rank;
  double alpha, lora_dropout;
  bool rslora;
  long epochs, batch_size, warmup_steps, train_max_len, eval_every;
  double lr, beta1, beta2, eps, grad_clip;
  int schedule;     /* enum lr_schedule */
  double kl_weight;
  int kl_support;   /* enum lr_kl_support */
  int kl_direction; /* enum lr_kl_direction */
  double wd_a, wd_b;
  int wd_mode;      /* enum lr_wd_mode */
  int es_metric;    /* enum lr_es_metric */
  long es_patience;
  int es_mode;      /* enum lr_es_mode */
  long ensemble_size;
  bool vary_init, vary_data, vary_dropout;
  uint64_t seed;
} lr_run_config;

/* Parses and validates a canonical configuration.  On failure *c is empty (safe to release) and
 * err says which key is wrong ("run config: lora.rank: must be an integer in [1, 4096], not 0"). */
lr_status lr_run_config_parse(const char *canonical_json, lr_run_config *c, lr_err *err);

/* Frees the strings and leaves *c empty. */
void lr_run_config_release(lr_run_config *c);

/* The indexed columns a run is grouped by in the store. */
typedef struct lr_run_summary {
  char dataset[128];     /* train set name (cut to fit) */
  char regularizer[64];  /* "none", or '+'-joined kinds that are on: kl, wd_a, wd_b, early_stop,
                          * dropout (in that order) */
  double reg_strength;   /* kl weight if kl is on, else wd_b if on, else wd_a, else lora dropout,
                          * else 0 */
  long rank, ensemble_size;
  uint64_t seed;
  double lr;
  char randomness[32];   /* '+'-joined varying sources among init, data, dropout, or "none" */
} lr_run_summary;

void lr_run_summary_of(const lr_run_config *c, lr_run_summary *s);

#endif /* LORENS_RUN_CONFIG_H */
