/*
 * file-copy.c: durable copies and atomic publication (file-copy.h).
 */
#include "compat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-copy.h"
#include "base/file-util.h"

lr_status lr_copy_file(const char *src, const char *dst, lr_err *err) {
  char buf[1 << 16];
  int in = -1, out = -1;
  lr_status rc = LR_OK;
  if (lr_open_regular(src, &in, NULL, err) != LR_OK)
    return err->code;
  if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    rc = lr_fail(err, lr_io_status(errno), "%s: cannot create: %s", dst,
                 strerror(errno));
    goto out;
  }
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf), done = 0;
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = lr_fail(err, LR_EIO, "%s: cannot read: %s", src, strerror(errno));
      goto out;
    }
    while (done < n) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        rc = lr_fail(err, lr_io_status(errno), "%s: cannot write: %s", dst,
                     strerror(errno));
        goto out;
      }
      done += w;
    }
  }
  if (fsync(out) != 0)
    rc = lr_fail(err, lr_io_status(errno), "%s: cannot sync: %s", dst,
                 strerror(errno));
out:
  if (out >= 0 && close(out) != 0 && rc == LR_OK)
    rc = lr_fail(err, LR_EIO, "%s: cannot close: %s", dst, strerror(errno));
  close(in);
  return rc;
}

lr_status lr_copy_tree(const char *src, const char *dst, lr_err *err) {
  DIR *d;
  struct dirent *e;
  lr_status rc = LR_OK;
  if (lr_make_dir(dst, err) != LR_OK)
    return err->code;
  if ((d = opendir(src)) == NULL)
    return lr_fail(err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, "%s: cannot open: %s", src,
                   strerror(errno));
  while (rc == LR_OK && (e = readdir(d)) != NULL) {
    char *from = NULL, *to = NULL;
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (lr_path_join(src, e->d_name, &from, err) != LR_OK ||
        lr_path_join(dst, e->d_name, &to, err) != LR_OK) {
      rc = err->code;
    } else if (lstat(from, &st) != 0) {
      rc = lr_fail(err, LR_EIO, "%s: %s", from, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
      rc = lr_copy_tree(from, to, err);
    } else if (S_ISREG(st.st_mode)) {
      rc = lr_copy_file(from, to, err);
    } else {
      rc = lr_fail(err, LR_EINVAL, "%s: not a regular file or directory: not copied", from);
    }
    free(from);
    free(to);
  }
  closedir(d);
  return rc;
}

lr_status lr_remove_tree(const char *path, lr_err *err) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  lr_status rc = LR_OK;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? LR_OK : lr_fail(err, LR_EIO, "%s: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return unlink(path) == 0 || errno == ENOENT
               ? LR_OK
               : lr_fail(err, LR_EIO, "%s: cannot remove: %s", path, strerror(errno));
  if ((d = opendir(path)) == NULL)
    return lr_fail(err, LR_EIO, "%s: cannot open: %s", path, strerror(errno));
  while (rc == LR_OK && (e = readdir(d)) != NULL) {
    char *child = NULL;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    rc = lr_path_join(path, e->d_name, &child, err);
    if (rc == LR_OK)
      rc = lr_remove_tree(child, err);
    free(child);
  }
  closedir(d);
  if (rc == LR_OK && rmdir(path) != 0 && errno != ENOENT)
    rc = lr_fail(err, LR_EIO, "%s: cannot remove: %s", path, strerror(errno));
  return rc;
}

/* fsync of a directory, so that a rename in it survives a crash. */
static void sync_dir_of(const char *path) {
  char *copy = strdup(path);
  int fd;
  if (copy == NULL)
    return;
  if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

lr_status lr_publish(const char *src, const char *dst, lr_err *err) {
  struct stat st;
  char *tmp = NULL;
  int swapped = 0;
  lr_status rc;
  if (stat(src, &st) != 0)
    return lr_fail(err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, "%s: %s", src, strerror(errno));
  if (asprintf(&tmp, "%s.tmp", dst) < 0)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  rc = lr_remove_tree(tmp, err); /* a crashed publish's leftover */
  if (rc == LR_OK)
    rc = S_ISDIR(st.st_mode) ? lr_copy_tree(src, tmp, err) : lr_copy_file(src, tmp, err);
  if (rc == LR_OK && S_ISDIR(st.st_mode)) {
    /* A directory cannot replace another by rename: swap the two atomically where the file
     * system can, so that a crash leaves the old tree or the new one at dst, never neither;
     * elsewhere (NFS) the old tree goes first. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_EXCHANGE) == 0) {
      lr_remove_tree(tmp, &(lr_err){0}); /* the old tree; a leftover is removed next time */
      swapped = 1;
    } else {
      rc = lr_remove_tree(dst, err);
    }
  }
  if (rc == LR_OK && !swapped && rename(tmp, dst) != 0)
    rc = lr_fail(err, lr_io_status(errno), "%s: cannot rename to %s: %s", tmp, dst,
                 strerror(errno));
  if (rc == LR_OK)
    sync_dir_of(dst);
  else
    lr_remove_tree(tmp, &(lr_err){0});
  free(tmp);
  return rc;
}
