/*
 * grid.h: an experiment grid (one YAML file = one sweep), validated and expanded into cells.
 *
 * lr_grid_load reads a grid file, checks every key against the schema (docs/grid.md), and expands
 * the `grid`, `zip`, `exclude` and `include` sections into cells.  Each cell is one run: the base
 * configuration with the cell's axis values applied, fully resolved (every key present, defaults
 * filled in, LoRA targets in canonical order, data set names defaulted), serialized canonically
 * (canonical-json.h) and identified by run_key, the SHA-256 of that text.  Nothing runs before the
 * whole file is valid, and every error names file:line:column and the key path.
 *
 * What a cell's configuration covers: model, tokenizer, backend, data, prompt, lora, train,
 * regularizer, ensemble and seed.  The sweep's name, its runtime section (how to run: jobs,
 * threads, devices, retries, timeout) and the grid/zip/exclude/include sections are not part of
 * it, so renaming a sweep or running it on more devices never changes a run_key.  Relative paths
 * (model, tokenizer, data set paths) are kept as written; they resolve against base_dir
 * (lr_path_resolve).
 */
#ifndef LORENS_GRID_H
#define LORENS_GRID_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "text/synth.h"

/* Most cells a grid may expand to, counted before `exclude` removes any and including the
 * `include` cells: a guard against a sweep that would never finish (or fit in memory). */
#define LR_GRID_MAX_CELLS 100000
/* Largest grid file read. */
#define LR_GRID_MAX_FILE_BYTES ((size_t)1 << 20)

typedef struct lr_cell {
  char run_key[65];   /* hex SHA-256 of canonical */
  char *canonical;    /* canonical JSON of the resolved config */
  json_t *config;     /* the same, as a jansson tree (owned) */
  json_t *axes;       /* object: dotted path -> this cell's value, for every path in lr_grid.axes */
} lr_cell;

typedef struct lr_runtime {
  long jobs, threads, retries;
  long micro_batch_tokens; /* 0: whole batches */
  char *precision;    /* the cells' precision where they set none; NULL: not given */
  double timeout;     /* seconds; 0 = none */
  long *devices;      /* NULL when n_devices is 0 */
  size_t n_devices;
} lr_runtime;

/*
 * What `lorens run` prepares before the first run when it is missing, so that a grid can name a
 * model and data that do not exist yet (experiments/demo.yaml): the synthetic task (`lorens
 * synth`) and a model pretrained on a corpus (`lorens pretrain`).  Paths are resolved against the
 * grid's directory; NULL out means no such step.  Not part of any run.
 */
typedef struct lr_prepare {
  char *synth_out;      /* resolved, or NULL */
  lr_synth_opts synth;
  char *pretrain_out, *pretrain_corpus, *pretrain_config; /* resolved, or NULL */
  char *pretrain_questions; /* resolved, or NULL: answered questions (generic jsonl) to add */
  char *pretrain_template;  /* the prompt template they are rendered in */
} lr_prepare;

typedef struct lr_grid {
  char *path;          /* as given */
  char *base_dir;      /* absolute directory of the file */
  char *name;
  char *text;          /* the YAML text as read, NUL-terminated */
  size_t text_len;
  char text_sha256[65];
  lr_runtime runtime;
  lr_prepare prepare;
  char **axes;         /* dotted paths that vary, in file order: the grid's axes, then include keys */
  size_t n_axes;
  size_t n_grid_axes;  /* the first n_grid_axes of axes come from `grid`, the rest from `include` */
  lr_cell *cells;      /* in expansion order: grid product (first axis slowest), then includes */
  size_t n_cells;
} lr_grid;

/* Reads, parses, validates and expands the grid file at path.  On failure *g is empty (safe to
 * release) and err names file:line:col. */
lr_status lr_grid_load(const char *path, lr_grid *g, lr_err *err);

/* The same for text already in memory: file_for_errors names it in messages and becomes g->path;
 * base_dir is the directory relative paths resolve against (NULL: the current directory). */
lr_status lr_grid_parse(const char *file_for_errors, const char *text, size_t len,
                        const char *base_dir, lr_grid *g, lr_err *err);

/* lr_grid_parse with another cap on the number of cells than LR_GRID_MAX_CELLS (the fuzzer keeps
 * inputs fast with a small one). */
lr_status lr_grid_parse_capped(const char *file_for_errors, const char *text, size_t len,
                               const char *base_dir, size_t max_cells, lr_grid *g, lr_err *err);

/* Frees everything and leaves *g empty. */
void lr_grid_release(lr_grid *g);

/* Keeps only the cells whose run_key is one of keys (in expansion order), freeing the others;
 * returns how many are left.  A Slurm task runs its share of a sweep this way. */
size_t lr_grid_keep_cells(lr_grid *g, const char *const *keys, size_t n_keys);

/* A path from the configuration resolved against the grid file's directory: absolute paths are
 * returned as they are, relative ones joined to base_dir.  A new string; NULL when out of memory. */
char *lr_path_resolve(const char *base_dir, const char *path);

#endif /* LORENS_GRID_H */
