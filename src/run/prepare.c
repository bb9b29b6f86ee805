/*
 * prepare.c: the grid's prepare steps, run by `lorens run` before its first run (see grid.h).
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file-util.h"
#include "pretrain/pretrain.h"
#include "run/prepare.h"
#include "text/dataset.h"
#include "text/synth.h"

static lr_status synth_step(const lr_prepare *p, bool quiet, lr_err *err) {
  lr_synth_summary sum;
  /* The generator writes the same bytes for the same options, atomically per file, so making
   * it again costs milliseconds and can never leave a stale or different task behind. */
  lr_status rc = lr_mkdir_p(p->synth_out, err);
  if (rc == LR_OK)
    rc = lr_synth_write(p->synth_out, &p->synth, &sum, err);
  if (rc != LR_OK) {
    lr_err_prefix(err, "prepare.synth: ");
    return rc;
  }
  if (!quiet)
    fprintf(stderr, "prepare: synthetic task in %s (%zu facts, %zu corpus lines)\n", p->synth_out,
            sum.facts, sum.corpus_lines);
  return LR_OK;
}

static lr_status pretrain_step(const lr_prepare *p, const lr_prepare_opts *o, int *signal,
                               lr_err *err) {
  lr_pretrain_opts po;
  lr_pretrain_result res;
  lr_status rc = LR_OK;
  memset(&po, 0, sizeof po);
  po.corpus = p->pretrain_corpus;
  po.out = p->pretrain_out;
  po.config_path = p->pretrain_config ? p->pretrain_config : "the default configuration";
  po.questions = p->pretrain_questions;
  po.questions_format = LR_DATASET_JSONL;
  po.template_name = p->pretrain_template;
  po.backend = "cpu";
  po.backend_dirs = o->backend_dirs;
  po.n_backend_dirs = o->n_backend_dirs;
  po.threads = o->threads;
  po.quiet = o->quiet;
  lr_pretrain_config_init(&po.config);
  if (p->pretrain_config)
    rc = lr_pretrain_config_load(p->pretrain_config, &po.config, err);
  if (rc == LR_OK) {
    rc = lr_pretrain(&po, &res, err);
    *signal = res.signal;
  }
  if (rc != LR_OK) {
    lr_err_prefix(err, "prepare.pretrain: ");
    return rc;
  }
  if (!o->quiet)
    fprintf(stderr, "prepare: %s %s (%llu parameters, final loss %.3f)\n",
            res.cached ? "reusing the model pretrained in" : "pretrained a model into",
            p->pretrain_out, res.n_params, res.final_loss);
  return LR_OK;
}

lr_status lr_prepare_run(const lr_prepare *p, const lr_prepare_opts *o, int *signal, lr_err *err) {
  lr_status rc = LR_OK;
  *signal = 0;
  if (p->synth_out)
    rc = synth_step(p, o->quiet, err);
  if (rc == LR_OK && p->pretrain_out)
    rc = pretrain_step(p, o, signal, err);
  return rc;
}
