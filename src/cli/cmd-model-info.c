/*
 * cmd-model-info.c: `lorens model-info DIR`: load a Hugging Face model directory as a run would,
 * and say what is in it.  It is the quickest check that a downloaded model will load: the same
 * loader runs, so any error it prints is the one a sweep would hit.
 */
#include "compat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli-args.h"
#include "cli/commands.h"
#include "model/model.h"

enum { FORMAT_TEXT, FORMAT_JSON };

typedef struct options {
  const char *dir;
  int format;
  bool tensors;
} options;

/* 260544 -> "260,544". */
static void format_count(char *buf, size_t n, uint64_t v) {
  char digits[32];
  size_t nd = (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), j = 0;
  for (size_t i = 0; i < nd && j + 2 < n; i++) {
    if (i > 0 && (nd - i) % 3 == 0)
      buf[j++] = ',';
    buf[j++] = digits[i];
  }
  buf[j] = '\0';
}

static void format_dtypes(char *buf, size_t n, unsigned dtypes) {
  size_t used = 0;
  buf[0] = '\0';
  for (int t = LORENS_DTYPE_F32; t <= LORENS_DTYPE_BF16 && used < n; t++)
    if (dtypes & (1u << t))
      used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "+" : "",
                               lr_dtype_name((lorens_dtype)t));
}

static const char *bias_text(const lr_model_config *c) {
  return c->o_bias ? "q/k/v/o" : c->qkv_bias ? "q/k/v" : "none";
}

static size_t count_ignored(const lr_model_file *f) {
  size_t n = 0;
  for (size_t i = 0; i < lr_st_count(f->st); i++)
    n += !f->used[i];
  return n;
}

/* ---- text ---------------------------------------------------------------------------------------- */

static void print_rope_text(const lr_model_config *c) {
  printf("rope:        theta %g, ", c->rope_theta);
  if (c->rope_scaling == LORENS_ROPE_LLAMA3)
    printf("llama3 scaling (factor %g, low_freq_factor %g, high_freq_factor %g, original "
           "context %d)\n", c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
           c->rope_original_max_position_embeddings);
  else
    printf("no scaling\n");
}

static void print_tensors_text(const lr_model *m) {
  char shape[128];
  printf("tensors:\n");
  for (size_t i = 0; i < m->n_files; i++)
    for (size_t j = 0; j < lr_st_count(m->files[i].st); j++) {
      const lr_st_tensor *t = lr_st_get(m->files[i].st, j);
      lr_shape_format(shape, sizeof shape, t->shape, t->ndim);
      printf("  %-48s %-5s %-14s %s%s\n", t->name, lr_st_dtype_name(t->dtype), shape,
             m->files[i].name, m->files[i].used[j] ? "" : " (ignored)");
    }
}

static void print_text(const lr_model *m, bool tensors) {
  const lr_model_config *c = &m->config;
  char count[32], size[32], dtypes[32];
  printf("model:       %s\n", m->dir);
  printf("type:        %s\n", lr_model_arch_name(c->arch));
  printf("dims:        hidden_size %d, intermediate_size %d, vocab_size %d\n", c->hidden_size,
         c->intermediate_size, c->vocab_size);
  printf("layers:      %d\n", c->num_hidden_layers);
  printf("attention:   %d heads, %d kv heads, head_dim %d, bias %s\n", c->num_attention_heads,
         c->num_key_value_heads, c->head_dim, bias_text(c));
  printf("context:     %d positions\n", c->max_position_embeddings);
  printf("norm:        rms_norm_eps %g\n", c->rms_norm_eps);
  print_rope_text(c);
  printf("embeddings:  %s\n", c->tie_word_embeddings ? "tied (lm_head = embed_tokens)"
                                                     : "untied (own lm_head)");
  format_count(count, sizeof count, m->n_params);
  format_count(size, sizeof size, m->n_bytes);
  format_dtypes(dtypes, sizeof dtypes, m->dtypes);
  printf("parameters:  %s (%s, %s bytes)\n", count, dtypes, size);
  printf("files:%s\n", m->index_name ? "       (sharded: model.safetensors.index.json)" : "");
  for (size_t i = 0; i < m->n_files; i++) {
    format_count(size, sizeof size, lr_st_file_size(m->files[i].st));
    printf("  %s: %s bytes, %zu tensors (%zu ignored)\n", m->files[i].name, size,
           lr_st_count(m->files[i].st), count_ignored(&m->files[i]));
  }
  if (tensors)
    print_tensors_text(m);
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

static json_t *rope_json(const lr_model_config *c) {
  if (c->rope_scaling != LORENS_ROPE_LLAMA3)
    return json_null();
  return json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor", c->rope_factor,
                   "low_freq_factor", c->rope_low_freq_factor, "high_freq_factor",
                   c->rope_high_freq_factor, "original_max_position_embeddings",
                   (json_int_t)c->rope_original_max_position_embeddings);
}

static json_t *tensors_json(const lr_model *m) {
  json_t *a = json_array();
  for (size_t i = 0; i < m->n_files; i++)
    for (size_t j = 0; j < lr_st_count(m->files[i].st); j++) {
      const lr_st_tensor *t = lr_st_get(m->files[i].st, j);
      json_t *shape = json_array();
      for (uint32_t d = 0; d < t->ndim; d++)
        json_array_append_new(shape, json_integer(t->shape[d]));
      json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:s, s:b}", "name", t->name, "dtype",
                                         lr_st_dtype_name(t->dtype), "shape", shape, "file",
                                         m->files[i].name, "used", (int)m->files[i].used[j]));
    }
  return a;
}

static json_t *files_json(const lr_model *m) {
  json_t *a = json_array();
  for (size_t i = 0; i < m->n_files; i++)
    json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I}", "name", m->files[i].name, "bytes",
                                       (json_int_t)lr_st_file_size(m->files[i].st), "tensors",
                                       (json_int_t)lr_st_count(m->files[i].st), "ignored",
                                       (json_int_t)count_ignored(&m->files[i])));
  return a;
}

static json_t *dtypes_json(unsigned dtypes) {
  json_t *a = json_array();
  for (int t = LORENS_DTYPE_F32; t <= LORENS_DTYPE_BF16; t++)
    if (dtypes & (1u << t))
      json_array_append_new(a, json_string(lr_dtype_name((lorens_dtype)t)));
  return a;
}

static json_t *model_json(const lr_model *m, bool tensors) {
  const lr_model_config *c = &m->config;
  json_t *o = json_pack(
      "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:o, s:b, s:b, s:b, s:I, s:I,"
      " s:o, s:o*, s:o}",
      "dir", m->dir, "model_type", lr_model_arch_name(c->arch), "hidden_size", c->hidden_size,
      "intermediate_size", c->intermediate_size, "num_hidden_layers", c->num_hidden_layers,
      "num_attention_heads", c->num_attention_heads, "num_key_value_heads",
      c->num_key_value_heads, "head_dim", c->head_dim, "vocab_size", c->vocab_size,
      "max_position_embeddings", c->max_position_embeddings, "rms_norm_eps", c->rms_norm_eps,
      "rope_theta", c->rope_theta, "rope_scaling", rope_json(c), "tie_word_embeddings",
      (int)c->tie_word_embeddings, "qkv_bias", (int)c->qkv_bias, "o_bias", (int)c->o_bias,
      "parameters", (json_int_t)m->n_params, "bytes", (json_int_t)m->n_bytes, "dtypes",
      dtypes_json(m->dtypes), "index", m->index_name ? json_string(m->index_name) : NULL,
      "files", files_json(m));
  if (o && tensors)
    json_object_set_new(o, "tensors", tensors_json(m));
  return o;
}

static int print_json(const lr_model *m, bool tensors) {
  json_t *o = model_json(m, tensors);
  /* 15 significant digits print config values as config.json wrote them (1e-05, not
   * 1.0000000000000001e-05), and read back as the same doubles. */
  char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
                 : NULL;
  json_decref(o);
  if (text == NULL) {
    /* jansson refuses strings that are not UTF-8, and the directory comes from the user. */
    fprintf(stderr, "lorens: model-info: cannot write JSON (out of memory, or a path that is not "
            "UTF-8)\n");
    return LR_EXIT_FAILURE;
  }
  printf("%s\n", text);
  free(text);
  return LR_EXIT_OK;
}

/* ---- the command --------------------------------------------------------------------------------- */

static const lr_option option_table[] = {
    {LR_ARG_CHOICE(options, format, "format", 0, lr_text_json, "text (default) or json")},
    {LR_ARG_FLAG(options, tensors, "tensors", 0,
                 "also list every tensor: name, dtype, shape, file; tensors the\n"
                 "model does not use are marked ignored")},
    LR_ARG_END,
};

static int parse_options(int argc, char **argv, options *o) {
  int rc = lr_options_parse(&lr_cmd_model_info, argc, argv, o, NULL);
  if (rc != LR_EXIT_OK)
    return rc;
  o->dir = argv[1];
  return LR_EXIT_OK;
}

static int run_model_info(int argc, char **argv) {
  options o = {NULL, FORMAT_TEXT, false};
  lr_model m;
  lr_err err;
  int rc = parse_options(argc, argv, &o);
  if (rc != LR_EXIT_OK)
    return rc;
  lr_err_init(&err);
  if (lr_model_load(o.dir, &m, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  if (o.format == FORMAT_JSON)
    rc = print_json(&m, o.tensors);
  else
    print_text(&m, o.tensors);
  lr_model_release(&m);
  return rc;
}

const lr_command lr_cmd_model_info = {
    .name = "model-info", .args = "DIR", .options = option_table, .run = run_model_info,
    .help = lr_help_model_info, .summary = "Load a Hugging Face model directory and describe it.",
    .args_missing = "missing the model directory"};
