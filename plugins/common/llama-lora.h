/*
 * llama-lora.h: a LLaMA-family decoder with M sets of LoRA adapters, over a kernel table.
 *
 * This is the model written once for every backend: the order of operations of the forward and
 * backward passes (embedding; per layer RMSNorm, q/k/v projections with LoRA, RoPE, causal
 * grouped-query attention, output projection, RMSNorm, SwiGLU MLP with LoRA; final norm; head at
 * the answer positions), the member state (adapters, gradients and AdamW moments in one flat
 * buffer per member), and the session calls of the ABI built from them.  All tensor work goes
 * through lr_kernels, so it runs wherever the kernels put memory.
 *
 * Only positions up to each example's answer position are computed: attention is causal, so
 * later tokens cannot change the answer's logits.  Gradients flow to the adapters only; the
 * frozen base weights get none and need no gradient memory.
 */
#ifndef LORENS_LLAMA_LORA_H
#define LORENS_LLAMA_LORA_H

#include <lorens/backend.h>

#include "kernels.h"
#include "lora-loss.h"

typedef struct lr_net lr_net;

/* Opens a network on the model in desc, converting base weights through k->weights. */
lorens_status lr_net_open(const lr_kernels *k, const lorens_session_desc *desc, lr_net **out,
                          char *msg, size_t msg_len);
void lr_net_close(lr_net *net);

uint64_t lr_net_n_params(const lr_net *net);
uint64_t lr_net_bytes(const lr_net *net);

lorens_status lr_net_member_get(lr_net *net, uint32_t member, lorens_member_state *out, char *msg,
                                size_t msg_len);
lorens_status lr_net_member_set(lr_net *net, uint32_t member, const lorens_member_state *in,
                                char *msg, size_t msg_len);
lorens_status lr_net_train_step(lr_net *net, const lorens_train_args *args, char *msg,
                                size_t msg_len);
lorens_status lr_net_score(lr_net *net, const lorens_score_args *args, char *msg, size_t msg_len);

/*
 * For the tests: one forward and backward pass of `member` on batch b, leaving the gradients of
 * the loss in the member's gradient buffer (read them with lr_net_member_grads) and the loss in
 * *out.  choice_len: NULL, or the lengths of choices of several tokens (lorens_support).
 * dropout_seed/step choose the dropout masks (ignored when the session's dropout is 0).
 */
lorens_status lr_net_forward_backward(lr_net *net, uint32_t member, const lorens_batch *b,
                                      const uint32_t *choice_len, const lr_loss_opts *o,
                                      uint64_t dropout_seed,
                                      uint64_t dropout_step, lr_loss *out, char *msg,
                                      size_t msg_len);
/* Copies the member's gradients (n_params values) to host memory. */
lorens_status lr_net_member_grads(lr_net *net, uint32_t member, real *out, char *msg,
                                  size_t msg_len);
/* Host pointer to the member's weights when the kernels keep memory on the host (CPU), for
 * finite-difference tests; NULL otherwise. */
real *lr_net_member_weights_host(lr_net *net, uint32_t member);

#endif /* LORENS_LLAMA_LORA_H */
