/*
 * stacked-batch.c: the members' batches as one (stacked-batch.h).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "stacked-batch.h"

/* Bump allocation from one block, each array aligned for its type. */
static void *carve(unsigned char **p, size_t bytes) {
  void *at = *p;
  *p += (bytes + 15) / 16 * 16;
  return at;
}

int lr_stacked_batch_make(lr_stacked_batch *s, const lorens_batch *b,
                          const uint32_t *const *choice_len, uint32_t n_members, size_t kl_width) {
  size_t n = 0, tokens = 0, K = 1, bytes;
  int with_len = 0, with_kl = 0;
  memset(s, 0, sizeof *s);
  for (uint32_t m = 0; m < n_members; m++) {
    if (b[m].n == 0)
      continue;
    n += b[m].n;
    tokens += b[m].offsets[b[m].n] - b[m].offsets[0];
    K = b[m].max_choices > K ? b[m].max_choices : K;
    with_len |= choice_len && choice_len[m] != NULL;
    with_kl |= b[m].kl_target != NULL;
  }
  size_t klw = kl_width ? kl_width : K;
  bytes = (tokens * sizeof(int32_t) + 15) + ((n + 1) * sizeof(uint32_t) + 15) +
          3 * (n * sizeof(uint32_t) + 15) + (n * K * sizeof(int32_t) + 15) +
          (with_len ? n * K * sizeof(uint32_t) + 15 : 0) +
          (with_kl ? n * klw * sizeof(float) + 15 : 0) +
          (2 * ((size_t)n_members + 1) * sizeof(uint32_t) + 15) +
          ((size_t)n_members * sizeof(lorens_batch) + 15);
  unsigned char *p = s->mem = calloc(1, bytes);
  if (p == NULL)
    return -1;
  int32_t *tok = carve(&p, tokens * sizeof *tok);
  uint32_t *off = carve(&p, (n + 1) * sizeof *off), *ans = carve(&p, n * sizeof *ans),
           *nch = carve(&p, n * sizeof *nch);
  int32_t *lab = carve(&p, n * sizeof *lab), *cid = carve(&p, n * K * sizeof *cid);
  uint32_t *cl = with_len ? carve(&p, n * K * sizeof *cl) : NULL;
  float *kl = with_kl ? carve(&p, n * klw * sizeof *kl) : NULL;
  s->first = carve(&p, ((size_t)n_members + 1) * sizeof *s->first);
  s->token_base = carve(&p, (size_t)n_members * sizeof *s->token_base);
  s->views = carve(&p, (size_t)n_members * sizeof *s->views);
  s->n_members = n_members;
  size_t e = 0, t = 0;
  off[0] = 0;
  for (uint32_t m = 0; m < n_members; m++) {
    const lorens_batch *bm = &b[m];
    s->first[m] = (uint32_t)e;
    s->token_base[m] = (uint32_t)t - (bm->n ? bm->offsets[0] : 0);
    if (bm->n) {
      size_t used = bm->offsets[bm->n] - bm->offsets[0];
      memcpy(tok + t, bm->tokens + bm->offsets[0], used * sizeof *tok);
      for (uint32_t i = 0; i < bm->n; i++, e++) {
        off[e + 1] = (uint32_t)(t + bm->offsets[i + 1] - bm->offsets[0]);
        ans[e] = bm->answer_pos[i];
        nch[e] = bm->n_choices[i];
        lab[e] = bm->labels ? bm->labels[i] : 0;
        memcpy(cid + e * K, bm->choice_ids + (size_t)i * bm->max_choices,
               bm->max_choices * sizeof *cid);
        if (cl && choice_len[m])
          memcpy(cl + e * K, choice_len[m] + (size_t)i * bm->max_choices,
                 bm->max_choices * sizeof *cl);
        if (kl && bm->kl_target) {
          size_t w = kl_width ? kl_width : bm->max_choices;
          memcpy(kl + e * klw, bm->kl_target + (size_t)i * w, w * sizeof *kl);
        }
      }
      t += used;
    }
  }
  s->first[n_members] = (uint32_t)e;
  s->all = (lorens_batch){(uint32_t)n, (uint32_t)K, tok, off, ans, nch, cid, lab, kl};
  s->choice_len = cl;
  for (uint32_t m = 0; m < n_members; m++) {
    size_t f = s->first[m];
    s->views[m] = (lorens_batch){s->first[m + 1] - s->first[m], (uint32_t)K, tok, off + f,
                                 ans + f, nch + f, cid + f * K, lab + f, kl ? kl + f * klw : NULL};
  }
  return 0;
}

void lr_stacked_batch_free(lr_stacked_batch *s) {
  free(s->mem);
  memset(s, 0, sizeof *s);
}
