/*
 * grid-schema.h: the schema of a run's configuration, and the validator that turns YAML nodes into
 * typed JSON values by it (private to the grid module and run-config.c).
 *
 * Every key of a run's configuration is one lr_field (grid-fields.c): its type, default and
 * range.  The validator checks a YAML node against a field and returns the value in its
 * canonical JSON shape (defaults filled in, ints where integers are expected, reals where numbers
 * are, LoRA targets as a sorted list), or an error at the node's line:column that names the key
 * path.  The same validator reads back configurations from the database (run-config.c), so a
 * stored config passes exactly the checks a grid file does.  docs/grid.md documents every field.
 */
#ifndef LORENS_GRID_SCHEMA_H
#define LORENS_GRID_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "base/yaml-tree.h"

/* Longest key path kept in messages ("grid.data.train[0].format"); longer ones are cut. */
#define LR_KEY_PATH_MAX 256

typedef struct lr_field lr_field;

/* Where validation errors go: file names the input in messages. */
typedef struct lr_vctx {
  const char *file;
  lr_err *err;
} lr_vctx;

/* The mapping of a run's configuration (model, data, lora, train ...) and of `runtime`. */
const lr_field *lr_schema_config(void);
const lr_field *lr_schema_runtime(void);
const lr_field *lr_schema_prepare(void);

/* The child of a mapping field called key (key_len bytes), or NULL. */
const lr_field *lr_schema_child(const lr_field *map, const char *key, size_t key_len);
/* The names of a mapping field's children, for "did you mean"; returns how many (at most max). */
size_t lr_schema_child_names(const lr_field *map, const char **names, size_t max);
bool lr_schema_is_mapping(const lr_field *f);
bool lr_schema_is_required(const lr_field *f);
const char *lr_schema_key(const lr_field *f);

/* The default value of a field (a mapping's is built from its children's), a new reference; NULL
 * when the field is required or out of memory. */
json_t *lr_schema_default(const lr_field *f);

/* Checks node n against field f and sets *out to the value (a new reference).  path is the key
 * path named in errors ("lora.rank"). */
lr_status lr_schema_validate(const lr_field *f, const lr_ynode *n, const char *path,
                             const lr_vctx *vc, json_t **out);

/* Checks that n is a non-empty string (quoted, or plain and not a number, bool or null). */
lr_status lr_schema_check_string(const lr_ynode *n, const char *path, const lr_vctx *vc,
                                 json_t **out);

/* Checks mapping n against mapping field f, for the top level: like lr_schema_validate, but keys
 * accepted by skip(key) are left to the caller and keys f does not know are reported with
 * suggestions from f's keys and extra[0..n_extra). */
lr_status lr_schema_validate_top(const lr_field *f, const lr_ynode *n, bool (*skip)(const char *key),
                                 const char *const *extra, size_t n_extra, const lr_vctx *vc,
                                 json_t **out);

/* Finds the field a dotted path names under root ("lora.rank", "data.train").  On failure writes
 * the reason into msg ("unknown key 'rnak' (did you mean 'rank'?)") and returns NULL.  Paths may
 * not go inside a list or a non-mapping value. */
const lr_field *lr_schema_find(const lr_field *root, const char *path, char *msg, size_t msg_len);

/* Completes a configuration after grid values were applied: each data set without a name gets
 * its path's basename without the extension.  Then checks the rules that tie keys together
 * (subjects, group and split only for format mmlu; evaluation set names unique).  On failure
 * writes the reason into msg and returns false. */
bool lr_schema_resolve(json_t *config, char *msg, size_t msg_len);

/* Removes from a validated configuration the keys marked implicit whose value is their default
 * (grid-fields.c), so that a setting added later moves no existing run_key even when a grid
 * names its default.  lr_schema_fill_implicit_defaults adds them where absent (false when out of
 * memory), so that exclude entries can name them. */
void lr_schema_drop_implicit_defaults(const lr_field *map, json_t *config);
bool lr_schema_fill_implicit_defaults(const lr_field *map, json_t *config);

/* The name a data set gets when none is given: "data/ARC-Easy-Test.jsonl" -> "ARC-Easy-Test",
 * "data/mmlu/" -> "mmlu".  Writes into buf (always NUL-terminated). */
void lr_dataset_default_name(const char *path, char *buf, size_t n);

/* Stores every bound key of a validated configuration (the fields of map, recursively) into the
 * struct at dest, as the rows of grid-fields.c say.  False when out of memory. */
bool lr_schema_bind(const lr_field *map, const json_t *config, void *dest);

#endif /* LORENS_GRID_SCHEMA_H */
