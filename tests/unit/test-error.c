/*
 * test-error.c: the lr_err context: first failure wins, context prefixes, formatting.
 */
#include "compat.h"

#include <string.h>

#include "base/error.h"
#include "../tap.h"

static void test_first_failure_wins(void) {
  lr_err e;
  lr_err_init(&e);
  tap_is_int(e.code, LR_OK, "a fresh context holds no error");
  tap_is_int(lr_fail(&e, LR_EIO, "cannot open '%s'", "a.yaml"), LR_EIO, "lr_fail returns its status");
  tap_is_int(lr_fail(&e, LR_ENOMEM, "later failure"), LR_ENOMEM, "a second lr_fail still returns its own status");
  tap_is_int(e.code, LR_EIO, "the first status is kept");
  tap_is_str(e.msg, "cannot open 'a.yaml'", "the first message is kept");
  tap_is_int(lr_fail(NULL, LR_EINVAL, "no context"), LR_EINVAL, "a NULL context is allowed");
}

static void test_locations(void) {
  lr_err e;
  char buf[256];
  lr_err_init(&e);
  lr_fail_at(&e, LR_EPARSE, "grid.yaml", 14, 7, "unknown key '%s' (did you mean '%s'?)", "rnak", "rank");
  lr_err_format(&e, buf, sizeof buf);
  tap_is_str(buf, "grid.yaml:14:7: unknown key 'rnak' (did you mean 'rank'?)", "file:line:col: message");

  lr_err_init(&e);
  lr_fail_at(&e, LR_EPARSE, "train.jsonl", 3, 0, "missing field 'answerKey'");
  lr_err_format(&e, buf, sizeof buf);
  tap_is_str(buf, "train.jsonl:3: missing field 'answerKey'", "file:line when the column is unknown");

  lr_err_init(&e);
  lr_fail_at(&e, LR_EIO, "model.safetensors", 0, 0, "truncated header");
  lr_err_format(&e, buf, sizeof buf);
  tap_is_str(buf, "model.safetensors: truncated header", "file alone when no line is known");

  lr_err_init(&e);
  e.code = LR_ENOMEM;
  lr_err_format(&e, buf, sizeof buf);
  tap_is_str(buf, "out of memory", "the status text stands in for a missing message");

  lr_err_format(&e, buf, 4);
  tap_is_int((long long)strlen(buf), 3, "formatting truncates to the buffer and terminates it");
}

static void test_prefix(void) {
  lr_err e;
  lr_err_init(&e);
  lr_err_prefix(&e, "loading %s: ", "model");
  tap_is_str(e.msg, "", "a prefix without an error does nothing");
  lr_fail(&e, LR_EPARSE, "bad dtype 'Q4'");
  lr_err_prefix(&e, "loading %s: ", "model");
  tap_is_str(e.msg, "loading model: bad dtype 'Q4'", "a prefix goes in front of the message");
  tap_is_int(e.code, LR_EPARSE, "a prefix keeps the status");
}

static void test_status_text(void) {
  tap_is_str(lr_strerror(LR_OK), "success", "LR_OK text");
  tap_is_str(lr_strerror(LR_EABI), "incompatible plugin ABI", "LR_EABI text");
  tap_is_str(lr_strerror((lr_status)9999), "unknown status", "a status from a newer lorens");
  tap_is_str(lr_status_name(LR_EPARSE), "EPARSE", "symbolic name");
  tap_is_str(lr_status_name((lr_status)-1), "EUNKNOWN", "symbolic name of an unknown status");
  /* Values are stored in databases and cross the plugin ABI: they must never move. */
  tap_is_int(LR_ENOMEM, 1, "LR_ENOMEM is 1");
  tap_is_int(LR_EBACKEND, 6, "LR_EBACKEND is 6");
  tap_is_int(LR_EINTERRUPTED, 10, "LR_EINTERRUPTED is 10");
  tap_is_int(LR_ENOSPC, 11, "LR_ENOSPC is 11");
  for (int s = 0; s < LORENS_STATUS_COUNT_; s++)
    if (strcmp(lr_strerror((lr_status)s), "unknown status") == 0)
      tap_ok(false, "status %d has a text", s);
}

int main(void) {
  test_first_failure_wins();
  test_locations();
  test_prefix();
  test_status_text();
  return tap_done();
}
