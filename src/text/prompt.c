/*
 * prompt.c: templates, truncation and the choice-letter tokens (see prompt.h).
 */
#include "compat.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/suggest.h"
#include "text/prompt.h"

struct lr_template {
  const char *name;
  const char *head;       /* before the question */
  const char *choices;    /* before the first choice */
  const char *after_letter; /* ". " follows "A" */
  const char *between;    /* between choices */
  const char *tail;       /* after the last choice; ends with "Answer:" */
  bool cloze;             /* choices are not listed: each is scored by its own text */
};

static const lr_template templates[] = {
    /* The paper's one-line form. */
    {"select", "Select one of the choices that answers the following question: ", " Choices: ",
     ". ", " ", " Answer:", false},
    /* The common multi-line form. */
    {"qa", "Question: ", "\nChoices:\n", ") ", "\n", "\nAnswer:", false},
    /* No list: choice k is the continuation " " + its text, as likelihood evaluations of base
     * models score ARC or OpenBookQA. */
    {"cloze", "", NULL, NULL, NULL, " Answer:", true},
};

lr_status lr_template_find(const char *name, const lr_template **out, lr_err *err) {
  const char *names[LR_ARRAY_LEN(templates)], *guess;
  for (size_t i = 0; i < LR_ARRAY_LEN(templates); i++) {
    names[i] = templates[i].name;
    if (strcmp(name, templates[i].name) == 0) {
      *out = &templates[i];
      return LR_OK;
    }
  }
  guess = lr_suggest(name, names, LR_ARRAY_LEN(names));
  *out = NULL;
  return lr_fail(err, LR_EINVAL, "unknown prompt template '%s'%s%s%s (templates: %s)", name,
                 guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "",
                 LR_TEMPLATE_NAMES);
}

const char *lr_template_name(const lr_template *t) {
  return t->name;
}

bool lr_template_is_cloze(const lr_template *t) {
  return t->cloze;
}

const char *lr_prompt_answer(const lr_template *t, const lr_example *ex, int k, char letter[2]) {
  if (t->cloze)
    return ex->choices[k];
  letter[0] = (char)('A' + k);
  letter[1] = '\0';
  return letter;
}

void lr_prompt_init(lr_prompt *p) {
  memset(p, 0, sizeof *p);
  lr_ids_init(&p->ids);
  for (int k = 0; k < LR_DATASET_MAX_CHOICES; k++)
    lr_ids_init(&p->cont[k]);
}

void lr_prompt_release(lr_prompt *p) {
  lr_ids_release(&p->ids);
  for (int k = 0; k < LR_DATASET_MAX_CHOICES; k++)
    lr_ids_release(&p->cont[k]);
}

char *lr_prompt_text(const lr_template *t, const lr_example *ex, size_t skip) {
  lr_buf b = LR_BUF_INIT; /* a failed append sticks: checked once, by lr_buf_detach */
  size_t qlen = strlen(ex->question);
  lr_buf_adds(&b, t->head, NULL);
  lr_buf_add(&b, ex->question + (skip < qlen ? skip : qlen), skip < qlen ? qlen - skip : 0, NULL);
  if (!t->cloze)
    lr_buf_adds(&b, t->choices, NULL);
  for (int k = 0; !t->cloze && k < ex->n_choices; k++) {
    if (k)
      lr_buf_adds(&b, t->between, NULL);
    lr_buf_addch(&b, (char)('A' + k), NULL);
    lr_buf_adds(&b, t->after_letter, NULL);
    lr_buf_adds(&b, ex->choices[k], NULL);
  }
  lr_buf_adds(&b, t->tail, NULL);
  return lr_buf_detach(&b, NULL);
}

/* Tokenizes the prompt with `skip` bytes of the question dropped. */
static lr_status encode_prompt(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                               size_t skip, lr_ids *ids, lr_err *err) {
  char *text = lr_prompt_text(o->tmpl, ex, skip);
  lr_status rc;
  int32_t bos = lr_tokenizer_bos(tok);
  if (text == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  ids->n = 0;
  rc = o->add_bos && bos >= 0 ? lr_ids_push(ids, bos, err) : LR_OK;
  if (rc == LR_OK)
    rc = lr_tokenizer_encode(tok, text, strlen(text), 0, ids, err);
  free(text);
  return rc;
}

/* Byte offsets where the question's words start (the first is 0), and its length last. */
static size_t *word_starts(const char *q, size_t *n) {
  size_t len = strlen(q), count = 0, *out = malloc((len + 2) * sizeof *out);
  if (out == NULL)
    return NULL;
  out[count++] = 0;
  for (size_t i = 1; i < len; i++)
    if (!isspace((unsigned char)q[i]) && isspace((unsigned char)q[i - 1]))
      out[count++] = i;
  out[count++] = len;
  *n = count;
  return out;
}

/* Drops the fewest words from the start of the question that make the prompt fit `limit`
 * tokens, bisecting over word starts (fewer question words never mean more tokens).  When even
 * the prompt without its question is longer, *fits is false and out holds that prompt. */
static lr_status fit(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                     size_t limit, lr_prompt *out, bool *fits, lr_err *err) {
  size_t n = 0, *starts = word_starts(ex->question, &n), lo = 0, hi;
  lr_status rc;
  if (starts == NULL)
    return lr_fail(err, LR_ENOMEM, "out of memory");
  hi = n - 1; /* dropping everything: must fit, or the example cannot be asked at all */
  rc = encode_prompt(tok, o, ex, starts[hi], &out->ids, err);
  *fits = rc == LR_OK && out->ids.n <= limit;
  /* Invariant: skipping starts[hi] fits, skipping starts[lo] does not (lo = 0 was tried). */
  while (rc == LR_OK && *fits && hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    rc = encode_prompt(tok, o, ex, starts[mid], &out->ids, err);
    if (out->ids.n <= limit)
      hi = mid;
    else
      lo = mid;
  }
  if (rc == LR_OK) {
    out->dropped_chars = starts[hi];
    if (*fits)
      rc = encode_prompt(tok, o, ex, starts[hi], &out->ids, err);
  }
  free(starts);
  return rc;
}

/* The tokens of " X" (the letter, or the choice's text for a cloze template) after the prompt,
 * checking that the prompt's tokens stay as they are. */
static lr_status letter_tokens(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                               lr_prompt *p, int k, lr_ids *scratch, lr_err *err) {
  char *text = lr_prompt_text(o->tmpl, ex, p->dropped_chars), *joined = NULL, letter[2];
  const char *answer = lr_prompt_answer(o->tmpl, ex, k, letter);
  size_t base = o->add_bos && lr_tokenizer_bos(tok) >= 0, plen = p->ids.n - base, extra;
  lr_status rc = LR_OK;
  if (text == NULL || asprintf(&joined, "%s %s", text, answer) < 0) {
    free(text);
    return lr_fail(err, LR_ENOMEM, "out of memory");
  }
  scratch->n = 0;
  rc = lr_tokenizer_encode(tok, joined, strlen(joined), 0, scratch, err);
  if (rc == LR_OK && (scratch->n <= plen || memcmp(scratch->v, p->ids.v + base, plen * sizeof *scratch->v))) {
    p->unscorable = true;
    rc = lr_fail_at(err, LR_EINVAL, ex->file, ex->line, 0,
                    "example '%s': the tokenizer merges the answer ' %s' with the end of "
                    "the prompt, so it cannot be scored after it", ex->id, answer);
  }
  extra = rc == LR_OK ? scratch->n - plen : 0;
  p->cont[k].n = 0;
  for (size_t j = 0; rc == LR_OK && j < extra; j++)
    rc = lr_ids_push(&p->cont[k], scratch->v[plen + j], err);
  if (rc == LR_OK) {
    p->choice_ids[k] = p->cont[k].v[0];
    p->single = p->single && extra == 1;
  }
  free(text);
  free(joined);
  return rc;
}

size_t lr_prompt_tokens(const lr_prompt *p) {
  size_t longest = 0;
  for (int k = 0; k < p->n_choices; k++)
    longest = p->cont[k].n > longest ? p->cont[k].n : longest;
  return p->ids.n + longest;
}

/* Every choice's continuation after the prompt as it now is. */
static lr_status continuations(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                               lr_prompt *out, lr_err *err) {
  lr_ids scratch;
  lr_status rc = LR_OK;
  out->single = true;
  lr_ids_init(&scratch);
  for (int k = 0; rc == LR_OK && k < ex->n_choices; k++)
    rc = letter_tokens(tok, o, ex, out, k, &scratch, err);
  lr_ids_release(&scratch);
  return rc;
}

lr_status lr_prompt_build(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                          lr_prompt *out, lr_err *err) {
  bool fits = true;
  size_t cont;
  lr_status rc;
  out->dropped_chars = 0;
  out->context_cut = false;
  out->misfit = 0;
  out->unscorable = false;
  out->n_choices = ex->n_choices;
  for (int k = 0; k < LR_DATASET_MAX_CHOICES; k++)
    out->cont[k].n = 0;
  rc = encode_prompt(tok, o, ex, 0, &out->ids, err);
  if (rc == LR_OK && o->max_len && out->ids.n > o->max_len &&
      (rc = fit(tok, o, ex, o->max_len, out, &fits, err)) == LR_OK && !fits)
    return lr_fail_at(err, LR_EINVAL, ex->file, ex->line, 0,
                      "example '%s': the prompt needs %zu tokens without its question, more than "
                      "max_len %zu", ex->id, out->ids.n, o->max_len);
  if (rc == LR_OK)
    rc = continuations(tok, o, ex, out, err);
  if (rc != LR_OK || o->context == 0 || lr_prompt_tokens(out) <= o->context)
    return rc;
  /* Too long for the model: the question loses words as for max_len, the continuations stay. */
  cont = lr_prompt_tokens(out) - out->ids.n;
  rc = fit(tok, o, ex, o->context > cont ? o->context - cont : 0, out, &fits, err);
  out->context_cut = true;
  /* The prompt's end is unchanged, but its continuations are found again as they would be. */
  if (rc == LR_OK)
    rc = continuations(tok, o, ex, out, err);
  if (rc == LR_OK && (!fits || lr_prompt_tokens(out) > o->context)) {
    out->misfit = lr_prompt_tokens(out);
    return lr_fail_at(err, LR_EINVAL, ex->file, ex->line, 0,
                      "example '%s': prompt and choice take %zu tokens%s, the model's context is "
                      "%zu", ex->id, out->misfit, fits ? "" : " without the question",
                      o->context);
  }
  return rc;
}

/* ---- reports -------------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  return slash ? slash + 1 : path ? path : "";
}

void lr_prompt_report_init(lr_prompt_report *r) {
  memset(r, 0, sizeof *r);
  lr_err_init(&r->first);
}

void lr_prompt_report_add(lr_prompt_report *r, const lr_example *ex, const lr_prompt *p,
                          const lr_err *e) {
  size_t used = strlen(r->also);
  char why[64];
  if (!lr_prompt_bad(p)) {
    r->n_cut += p->context_cut;
    return;
  }
  r->n_unscorable += p->misfit == 0;
  if (r->n_misfit++ == 0) {
    r->first = *e;
    return;
  }
  if (p->misfit)
    snprintf(why, sizeof why, "%zu tokens", p->misfit);
  else
    snprintf(why, sizeof why, "an answer merges with the prompt");
  if (r->n_listed < LR_PROMPT_REPORT_LISTED) {
    int n = snprintf(r->also + used, sizeof r->also - used, ", %s:%d '%s' (%s)",
                     base_name(ex->file), ex->line, ex->id, why);
    if (n > 0 && (size_t)n < sizeof r->also - used)
      r->n_listed++;
    else
      r->also[used] = '\0'; /* an entry that does not fit is only counted */
  }
}

lr_status lr_prompt_report_check(const lr_prompt_report *r, lr_err *err) {
  char more[64] = "";
  size_t rest;
  if (r->n_misfit == 0)
    return LR_OK;
  if (r->n_misfit == 1)
    return lr_fail_at(err, LR_EINVAL, r->first.file, r->first.line, 0, "%s", r->first.msg);
  rest = r->n_misfit - 1 - r->n_listed;
  if (rest > 0)
    snprintf(more, sizeof more, "%s%zu more", r->n_listed ? " and " : " ", rest);
  /* r->also starts with ", ": its first entry follows "also" after the space. */
  return lr_fail_at(err, LR_EINVAL, r->first.file, r->first.line, 0,
                    "%s; %zu examples %s, also%s%s", r->first.msg, r->n_misfit,
                    r->n_unscorable ? "cannot be scored" : "do not fit",
                    r->n_listed ? r->also + 1 : "", more);
}

/*
 * A continuation of one token whose piece is the shared first piece plus more ("▁B" where the
 * others are "▁" then "A") becomes those two tokens, when the rest is a token of its own.
 */
static bool split_merged(const lr_tokenizer *tok, int32_t first, int32_t merged, int32_t *rest) {
  const char *fp = lr_tokenizer_piece(tok, first), *mp = lr_tokenizer_piece(tok, merged);
  size_t n = fp ? strlen(fp) : 0;
  if (!fp || !mp || n == 0 || strncmp(mp, fp, n) != 0 || mp[n] == '\0')
    return false;
  *rest = lr_tokenizer_token_id(tok, mp + n);
  return *rest >= 0;
}

lr_status lr_prompt_fold(const lr_tokenizer *tok, lr_prompt *p, bool *folded, lr_err *err) {
  size_t len = 0;
  int first = -1;
  *folded = p->single;
  if (p->single || p->n_choices == 0)
    return LR_OK;
  for (int k = 0; k < p->n_choices && first < 0; k++)
    if (p->cont[k].n >= 2)
      first = k;
  if (first < 0)
    return LR_OK;
  len = p->cont[first].n;
  /* Continuations of one token that merge the shared first piece with the rest are split. */
  for (int k = 0; k < p->n_choices; k++) {
    int32_t rest;
    if (p->cont[k].n != 1)
      continue;
    if (len != 2 || !split_merged(tok, p->cont[first].v[0], p->cont[k].v[0], &rest))
      return LR_OK;
    lr_status rc;
    p->cont[k].v[0] = p->cont[first].v[0];
    if ((rc = lr_ids_push(&p->cont[k], rest, err)) != LR_OK)
      return rc;
  }
  for (int k = 0; k < p->n_choices; k++) {
    if (p->cont[k].n != len)
      return LR_OK;
    for (size_t j = 0; j + 1 < len; j++)
      if (p->cont[k].v[j] != p->cont[0].v[j])
        return LR_OK;
    for (int q = 0; q < k; q++)
      if (p->cont[q].v[len - 1] == p->cont[k].v[len - 1])
        return LR_OK;
  }
  for (size_t j = 0; j + 1 < len; j++) {
    lr_status rc = lr_ids_push(&p->ids, p->cont[0].v[j], err);
    if (rc != LR_OK)
      return rc;
  }
  for (int k = 0; k < p->n_choices; k++) {
    p->cont[k].v[0] = p->choice_ids[k] = p->cont[k].v[len - 1];
    p->cont[k].n = 1;
  }
  p->single = *folded = true;
  return LR_OK;
}
