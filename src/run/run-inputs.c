/*
 * run-inputs.c: a run's model, tokenizer and data sets (see run-inputs.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/grid.h"
#include "model/gguf.h"
#include "model/adapters.h"
#include "train/evaluate.h"
#include "train/trainer.h"
#include "run/run-inputs.h"

lr_status lr_inputs_load_model(const char *base_dir, const lr_run_config *c, lr_model *model,
                               lr_tokenizer **tok, lr_err *err) {
  char *model_dir = lr_path_resolve(base_dir, c->model), *tok_path = NULL;
  lr_status rc = model_dir ? LR_OK : lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK)
    rc = lr_model_load(model_dir, model, err);
  if (rc == LR_OK) {
    /* tokenizer: wins; else a GGUF file's own metadata, or a directory's tokenizer.json. */
    if (c->tokenizer)
      tok_path = lr_path_resolve(base_dir, c->tokenizer);
    else if (lr_gguf_path_is_gguf(model_dir))
      tok_path = strdup(model_dir);
    else if (asprintf(&tok_path, "%s/tokenizer.json", model_dir) < 0)
      tok_path = NULL;
    rc = tok_path ? lr_tokenizer_load(tok_path, tok, err)
                  : lr_fail(err, LR_ENOMEM, "out of memory");
  }
  if (rc == LR_OK && lr_tokenizer_vocab_size(*tok) > (size_t)model->abi.vocab_size)
    rc = lr_fail_at(err, LR_EINVAL, tok_path, 0, 0, "has %zu tokens but the model's vocabulary is %d",
                    lr_tokenizer_vocab_size(*tok), model->abi.vocab_size);
  free(model_dir);
  free(tok_path);
  return rc;
}

lr_status lr_inputs_load_data(const char *base_dir, const lr_data_spec *d, lr_dataset *out,
                              lr_err *err) {
  lr_dataset_opts opts = {LR_ON_ERROR_FAIL, d->subjects, d->group, d->split};
  char *path = lr_path_resolve(base_dir, d->path);
  lr_status rc = path ? lr_dataset_load(path, d->format, &opts, out, err)
                      : lr_fail(err, LR_ENOMEM, "out of memory");
  free(path);
  if (rc != LR_OK)
    lr_err_prefix(err, "data set '%s': ", d->name);
  return rc;
}

lr_status lr_inputs_check_rank(const lr_run_config *c, const lorens_model *m, char *warn,
                               size_t warn_size, lr_err *err) {
  uint32_t room[LORENS_LORA_TARGET_COUNT] = {0}, most = 0;
  uint32_t rank = (uint32_t)c->rank;
  size_t n = 0, used = 0;
  lr_adapter_site *sites = calloc((size_t)(m->n_layers > 0 ? m->n_layers : 1) *
                                      LORENS_LORA_TARGET_COUNT, sizeof *sites);
  warn[0] = '\0';
  if (sites == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  lr_adapter_layout(m, c->targets, rank, sites, &n);
  for (size_t i = 0; i < n; i++) {
    uint32_t r = sites[i].in < sites[i].out ? sites[i].in : sites[i].out;
    room[sites[i].target] = r;
    most = r > most ? r : most;
  }
  free(sites);
  if (n > 0 && rank > most)
    return lr_fail(err, LR_EINVAL, "lora.rank %u is larger than any target matrix can use (at "
                   "most %u, min(in, out) of the widest): the adapters would add parameters but "
                   "no capacity", rank, most);
  for (int t = 0; t < LORENS_LORA_TARGET_COUNT; t++) {
    int w;
    if (room[t] == 0 || rank <= room[t] || used + 1 >= warn_size)
      continue;
    if (used == 0)
      w = snprintf(warn, warn_size, "lora.rank %u is more than some targets can use: %s (%u)",
                   rank, lr_target_name(t), room[t]);
    else
      w = snprintf(warn + used, warn_size - used, ", %s (%u)", lr_target_name(t), room[t]);
    used += w > 0 ? (size_t)w : 0;
  }
  return LR_OK;
}

size_t lr_inputs_limited(const lr_data_spec *d, size_t n) {
  return d->limit > 0 && (size_t)d->limit < n ? (size_t)d->limit : n;
}

lr_status lr_inputs_prompt_opts(const lr_run_config *c, const lorens_model *m, bool training,
                                lr_prompt_opts *po, bool *fold, lr_err *err) {
  long max_len = training && c->train_max_len ? c->train_max_len : c->prompt_max_len;
  lr_status rc = lr_template_find(c->template_name, &po->tmpl, err);
  po->add_bos = c->bos;
  po->max_len = (size_t)max_len;
  po->context = m->max_position_embeddings > 0 ? (size_t)m->max_position_embeddings : 0;
  /* A cloze choice is scored by its whole continuation, exactly, in training and evaluation. */
  *fold = rc == LR_OK && !lr_template_is_cloze(po->tmpl);
  return rc;
}

lr_status lr_inputs_check_prompts(const lr_run_config *c, const lorens_model *m, lr_tokenizer *tok,
                                  const lr_data_spec *spec, const lr_dataset *data, bool training,
                                  lr_prompt_report *report, lr_err *err) {
  lr_prompt_opts po;
  bool fold;
  lr_dataset view = *data;
  lr_status rc = lr_inputs_prompt_opts(c, m, training, &po, &fold, err);
  view.n = lr_inputs_limited(spec, data->n);
  if (rc == LR_OK && training) {
    lr_train_set set;
    memset(&set, 0, sizeof set);
    rc = lr_train_set_build(tok, &po, &view, view.n, &set, report, err);
    lr_train_set_release(&set);
  } else if (rc == LR_OK) {
    lr_scorer s = {NULL, LORENS_SCORE_ALL, 1, m->vocab_size, tok, po, 1, fold, NULL};
    lr_prompt *prompts = NULL;
    rc = lr_prompts_build(&s, &view, &prompts, report, err);
    lr_prompts_release(prompts, view.n);
  }
  if (rc != LR_OK)
    lr_err_prefix(err, "data set '%s': ", spec->name);
  return rc;
}
