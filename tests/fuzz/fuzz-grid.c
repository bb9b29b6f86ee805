/*
 * fuzz-grid.c: grid files (grid.h) over arbitrary bytes: YAML parsing, validation, expansion,
 * canonical JSON and reading each cell back as a run configuration (run-config.h).
 *
 * The input is the file.  It must either fail with a located message (a parse or validation error
 * that names the file) and leave the grid empty, or expand to between 1 and FUZZ_MAX_CELLS cells
 * whose run_keys are distinct and are the SHA-256 of their canonical text, whose canonical text is
 * a fixed point (parsing it and writing it again gives the same bytes), whose axes objects name
 * every axis, and whose configurations read back and summarize.  A small cell cap keeps every
 * input fast; the cap itself is part of what is tested.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/canonical-json.h"
#include "fuzz.h"
#include "base/sha256.h"
#include "grid/grid.h"
#include "grid/run-config.h"

#define NAME "fuzz/grid.yaml"
#define FUZZ_MAX_CELLS 64

static void check_cell(const lr_grid *g, const lr_cell *c) {
  char hex[65], *again;
  json_t *back;
  lr_run_config rc;
  lr_run_summary s;
  lr_err err;
  lr_sha256_hex(c->canonical, strlen(c->canonical), hex);
  FUZZ_CHECK(strcmp(hex, c->run_key) == 0);
  again = lr_json_canonical(c->config, NULL);
  FUZZ_CHECK(again != NULL && strcmp(again, c->canonical) == 0);
  free(again);
  back = json_loads(c->canonical, 0, NULL);
  FUZZ_CHECK(back != NULL);
  again = lr_json_canonical(back, NULL);
  FUZZ_CHECK(again != NULL && strcmp(again, c->canonical) == 0);
  free(again);
  json_decref(back);
  FUZZ_CHECK(json_object_size(c->axes) == g->n_axes);
  for (size_t a = 0; a < g->n_axes; a++)
    FUZZ_CHECK(json_object_get(c->axes, g->axes[a]) != NULL);
  lr_err_init(&err);
  if (lr_run_config_parse(c->canonical, &rc, &err) != LR_OK) {
    FUZZ_CHECK(err.code == LR_ENOMEM);
    return;
  }
  FUZZ_CHECK(rc.model && rc.backend && rc.train.name && rc.train.path && rc.template_name);
  FUZZ_CHECK(rc.rank >= 1 && rc.rank <= 4096 && rc.ensemble_size >= 1 && rc.ensemble_size <= 64);
  FUZZ_CHECK(rc.targets != 0 && rc.lr > 0 && rc.batch_size >= 1 && rc.lora_dropout < 1);
  lr_run_summary_of(&rc, &s);
  FUZZ_CHECK(s.regularizer[0] && s.randomness[0] && s.rank == rc.rank);
  lr_run_config_release(&rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lr_grid g;
  lr_err err;
  lr_err_init(&err);
  if (lr_grid_parse_capped(NAME, (const char *)data, size, "/base", FUZZ_MAX_CELLS, &g, &err) != LR_OK) {
    FUZZ_CHECK(err.code == LR_EPARSE || err.code == LR_EINVAL || err.code == LR_ENOMEM);
    FUZZ_CHECK(err.msg[0] != '\0');
    FUZZ_CHECK(err.code == LR_ENOMEM || (strcmp(err.file, NAME) == 0 && err.line >= 1 && err.col >= 1));
    FUZZ_CHECK(g.cells == NULL && g.n_cells == 0 && g.name == NULL && g.text == NULL);
    return 0;
  }
  FUZZ_CHECK(g.n_cells >= 1 && g.n_cells <= FUZZ_MAX_CELLS);
  FUZZ_CHECK(g.name && g.name[0] && g.text_len == size && strlen(g.text_sha256) == 64);
  FUZZ_CHECK(g.runtime.jobs >= 1 && g.n_grid_axes <= g.n_axes);
  for (size_t i = 0; i < g.n_cells; i++) {
    check_cell(&g, &g.cells[i]);
    for (size_t j = 0; j < i; j++)
      FUZZ_CHECK(strcmp(g.cells[i].run_key, g.cells[j].run_key) != 0);
  }
  lr_grid_release(&g);
  return 0;
}
