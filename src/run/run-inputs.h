/*
 * run-inputs.h: loading what one run reads (its model, tokenizer and data sets), from a run's
 * configuration with paths relative to its grid's directory.  The worker loads a run's inputs
 * with these, and the preflight check of a sweep (preflight.h) with the same, so what passes the
 * check is what the runs will see.
 */
#ifndef LORENS_RUN_INPUTS_H
#define LORENS_RUN_INPUTS_H

#include "base/error.h"
#include "grid/run-config.h"
#include "model/model.h"
#include "text/dataset.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

/* The model c->model and its tokenizer (c->tokenizer; else a GGUF model's own metadata, or
 * MODEL/tokenizer.json for a directory), which
 * must not have more tokens than the model's vocabulary.  On failure the caller still releases
 * what was loaded (lr_model_release, lr_tokenizer_free). */
lr_status lr_inputs_load_model(const char *base_dir, const lr_run_config *c, lr_model *model,
                               lr_tokenizer **tok, lr_err *err);

/* Whether the run's LoRA rank can be used by the model's target matrices: an adapter of rank r
 * on a W [out, in] has r (in + out) parameters but can add at most min(in, out) to W's rank.  A
 * rank above that for every target is an error (lora.rank: 4096 on a 64-wide model); above it
 * for some targets only (v's narrow GQA projection, say), a warning in warn (else "").  Reads
 * only m's sizes, not its tensors. */
lr_status lr_inputs_check_rank(const lr_run_config *c, const lorens_model *m, char *warn,
                               size_t warn_size, lr_err *err);

/* One data set (a run's train, validation or eval set); errors start with "data set 'NAME': ". */
lr_status lr_inputs_load_data(const char *base_dir, const lr_data_spec *d, lr_dataset *out,
                              lr_err *err);

/* The examples of d that a run uses: all of them, or the first data.*.limit. */
size_t lr_inputs_limited(const lr_data_spec *d, size_t n);

/* How a run renders its prompts within the model's context (max_position_embeddings): for
 * training, train.max_len (else prompt.max_len); for evaluation, prompt.max_len.  *fold: whether
 * evaluation scores every choice at one position (not for cloze, which is scored whole). */
lr_status lr_inputs_prompt_opts(const lr_run_config *c, const lorens_model *m, bool training,
                                lr_prompt_opts *po, bool *fold, lr_err *err);

/* Renders and tokenizes a run's data set as the worker will (training, or evaluation), only to
 * check it: what does not fit the context goes into report (lr_prompt_report_check says it). */
lr_status lr_inputs_check_prompts(const lr_run_config *c, const lorens_model *m, lr_tokenizer *tok,
                                  const lr_data_spec *spec, const lr_dataset *data, bool training,
                                  lr_prompt_report *report, lr_err *err);

#endif /* LORENS_RUN_INPUTS_H */
