/*
 * submission.c: the files of a Slurm submission (submission.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/file-util.h"
#include "base/json-util.h"
#include "run/slurm-submission.h"

static void emit_text(FILE *fp, const void *ctx) {
  fputs((const char *)ctx, fp);
}

static json_t *strings_json(char *const *a, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, json_string(a[i]));
  return arr;
}

lr_status lr_submission_write(const lr_submission *s, const lr_grid *g, lr_err *err) {
  char *path = NULL;
  json_t *root = json_object(), *tasks = json_array();
  lr_status rc = lr_mkdir_p(s->dir, err);
  for (size_t i = 0; i < s->n_tasks; i++)
    json_array_append_new(tasks, strings_json(s->tasks[i], s->task_runs[i]));
  json_object_set_new(root, "lorens", json_string(PACKAGE_VERSION));
  json_object_set_new(root, "grid", json_string(s->grid_path));
  json_object_set_new(root, "base_dir", json_string(s->base_dir));
  json_object_set_new(root, "db", json_string(s->db));
  json_object_set_new(root, "backend_dirs", strings_json(s->backend_dirs, s->n_backend_dirs));
  json_object_set_new(root, "threads", json_integer(s->threads));
  json_object_set_new(root, "retries", json_integer(s->retries));
  json_object_set_new(root, "micro_batch_tokens", json_integer(s->micro_batch_tokens));
  json_object_set_new(root, "timeout", json_real(s->timeout));
  json_object_set_new(root, "tasks", tasks);
  const char *subdirs[] = {"logs", "shards"};
  for (size_t i = 0; rc == LR_OK && i < 2; i++) {
    rc = lr_path_join(s->dir, subdirs[i], &path, err);
    if (rc == LR_OK)
      rc = lr_make_dir(path, err);
    free(path);
    path = NULL;
  }
  if (rc == LR_OK && (rc = lr_path_join(s->dir, "grid.yaml", &path, err)) == LR_OK)
    rc = lr_write_file_atomic(path, emit_text, g->text, err);
  free(path);
  path = NULL;
  if (rc == LR_OK && (rc = lr_path_join(s->dir, "tasks.json", &path, err)) == LR_OK)
    rc = lr_json_write_atomic(path, root, err);
  free(path);
  json_decref(root);
  return rc;
}

/* A copy of string member `key` of obj, or NULL (and an error naming the file) when absent. */
static char *string_of(json_t *obj, const char *key, const char *file, lr_err *err) {
  const char *v = json_string_value(json_object_get(obj, key));
  char *copy;
  if (v == NULL) {
    lr_fail(err, LR_EPARSE, "%s: no string \"%s\"", file, key);
    return NULL;
  }
  if ((copy = strdup(v)) == NULL)
    lr_fail(err, LR_ENOMEM, "out of memory");
  return copy;
}

static lr_status strings_of(json_t *arr, char ***out, size_t *n, const char *file,
                            const char *what, lr_err *err) {
  size_t i;
  json_t *v;
  *n = 0;
  *out = calloc(json_array_size(arr) + 1, sizeof **out);
  if (!json_is_array(arr) || *out == NULL)
    return lr_fail(err, LR_EPARSE, "%s: \"%s\" is not an array of strings", file, what);
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v) || ((*out)[i] = strdup(json_string_value(v))) == NULL)
      return lr_fail(err, LR_EPARSE, "%s: \"%s\" is not an array of strings", file, what);
    (*n)++;
  }
  return LR_OK;
}

lr_status lr_submission_read(const char *dir, lr_submission *s, char **yaml, lr_err *err) {
  char *path = NULL;
  size_t len = 0;
  json_t *root = NULL, *tasks, *t;
  size_t i;
  lr_status rc;
  memset(s, 0, sizeof *s);
  if (yaml)
    *yaml = NULL;
  if ((s->dir = strdup(dir)) == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  if ((rc = lr_path_join(dir, "tasks.json", &path, err)) != LR_OK ||
      (rc = lr_json_load_object(path, (size_t)1 << 30, &root, err)) != LR_OK)
    goto out;
  if (!(s->grid_path = string_of(root, "grid", path, err)) ||
      !(s->base_dir = string_of(root, "base_dir", path, err)) ||
      !(s->db = string_of(root, "db", path, err))) {
    rc = err->code;
    goto out;
  }
  s->threads = (long)json_integer_value(json_object_get(root, "threads"));
  s->retries = (long)json_integer_value(json_object_get(root, "retries"));
  s->micro_batch_tokens = (long)json_integer_value(json_object_get(root, "micro_batch_tokens"));
  s->timeout = json_number_value(json_object_get(root, "timeout"));
  if ((rc = strings_of(json_object_get(root, "backend_dirs"), &s->backend_dirs,
                       &s->n_backend_dirs, path, "backend_dirs", err)) != LR_OK)
    goto out;
  tasks = json_object_get(root, "tasks");
  if (!json_is_array(tasks)) {
    rc = lr_fail(err, LR_EPARSE, "%s: no array \"tasks\"", path);
    goto out;
  }
  s->tasks = calloc(json_array_size(tasks) + 1, sizeof *s->tasks);
  s->task_runs = calloc(json_array_size(tasks) + 1, sizeof *s->task_runs);
  if (!s->tasks || !s->task_runs) {
    rc = lr_fail(err, LR_ENOMEM, "out of memory");
    goto out;
  }
  json_array_foreach(tasks, i, t) {
    if ((rc = strings_of(t, &s->tasks[i], &s->task_runs[i], path, "tasks", err)) != LR_OK)
      goto out;
    s->n_tasks++;
  }
  free(path);
  path = NULL;
  if (yaml && (rc = lr_path_join(dir, "grid.yaml", &path, err)) == LR_OK)
    rc = lr_read_file(path, LR_GRID_MAX_FILE_BYTES, "a grid file", yaml, &len, err);
out:
  free(path);
  json_decref(root);
  if (rc != LR_OK)
    lr_submission_release(s);
  return rc;
}

void lr_submission_release(lr_submission *s) {
  for (size_t i = 0; s->tasks && i < s->n_tasks; i++) {
    for (size_t j = 0; j < s->task_runs[i]; j++)
      free(s->tasks[i][j]);
    free(s->tasks[i]);
  }
  for (size_t i = 0; i < s->n_backend_dirs; i++)
    free(s->backend_dirs[i]);
  free(s->backend_dirs);
  free(s->tasks);
  free(s->task_runs);
  free(s->dir);
  free(s->grid_path);
  free(s->base_dir);
  free(s->db);
  memset(s, 0, sizeof *s);
}

/* Prints s in single quotes for the shell. */
static void shell_quote(FILE *fp, const char *s) {
  fputc('\'', fp);
  for (; *s; s++)
    if (*s == '\'')
      fputs("'\\''", fp);
    else
      fputc(*s, fp);
  fputc('\'', fp);
}

void lr_sbatch_script(FILE *fp, const char *dir, const lr_sbatch_opts *o) {
  fprintf(fp, "#!/bin/sh\n");
  fprintf(fp, "# Written by lorens %s (`lorens slurm submit`): one array task runs its share of "
              "the sweep\n# (tasks.json beside this file) and publishes its shard into shards/.\n",
          PACKAGE_VERSION);
  fprintf(fp, "#SBATCH --job-name=%s\n", o->job_name);
  fprintf(fp, "#SBATCH --output=%s/logs/%%A_%%a.out\n", dir);
  fprintf(fp, "#SBATCH --open-mode=append\n");
  /* Preemption and time limits: the warning signal makes the task save its state and requeue. */
  fprintf(fp, "#SBATCH --requeue\n");
  fprintf(fp, "#SBATCH --signal=B:USR1@%ld\n", o->preempt_warning);
  if (o->partition)
    fprintf(fp, "#SBATCH --partition=%s\n", o->partition);
  if (o->gres)
    fprintf(fp, "#SBATCH --gres=%s\n", o->gres);
  if (o->time)
    fprintf(fp, "#SBATCH --time=%s\n", o->time);
  if (o->cpus > 0)
    fprintf(fp, "#SBATCH --cpus-per-task=%ld\n", o->cpus);
  if (o->mem)
    fprintf(fp, "#SBATCH --mem=%s\n", o->mem);
  for (size_t i = 0; i < o->n_extra; i++)
    fprintf(fp, "#SBATCH %s\n", o->extra[i]);
  /* exec: the batch shell becomes lorens, which then receives the B: signal itself. */
  fprintf(fp, "exec ");
  shell_quote(fp, o->lorens);
  fprintf(fp, " slurm task --submission ");
  shell_quote(fp, dir);
  fputc('\n', fp);
}
