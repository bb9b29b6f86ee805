/*
 * prompt.h: multiple-choice prompts as token ids, with the token each choice letter is scored by.
 *
 * A template renders an example as text ending in "Answer:"; choice k is scored by the tokens the
 * tokenizer produces for " A" (" B", ...) right after that text: one token ("▁A" for a
 * SentencePiece LLaMA, "ĠA" for byte-level BPE) with a real vocabulary, sometimes two with a tiny
 * one ("▁" then "A").  Appending the letter must leave the prompt's own tokens unchanged, or the
 * letter could not be scored after the prompt at all: such a tokenizer is refused clearly.  A
 * prompt longer than max_len loses words from the start of the question, never the choices; so
 * does one whose tokens and longest continuation do not fit the model's context (positions past
 * it are ones the model never saw), and an example that does not fit even without its question
 * is an error naming it.
 */
#ifndef LORENS_PROMPT_H
#define LORENS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

typedef struct lr_template lr_template; /* one of the built-in templates */

/* The template called `name` ("select", "qa"); errors list the names and suggest the nearest. */
lr_status lr_template_find(const char *name, const lr_template **out, lr_err *err);
const char *lr_template_name(const lr_template *t);

/* Whether the template is "cloze": the prompt is the question and " Answer:", with no list of
 * choices, and choice k is scored by the tokens of " " + its text instead of " A", " B" ... */
bool lr_template_is_cloze(const lr_template *t);

/* What follows the prompt (after a space) when choice k is the answer: its letter (written into
 * letter), or for a cloze template its text. */
const char *lr_prompt_answer(const lr_template *t, const lr_example *ex, int k, char letter[2]);
/* "select|qa|cloze", for usage lines. */
#define LR_TEMPLATE_NAMES "select|qa|cloze"

typedef struct lr_prompt_opts {
  const lr_template *tmpl;
  bool add_bos;   /* put the tokenizer's BOS token first */
  size_t max_len; /* most prompt tokens, BOS included; 0 = no limit */
  size_t context; /* the model's context (max_position_embeddings): most tokens of the prompt and
                     its longest continuation together; 0 = no limit */
} lr_prompt_opts;

typedef struct lr_prompt {
  lr_ids ids;                                   /* the prompt's tokens */
  int n_choices;
  /* The continuation of each choice after the prompt, as long as it is (the prompt and the
   * longest together within the context); its first token is choice_ids[k]. */
  lr_ids cont[LR_DATASET_MAX_CHOICES];
  int32_t choice_ids[LR_DATASET_MAX_CHOICES];
  bool single;                                  /* every continuation is one token */
  size_t dropped_chars;                         /* of the question, when it was truncated */
  bool context_cut;                             /* truncated to fit the context */
  size_t misfit;  /* when lr_prompt_build failed because the example does not fit the context even
                     without its question: the tokens it takes so; else 0 */
  bool unscorable; /* lr_prompt_build failed because the tokenizer merges an answer with the end
                      of the prompt, so that it cannot be scored after it */
} lr_prompt;

/* Whether lr_prompt_build failed for a reason of the example's own (it does not fit, or cannot
 * be scored), which the callers gather to report every such example at once, or skip. */
static inline bool lr_prompt_bad(const lr_prompt *p) {
  return p->misfit > 0 || p->unscorable;
}

void lr_prompt_init(lr_prompt *p);
void lr_prompt_release(lr_prompt *p);

/* Renders the prompt text of an example (malloc'ed), with the question starting at byte `skip`. */
char *lr_prompt_text(const lr_template *t, const lr_example *ex, size_t skip);

/* Builds ex's prompt into *out (reusing its buffer).  Errors name the example (file:line); one
 * that does not fit o->context is "example 'ID': prompt and choice take N tokens without the
 * question, the model's context is M", with out->misfit = N. */
lr_status lr_prompt_build(lr_tokenizer *tok, const lr_prompt_opts *o, const lr_example *ex,
                          lr_prompt *out, lr_err *err);

/* The most tokens the prompt and one of its continuations take together. */
size_t lr_prompt_tokens(const lr_prompt *p);

/*
 * What building a data set's prompts found, gathered over one or more sets so that one error
 * names every example that does not fit the context: the first in full, the next few by place,
 * and the count.  Zero-initialise it (or lr_prompt_report_init).
 */
#define LR_PROMPT_REPORT_LISTED 5
typedef struct lr_prompt_report {
  size_t n_cut;     /* questions cut from the start to fit the context */
  size_t n_misfit;  /* examples that cannot be scored (lr_prompt_bad): they do not fit it even
                       without their question, or an answer merges with the prompt */
  size_t n_unscorable; /* of those, the ones whose answer merges with the prompt */
  lr_err first;     /* the first one's error */
  char also[512];   /* ", test.jsonl:9 'q9' (131 tokens)" for the next few */
  size_t n_listed;
} lr_prompt_report;

void lr_prompt_report_init(lr_prompt_report *r);

/* Counts a built prompt; for one that failed for a reason of its own (lr_prompt_bad), e is its
 * error. */
void lr_prompt_report_add(lr_prompt_report *r, const lr_example *ex, const lr_prompt *p,
                          const lr_err *e);

/* LR_OK when every example fits; else records in err the first misfit's error, followed by how
 * many there are and where the next few are, and returns LR_EINVAL. */
lr_status lr_prompt_report_check(const lr_prompt_report *r, lr_err *err);

/*
 * Scores every choice at one position, as training needs, when the letters' continuations allow
 * it: they share every token but their last ("▁" then "A", "▁" then "B" with a tiny vocabulary),
 * and a one-token continuation that merges that shared piece with its letter ("▁B") counts as the
 * two tokens "▁", "B" when "B" is a token.  The shared tokens move into the prompt and each choice
 * is scored by its last token.  Where nothing was split, the choice probabilities do not change
 * (the shared tokens' probability is a common factor); a split continuation is scored by a
 * tokenization the tokenizer would not choose itself.  *folded says whether p is now single; it
 * is left as it was when its continuations cannot be folded.
 */
lr_status lr_prompt_fold(const lr_tokenizer *tok, lr_prompt *p, bool *folded, lr_err *err);


#endif /* LORENS_PROMPT_H */
