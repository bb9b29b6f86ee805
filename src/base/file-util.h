/*
 * file-util.h: reading a whole input file into memory, with the checks every reader wants, and
 * writing a file atomically.
 */
#ifndef LORENS_FILE_UTIL_H
#define LORENS_FILE_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/error.h"

/*
 * Reads the regular file at path, of at most max_bytes, into a new NUL-terminated buffer (*len
 * bytes before the NUL).  `what` names the kind of file in the size error ("a dataset file").
 * The buffer is sized from fstat, so a small file costs little whatever the cap.  Errors name the
 * path: missing (LR_ENOTFOUND), not a regular file (lr_open_regular), too large (LR_EINVAL),
 * short read.
 */
lr_status lr_read_file(const char *path, size_t max_bytes, const char *what, char **out,
                       size_t *len, lr_err *err);

/* Opens the regular file at path for reading into *fd, its fstat in *st when st is not NULL.
 * Anything else (a FIFO, which would block the open or the read forever; a directory; a device)
 * is refused without waiting, naming path and what it is.  LR_ENOTFOUND when missing. */
lr_status lr_open_regular(const char *path, int *fd, struct stat *st, lr_err *err);

/* Maps the regular file at path read-only and private (lr_open_regular's checks) into *map, its
 * size in *len; an empty file maps to NULL with *len 0 (mmap refuses length 0).  If another
 * process truncates the file while it is mapped, touching the lost pages raises SIGBUS, which no
 * reader can avoid; model files are not rewritten in place in practice.  lr_unmap_file undoes
 * it (NULL is fine). */
lr_status lr_map_file(const char *path, void **map, size_t *len, lr_err *err);
void lr_unmap_file(void *map, size_t len);
/* Tells the kernel that the bytes [p, p + len) of such a mapping are not needed for now: the
 * pages wholly inside them leave the process's resident memory, and are read from the file again
 * if touched.  Only for read-only private file mappings (anonymous memory would read back as
 * zeros).  A hint: failures are ignored. */
void lr_map_release(const void *p, size_t len);

/* Writes what emit prints to fp. */
typedef void (*lr_emit_fn)(FILE *fp, const void *ctx);

/* Writes path through path.tmp renamed over it, so a crash leaves the old file or the new one,
 * never half of one.  Errors (create, write, rename) name the file; the .tmp is removed. */
lr_status lr_write_file_atomic(const char *path, lr_emit_fn emit, const void *ctx, lr_err *err);

/* *out = dir + "/" + name (malloc'ed). */
lr_status lr_path_join(const char *dir, const char *name, char **out, lr_err *err);

/* Creates dir (mode 0777 before the umask); an existing directory is fine.  Errors name dir:
 * "cannot create the directory: ..." or "exists and is not a directory". */
lr_status lr_make_dir(const char *dir, lr_err *err);

/* lr_make_dir after creating any missing parents of dir. */
lr_status lr_mkdir_p(const char *dir, lr_err *err);

#endif /* LORENS_FILE_UTIL_H */
