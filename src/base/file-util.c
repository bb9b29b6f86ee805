/*
 * file-util.c: whole-file reads (see file-util.h).
 */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-util.h"

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO (named pipe)";
  if (S_ISSOCK(m))
    return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m))
    return "a device";
  return "something else";
}

lr_status lr_open_regular(const char *path, int *fd, struct stat *st, lr_err *err) {
  struct stat sb;
  int flags;
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
  *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (*fd < 0)
    return lr_fail_at(err, errno == ENOENT ? LR_ENOTFOUND : LR_EIO, path, 0, 0, "cannot open: %s",
                      strerror(errno));
  if (st == NULL)
    st = &sb;
  if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
    lr_status rc = LR_OK;
    if (fstat(*fd, st) != 0)
      rc = lr_fail_at(err, LR_EIO, path, 0, 0, "cannot stat: %s", strerror(errno));
    else
      rc = lr_fail_at(err, LR_EIO, path, 0, 0, "is %s, not a regular file",
                      file_kind(st->st_mode));
    close(*fd);
    *fd = -1;
    return rc;
  }
  if ((flags = fcntl(*fd, F_GETFL)) != -1)
    fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
  return LR_OK;
}

lr_status lr_map_file(const char *path, void **map, size_t *len, lr_err *err) {
  struct stat st;
  int fd;
  lr_status rc = lr_open_regular(path, &fd, &st, err);
  *map = NULL;
  *len = 0;
  if (rc != LR_OK)
    return rc;
  if (st.st_size > 0) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
      rc = lr_fail_at(err, LR_EIO, path, 0, 0, "cannot map: %s", strerror(errno));
    else {
      *map = m;
      *len = (size_t)st.st_size;
    }
  }
  close(fd);
  return rc;
}

void lr_unmap_file(void *map, size_t len) {
  if (map)
    munmap(map, len);
}

void lr_map_release(const void *p, size_t len) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t lo, hi;
  if (p == NULL || page <= 0)
    return;
  lo = ((uintptr_t)p + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
  hi = ((uintptr_t)p + len) / (uintptr_t)page * (uintptr_t)page;
  if (hi > lo)
    (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

lr_status lr_read_file(const char *path, size_t max_bytes, const char *what, char **out,
                       size_t *len, lr_err *err) {
  struct stat st;
  int fd;
  FILE *fp;
  lr_status rc = lr_open_regular(path, &fd, &st, err);
  *out = NULL;
  *len = 0;
  if (rc != LR_OK)
    return rc;
  if ((fp = fdopen(fd, "rb")) == NULL) {
    close(fd);
    return lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", path);
  }
  if ((uintmax_t)st.st_size > max_bytes)
    rc = lr_fail_at(err, LR_EINVAL, path, 0, 0, "file is %jd bytes; %s may be at most %zu",
                    (intmax_t)st.st_size, what, max_bytes);
  else if ((*out = malloc((size_t)st.st_size + 1)) == NULL)
    rc = lr_fail(err, LR_ENOMEM, "out of memory reading '%s'", path);
  else if ((*len = fread(*out, 1, (size_t)st.st_size, fp)) != (size_t)st.st_size)
    rc = lr_fail_at(err, LR_EIO, path, 0, 0, "read error: %s",
                    ferror(fp) ? strerror(errno) : "the file shrank while being read");
  else
    (*out)[*len] = '\0';
  fclose(fp);
  if (rc != LR_OK) {
    free(*out);
    *out = NULL;
    *len = 0;
  }
  return rc;
}

lr_status lr_write_file_atomic(const char *path, lr_emit_fn emit, const void *ctx, lr_err *err) {
  char *tmp = NULL;
  FILE *fp = NULL;
  lr_status rc = LR_OK;
  if (asprintf(&tmp, "%s.tmp", path) < 0) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
  } else if ((fp = fopen(tmp, "wb")) == NULL) {
    rc = lr_fail_at(err, lr_io_status(errno), tmp, 0, 0, "cannot create: %s", strerror(errno));
  } else {
    emit(fp, ctx);
    /* fclose must run whatever ferror says; either failing loses the file. */
    bool bad = ferror(fp) != 0;
    errno = 0;
    if (fclose(fp) != 0 || bad) {
      rc = lr_fail_at(err, lr_io_status(errno), tmp, 0, 0, "cannot write: %s",
                      errno ? strerror(errno) : "write error");
      remove(tmp);
    } else if (rename(tmp, path) != 0) {
      rc = lr_fail_at(err, LR_EIO, path, 0, 0, "cannot rename into place: %s", strerror(errno));
      remove(tmp);
    }
  }
  free(tmp);
  return rc;
}

lr_status lr_path_join(const char *dir, const char *name, char **out, lr_err *err) {
  if (asprintf(out, "%s/%s", dir, name) < 0) {
    *out = NULL;
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  return LR_OK;
}

lr_status lr_make_dir(const char *dir, lr_err *err) {
  struct stat st;
  if (mkdir(dir, 0777) == 0)
    return LR_OK;
  if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return LR_OK;
  if (errno == EEXIST)
    return lr_fail_at(err, LR_EIO, dir, 0, 0, "exists and is not a directory");
  return lr_fail_at(err, lr_io_status(errno), dir, 0, 0, "cannot create the directory: %s", strerror(errno));
}

lr_status lr_mkdir_p(const char *dir, lr_err *err) {
  char *p = strdup(dir);
  lr_status rc;
  if (p == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  /* The parents quietly (an error shows at the last step), then dir itself. */
  for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    (void)mkdir(p, 0777);
    *s = '/';
  }
  rc = lr_make_dir(p, err);
  free(p);
  return rc;
}
