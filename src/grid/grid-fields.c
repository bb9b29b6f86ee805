/*
 * grid-fields.c: every key of a grid, as tables of fields (key, type, default, range or choices):
 * a run's configuration, the runtime section and the prepare section.  The validator
 * (grid-schema.c) reads them; a new setting is a row here.
 */
#include "compat.h"

#include "grid/grid-schema-impl.h"
#include "model/adapters.h"
#include "text/dataset.h"
#include "text/prompt.h"

#define MAP(k, fields) {.key = k, .kind = F_MAP, .sub = fields, .n_sub = LR_ARRAY_LEN(fields)}
#define ENUM(k, d, c) {.key = k, .kind = F_ENUM, .dflt = "\"" d "\"", .choices = c}
#define BOOL(k, d) {.key = k, .kind = F_BOOL, .dflt = d}
#define INT_MIN(k, d, l) {.key = k, .kind = F_INT, .dflt = d, .bounds = B_LO, .lo = l}
#define REAL_MIN(k, d, l) {.key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO, .lo = l}
#define REAL_POS(k, d) {.key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO | B_LO_OPEN, .lo = 0}
#define REAL_UNIT(k, d) \
  {.key = k, .kind = F_REAL, .dflt = d, .bounds = B_LO | B_HI | B_HI_OPEN, .lo = 0, .hi = 1}

/* Train and validation sets use the first N_DATASET fields; evaluation sets also have ood. */
#define N_DATASET 7
static const lr_field dataset_fields[] = {
    {.key = "name", .kind = F_STR_NULL, .dflt = "null"},
    ENUM("format", "arc", LR_DATASET_FORMAT_NAMES),
    {.key = "path", .kind = F_STR, .required = true},
    {.key = "subjects", .kind = F_SUBJECTS, .dflt = "null"},
    {.key = "group", .kind = F_ENUM_NULL, .dflt = "null", .choices = "stem|humanities|social_sciences|other"},
    {.key = "split", .kind = F_ENUM_NULL, .dflt = "null", .choices = "dev|val|test"},
    INT_MIN("limit", "0", 0),
    BOOL("ood", "false"),
};

static const lr_field data_fields[] = {
    {.key = "train", .kind = F_DATASET, .required = true, .sub = dataset_fields, .n_sub = N_DATASET},
    {.key = "validation", .kind = F_DATASET_NULL, .dflt = "null", .sub = dataset_fields,
     .n_sub = N_DATASET},
    {.key = "eval", .kind = F_EVAL_LIST, .dflt = "[]", .sub = dataset_fields, .n_sub = N_DATASET + 1},
};

static const lr_field prompt_fields[] = {
    ENUM("template", "select", LR_TEMPLATE_NAMES),
    BOOL("bos", "true"),
    INT_MIN("max_len", "0", 0),
};

static const lr_field lora_fields[] = {
    {.key = "targets", .kind = F_TARGETS, .dflt = "[\"q\",\"v\"]"},
    {.key = "rank", .kind = F_INT, .dflt = "8", .bounds = B_LO | B_HI, .lo = 1, .hi = 4096},
    REAL_POS("alpha", "16.0"),
    REAL_UNIT("dropout", "0.0"),
    BOOL("rslora", "false"),
};

static const lr_field adam_fields[] = {
    REAL_UNIT("beta1", "0.9"),
    REAL_UNIT("beta2", "0.999"),
    REAL_POS("eps", "1e-08"),
};

static const lr_field train_fields[] = {
    INT_MIN("epochs", "3", 0),
    INT_MIN("batch_size", "8", 1),
    REAL_POS("lr", "0.0001"),
    ENUM("schedule", "constant", "constant|linear|cosine"),
    INT_MIN("warmup_steps", "0", 0),
    MAP("adam", adam_fields),
    INT_MIN("max_len", "0", 0),
    REAL_MIN("grad_clip", "0.0", 0),
    INT_MIN("eval_every", "1", 1),
};

static const lr_field kl_fields[] = {
    REAL_MIN("weight", "0.0", 0),
    ENUM("support", "choices", "choices|vocab"),
    ENUM("direction", "forward", "forward|reverse"),
};

static const lr_field wd_fields[] = {
    REAL_MIN("a", "0.0", 0),
    REAL_MIN("b", "0.0", 0),
    ENUM("mode", "decoupled", "decoupled|l2"),
};

static const lr_field es_fields[] = {
    ENUM("metric", "none", "none|nll|accuracy"),
    INT_MIN("patience", "1", 1),
    ENUM("mode", "stop", "stop|select"),
};

static const lr_field regularizer_fields[] = {
    MAP("kl", kl_fields),
    MAP("weight_decay", wd_fields),
    MAP("early_stopping", es_fields),
};

static const lr_field randomness_fields[] = {
    ENUM("init", "vary", "vary|fixed"),
    ENUM("data", "vary", "vary|fixed"),
    ENUM("dropout", "vary", "vary|fixed"),
};

static const lr_field ensemble_fields[] = {
    {.key = "size", .kind = F_INT, .dflt = "5", .bounds = B_LO | B_HI, .lo = 1, .hi = 64},
    MAP("randomness", randomness_fields),
};

static const lr_field config_fields[] = {
    {.key = "model", .kind = F_STR, .required = true},
    {.key = "tokenizer", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "backend", .kind = F_STR, .dflt = "\"cpu\""},
    {.key = "data", .kind = F_MAP, .required = true, .sub = data_fields,
     .n_sub = LR_ARRAY_LEN(data_fields)},
    MAP("prompt", prompt_fields),
    MAP("lora", lora_fields),
    MAP("train", train_fields),
    MAP("regularizer", regularizer_fields),
    MAP("ensemble", ensemble_fields),
    INT_MIN("seed", "0", 0),
};

static const lr_field runtime_fields[] = {
    INT_MIN("jobs", "1", 1),
    INT_MIN("threads", "0", 0),
    {.key = "devices", .kind = F_INT_LIST, .dflt = "[]", .bounds = B_LO, .lo = 0},
    INT_MIN("retries", "0", 0),
    REAL_MIN("timeout", "0.0", 0),
};

/* What `lorens run` makes before the runs, when missing (grid.h, lr_prepare).  Ranges of the
 * synth sizes are lr_synth_check's. */
static const lr_field prepare_synth_fields[] = {
    {.key = "out", .kind = F_STR_NULL, .dflt = "null"},
    INT_MIN("seed", "0", 0),
    INT_MIN("entities", "60", 1),
    INT_MIN("facts_per_entity", "12", 1),
    INT_MIN("train", "400", 0),
    INT_MIN("validation", "100", 0),
    INT_MIN("test", "200", 0),
    INT_MIN("ood", "200", 0),
    {.key = "mentions", .kind = F_STR, .dflt = "\"1..6\""},
};

static const lr_field prepare_pretrain_fields[] = {
    {.key = "out", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "corpus", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "config", .kind = F_STR_NULL, .dflt = "null"},
    {.key = "questions", .kind = F_STR_NULL, .dflt = "null"},
    ENUM("template", "select", LR_TEMPLATE_NAMES),
};

static const lr_field prepare_fields[] = {
    MAP("synth", prepare_synth_fields),
    MAP("pretrain", prepare_pretrain_fields),
};

static const lr_field config_root = MAP("", config_fields);
static const lr_field runtime_root = MAP("runtime", runtime_fields);
static const lr_field prepare_root = MAP("prepare", prepare_fields);

const lr_field *lr_schema_prepare(void) {
  return &prepare_root;
}

const lr_field *lr_schema_config(void) {
  return &config_root;
}

const lr_field *lr_schema_runtime(void) {
  return &runtime_root;
}
