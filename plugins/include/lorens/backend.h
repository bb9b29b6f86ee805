/*
 * lorens/backend.h: the ABI between lorens and its backend plugins.
 *
 * A backend is a shared object that lorens loads with dlopen(RTLD_NOW | RTLD_LOCAL).  It exports
 * exactly one symbol, lorens_backend_v1 (the ABI major is part of the name), which returns a
 * static descriptor.  The descriptor starts with the ABI version and its own size, so that a host
 * can refuse an incompatible plugin, and read only the fields a plugin actually has.
 *
 * A plugin links nothing from lorens: what it needs from the host (logging today) arrives in the
 * lorens_host table passed to the entry point, as SQLite hands extensions sqlite3_api_routines.
 * A plugin never calls exit() or abort(): every call returns a lorens_status and, on failure,
 * writes a message into the caller's buffer.
 *
 * Build a backend out of tree with:
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags lorens-backend) my.c -o my.so
 * and install it into $(pkg-config --variable=backenddir lorens-backend).
 *
 * Versioning rules (read before changing anything below):
 *   - LORENS_BACKEND_ABI_MAJOR changes when an existing field, type or meaning changes.  The host
 *     refuses a plugin of another major, and the entry symbol's name changes with it.
 *   - LORENS_BACKEND_ABI_MINOR rises when fields are appended to the end of a struct.  Never
 *     reorder, resize or remove a field; an obsolete one keeps its place, renamed obsolete_N.
 *   - lorens_status values are append-only: they are stored in result databases.
 *   - A struct's struct_size tells the reader how much of it the writer knew about; fields past
 *     it are treated as absent (NULL / zero).
 */
#ifndef LORENS_BACKEND_H
#define LORENS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LORENS_BACKEND_ABI_MAJOR 1
#define LORENS_BACKEND_ABI_MINOR 0

#if defined(__GNUC__) || defined(__clang__)
#define LORENS_BACKEND_EXPORT __attribute__((visibility("default")))
#else
#define LORENS_BACKEND_EXPORT
#endif

/* Status codes: X(name, value, text).  Append only. */
#define LORENS_STATUS_MAP(X)                                                   \
  X(OK, 0, "success")                                                          \
  X(ENOMEM, 1, "out of memory")                                                \
  X(EIO, 2, "input/output error")                                              \
  X(EPARSE, 3, "malformed input")                                              \
  X(EINVAL, 4, "invalid argument")                                             \
  X(EABI, 5, "incompatible plugin ABI")                                        \
  X(EBACKEND, 6, "backend failure")                                            \
  X(EUNSUPPORTED, 7, "not supported")                                          \
  X(EDEVICE, 8, "device unavailable")                                          \
  X(ENOTFOUND, 9, "not found")                                                 \
  X(EINTERRUPTED, 10, "interrupted")

typedef enum lorens_status {
#define LORENS_STATUS_ENUM_(name, value, text) LORENS_##name = value,
  LORENS_STATUS_MAP(LORENS_STATUS_ENUM_)
#undef LORENS_STATUS_ENUM_
  LORENS_STATUS_COUNT_
} lorens_status;

/* Messages written by a plugin into a caller's buffer are at most this long, NUL included. */
#define LORENS_MSG_MAX 512

enum lorens_log_level { LORENS_LOG_ERROR = 0, LORENS_LOG_WARN = 1, LORENS_LOG_INFO = 2,
                        LORENS_LOG_DEBUG = 3 };

/* What the host offers a plugin.  The plugin must check struct_size before using a field that a
 * later minor appended. */
typedef struct lorens_host {
  uint32_t abi_major;   /* LORENS_BACKEND_ABI_MAJOR of the host */
  uint32_t abi_minor;
  uint32_t struct_size; /* sizeof(lorens_host) as the host was compiled */
  uint32_t reserved0;
  /* Writes one line to the host's log; safe to call from any thread.  May be NULL. */
  void (*log)(void *ctx, int level, const char *msg);
  void *log_ctx;
} lorens_host;

/* What a plugin offers.  The host reads only the first struct_size bytes. */
typedef struct lorens_backend {
  uint32_t abi_major;   /* must equal the host's LORENS_BACKEND_ABI_MAJOR */
  uint32_t abi_minor;   /* fields appended up to this minor are present */
  uint32_t struct_size; /* sizeof(lorens_backend) as the plugin was compiled */
  uint32_t reserved0;
  const char *name;        /* short and unique: "cpu", "cuda"; [a-z0-9_-]+ */
  const char *version;     /* the plugin's own version, free form */
  const char *description; /* one line for `lorens backends` */

  /*
   * Can this backend run here?  Returns 0 when it cannot, with the reason in `msg` ("no CUDA
   * device"), or a positive preference (higher is better) with a one-line description of what it
   * found in `msg` ("NVIDIA H200, 139 GiB, sm_90").  Cheap and side-effect free: the host may call
   * it more than once.  May be NULL, meaning "always usable, preference 1".
   */
  int (*probe)(char *msg, size_t msg_len);
  /* Later minors append session calls here; never reorder. */
} lorens_backend;

/* The size of the minor-0 descriptor: a plugin whose struct_size is below it is refused. */
#define LORENS_BACKEND_MIN_SIZE_V1_0 (offsetof(lorens_backend, probe) + sizeof(void (*)(void)))

/* The entry point every plugin exports.  `host` stays valid until the plugin is unloaded.
 * Returns NULL only if the plugin cannot initialise at all. */
typedef const lorens_backend *(*lorens_backend_entry_fn)(const lorens_host *host);
#define LORENS_BACKEND_ENTRY_SYMBOL "lorens_backend_v1"
LORENS_BACKEND_EXPORT const lorens_backend *lorens_backend_v1(const lorens_host *host);

#ifdef __cplusplus
}
#endif
#endif /* LORENS_BACKEND_H */
