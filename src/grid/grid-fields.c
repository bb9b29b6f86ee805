/*
 * grid-fields.c: every key of a grid, as tables of fields (key, type, default, range or choices):
 * a run's configuration, the runtime section and the prepare section.  The validator
 * (grid-schema.c) reads them; a new setting is a row here.
 */
#include "compat.h"

#include <stddef.h>

#include "grid/grid-schema-impl.h"
#include "grid/run-config.h"
#include "model/adapters.h"
#include "text/dataset.h"
#include "text/prompt.h"

/* Rows are {KIND(key, default ...), AT_x(field)}: what the key is, and where a run's value of it
 * goes in lr_run_config (run-config.c converts the rows without AT_x itself). */
#define MAP(k, fields) .key = k, .kind = F_MAP, .sub = fields, .n_sub = LR_ARRAY_LEN(fields)
#define ENUM(k, d, c) .key = k, .kind = F_ENUM, .dflt = "\"" d "\"", .choices = c
#define BOOL(k, d) .key = k, .kind = F_BOOL, .dflt = d
#define INT_MIN(k, d, l) .key = k, .kind = F_INT, .dflt = d, .bounds = B_LO, .lo = l
#define REAL_MIN(k, d, l) .key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO, .lo = l
#define REAL_POS(k, d) .key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO | B_LO_OPEN, .lo = 0
#define REAL_UNIT(k, d) \
  .key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO | B_HI | B_HI_OPEN, .lo = 0, .hi = 1
#define AT_(b, field) .bind = (b), .at = offsetof(lr_run_config, field)
#define AT_STR(field) AT_(BIND_STR, field)
#define AT_LONG(field) AT_(BIND_LONG, field)
#define AT_DOUBLE(field) AT_(BIND_DOUBLE, field)
#define AT_BOOL(field) AT_(BIND_BOOL, field)
#define AT_CHOICE(field) AT_(BIND_CHOICE, field)

/* Train and validation sets use the first N_DATASET fields; evaluation sets also have ood. */
#define N_DATASET 7
static const lr_field dataset_fields[] = {
    {.key = "name", .kind = F_STR_NULL, .dflt = "null"},
    {ENUM("format", "arc", LR_DATASET_FORMAT_NAMES)},
    {.key = "path", .kind = F_STR, .required = true},
    {.key = "subjects", .kind = F_SUBJECTS, .dflt = "null"},
    {.key = "group", .kind = F_ENUM_NULL, .dflt = "null", .choices = "stem|humanities|social_sciences|other"},
    {.key = "split", .kind = F_ENUM_NULL, .dflt = "null", .choices = "dev|val|test"},
    {INT_MIN("limit", "0", 0)},
    {BOOL("ood", "false")},
};

static const lr_field data_fields[] = {
    {.key = "train", .kind = F_DATASET, .required = true, .sub = dataset_fields, .n_sub = N_DATASET},
    {.key = "validation", .kind = F_DATASET_NULL, .dflt = "null", .sub = dataset_fields,
     .n_sub = N_DATASET},
    {.key = "eval", .kind = F_EVAL_LIST, .dflt = "[]", .sub = dataset_fields, .n_sub = N_DATASET + 1},
};

static const lr_field prompt_fields[] = {
    {ENUM("template", "select", LR_TEMPLATE_NAMES), AT_STR(template_name)},
    {BOOL("bos", "true"), AT_BOOL(bos)},
    {INT_MIN("max_len", "0", 0), AT_LONG(prompt_max_len)},
};

static const lr_field lora_fields[] = {
    {.key = "targets", .kind = F_TARGETS, .dflt = "[\"q\",\"v\"]"},
    {.key = "rank", .kind = F_INT, .dflt = "8", .bounds = B_LO | B_HI, .lo = 1, .hi = 4096,
     AT_LONG(rank)},
    {REAL_POS("alpha", "16.0"), AT_DOUBLE(alpha)},
    {REAL_UNIT("dropout", "0.0"), AT_DOUBLE(lora_dropout)},
    {BOOL("rslora", "false"), AT_BOOL(rslora)},
};

static const lr_field adam_fields[] = {
    {REAL_UNIT("beta1", "0.9"), AT_DOUBLE(beta1)},
    {REAL_UNIT("beta2", "0.999"), AT_DOUBLE(beta2)},
    {REAL_POS("eps", "1e-08"), AT_DOUBLE(eps)},
};

static const lr_field train_fields[] = {
    {INT_MIN("epochs", "3", 0), AT_LONG(epochs)},
    {INT_MIN("batch_size", "8", 1), AT_LONG(batch_size)},
    {REAL_POS("lr", "0.0001"), AT_DOUBLE(lr)},
    {ENUM("schedule", "constant", "constant|linear|cosine"), AT_CHOICE(schedule)},
    {INT_MIN("warmup_steps", "0", 0), AT_LONG(warmup_steps)},
    {MAP("adam", adam_fields)},
    {INT_MIN("max_len", "0", 0), AT_LONG(train_max_len)},
    {REAL_MIN("grad_clip", "0.0", 0), AT_DOUBLE(grad_clip)},
    {INT_MIN("eval_every", "1", 1), AT_LONG(eval_every)},
};

static const lr_field kl_fields[] = {
    {REAL_MIN("weight", "0.0", 0), AT_DOUBLE(kl_weight)},
    {ENUM("support", "choices", "choices|vocab"), AT_CHOICE(kl_support)},
    {ENUM("direction", "forward", "forward|reverse"), AT_CHOICE(kl_direction)},
};

static const lr_field wd_fields[] = {
    {REAL_MIN("a", "0.0", 0), AT_DOUBLE(wd_a)},
    {REAL_MIN("b", "0.0", 0), AT_DOUBLE(wd_b)},
    {ENUM("mode", "decoupled", "decoupled|l2"), AT_CHOICE(wd_mode)},
};

static const lr_field es_fields[] = {
    {ENUM("metric", "none", "none|nll|accuracy"), AT_CHOICE(es_metric)},
    {INT_MIN("patience", "1", 1), AT_LONG(es_patience)},
    {ENUM("mode", "stop", "stop|select"), AT_CHOICE(es_mode)},
};

static const lr_field regularizer_fields[] = {
    {MAP("kl", kl_fields)},
    {MAP("weight_decay", wd_fields)},
    {MAP("early_stopping", es_fields)},
};

static const lr_field randomness_fields[] = {
    {ENUM("init", "vary", "vary|fixed")},
    {ENUM("data", "vary", "vary|fixed")},
    {ENUM("dropout", "vary", "vary|fixed")},
};

static const lr_field ensemble_fields[] = {
    {.key = "size", .kind = F_INT, .dflt = "5", .bounds = B_LO | B_HI, .lo = 1, .hi = 64, AT_LONG(ensemble_size)},
    {MAP("randomness", randomness_fields)},
};

static const lr_field config_fields[] = {
    {.key = "model", .kind = F_STR, .required = true, AT_STR(model)},
    {.key = "tokenizer", .kind = F_STR_NULL, .dflt = "null", AT_STR(tokenizer)},
    {.key = "backend", .kind = F_STR, .dflt = "\"cpu\"", AT_STR(backend)},
    /* How the frozen base's products compute: it changes results, so it is part of the run. */
    {ENUM("precision", "fp32", "fp32|bf16"), AT_CHOICE(precision), .implicit = true},
    {.key = "data", .kind = F_MAP, .required = true, .sub = data_fields,
     .n_sub = LR_ARRAY_LEN(data_fields)},
    {MAP("prompt", prompt_fields)},
    {MAP("lora", lora_fields)},
    {MAP("train", train_fields)},
    {MAP("regularizer", regularizer_fields)},
    {MAP("ensemble", ensemble_fields)},
    {INT_MIN("seed", "0", 0)},
};

static const lr_field runtime_fields[] = {
    {INT_MIN("jobs", "1", 1)},
    {INT_MIN("threads", "0", 0)},
    /* The worker's --device range: a GPU index, not a count. */
    {.key = "devices", .kind = F_INT_LIST, .dflt = "[]", .bounds = B_LO | B_HI, .lo = 0, .hi = 65535},
    {INT_MIN("retries", "0", 0)},
    {REAL_MIN("timeout", "0.0", 0)},
    /* Memory, not results: micro-batches change a step only by float rounding. */
    {INT_MIN("micro_batch_tokens", "0", 0)},
    /* The precision of every cell that does not set its own `precision` (a run's key). */
    {.key = "precision", .kind = F_ENUM_NULL, .dflt = "null", .choices = "fp32|bf16"},
};

/* What `lorens run` makes before the runs, when missing (grid.h, lr_prepare).  Ranges of the
 * synth sizes are lr_synth_check's. */
static const lr_field prepare_synth_fields[] = {
    {.key = "out", .kind = F_STR_NULL, .dflt = "null"},
    {INT_MIN("seed", "0", 0)},
    {INT_MIN("entities", "60", 1)},
    {INT_MIN("facts_per_entity", "12", 1)},
    {INT_MIN("train", "400", 0)},
    {INT_MIN("validation", "100", 0)},
    {INT_MIN("test", "200", 0)},
    {INT_MIN("ood", "200", 0)},
    {.key = "mentions", .kind = F_STR, .dflt = "\"1..6\""},
};

static const lr_field prepare_pretrain_fields[] = {
    {.key = "out", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "corpus", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "config", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "questions", .kind = F_STR_NULL, .dflt = "null"},
    {ENUM("template", "select", LR_TEMPLATE_NAMES)},
};

static const lr_field prepare_fields[] = {
    {MAP("synth", prepare_synth_fields)},
    {MAP("pretrain", prepare_pretrain_fields)},
};

static const lr_field config_root = {MAP("", config_fields)};
static const lr_field runtime_root = {MAP("runtime", runtime_fields)};
static const lr_field prepare_root = {MAP("prepare", prepare_fields)};

const lr_field *lr_schema_prepare(void) {
  return &prepare_root;
}

const lr_field *lr_schema_config(void) {
  return &config_root;
}

const lr_field *lr_schema_runtime(void) {
  return &runtime_root;
}
