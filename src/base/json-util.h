/*
 * json-util.h: the few jansson helpers the model-file readers share.
 *
 * Hugging Face model directories are JSON through and through (config.json, the shard index,
 * safetensors headers).  These helpers give their errors one voice: the kind of a value as a user
 * would name it ("got string"), and parse failures located by line and column.
 */
#ifndef LORENS_JSON_UTIL_H
#define LORENS_JSON_UTIL_H

#include <stddef.h>

#include <jansson.h>

#include "base/error.h"

/* What a JSON value is, for messages: "object", "array", "string", "integer", "real", "boolean",
 * "null"; "nothing" for NULL (a missing value). */
const char *lr_json_kind(const json_t *v);

/* Parses len bytes of text as a JSON object.  On failure records LR_EPARSE at path:line:col with
 * jansson's message (or "... must be a JSON object, got array").  *out is a new reference. */
lr_status lr_json_parse_object(const char *text, size_t len, const char *path, json_t **out,
                               lr_err *err);

/* Reads a whole file (at most max_bytes: config files are small, and a cap keeps a wrong path,
 * say to a weights file, from being read into memory) and parses it as lr_json_parse_object
 * does.  A missing file is LR_ENOTFOUND, an unreadable one LR_EIO. */
lr_status lr_json_load_object(const char *path, size_t max_bytes, json_t **out, lr_err *err);

/* Writes v to path, indented, keys in insertion order, through lr_write_file_atomic. */
lr_status lr_json_write_atomic(const char *path, const json_t *v, lr_err *err);

/* A dotted path ("lora.rank") into nested objects, as grids and stored configurations name their
 * keys.  lr_json_path_get: the value there, borrowed; NULL if absent.  lr_json_path_parent: the
 * object holding the last component, which is copied into last (last_size bytes, one component
 * at most); NULL when a step is missing or not an object, or a component too long, with the
 * length of the prefix that failed in *bad_len (may be NULL). */
json_t *lr_json_path_get(const json_t *config, const char *path);
json_t *lr_json_path_parent(const json_t *config, const char *path, char *last, size_t last_size,
                            size_t *bad_len);

#endif /* LORENS_JSON_UTIL_H */
