-- db/schema.sql: the lorens results database, as a sequence of forward migrations.
--
-- Each migration starts with a marker line "-- migration N: what it does" (N = 1, 2, ... with no
-- gaps) and runs up to the next marker.  A new database runs every migration in order; a database
-- at version k runs k+1 .. latest.  lorens embeds this file at build time (src/store/store-sql.c) and
-- src/store/store.c runs each migration in its own transaction, which also sets PRAGMA user_version and
-- the one row of schema_version to N, so a database is always exactly at one version.
--
-- Rules for changing the schema: never edit a migration that has been released; append a new one.
-- Never drop or rename a column (readers of older files depend on them), only add.  Migrations run
-- with foreign keys off and a foreign_key_check before commit, so the usual "create new table, copy,
-- drop, rename" recipe works.  docs/store.md documents every table and column.
--
-- Tables are STRICT (SQLite >= 3.37): a value of the wrong type is an error, not silently stored.
-- Times: sweeps.created_at is ISO 8601 UTC text; every other time is unix time in seconds (REAL).
-- SQLite turns NaN into NULL, so rows with metrics carry an explicit `finite` flag.

-- migration 1: initial schema
PRAGMA application_id = 1280462419;  -- 'LRNS': marks the file as a lorens database

CREATE TABLE schema_version (
  version INTEGER NOT NULL
) STRICT;

-- One row per YAML grid run against this database (same name and same YAML text = same sweep).
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,            -- the grid file as given on the command line
  base_dir TEXT NOT NULL,        -- relative paths in the grid resolve against this directory
  yaml TEXT NOT NULL,            -- the grid file's full text
  yaml_sha256 TEXT NOT NULL,     -- lowercase hex SHA-256 of yaml
  lorens_version TEXT NOT NULL,  -- the lorens that registered the sweep
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (name, yaml_sha256)
) STRICT;

-- One row per run (grid cell): one ensemble of M members, identified by run_key.
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  run_key TEXT NOT NULL UNIQUE,
  sweep_id INTEGER NOT NULL REFERENCES sweeps (id),  -- the sweep that first registered the run
  config TEXT NOT NULL,          -- canonical JSON of the fully resolved configuration
  -- The axes people group by, copied out of config:
  dataset TEXT NOT NULL,
  regularizer TEXT NOT NULL,
  reg_strength REAL NOT NULL,
  rank INTEGER NOT NULL,
  ensemble_size INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  randomness TEXT NOT NULL,
  lr REAL NOT NULL,
  backend TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'diverged', 'interrupted')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claim TEXT,                    -- token of the attempt that owns the run; NULL when none does
  host TEXT,                     -- hostname of that attempt
  boot_id TEXT,                  -- /proc/sys/kernel/random/boot_id of that host
  pid INTEGER,                   -- the scheduler process of that attempt
  worker_pid INTEGER,            -- its worker process
  heartbeat REAL,                -- unix time (s) of the attempt's last sign of life
  started_at REAL,               -- unix time (s)
  finished_at REAL,              -- unix time (s)
  error TEXT,                    -- what went wrong, for failed/diverged/interrupted runs
  exit_status TEXT               -- "exit 3", "signal 11 (SIGSEGV)", "timeout"
) STRICT;
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_sweep ON runs (sweep_id);
CREATE INDEX runs_axes ON runs (dataset, regularizer, reg_strength, rank, ensemble_size, seed);

-- Every sweep a run belongs to (a run_key can be part of several sweeps).
CREATE TABLE sweep_runs (
  sweep_id INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  PRIMARY KEY (sweep_id, run_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX sweep_runs_run ON sweep_runs (run_id);

-- One row per member (LoRA adapter) of a run.  Seeds are uint64 values stored as the signed
-- 64-bit integer with the same bit pattern (two's complement): values >= 2^63 read back negative.
CREATE TABLE members (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  member INTEGER NOT NULL CHECK (member >= 0),
  init_seed INTEGER NOT NULL,
  data_seed INTEGER NOT NULL,
  dropout_seed INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'training'
    CHECK (status IN ('training', 'done', 'stopped', 'diverged')),
  best_epoch INTEGER,            -- early-stopping best epoch; NULL until one is known
  diverged_step INTEGER,         -- the step whose loss was not finite; NULL if none was
  adapter_path TEXT,             -- saved adapter, NULL when not saved
  PRIMARY KEY (run_id, member)
) STRICT;

-- One row per optimizer step of each member.
CREATE TABLE train_log (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  member INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  lr REAL,
  loss REAL,
  ce REAL,
  kl REAL,
  grad_norm REAL,
  finite INTEGER NOT NULL CHECK (finite IN (0, 1)),  -- 0 when any value was NaN or infinite
  tokens INTEGER,
  seconds REAL,
  PRIMARY KEY (run_id, member, step)
) STRICT;

-- Metrics of a member, an ensemble of the first idx members, or the base model, on one split.
CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('member', 'ensemble', 'base')),
  idx INTEGER NOT NULL,          -- member index; ensemble size k (members 0..k-1); 0 for base
  selection TEXT NOT NULL DEFAULT 'epoch' CHECK (selection IN ('epoch', 'best')),
  epoch INTEGER NOT NULL,
  split TEXT NOT NULL CHECK (split IN ('validation', 'eval')),
  dataset TEXT NOT NULL,
  ood INTEGER NOT NULL DEFAULT 0 CHECK (ood IN (0, 1)),
  n INTEGER NOT NULL,            -- examples evaluated
  accuracy REAL,
  nll REAL,
  ece REAL,
  brier REAL,
  ood_auroc_maxprob REAL,
  ood_auroc_entropy REAL,
  ood_auroc_mi REAL,
  disagreement REAL,
  pairwise_kl REAL,
  finite INTEGER NOT NULL CHECK (finite IN (0, 1)),  -- 0 when any metric was NaN or infinite
  created_at REAL,               -- unix time (s)
  UNIQUE (run_id, kind, idx, selection, epoch, split, dataset)
) STRICT;
CREATE INDEX evaluations_run_epoch ON evaluations (run_id, epoch);

-- Per-example choice probabilities of each member, from which any ensemble can be recomputed.
CREATE TABLE predictions (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  member INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  split TEXT NOT NULL CHECK (split IN ('validation', 'eval')),
  dataset TEXT NOT NULL,
  example INTEGER NOT NULL,      -- index of the example in the set as loaded
  example_id TEXT,               -- the dataset's own id, when it has one
  label INTEGER,                 -- index of the right choice; NULL when unlabelled
  pred INTEGER NOT NULL,         -- index of the most probable choice
  probs TEXT NOT NULL,           -- JSON array of the choice probabilities, printed with %.17g
  PRIMARY KEY (run_id, member, epoch, split, dataset, example)
) STRICT, WITHOUT ROWID;

-- How many runs are in each status, every status listed (zero included), in lifecycle order.
CREATE VIEW run_status_counts (status, n) AS
  WITH statuses (status, ord) AS (
    VALUES ('pending', 1), ('running', 2), ('done', 3), ('failed', 4), ('diverged', 5),
           ('interrupted', 6))
  SELECT s.status, (SELECT count(*) FROM runs AS r WHERE r.status = s.status)
  FROM statuses AS s ORDER BY s.ord;

-- migration 2: Slurm submissions
-- Every job array `lorens slurm submit` submitted (docs/slurm.md).  Slurm reuses job ids after
-- its controller starts from an empty state, so they are not the key.
CREATE TABLE slurm_jobs (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL,       -- the array's job id, as sbatch --parsable printed it
  sweep_id INTEGER NOT NULL REFERENCES sweeps (id),
  submission TEXT NOT NULL,      -- absolute path of the submission directory (script, tasks, logs, shards)
  first_task INTEGER NOT NULL,   -- the submission's task number of the array's index 0
  n_tasks INTEGER NOT NULL,
  submitted_at REAL NOT NULL     -- unix time (s)
) STRICT;
CREATE INDEX slurm_jobs_sweep ON slurm_jobs (sweep_id);

-- The runs each task of a submission carries.
CREATE TABLE slurm_task_runs (
  submission TEXT NOT NULL,
  task INTEGER NOT NULL,
  run_key TEXT NOT NULL,
  PRIMARY KEY (submission, task, run_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX slurm_task_runs_run ON slurm_task_runs (run_key);
