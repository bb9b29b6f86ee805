/*
 * test-model-config.c: config.json parsing: the defaults transformers applies, the supported
 * variants (llama, qwen2, mistral, llama3 RoPE scaling), and a precise error for every field that
 * is missing, of the wrong type, out of range, or asks for something lorens does not implement.
 *
 * Each case starts from a valid LLaMA config and changes a few fields: a list of key, JSON value
 * pairs, where the value "-" deletes the key.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>

#include "model/model-config.h"
#include "../tap.h"

static const char *const base[][2] = {
    {"model_type", "\"llama\""},
    {"hidden_size", "64"},
    {"intermediate_size", "172"},
    {"num_hidden_layers", "5"},
    {"num_attention_heads", "8"},
    {"num_key_value_heads", "4"},
    {"vocab_size", "512"},
    {"max_position_embeddings", "512"},
    {"rms_norm_eps", "1e-05"},
    {"hidden_act", "\"silu\""},
};

static const char *lookup(const char *const *over, const char *key) {
  for (size_t i = 0; over && over[i]; i += 2)
    if (strcmp(over[i], key) == 0)
      return over[i + 1];
  return NULL;
}

/* The base config with over applied (NULL-terminated key, value list). */
static const char *build(char *buf, size_t n, const char *const *over) {
  size_t used = (size_t)snprintf(buf, n, "{");
  const char *v;
  for (size_t i = 0; i < LR_ARRAY_LEN(base); i++) {
    v = lookup(over, base[i][0]);
    v = v ? v : base[i][1];
    if (strcmp(v, "-") != 0)
      used += (size_t)snprintf(buf + used, n - used, "%s\"%s\": %s", used > 1 ? ", " : "",
                               base[i][0], v);
  }
  for (size_t i = 0; over && over[i]; i += 2) {
    int in_base = 0;
    for (size_t j = 0; j < LR_ARRAY_LEN(base); j++)
      in_base |= strcmp(base[j][0], over[i]) == 0;
    if (!in_base && strcmp(over[i + 1], "-") != 0)
      used += (size_t)snprintf(buf + used, n - used, ", \"%s\": %s", over[i], over[i + 1]);
  }
  snprintf(buf + used, n - used, "}");
  return buf;
}

static lr_status parse(const char *const *over, lr_model_config *c, lr_err *err) {
  char text[4096];
  build(text, sizeof text, over);
  lr_err_init(err);
  return lr_model_config_parse(text, strlen(text), "dir/config.json", c, err);
}

#define OVER(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_error(const char *const *over, lr_status want, const char *needle,
                         const char *what) {
  lr_model_config c;
  lr_err err;
  tap_is_str(lr_status_name(parse(over, &c, &err)), lr_status_name(want), "%s: %s", what,
             lr_status_name(want));
  tap_like(err.msg, needle, "%s: message", what);
  if (strcmp(err.file, "dir/config.json") != 0)
    tap_ok(false, "%s: the error names config.json (got '%s')", what, err.file);
}

static void test_base(void) {
  lr_model_config c;
  lr_err err;
  if (!tap_is_int(parse(NULL, &c, &err), LR_OK, "the base config parses"))
    tap_diag("%s", err.msg);
  tap_ok(c.arch == LR_ARCH_LLAMA && c.hidden_size == 64 && c.intermediate_size == 172 &&
         c.num_hidden_layers == 5 && c.vocab_size == 512 && c.max_position_embeddings == 512,
         "sizes are read");
  tap_ok(c.num_attention_heads == 8 && c.num_key_value_heads == 4, "heads and kv heads");
  tap_is_int(c.head_dim, 8, "head_dim defaults to hidden_size / num_attention_heads");
  tap_is_near(c.rms_norm_eps, 1e-5, 0, 1e-12, "rms_norm_eps");
  tap_is_near(c.rope_theta, 10000, 0, 0, "rope_theta defaults to 10000");
  tap_ok(c.rope_scaling == LORENS_ROPE_NONE, "no rope scaling by default");
  tap_ok(!c.tie_word_embeddings && !c.qkv_bias && !c.o_bias, "untied, no biases by default");
  tap_is_str(lr_model_arch_name(c.arch), "llama", "the arch has its model_type name");
}

static void test_defaults_and_variants(void) {
  lr_model_config c;
  lr_err err;
  parse(OVER("num_key_value_heads", "-", "hidden_act", "-", "rope_theta", "500000"), &c, &err);
  tap_ok(err.code == LR_OK && c.num_key_value_heads == 8, "num_key_value_heads defaults to the heads");
  tap_is_near(c.rope_theta, 500000, 0, 0, "rope_theta is read (an integer is fine)");
  parse(OVER("num_key_value_heads", "null", "head_dim", "null", "rope_scaling", "null"), &c, &err);
  tap_ok(err.code == LR_OK && c.num_key_value_heads == 8 && c.head_dim == 8,
         "null fields take their defaults");
  parse(OVER("head_dim", "16"), &c, &err);
  tap_ok(err.code == LR_OK && c.head_dim == 16, "an explicit head_dim need not be hidden/heads");
  parse(OVER("tie_word_embeddings", "true", "attention_bias", "true"), &c, &err);
  tap_ok(err.code == LR_OK && c.tie_word_embeddings && c.qkv_bias && c.o_bias,
         "llama with attention_bias has q/k/v/o biases; tied embeddings");
  parse(OVER("model_type", "\"qwen2\"", "use_sliding_window", "false", "sliding_window", "128"),
        &c, &err);
  tap_ok(err.code == LR_OK && c.arch == LR_ARCH_QWEN2 && c.qkv_bias && !c.o_bias,
         "qwen2 always has q/k/v biases, never o; an unused window is fine");
  parse(OVER("model_type", "\"mistral\"", "sliding_window", "null", "attention_bias", "true"), &c,
        &err);
  tap_ok(err.code == LR_OK && c.arch == LR_ARCH_MISTRAL && !c.qkv_bias && !c.o_bias,
         "mistral without a window; it has no biases, whatever attention_bias says");
  parse(OVER("model_type", "\"mistral\"", "sliding_window", "4096"), &c, &err);
  tap_ok(err.code == LR_OK, "a mistral window as long as the context changes nothing");
  parse(OVER("rope_scaling", "{\"rope_type\": \"default\"}"), &c, &err);
  tap_ok(err.code == LR_OK && c.rope_scaling == LORENS_ROPE_NONE, "rope_type default is none");
  parse(OVER("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1,"
             " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}"), &c, &err);
  tap_ok(err.code == LR_OK && c.rope_scaling == LORENS_ROPE_LLAMA3 && c.rope_factor == 8 &&
         c.rope_low_freq_factor == 1 && c.rope_high_freq_factor == 4 &&
         c.rope_original_max_position_embeddings == 8192, "llama3 rope scaling with its four values");
  parse(OVER("rope_scaling", "{\"type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1,"
             " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}"), &c, &err);
  tap_ok(err.code == LR_OK && c.rope_scaling == LORENS_ROPE_LLAMA3, "the older key 'type' works");
}

static void test_field_errors(void) {
  expect_error(OVER("num_hidden_layers", "\"5\""), LR_EPARSE,
               "field 'num_hidden_layers' must be a positive integer, got string", "a string count");
  expect_error(OVER("hidden_size", "64.0"), LR_EPARSE,
               "field 'hidden_size' must be a positive integer, got real", "a real size");
  expect_error(OVER("vocab_size", "0"), LR_EPARSE,
               "field 'vocab_size' must be a positive integer of at most 1073741824, got 0", "zero");
  expect_error(OVER("intermediate_size", "-3"), LR_EPARSE, "got -3", "a negative size");
  expect_error(OVER("num_attention_heads", "4294967296"), LR_EPARSE, "got 4294967296",
               "a count beyond 32 bits");
  expect_error(OVER("hidden_size", "-"), LR_EPARSE, "missing field 'hidden_size'", "a missing size");
  expect_error(OVER("hidden_size", "null"), LR_EPARSE, "missing field 'hidden_size'",
               "a required field given as null");
  expect_error(OVER("model_type", "-"), LR_EPARSE, "missing field 'model_type'", "no model_type");
  expect_error(OVER("model_type", "7"), LR_EPARSE, "field 'model_type' must be a string, got integer",
               "model_type not a string");
  expect_error(OVER("model_type", "\"gpt2\""), LR_EUNSUPPORTED,
               "model_type 'gpt2' is not supported (supported: llama, qwen2, mistral)",
               "an unsupported model_type is named");
  expect_error(OVER("rms_norm_eps", "\"1e-5\""), LR_EPARSE,
               "field 'rms_norm_eps' must be a positive number, got string", "eps as a string");
  expect_error(OVER("rms_norm_eps", "0"), LR_EPARSE,
               "field 'rms_norm_eps' must be a positive number, got 0", "eps zero");
  expect_error(OVER("rope_theta", "-1.5"), LR_EPARSE, "field 'rope_theta' must be a positive "
               "number, got -1.5", "a negative rope_theta");
  expect_error(OVER("tie_word_embeddings", "1"), LR_EPARSE,
               "field 'tie_word_embeddings' must be true or false, got integer", "a non-boolean flag");
  expect_error(OVER("hidden_act", "\"gelu\""), LR_EUNSUPPORTED,
               "hidden_act 'gelu' is not supported (only silu)", "another activation");
  expect_error(OVER("mlp_bias", "true"), LR_EUNSUPPORTED, "mlp_bias true is not supported",
               "MLP biases");
}

static void test_head_errors(void) {
  expect_error(OVER("num_key_value_heads", "3"), LR_EPARSE,
               "num_attention_heads (8) must be a multiple of num_key_value_heads (3)",
               "heads not a multiple of kv heads");
  expect_error(OVER("num_key_value_heads", "16"), LR_EPARSE, "must be a multiple of "
               "num_key_value_heads (16)", "more kv heads than heads");
  expect_error(OVER("num_attention_heads", "6", "num_key_value_heads", "2"), LR_EPARSE,
               "hidden_size (64) is not divisible by num_attention_heads (6), and no head_dim is "
               "given", "hidden_size not divisible by the heads");
  expect_error(OVER("head_dim", "7"), LR_EPARSE, "head_dim (7) must be even", "an odd head_dim");
  expect_error(OVER("head_dim", "0"), LR_EPARSE, "field 'head_dim' must be a positive integer",
               "head_dim zero");
}

static void test_rope_errors(void) {
  expect_error(OVER("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}"), LR_EUNSUPPORTED,
               "rope_scaling type 'yarn' is not supported (supported: default, llama3)",
               "an unsupported rope type is named");
  expect_error(OVER("rope_scaling", "{\"type\": \"linear\", \"factor\": 2}"), LR_EUNSUPPORTED,
               "rope_scaling type 'linear' is not supported", "linear scaling (old key)");
  expect_error(OVER("rope_scaling", "\"llama3\""), LR_EPARSE,
               "field 'rope_scaling' must be an object or null, got string", "rope_scaling a string");
  expect_error(OVER("rope_scaling", "{\"factor\": 2}"), LR_EPARSE,
               "missing field 'rope_scaling.rope_type'", "rope_scaling without a type");
  expect_error(OVER("rope_scaling", "{\"rope_type\": 3}"), LR_EPARSE,
               "field 'rope_scaling.rope_type' must be a string, got integer", "a numeric type");
  expect_error(OVER("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0, "
                    "\"low_freq_factor\": 1, \"high_freq_factor\": 4.0}"), LR_EPARSE,
               "missing field 'rope_scaling.original_max_position_embeddings'",
               "llama3 without its original context");
  expect_error(OVER("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": \"8\", "
                    "\"low_freq_factor\": 1, \"high_freq_factor\": 4.0, "
                    "\"original_max_position_embeddings\": 8192}"), LR_EPARSE,
               "field 'rope_scaling.factor' must be a positive number, got string",
               "a llama3 factor of the wrong type");
  expect_error(OVER("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, "
                    "\"low_freq_factor\": 4, \"high_freq_factor\": 4, "
                    "\"original_max_position_embeddings\": 8192}"), LR_EPARSE,
               "high_freq_factor (4) must be greater than low_freq_factor (4)",
               "equal llama3 frequency factors");
}

static void test_window_errors(void) {
  expect_error(OVER("model_type", "\"mistral\"", "max_position_embeddings", "32768",
                    "sliding_window", "4096"), LR_EUNSUPPORTED,
               "sliding-window attention is not supported: sliding_window (4096) is smaller than "
               "max_position_embeddings (32768)", "a mistral sliding window");
  expect_error(OVER("model_type", "\"qwen2\"", "use_sliding_window", "true", "sliding_window", "64"),
               LR_EUNSUPPORTED, "sliding-window attention is not supported",
               "a qwen2 sliding window in use");
  expect_error(OVER("model_type", "\"mistral\"", "sliding_window", "\"4096\""), LR_EPARSE,
               "field 'sliding_window' must be a positive integer, got string", "a string window");
}

static void test_syntax_errors(void) {
  const char *text = "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,,\n}";
  lr_model_config c;
  lr_err err;
  char buf[1024];
  lr_err_init(&err);
  tap_is_int(lr_model_config_parse(text, strlen(text), "m/config.json", &c, &err), LR_EPARSE,
             "a JSON syntax error");
  lr_err_format(&err, buf, sizeof buf);
  tap_like(buf, "m/config.json:3:21: not valid JSON:", "is located by line and column");
  lr_err_init(&err);
  tap_is_int(lr_model_config_parse("[1]", 3, "m/config.json", &c, &err), LR_EPARSE, "an array");
  tap_like(err.msg, "must be a JSON object, got array", "is not a config");
  lr_err_init(&err);
  tap_is_int(lr_model_config_parse("{\"a\":1,\"a\":2}", 13, "m/config.json", &c, &err), LR_EPARSE,
             "a repeated key");
  tap_like(err.msg, "duplicate object key", "is refused");
  lr_err_init(&err);
  tap_is_int(lr_model_config_load("/nonexistent/config.json", &c, &err), LR_ENOTFOUND,
             "a missing file is LR_ENOTFOUND");
  tap_is_str(err.file, "/nonexistent/config.json", "naming the file");
}

int main(void) {
  test_base();
  test_defaults_and_variants();
  test_field_errors();
  test_head_errors();
  test_rope_errors();
  test_window_errors();
  test_syntax_errors();
  return tap_done();
}
