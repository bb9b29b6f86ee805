/*
 * shards.h: the results of Slurm array tasks, one SQLite file each, and their merge into the
 * main database.
 *
 * A task never writes the main database: SQLite's locking does not hold across machines on
 * NFS, Lustre or GPFS.  It runs its runs into a database of its own on node-local disk (the same
 * schema: a lorens database holding its sweep and its runs), then publishes it into its
 * submission directory on the shared file system:
 *
 *   SUBMISSION/shards/task-N.db        the task's database, left out of WAL mode
 *   SUBMISSION/shards/task-N.db.runs/  its runs' adapters (FILE.runs, store.h)
 *   SUBMISSION/shards/task-N.done      written last: the shard is complete
 *
 * each copied under a temporary name, fsynced and renamed (file-copy.h), so a shard without its
 * marker is one still being published, and never read.  `lorens collect` merges every marked
 * shard under a shards root (SUBMISSION directories one level down) by run_key.
 */
#ifndef LORENS_SLURM_SHARDS_H
#define LORENS_SLURM_SHARDS_H

#include <stdio.h>

#include "base/error.h"
#include "store/store.h"

/* Publishes the task database at local_db (closed, out of WAL mode) and its runs directory as
 * task `task` of the submission, then writes its marker holding `note` (one line). */
lr_status lr_shard_publish(const char *local_db, const char *submission, long task,
                           const char *note, lr_err *err);

/* Whether task `task` of the submission has published its shard. */
int lr_shard_published(const char *submission, long task);

typedef struct lr_collect_result {
  long shards;        /* marked shards found */
  long merged;        /* runs whose rows this collect brought into the main database */
  long skipped;       /* shards left alone: unreadable, not a lorens database, corrupt */
} lr_collect_result;

/*
 * Merges every marked shard under root (root/SUBMISSION/shards/task-N.db, in name order) into
 * main, one transaction per shard: each run the shard finished (done, diverged or failed) whose
 * run_key the main database has and has not finished (done or diverged) gets the shard's status,
 * times and rows (members, train_log, evaluations, predictions, in place of whatever an earlier
 * attempt left) and its adapters copied into the main database's runs directory.  A run already
 * finished in main is left as it is, so collecting twice changes nothing.  A shard that cannot
 * be read, is not a lorens database or fails SQLite's quick_check is reported on `report` by
 * name and left alone; the others are merged all the same.  Fails only when the main database
 * cannot be written.
 */
lr_status lr_collect(lr_store *main, const char *root, FILE *report, lr_collect_result *res,
                     lr_err *err);

#endif /* LORENS_SLURM_SHARDS_H */
