/*
 * file-copy.h: copying files and directory trees durably, and publishing them under their final
 * name at once: what moves a Slurm task's shard from node-local disk to the shared shard
 * directory (src/run/slurm-shards.h).
 */
#ifndef LORENS_FILE_COPY_H
#define LORENS_FILE_COPY_H

#include "base/error.h"

/* Copies the regular file src to dst (created or truncated, mode 0644 before the umask) and
 * fsyncs it.  Errors name the file that failed. */
lr_status lr_copy_file(const char *src, const char *dst, lr_err *err);

/* Copies the directory src into dst (created) with everything below it: directories and regular
 * files (other kinds are refused by name), each file fsynced. */
lr_status lr_copy_tree(const char *src, const char *dst, lr_err *err);

/* Removes path and, for a directory, everything below it; a missing path is fine. */
lr_status lr_remove_tree(const char *path, lr_err *err);

/*
 * Publishes src (a regular file or a directory tree) as dst: copied beside dst under a temporary
 * name, fsynced, then renamed over it (a directory that was there is removed first), and dst's
 * directory fsynced.  A reader that sees dst sees all of it; a crash leaves at most the
 * temporary copy, which the next publish removes.
 */
lr_status lr_publish(const char *src, const char *dst, lr_err *err);

#endif /* LORENS_FILE_COPY_H */
