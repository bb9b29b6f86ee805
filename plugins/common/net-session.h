/*
 * net-session.h: the session calls that a backend over the shared driver (llama-lora.h) answers
 * by handing them to its lr_net, whatever its kernels.  The backend defines lr_session_net (where
 * its session keeps the net) and names these in its descriptor; opening and closing a session,
 * which make and free the backend's own context, stay its own.
 */
#ifndef LORENS_NET_SESSION_H
#define LORENS_NET_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <lorens/backend.h>

#include "llama-lora.h"

/* Defined by each backend: the net of one of its sessions, and the lorens_precision its frozen
 * products compute in. */
lr_net *lr_session_net(lorens_session *s);
uint32_t lr_session_precision(lorens_session *s);

lorens_status lr_session_info(lorens_session *s, lorens_session_info *out, char *msg, size_t len);
lorens_status lr_session_member_get(lorens_session *s, uint32_t m, lorens_member_state *out,
                                    char *msg, size_t len);
lorens_status lr_session_member_set(lorens_session *s, uint32_t m,
                                    const lorens_member_state *in, char *msg, size_t len);
lorens_status lr_session_train_step(lorens_session *s, const lorens_train_args *a, char *msg,
                                    size_t len);
lorens_status lr_session_score(lorens_session *s, const lorens_score_args *a, char *msg,
                               size_t len);

#endif /* LORENS_NET_SESSION_H */
