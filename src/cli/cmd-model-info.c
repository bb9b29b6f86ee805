/*
 * cmd-model-info.c: `lorens model-info DIR`: load a Hugging Face model directory as a run would,
 * and say what is in it.  It is the quickest check that a downloaded model will load: the same
 * loader runs, so any error it prints is the one a sweep would hit.
 *
 * `lorens model-info FILE.gguf` reads a GGUF file with the GGUF reader (every offset and size
 * checked) and describes it: the architecture and its hyperparameters from the metadata, and the
 * tensors by type.  Runs do not load GGUF files yet, so this describes the file, not a model.
 */
#include "compat.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/utf8.h"
#include "cli/cli-args.h"
#include "cli/commands.h"
#include "model/gguf.h"
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

static void format_dtypes(char *buf, size_t n, uint64_t dtypes) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < 64 && used < n; i++)
    if (dtypes & ((uint64_t)1 << i))
      used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "+" : "",
                               lr_dtype_name(lr_dtype_of_bit(i)));
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

static json_t *dtypes_json(uint64_t dtypes) {
  json_t *a = json_array();
  for (int i = 0; i < 64; i++)
    if (dtypes & ((uint64_t)1 << i))
      json_array_append_new(a, json_string(lr_dtype_name(lr_dtype_of_bit(i))));
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

/* Prints o (taking it) with two-space indents; fails when o is NULL (it could not be built). */
static int print_json_object(json_t *o) {
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

static int print_json(const lr_model *m, bool tensors) {
  return print_json_object(model_json(m, tensors));
}

/* ---- GGUF files ---------------------------------------------------------------------------------- */

/* The {arch}.* keys shown, in this order. */
static const char *const gguf_hparams[] = {
    "context_length", "embedding_length", "block_count", "feed_forward_length",
    "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
    "rope.freq_base",
};

typedef struct gguf_totals {
  size_t tensors[LR_QTYPE_LIMIT];
  uint64_t bytes[LR_QTYPE_LIMIT];
  uint64_t all_bytes;
} gguf_totals;

static void gguf_count(const lr_gguf_file *f, gguf_totals *t) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < lr_gguf_tensor_count(f); i++) {
    const lr_gguf_tensor *x = lr_gguf_tensor_at(f, i);
    t->tensors[x->type]++;
    t->bytes[x->type] += x->nbytes;
    t->all_bytes += x->nbytes;
  }
}

/* general.architecture when it is a string (NULL otherwise), for the {arch}.* keys. */
static const char *gguf_arch(const lr_gguf_file *f) {
  const lr_gguf_kv *kv = lr_gguf_find_kv(f, "general.architecture");
  return kv && kv->type == LR_GGUF_STRING ? kv->str : NULL;
}

static const lr_gguf_kv *gguf_hparam(const lr_gguf_file *f, const char *arch, const char *name,
                                     char *key, size_t n) {
  snprintf(key, n, "%s.%s", arch, name);
  return lr_gguf_find_kv(f, key);
}

/* A value as text, or "(not set)". */
static void gguf_value_text(const lr_gguf_file *f, const lr_gguf_kv *kv, char *buf, size_t n) {
  if (kv == NULL)
    snprintf(buf, n, "(not set)");
  else
    lr_gguf_kv_format(f, kv, 8, buf, n);
}

/* ne reversed into Hugging Face's order: [rows, columns] for a matrix. */
static void gguf_shape(const lr_gguf_tensor *t, int64_t *shape) {
  for (uint32_t d = 0; d < t->n_dims; d++)
    shape[d] = t->ne[t->n_dims - 1 - d];
}

static void gguf_print_text(const char *path, const lr_gguf_file *f, bool tensors) {
  const char *arch = gguf_arch(f);
  const lr_gguf_kv *kv;
  char size[32], bytes[32], value[512], key[256], shape[96];
  int64_t hf[LR_GGUF_MAX_DIMS], ft;
  gguf_totals t;
  lr_err err;
  format_count(size, sizeof size, lr_gguf_file_size(f));
  printf("model:        %s\n", path);
  printf("format:       GGUF v%u, %s bytes, %zu metadata keys, alignment %u\n",
         lr_gguf_version(f), size, lr_gguf_kv_count(f), lr_gguf_alignment(f));
  gguf_value_text(f, lr_gguf_find_kv(f, "general.architecture"), value, sizeof value);
  printf("architecture: %s\n", value);
  gguf_value_text(f, lr_gguf_find_kv(f, "general.name"), value, sizeof value);
  printf("name:         %s\n", value);
  kv = lr_gguf_find_kv(f, "general.file_type");
  lr_err_init(&err);
  if (kv && lr_gguf_kv_int(f, kv, &ft, &err) == LR_OK && lr_gguf_file_type_name(ft)) {
    printf("file type:    %s (%lld)\n", lr_gguf_file_type_name(ft), (long long)ft);
  } else {
    gguf_value_text(f, kv, value, sizeof value);
    printf("file type:    %s\n", value);
  }
  if (arch) {
    printf("hyperparameters:\n");
    for (size_t i = 0; i < LR_ARRAY_LEN(gguf_hparams); i++) {
      kv = gguf_hparam(f, arch, gguf_hparams[i], key, sizeof key);
      gguf_value_text(f, kv, value, sizeof value);
      printf("  %-42s %s\n", key, value);
    }
  }
  gguf_count(f, &t);
  format_count(bytes, sizeof bytes, t.all_bytes);
  printf("tensors:      %zu, %s bytes\n", lr_gguf_tensor_count(f), bytes);
  for (uint32_t ty = 0; ty < LR_QTYPE_LIMIT; ty++)
    if (t.tensors[ty]) {
      format_count(bytes, sizeof bytes, t.bytes[ty]);
      printf("  %-8s %6zu tensor%s %16s bytes\n", lr_quant_name((int)(ty)), t.tensors[ty],
             t.tensors[ty] == 1 ? " " : "s", bytes);
    }
  if (!tensors)
    return;
  printf("tensor list (name, type, shape, bytes, file offset):\n");
  for (size_t i = 0; i < lr_gguf_tensor_count(f); i++) {
    const lr_gguf_tensor *x = lr_gguf_tensor_at(f, i);
    gguf_shape(x, hf);
    lr_shape_format(shape, sizeof shape, hf, x->n_dims);
    printf("  %-48s %-7s %-16s %12llu %12llu\n", x->name, lr_quant_name((int)(x->type)), shape,
           (unsigned long long)x->nbytes, (unsigned long long)x->file_offset);
  }
}

/* A JSON string of bytes from the file; bytes that are not UTF-8 become U+FFFD, since jansson
 * takes only UTF-8. */
static json_t *json_text(const char *s, size_t n) {
  json_t *j;
  char *lossy;
  size_t used = 0;
  if (lr_utf8_valid(s, n))
    return json_stringn(s, n);
  if ((lossy = malloc(3 * n + 1)) == NULL)
    return NULL;
  for (size_t i = 0; i < n;) {
    size_t bad = 0, k = lr_utf8_char_len(s + i, n - i, &bad);
    if (k > 0) {
      memcpy(lossy + used, s + i, k);
      used += k;
      i += k;
    } else {
      memcpy(lossy + used, "\xef\xbf\xbd", 3);
      used += 3;
      i += bad ? bad : 1;
    }
  }
  j = json_stringn(lossy, used);
  free(lossy);
  return j;
}

/* One scalar or element as JSON; floats that are not finite, which JSON cannot hold, as null. */
static json_t *gguf_scalar_json(const lr_gguf_file *f, const lr_gguf_kv *kv, uint64_t i) {
  lr_gguf_type t = kv->elem_type;
  const char *s;
  size_t len;
  int64_t iv;
  double d;
  bool b;
  lr_err err;
  lr_err_init(&err);
  if (t == LR_GGUF_STRING) {
    if (kv->type != LR_GGUF_ARRAY)
      return json_text(kv->str, (size_t)kv->str_len);
    return lr_gguf_array_str(f, kv, i, &s, &len, &err) == LR_OK ? json_text(s, len) : NULL;
  }
  if (t == LR_GGUF_BOOL)
    return kv->type != LR_GGUF_ARRAY ? json_boolean(kv->value[0] != 0)
           : lr_gguf_array_bool(f, kv, i, &b, &err) == LR_OK ? json_boolean(b) : NULL;
  if (t == LR_GGUF_FLOAT32 || t == LR_GGUF_FLOAT64) {
    char text[64];
    if ((kv->type != LR_GGUF_ARRAY ? lr_gguf_kv_float(f, kv, &d, &err)
                                   : lr_gguf_array_float(f, kv, i, &d, &err)) != LR_OK)
      return NULL;
    if (!isfinite(d))
      return json_null();
    /* The shortest text that reads back as the stored float: 1e-05, not 9.99999974737875e-06. */
    if (t == LR_GGUF_FLOAT32) {
      for (int prec = 1; prec <= 9; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (strtof(text, NULL) == (float)d)
          break;
      }
      d = strtod(text, NULL);
    }
    return json_real(d);
  }
  if ((kv->type != LR_GGUF_ARRAY ? lr_gguf_kv_int(f, kv, &iv, &err)
                                 : lr_gguf_array_int(f, kv, i, &iv, &err)) == LR_OK)
    return json_integer(iv);
  /* A uint64 above INT64_MAX: as a real, which keeps its magnitude. */
  return json_real((double)(uint64_t)iv);
}

static json_t *gguf_value_json(const lr_gguf_file *f, const lr_gguf_kv *kv) {
  json_t *a;
  if (kv == NULL)
    return json_null();
  if (kv->type != LR_GGUF_ARRAY)
    return gguf_scalar_json(f, kv, 0);
  a = json_array();
  for (uint64_t i = 0; a && i < kv->count; i++)
    if (json_array_append_new(a, gguf_scalar_json(f, kv, i)) != 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static json_t *gguf_json(const char *path, const lr_gguf_file *f, bool tensors) {
  const char *arch = gguf_arch(f);
  const lr_gguf_kv *ftkv = lr_gguf_find_kv(f, "general.file_type");
  json_t *o, *hp = json_object(), *types = json_array(), *list;
  const char *ftname = NULL;
  char key[256];
  int64_t ft;
  gguf_totals t;
  lr_err err;
  lr_err_init(&err);
  if (ftkv && lr_gguf_kv_int(f, ftkv, &ft, &err) == LR_OK)
    ftname = lr_gguf_file_type_name(ft);
  for (size_t i = 0; arch && hp && i < LR_ARRAY_LEN(gguf_hparams); i++) {
    const lr_gguf_kv *kv = gguf_hparam(f, arch, gguf_hparams[i], key, sizeof key);
    json_object_set_new(hp, key, gguf_value_json(f, kv));
  }
  gguf_count(f, &t);
  for (uint32_t ty = 0; types && ty < LR_QTYPE_LIMIT; ty++)
    if (t.tensors[ty])
      json_array_append_new(types, json_pack("{s:s, s:I, s:I}", "type", lr_quant_name((int)(ty)),
                                             "tensors", (json_int_t)t.tensors[ty], "bytes",
                                             (json_int_t)t.bytes[ty]));
  o = json_pack("{s:s, s:s, s:i, s:I, s:i, s:I, s:I, s:o, s:o, s:o, s:o*, s:o, s:I, s:I, s:o}",
                "file", path, "format", "gguf", "version", (int)lr_gguf_version(f), "bytes",
                (json_int_t)lr_gguf_file_size(f), "alignment", (int)lr_gguf_alignment(f),
                "data_offset", (json_int_t)lr_gguf_data_start(f), "metadata_keys",
                (json_int_t)lr_gguf_kv_count(f), "architecture",
                gguf_value_json(f, lr_gguf_find_kv(f, "general.architecture")), "name",
                gguf_value_json(f, lr_gguf_find_kv(f, "general.name")), "file_type",
                gguf_value_json(f, ftkv), "file_type_name", ftname ? json_string(ftname) : NULL,
                "hyperparameters", hp, "tensor_count", (json_int_t)lr_gguf_tensor_count(f),
                "tensor_bytes", (json_int_t)t.all_bytes, "tensor_types", types);
  if (o == NULL || !tensors)
    return o;
  if ((list = json_array()) == NULL || json_object_set_new(o, "tensors", list) != 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t i = 0; i < lr_gguf_tensor_count(f); i++) {
    const lr_gguf_tensor *x = lr_gguf_tensor_at(f, i);
    int64_t hf[LR_GGUF_MAX_DIMS];
    json_t *shape = json_array();
    gguf_shape(x, hf);
    for (uint32_t d = 0; shape && d < x->n_dims; d++)
      json_array_append_new(shape, json_integer(hf[d]));
    if (json_array_append_new(list, json_pack("{s:o, s:s, s:o, s:I, s:I}", "name",
                                              json_text(x->name, strlen(x->name)), "type",
                                              lr_quant_name((int)(x->type)), "shape", shape, "bytes",
                                              (json_int_t)x->nbytes, "offset",
                                              (json_int_t)x->file_offset)) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

static int gguf_info(const char *path, int format, bool tensors) {
  lr_gguf_file *f;
  lr_err err;
  json_t *o;
  int rc = LR_EXIT_OK;
  lr_err_init(&err);
  if (lr_gguf_open(path, &f, &err) != LR_OK) {
    lr_err_print(&err, stderr);
    return LR_EXIT_FAILURE;
  }
  if (format == FORMAT_TEXT) {
    gguf_print_text(path, f, tensors);
  } else {
    o = gguf_json(path, f, tensors);
    rc = print_json_object(o);
  }
  lr_gguf_close(f);
  return rc;
}

/* ---- the command --------------------------------------------------------------------------------- */

static const lr_option option_table[] = {
    {LR_ARG_CHOICE(options, format, "format", 0, lr_text_json, "text (default) or json")},
    {LR_ARG_FLAG(options, tensors, "tensors", 0,
                 "also list every tensor: name, dtype, shape, file; tensors the\n"
                 "model does not use are marked ignored (GGUF: name, type, shape,\n"
                 "bytes, file offset)")},
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
  if (lr_gguf_path_is_gguf(o.dir))
    return gguf_info(o.dir, o.format, o.tensors);
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
    .name = "model-info", .args = "DIR|FILE.gguf", .options = option_table, .run = run_model_info,
    .help = lr_help_model_info,
    .summary = "Load a Hugging Face model directory, or read a GGUF file, and describe it.",
    .args_missing = "missing the model directory or GGUF file"};
