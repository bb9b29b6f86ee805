/*
 * run-inputs.c: a run's model, tokenizer and data sets (see run-inputs.h).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>

#include "grid/grid.h"
#include "run/run-inputs.h"

lr_status lr_inputs_load_model(const char *base_dir, const lr_run_config *c, lr_model *model,
                               lr_tokenizer **tok, lr_err *err) {
  char *model_dir = lr_path_resolve(base_dir, c->model), *tok_path = NULL;
  lr_status rc = model_dir ? lr_model_load(model_dir, model, err)
                           : lr_fail(err, LR_ENOMEM, "out of memory");
  if (rc == LR_OK) {
    if (c->tokenizer)
      tok_path = lr_path_resolve(base_dir, c->tokenizer);
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
