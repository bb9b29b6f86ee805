/*
 * store-merge.h: merging another lorens database (the shard of a Slurm array task,
 * run/slurm-shards.h) into this one, by run_key.
 */
#ifndef LORENS_STORE_MERGE_H
#define LORENS_STORE_MERGE_H

#include <stddef.h>

#include "base/error.h"
#include "store/store.h"

/*
 * In one transaction: each run the shard finished (done, diverged or failed) whose run_key s has
 * and has not finished (done or diverged) takes the shard's status, attempts, times and error,
 * and its rows (members, train_log, evaluations, predictions), in place of whatever an earlier
 * attempt left; its directory in the shard's runs directory (SHARD.runs/RUN_KEY: the adapters)
 * is copied into s's (store.h).  *merged: how many runs.  A shard that cannot be merged (cannot
 * be opened, is not a lorens database, has a newer schema, fails SQLite's quick_check) leaves s
 * unchanged: LR_OK with the reason in why (else why is "").  Fails only when s cannot be
 * written.
 */
lr_status lr_store_merge_shard(lr_store *s, const char *shard_path, long *merged, char *why,
                               size_t why_len, lr_err *err);

#endif /* LORENS_STORE_MERGE_H */
