/*
 * lora-loss.c: cross-entropy and KL to the base model over choices or vocabulary (lora-loss.h).
 */
#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora-loss.h"

/* Probabilities below this are treated as this, so that KL(p || p0) stays finite when the base
 * model gives a choice (numerically) zero probability. */
#define KL_FLOOR 1e-30

int lr_loss_needs_vocab(const lr_loss_opts *o) {
  return o->loss_support == LORENS_SUPPORT_VOCAB ||
         (o->kl_weight != 0 && o->kl_support == LORENS_SUPPORT_VOCAB);
}

/* log-softmax of z over the entries named by idx (or 0..n-1 when idx is NULL) into logp. */
static void log_softmax(const real *z, const int32_t *idx, int n, double *logp) {
  double mx = -INFINITY, sum = 0;
  for (int j = 0; j < n; j++) {
    double v = z[idx ? idx[j] : j];
    logp[j] = v;
    if (v > mx)
      mx = v;
  }
  for (int j = 0; j < n; j++)
    sum += exp(logp[j] - mx);
  for (int j = 0; j < n; j++)
    logp[j] -= mx + log(sum);
}

/* One support (choices or vocabulary) of one example: its logits, as indices into the row. */
typedef struct support {
  const int32_t *idx; /* NULL: the whole row */
  int n;
} support;

static support support_of(const lorens_batch *b, int vocab_mode, int which, uint32_t i, int vocab) {
  support s;
  if (which == LORENS_SUPPORT_VOCAB) {
    s.idx = NULL;
    s.n = vocab;
  } else {
    /* In vocabulary mode the choices are columns choice_ids; otherwise the row holds them. */
    s.idx = vocab_mode ? b->choice_ids + (size_t)i * b->max_choices : NULL;
    s.n = (int)b->n_choices[i];
  }
  return s;
}

static void add_grad(real *drow, const support *s, int j, double g) {
  drow[s->idx ? s->idx[j] : j] += (real)g;
}

/* KL term of one example, with its gradient (scaled by `scale`) added into drow. */
static double kl_term(const support *s, const double *logp, const float *target, int direction,
                      double scale, real *drow) {
  double kl = 0, mass = 0;
  for (int j = 0; j < s->n; j++) {
    double p = exp(logp[j]), q = target[j];
    double logq = log(q > KL_FLOOR ? q : KL_FLOOR);
    mass += q;
    if (direction == LORENS_KL_MEMBER_BASE)
      kl += p * (logp[j] - logq);
    else if (q > 0)
      kl += q * (logq - logp[j]);
  }
  if (drow == NULL)
    return kl;
  for (int j = 0; j < s->n; j++) {
    double p = exp(logp[j]), q = target[j];
    double logq = log(q > KL_FLOOR ? q : KL_FLOOR);
    /* d/dz_j of sum p (log p - log q) is p_j (log p_j - log q_j - KL); of sum q (log q - log p)
     * it is p_j * sum(q) - q_j. */
    double g = direction == LORENS_KL_MEMBER_BASE ? p * (logp[j] - logq - kl) : p * mass - q;
    add_grad(drow, s, j, scale * g);
  }
  return kl;
}

void lr_loss_compute(const lorens_batch *b, const lr_loss_opts *o, int vocab, const real *logits,
                     real *dlogits, lr_loss *out) {
  int vocab_mode = lr_loss_needs_vocab(o);
  size_t width = vocab_mode ? (size_t)vocab : b->max_choices;
  double *logp = malloc((size_t)(vocab > (int)b->max_choices ? vocab : (int)b->max_choices) * sizeof *logp);
  double ce_sum = 0, kl_sum = 0, inv_n = 1.0 / b->n;
  memset(out, 0, sizeof *out);
  if (logp == NULL)
    return;
  if (dlogits)
    memset(dlogits, 0, b->n * width * sizeof *dlogits);
  for (uint32_t i = 0; i < b->n; i++) {
    const real *row = logits + i * width;
    real *drow = dlogits ? dlogits + i * width : NULL;
    support s = support_of(b, vocab_mode, o->loss_support, i, vocab);
    int label = b->labels[i];
    if (o->loss_support == LORENS_SUPPORT_VOCAB)
      label = b->choice_ids[(size_t)i * b->max_choices + (size_t)label];
    log_softmax(row, s.idx, s.n, logp);
    ce_sum -= logp[label];
    if (drow) {
      for (int j = 0; j < s.n; j++)
        add_grad(drow, &s, j, inv_n * (exp(logp[j]) - (j == label)));
    }
    if (o->kl_weight != 0) {
      support k = support_of(b, vocab_mode, o->kl_support, i, vocab);
      size_t tw = o->kl_support == LORENS_SUPPORT_VOCAB ? (size_t)vocab : b->max_choices;
      log_softmax(row, k.idx, k.n, logp);
      kl_sum += kl_term(&k, logp, b->kl_target + i * tw, o->kl_direction,
                        inv_n * o->kl_weight, drow);
    }
  }
  free(logp);
  out->ce = ce_sum * inv_n;
  out->kl = kl_sum * inv_n;
  out->loss = out->ce + (double)o->kl_weight * out->kl;
}

/* log sum exp of a vocabulary row. */
static double row_lse(const real *row, int vocab) {
  double mx = -INFINITY, sum = 0;
  for (int j = 0; j < vocab; j++)
    mx = row[j] > mx ? row[j] : mx;
  for (int j = 0; j < vocab; j++)
    sum += exp(row[j] - mx);
  return mx + log(sum);
}

void lr_loss_next_token(const real *logits, size_t rows, int vocab, const int32_t *targets,
                        real *dlogits, lr_loss *out) {
  double ce_sum = 0, inv_n = rows ? 1.0 / (double)rows : 0;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < rows; i++) {
    const real *row = logits + i * (size_t)vocab;
    double lse = row_lse(row, vocab);
    ce_sum += lse - row[targets[i]];
    if (dlogits) {
      real *drow = dlogits + i * (size_t)vocab;
      for (int j = 0; j < vocab; j++)
        drow[j] = (real)(inv_n * (exp(row[j] - lse) - (j == targets[i])));
    }
  }
  out->ce = ce_sum * inv_n;
  out->loss = out->ce;
}

size_t lr_choice_rows(const lorens_batch *b, const uint32_t *choice_len, uint32_t i) {
  size_t rows = 1;
  for (uint32_t k = 0; k < b->n_choices[i]; k++)
    rows += choice_len[(size_t)i * b->max_choices + k] - 1;
  return rows;
}

/*
 * Token j of choice k is predicted by row 0 of its example (the prompt's last position) when
 * j = 0, else by the row of token j - 1: rows 1.. hold choice 0's first len_0 - 1 tokens, then
 * choice 1's, and so on.  Its log-probability is z[token] - lse(z); the score of a choice sums
 * them, and the gradient of the loss with respect to a row is the sum, over the tokens that row
 * predicts, of dL/dscore (onehot(token) - softmax(z)).
 */
int lr_loss_multi(const lorens_batch *b, const uint32_t *choice_len, const lr_loss_opts *o,
                  int vocab, const real *logits, real *scores, real *dlogits, lr_loss *out) {
  size_t K = b->max_choices, rows = 0, V = (size_t)vocab;
  double *lse, *coef = NULL;
  real *dscores = NULL;
  for (uint32_t i = 0; i < b->n; i++)
    rows += lr_choice_rows(b, choice_len, i);
  lse = malloc(rows * sizeof *lse);
  if (dlogits) {
    coef = calloc(rows, sizeof *coef);
    dscores = calloc(b->n * K, sizeof *dscores);
  }
  if (lse == NULL || (dlogits && (coef == NULL || dscores == NULL))) {
    free(lse);
    free(coef);
    free(dscores);
    return -1;
  }
  for (size_t r = 0; r < rows; r++)
    lse[r] = row_lse(logits + r * V, vocab);
  /* Scores, then (training) the choice loss and the gradient by the same walk. */
  for (int pass = 0; pass < (dlogits ? 2 : 1); pass++) {
    size_t r0 = 0;
    if (pass == 1) {
      lr_loss_opts oc = *o;
      oc.loss_support = oc.kl_support = LORENS_SUPPORT_CHOICES;
      lr_loss_compute(b, &oc, vocab, scores, dscores, out);
      memset(dlogits, 0, rows * V * sizeof *dlogits);
    }
    for (uint32_t i = 0; i < b->n; i++) {
      const int32_t *tok = b->tokens + b->offsets[i] + b->answer_pos[i] + 1;
      size_t next = r0 + 1; /* the row of the current choice's second token */
      for (uint32_t k = 0; k < b->n_choices[i]; k++) {
        uint32_t len = choice_len[(size_t)i * K + k];
        double sum = 0;
        for (uint32_t j = 0; j < len; j++) {
          size_t r = j == 0 ? r0 : next + j - 1;
          if (pass == 0) {
            sum += (double)logits[r * V + (size_t)tok[j]] - lse[r];
          } else {
            double g = dscores[(size_t)i * K + k];
            coef[r] += g;
            dlogits[r * V + (size_t)tok[j]] += (real)g;
          }
        }
        if (pass == 0)
          scores[(size_t)i * K + k] = (real)sum;
        next += len - 1;
        tok += len;
      }
      r0 = next;
    }
  }
  /* The softmax part of every row's gradient, once its coefficient is summed. */
  for (size_t r = 0; dlogits && r < rows; r++)
    for (size_t v = 0; coef[r] != 0 && v < V; v++)
      dlogits[r * V + v] -= (real)(coef[r] * exp((double)logits[r * V + v] - lse[r]));
  free(lse);
  free(coef);
  free(dscores);
  return 0;
}
