/*
 * stacked-batch.h: the members' batches of one training step as one batch, so that a pass runs
 * every member's rows through each frozen product at once (llama-lora.c, members stacked).
 *
 * The members' examples follow one another, member 0's first; the arrays strided by max_choices
 * (choice_ids, choice_len, and kl_target over the choices) are re-strided to the largest
 * max_choices among the members, unused entries zero.  Each member's view is its examples in
 * the stacked arrays, with the stacked stride: what the loss of that member reads.  Token
 * offsets run on across members; token_base[m] is what member m's tokens were shifted by, so
 * that a token's index within its own batch (which keys its dropout mask) is recovered.
 */
#ifndef LORENS_STACKED_BATCH_H
#define LORENS_STACKED_BATCH_H

#include <stdint.h>

#include <lorens/backend.h>

typedef struct lr_stacked_batch {
  lorens_batch all;
  const uint32_t *choice_len; /* all's, [all.n * all.max_choices]; NULL without */
  uint32_t n_members;
  uint32_t *first;      /* n_members + 1: member m's examples are first[m] .. first[m + 1] - 1 */
  uint32_t *token_base; /* n_members */
  lorens_batch *views;  /* n_members */
  void *mem;
} lr_stacked_batch;

/* Stacks b[0 .. n_members - 1] (choice_len[m] each, all NULL or none; a member with no examples
 * takes no rows).  kl_width: the entries of an example's kl_target when it is over the
 * vocabulary (its size), or 0 when over the choices (max_choices); with kl_target NULL in the
 * members' batches there is none.  Returns 0, or -1 when out of memory. */
int lr_stacked_batch_make(lr_stacked_batch *s, const lorens_batch *b,
                          const uint32_t *const *choice_len, uint32_t n_members, size_t kl_width);
void lr_stacked_batch_free(lr_stacked_batch *s);

#endif /* LORENS_STACKED_BATCH_H */
