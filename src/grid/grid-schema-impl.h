/*
 * grid-schema-impl.h: what a field of the grid schema is, shared by the field tables
 * (grid-fields.c) and the validator (grid-schema.c); private to those two files.
 */
#ifndef LORENS_GRID_SCHEMA_IMPL_H
#define LORENS_GRID_SCHEMA_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "grid/grid-schema.h"

typedef enum fkind {
  F_MAP,          /* a mapping of sub fields; null means "all defaults" */
  F_STR,          /* a non-empty string */
  F_STR_NULL,     /* a non-empty string or null */
  F_INT,          /* an integer in range */
  F_REAL,         /* a finite number in range; integers are taken as reals */
  F_BOOL,
  F_ENUM,         /* one of choices */
  F_ENUM_NULL,    /* one of choices, or null */
  F_TARGETS,      /* LoRA targets: "q,v" or [q, v]; canonical: sorted list */
  F_SUBJECTS,     /* MMLU subjects: null, "a,b" or [a, b]; canonical: "a,b" or null */
  F_DATASET,      /* a data set mapping (sub fields) */
  F_DATASET_NULL, /* the same, or null */
  F_EVAL_LIST,    /* a list of data set mappings (sub fields, with ood) */
  F_INT_LIST,     /* a list of integers in range */
} fkind;

/* Which bounds a number has; without any, an integer is any 64-bit value. */
enum { B_LO = 1, B_LO_OPEN = 2, B_HI = 4, B_HI_OPEN = 8 };

/* Where a configuration key lands in lr_run_config (grid/run-config.h), so that a new setting is
 * one row of grid-fields.c: the value is converted by the bind kind and stored at `at`. */
typedef enum lr_bind {
  BIND_NONE,   /* not stored by lr_schema_bind (a mapping, or converted by run-config.c) */
  BIND_STR,    /* char *, a copy (NULL for null) */
  BIND_LONG,   /* long */
  BIND_DOUBLE, /* double */
  BIND_BOOL,   /* bool */
  BIND_CHOICE, /* int: the index of the value among choices */
} lr_bind;

struct lr_field {
  const char *key;
  fkind kind;
  bool required;
  const char *dflt;    /* the default as JSON text (leaves) */
  const lr_field *sub; /* F_MAP, data sets */
  size_t n_sub;
  const char *choices; /* F_ENUM*: "a|b|c" */
  unsigned bounds;
  double lo, hi;
  lr_bind bind;
  size_t at;           /* offsetof(lr_run_config, field) when bound */
  /* A key added after run_keys were recorded: its default is left out of a resolved
   * configuration (and an explicit default dropped), so that no existing run_key moves; bound,
   * an absent value reads as the default. */
  bool implicit;
};

#endif /* LORENS_GRID_SCHEMA_IMPL_H */
