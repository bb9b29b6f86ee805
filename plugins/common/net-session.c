/*
 * net-session.c: the session calls every backend over the shared driver forwards to its net
 * (net-session.h).
 */
#include "compat.h"

#include "net-session.h"

lorens_status lr_session_info(lorens_session *s, lorens_session_info *out, char *msg, size_t len) {
  (void)msg;
  (void)len;
  /* The caller sized *out: write only what it has room for. */
  if (LORENS_HAS_FIELD(out, lorens_session_info, n_params))
    out->n_params = lr_net_n_params(lr_session_net(s));
  if (LORENS_HAS_FIELD(out, lorens_session_info, device_bytes))
    out->device_bytes = lr_net_bytes(lr_session_net(s));
  if (LORENS_HAS_FIELD(out, lorens_session_info, precision))
    out->precision = lr_session_precision(s);
  return LORENS_OK;
}

lorens_status lr_session_member_get(lorens_session *s, uint32_t m, lorens_member_state *out,
                                    char *msg, size_t len) {
  return lr_net_member_get(lr_session_net(s), m, out, msg, len);
}

lorens_status lr_session_member_set(lorens_session *s, uint32_t m,
                                    const lorens_member_state *in, char *msg, size_t len) {
  return lr_net_member_set(lr_session_net(s), m, in, msg, len);
}

lorens_status lr_session_train_step(lorens_session *s, const lorens_train_args *a, char *msg,
                                    size_t len) {
  return lr_net_train_step(lr_session_net(s), a, msg, len);
}

lorens_status lr_session_score(lorens_session *s, const lorens_score_args *a, char *msg,
                               size_t len) {
  return lr_net_score(lr_session_net(s), a, msg, len);
}
