/*
 * checkpoint.c: saving and restoring a run's training state (see checkpoint.h).
 */
#include "compat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model/safetensors-write.h"
#include "model/safetensors.h"
#include "train/checkpoint.h"

enum { ARRAYS = 4 }; /* weights, adam_m, adam_v, best */
static const char *const array_names[ARRAYS] = {"weights", "adam_m", "adam_v", "best"};

static float *array_of(const lr_ckpt_member *m, int a) {
  return a == 0 ? m->weights : a == 1 ? m->adam_m : a == 2 ? m->adam_v : m->best;
}

static char *member_meta(const lr_ckpt_member *m, const lr_member_train *t) {
  json_t *j = json_pack("{s:I, s:b, s:f, s:I, s:I, s:b, s:b, s:I}", "step", (json_int_t)m->step,
                        "es_have", m->es.have, "es_best", m->es.have ? m->es.best : 0.0,
                        "es_best_epoch", (json_int_t)m->es.best_epoch, "es_bad",
                        (json_int_t)m->es.bad, "training", t->training, "diverged",
                        t->diverged, "diverged_step", (json_int_t)t->diverged_step);
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(j);
  return s;
}

lr_status lr_checkpoint_save(const char *path, long epoch, uint32_t members, uint64_t n_params,
                             const lr_ckpt_member *m, const lr_member_train *train, lr_err *err) {
  size_t n = 0, n_meta = 3;
  lr_st_out *t = calloc((size_t)members * ARRAYS + 1, sizeof *t);
  char **names = calloc((size_t)members * ARRAYS + 1, sizeof *names);
  const char **keys = calloc((size_t)members + 3, sizeof *keys);
  char **values = calloc((size_t)members + 3, sizeof *values);
  lr_status rc = LR_OK;
  if (!t || !names || !keys || !values) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  keys[0] = "epoch";
  keys[1] = "members";
  keys[2] = "n_params";
  if (asprintf(&values[0], "%ld", epoch) < 0 || asprintf(&values[1], "%u", members) < 0 ||
      asprintf(&values[2], "%" PRIu64, n_params) < 0) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  for (uint32_t i = 0; i < members; i++) {
    char *key = NULL;
    for (int a = 0; a < ARRAYS; a++) {
      if (array_of(&m[i], a) == NULL)
        continue;
      if (asprintf(&names[n], "member.%u.%s", i, array_names[a]) < 0) {
        rc = lr_fail(err, LR_ENOMEM, "out of memory");
        goto out;
      }
      t[n] = (lr_st_out){names[n], LR_ST_F32, 1, {(int64_t)n_params}, array_of(&m[i], a)};
      n++;
    }
    if (asprintf(&key, "member.%u", i) < 0 || (values[n_meta] = member_meta(&m[i], &train[i])) == NULL) {
      free(key);
      rc = lr_fail(err, LR_ENOMEM, "out of memory");
      goto out;
    }
    keys[n_meta++] = key;
  }
  rc = lr_st_write(path, t, n, keys, (const char *const *)values, n_meta, err);
out:
  for (size_t i = 0; names && i < (size_t)members * ARRAYS; i++)
    free(names[i]);
  for (size_t i = 3; keys && i < n_meta; i++)
    free((char *)keys[i]);
  for (size_t i = 0; values && i < (size_t)members + 3; i++)
    free(values[i]);
  free(t);
  free(names);
  free(keys);
  free(values);
  return rc;
}

static bool meta_long(const lr_st_file *f, const char *key, long long *out) {
  const char *v = lr_st_metadata(f, key);
  char *end;
  if (v == NULL)
    return false;
  errno = 0;
  *out = strtoll(v, &end, 10);
  return errno == 0 && end != v && *end == '\0';
}

static lr_status read_member(const lr_st_file *f, const char *path, uint32_t i, uint64_t n_params,
                             lr_ckpt_member *m, lr_member_train *train, lr_err *err) {
  char key[64];
  const char *meta;
  json_t *j;
  json_error_t je;
  json_int_t step = 0, best_epoch = 0, bad = 0, dstep = 0;
  int have = 0, training = 0, diverged = 0;
  double best = 0;
  for (int a = 0; a < ARRAYS; a++) {
    const lr_st_tensor *t;
    float *dst = array_of(m, a);
    if (dst == NULL)
      continue;
    snprintf(key, sizeof key, "member.%u.%s", i, array_names[a]);
    t = lr_st_find(f, key);
    if (t == NULL || t->dtype != LR_ST_F32 || t->numel != n_params)
      return lr_fail_at(err, LR_EPARSE, path, 0, 0, "tensor '%s' is missing or not F32[%" PRIu64 "]",
                        key, n_params);
    memcpy(dst, t->data, n_params * sizeof *dst);
  }
  snprintf(key, sizeof key, "member.%u", i);
  meta = lr_st_metadata(f, key);
  j = meta ? json_loads(meta, 0, &je) : NULL;
  if (j == NULL || json_unpack(j, "{s:I, s:b, s:F, s:I, s:I, s:b, s:b, s:I}", "step", &step,
                               "es_have", &have, "es_best", &best, "es_best_epoch", &best_epoch,
                               "es_bad", &bad, "training", &training, "diverged", &diverged,
                               "diverged_step", &dstep) != 0) {
    json_decref(j);
    return lr_fail_at(err, LR_EPARSE, path, 0, 0, "metadata '%s' is missing or malformed", key);
  }
  json_decref(j);
  m->step = step;
  m->es = (lr_es_state){have != 0, best, (long)best_epoch, (long)bad};
  *train = (lr_member_train){training != 0, diverged != 0, dstep};
  return LR_OK;
}

lr_status lr_checkpoint_load(const char *path, uint32_t members, uint64_t n_params, long *epoch,
                             lr_ckpt_member *m, lr_member_train *train, bool *found, lr_err *err) {
  lr_st_file *f = NULL;
  long long e, mm, np;
  lr_status rc;
  *found = false;
  if (access(path, F_OK) != 0)
    return LR_OK;
  if ((rc = lr_st_open(path, &f, err)) != LR_OK)
    return rc;
  if (!meta_long(f, "epoch", &e) || !meta_long(f, "members", &mm) || !meta_long(f, "n_params", &np))
    rc = lr_fail_at(err, LR_EPARSE, path, 0, 0, "not a lorens checkpoint (metadata missing)");
  else if (mm != members || (uint64_t)np != n_params)
    rc = lr_fail_at(err, LR_EINVAL, path, 0, 0,
                    "holds %lld members of %lld parameters; the run has %u of %" PRIu64, mm, np,
                    members, n_params);
  for (uint32_t i = 0; rc == LR_OK && i < members; i++)
    rc = read_member(f, path, i, n_params, &m[i], &train[i], err);
  lr_st_close(f);
  if (rc == LR_OK) {
    *epoch = (long)e;
    *found = true;
  }
  return rc;
}
