/*
 * yaml-tree.h: a YAML document as a small tree whose every node remembers where it starts.
 *
 * libyaml's document API drops nothing we need, but its nodes live in one array indexed by number
 * and its scalars are untyped; this tree is plain pointers, keeps 1-based line:column marks for
 * error messages, and refuses what a configuration file has no use for: several documents,
 * aliases, duplicate keys, non-scalar keys, unknown tags and deep nesting.  Plain (unquoted)
 * scalars are typed by the YAML 1.2 core schema (lr_yaml_scalar_type); quoted ones are strings.
 */
#ifndef LORENS_YAML_TREE_H
#define LORENS_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Deepest nesting accepted; a grid needs about six levels. */
#define LR_YAML_MAX_DEPTH 64

typedef enum lr_ynode_kind { LR_YAML_SCALAR, LR_YAML_MAP, LR_YAML_SEQ } lr_ynode_kind;

typedef struct lr_ynode {
  lr_ynode_kind kind;
  int line, col;           /* 1-based position of the node's first character */
  char *text;              /* scalars: the value, NUL-terminated (it may hold other NULs) */
  size_t len;              /* scalars: bytes in text */
  bool plain;              /* scalars: unquoted and untagged, so typed by the core schema */
  struct lr_ynode **keys;  /* mappings: n scalar keys, in file order */
  struct lr_ynode **items; /* mappings: the n values; sequences: the n items */
  size_t n;
} lr_ynode;

/* What a scalar is under the core schema. */
typedef enum lr_yscalar {
  LR_YS_STRING, LR_YS_NULL, LR_YS_BOOL, LR_YS_INT, LR_YS_REAL,
  LR_YS_INT_RANGE /* an integer that does not fit in 64 bits */
} lr_yscalar;

/* Parses one YAML document (len bytes of text; `file` names it in errors) into *root.  Errors are
 * LR_EPARSE at file:line:col (libyaml's own message for syntax errors), or LR_ENOMEM. */
lr_status lr_yaml_parse(const char *file, const char *text, size_t len, lr_ynode **root,
                        lr_err *err);

/* Frees a tree (NULL is fine). */
void lr_ynode_free(lr_ynode *n);

/* The type of a scalar node: a quoted scalar is a string; a plain one is null (null, Null, NULL,
 * ~ or empty), a bool (true/false in three spellings), an int (decimal, 0o octal, 0x hex), a real
 * (decimal with . or exponent, .inf, .nan) or else a string.  Fills *i, *d or *b. */
lr_yscalar lr_yaml_scalar_type(const lr_ynode *n, long long *i, double *d, bool *b);

/* The value of the mapping node m at key, or NULL; *key_node (may be NULL) gets the key. */
const lr_ynode *lr_ynode_get(const lr_ynode *m, const char *key, const lr_ynode **key_node);

#endif /* LORENS_YAML_TREE_H */
