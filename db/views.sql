-- db/views.sql: views that turn the results database into the paper's tables, one query each.
--
-- Views hold no data, so they are not migrations: lorens embeds this file at build time
-- (src/store/store-sql.c) and every writable open (lorens run, collect ...) compares the views stored in
-- the database with these and, when any differs, drops and recreates every view of this file in
-- one transaction.  An old database thus gets the current views the next time lorens writes to
-- it; read-only opens (lorens query, lorens status) use the views already there.  Before running
-- migrations lorens drops these views (SQLite's ALTER TABLE ... RENAME refuses to run while a view
-- names a table that is being rebuilt) and creates them again afterwards.
--
-- Rules: only CREATE VIEW statements, one per view, with plain names; no ORDER BY (the queries in
-- db/queries/ sort); a view may use the views above it.  Every view is documented in
-- docs/store.md ("Views"); change the two together.
--
-- Conventions of every aggregate below:
--   * A "group" is a set of runs whose configurations (and axis columns) are equal except for
--     the seed (runs.config without "seed"), so means are over seeds and never mix two models,
--     two alphas or two epoch budgets; v_run_axes.group_id names it.  The axes people read
--     (model, dataset, regularizer ...) are columns; two groups can show the same axes when their
--     configurations differ elsewhere (first_run_id, the group_id, tells which: SELECT config
--     FROM runs WHERE id = first_run_id).
--   * Only rows with finite = 1 enter means and standard deviations; rows with finite = 0 are
--     counted in n_nonfinite.  n_rows counts the finite rows a mean is over and n_runs their runs.
--   * X_std is the sample standard deviation (n - 1 in the denominator), computed in two passes
--     (deviations from the group's mean), so it is exact for equal values and never the square
--     root of a rounding error below zero; NULL when fewer than two values.
--   * Every run counts whatever its status: a running run contributes its epochs so far.  See
--     failures.sql in db/queries/ for runs that failed or diverged.

-- How many runs are in each status, every status listed (zero included), in lifecycle order.
-- (Migration 1 created it first; it is kept here so that lorens owns every view in one place.)
CREATE VIEW run_status_counts (status, n) AS
  WITH statuses (status, ord) AS (
    VALUES ('pending', 1), ('running', 2), ('done', 3), ('failed', 4), ('diverged', 5),
           ('interrupted', 6))
  SELECT s.status, (SELECT count(*) FROM runs AS r WHERE r.status = s.status)
  FROM statuses AS s ORDER BY s.ord;

-- v_run_axes: one row per run with the axes it is grouped by.  model comes from the configuration;
-- seedless_config is the configuration without its seed, and group_id names the group: the
-- smallest run id among the runs with the same seedless_config and the same axes.
CREATE VIEW v_run_axes AS
  SELECT id AS run_id, run_key, substr(run_key, 1, 12) AS run,
         json_extract(config, '$.model') AS model,
         dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness, seed, backend,
         status, json_remove(config, '$.seed') AS seedless_config,
         min(id) OVER (PARTITION BY json_remove(config, '$.seed'), dataset, regularizer,
                                    reg_strength, rank, lr, ensemble_size, randomness) AS group_id
  FROM runs;

-- v_eval_stats: mean and sample standard deviation of every metric per group, evaluation
-- (selection, epoch, split, eval_dataset) and kind of row: kind = 'member' pools every member of
-- every run of the group (k = 0); kind = 'ensemble' has one row per ensemble size k (the first k
-- members); kind = 'base' is the model without adapters (k = 0).  The building block of the views
-- below.
CREATE VIEW v_eval_stats AS
  WITH rows AS (
    SELECT a.group_id, a.model, a.dataset, a.regularizer, a.reg_strength, a.rank, a.lr,
           a.ensemble_size, a.randomness, e.run_id, e.kind,
           CASE e.kind WHEN 'ensemble' THEN e.idx ELSE 0 END AS k,
           e.selection, e.epoch, e.split, e.dataset AS eval_dataset, e.ood, e.finite,
           CASE WHEN e.finite THEN e.accuracy END AS accuracy,
           CASE WHEN e.finite THEN e.nll END AS nll,
           CASE WHEN e.finite THEN e.ece END AS ece,
           CASE WHEN e.finite THEN e.brier END AS brier,
           CASE WHEN e.finite THEN e.ood_auroc_maxprob END AS ood_auroc_maxprob,
           CASE WHEN e.finite THEN e.ood_auroc_entropy END AS ood_auroc_entropy,
           CASE WHEN e.finite THEN e.ood_auroc_mi END AS ood_auroc_mi,
           CASE WHEN e.finite THEN e.disagreement END AS disagreement,
           CASE WHEN e.finite THEN e.pairwise_kl END AS pairwise_kl
    FROM evaluations AS e JOIN v_run_axes AS a ON a.run_id = e.run_id
  ),
  dev AS (  -- each value's deviation from its group's mean: the first pass
    SELECT rows.*,
           accuracy - avg(accuracy) OVER g AS d_accuracy,
           nll - avg(nll) OVER g AS d_nll,
           ece - avg(ece) OVER g AS d_ece,
           brier - avg(brier) OVER g AS d_brier,
           ood_auroc_maxprob - avg(ood_auroc_maxprob) OVER g AS d_ood_auroc_maxprob,
           ood_auroc_entropy - avg(ood_auroc_entropy) OVER g AS d_ood_auroc_entropy,
           ood_auroc_mi - avg(ood_auroc_mi) OVER g AS d_ood_auroc_mi,
           disagreement - avg(disagreement) OVER g AS d_disagreement,
           pairwise_kl - avg(pairwise_kl) OVER g AS d_pairwise_kl
    FROM rows
    WINDOW g AS (PARTITION BY group_id, kind, k, selection, epoch, split, eval_dataset, ood)
  )
  -- The axes are the same on every row of a group (group_id is defined by them), so they are
  -- taken from any row.
  SELECT group_id, model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness,
         kind, k, selection, epoch, split, eval_dataset, ood,
         -- the last epoch any run of the group was evaluated at, for this set and selection
         max(epoch) OVER (PARTITION BY group_id, kind, k, selection, split, eval_dataset, ood)
           AS final_epoch,
         count(DISTINCT CASE WHEN finite THEN run_id END) AS n_runs,
         sum(finite) AS n_rows,
         count(*) - sum(finite) AS n_nonfinite,
         group_id AS first_run_id,
         avg(accuracy) AS accuracy,
         sqrt(sum(d_accuracy * d_accuracy) / (count(accuracy) - 1)) AS accuracy_std,
         avg(nll) AS nll,
         sqrt(sum(d_nll * d_nll) / (count(nll) - 1)) AS nll_std,
         avg(ece) AS ece,
         sqrt(sum(d_ece * d_ece) / (count(ece) - 1)) AS ece_std,
         avg(brier) AS brier,
         sqrt(sum(d_brier * d_brier) / (count(brier) - 1)) AS brier_std,
         avg(ood_auroc_maxprob) AS ood_auroc_maxprob,
         sqrt(sum(d_ood_auroc_maxprob * d_ood_auroc_maxprob) / (count(ood_auroc_maxprob) - 1))
           AS ood_auroc_maxprob_std,
         avg(ood_auroc_entropy) AS ood_auroc_entropy,
         sqrt(sum(d_ood_auroc_entropy * d_ood_auroc_entropy) / (count(ood_auroc_entropy) - 1))
           AS ood_auroc_entropy_std,
         avg(ood_auroc_mi) AS ood_auroc_mi,
         sqrt(sum(d_ood_auroc_mi * d_ood_auroc_mi) / (count(ood_auroc_mi) - 1))
           AS ood_auroc_mi_std,
         avg(disagreement) AS disagreement,
         sqrt(sum(d_disagreement * d_disagreement) / (count(disagreement) - 1))
           AS disagreement_std,
         avg(pairwise_kl) AS pairwise_kl,
         sqrt(sum(d_pairwise_kl * d_pairwise_kl) / (count(pairwise_kl) - 1)) AS pairwise_kl_std
  FROM dev
  GROUP BY group_id, kind, k, selection, epoch, split, eval_dataset, ood;

-- v_member_vs_ensemble: the paper's main comparison.  Per group and evaluation, single members
-- (every member of every run: mean and std) against the full ensemble of M = ensemble_size
-- members (mean and std over the runs, i.e. the seeds).  final_epoch is the group's last
-- evaluated epoch: WHERE epoch = final_epoch gives the end-of-training table.
CREATE VIEW v_member_vs_ensemble AS
  WITH s AS (  -- computed once, read twice
    SELECT * FROM v_eval_stats
    WHERE kind = 'member' OR (kind = 'ensemble' AND k = ensemble_size)
  )
  SELECT m.model, m.dataset, m.regularizer, m.reg_strength, m.rank, m.lr, m.ensemble_size,
         m.randomness, m.selection, m.epoch, m.final_epoch, m.split, m.eval_dataset, m.ood,
         m.n_runs, m.n_rows AS n_member_rows, m.n_nonfinite AS n_member_nonfinite,
         e.n_rows AS n_ensemble_rows, coalesce(e.n_nonfinite, 0) AS n_ensemble_nonfinite,
         m.accuracy AS member_accuracy, m.accuracy_std AS member_accuracy_std,
         e.accuracy AS ensemble_accuracy, e.accuracy_std AS ensemble_accuracy_std,
         m.nll AS member_nll, m.nll_std AS member_nll_std,
         e.nll AS ensemble_nll, e.nll_std AS ensemble_nll_std,
         m.ece AS member_ece, m.ece_std AS member_ece_std,
         e.ece AS ensemble_ece, e.ece_std AS ensemble_ece_std,
         m.brier AS member_brier, m.brier_std AS member_brier_std,
         e.brier AS ensemble_brier, e.brier_std AS ensemble_brier_std,
         m.ood_auroc_maxprob AS member_ood_auroc_maxprob,
         m.ood_auroc_maxprob_std AS member_ood_auroc_maxprob_std,
         e.ood_auroc_maxprob AS ensemble_ood_auroc_maxprob,
         e.ood_auroc_maxprob_std AS ensemble_ood_auroc_maxprob_std,
         m.ood_auroc_entropy AS member_ood_auroc_entropy,
         m.ood_auroc_entropy_std AS member_ood_auroc_entropy_std,
         e.ood_auroc_entropy AS ensemble_ood_auroc_entropy,
         e.ood_auroc_entropy_std AS ensemble_ood_auroc_entropy_std,
         e.ood_auroc_mi AS ensemble_ood_auroc_mi, e.ood_auroc_mi_std AS ensemble_ood_auroc_mi_std,
         e.disagreement AS ensemble_disagreement, e.pairwise_kl AS ensemble_pairwise_kl,
         m.first_run_id
  FROM s AS m
  LEFT JOIN s AS e
    ON e.group_id = m.group_id AND e.kind = 'ensemble' AND e.selection = m.selection
       AND e.epoch = m.epoch AND e.split = m.split AND e.eval_dataset = m.eval_dataset
       AND e.ood = m.ood
  WHERE m.kind = 'member';

-- v_metrics_by_epoch: learning curves, one row per group, evaluation set and epoch for each
-- curve: 'member' (the mean single member), 'ensemble' (the full ensemble of M members) and
-- 'base' (the model without adapters, when evaluated).  Only selection = 'epoch' rows: a curve
-- is every member at the same epoch.
CREATE VIEW v_metrics_by_epoch AS
  SELECT model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness,
         split, eval_dataset, ood, kind AS curve, epoch, n_runs, n_rows, n_nonfinite,
         accuracy, accuracy_std, nll, nll_std, ece, ece_std, brier, brier_std,
         ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi, disagreement, pairwise_kl,
         first_run_id
  FROM v_eval_stats
  WHERE selection = 'epoch'
    AND (kind IN ('member', 'base') OR (kind = 'ensemble' AND k = ensemble_size));

-- v_ensemble_size: the ensemble-size curve, metrics of the ensemble of the first k members for
-- k = 1 .. M, mean and std over the runs (seeds) of each group.  k = 1 is member 0 alone.
CREATE VIEW v_ensemble_size AS
  SELECT model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness,
         selection, epoch, final_epoch, split, eval_dataset, ood, k, n_runs, n_rows, n_nonfinite,
         accuracy, accuracy_std, nll, nll_std, ece, ece_std, brier, brier_std,
         ood_auroc_maxprob, ood_auroc_maxprob_std, ood_auroc_entropy, ood_auroc_entropy_std,
         ood_auroc_mi, ood_auroc_mi_std, disagreement, disagreement_std, pairwise_kl,
         pairwise_kl_std, first_run_id
  FROM v_eval_stats
  WHERE kind = 'ensemble';

-- v_randomness: the randomness-source ablation.  Which seeds vary across members (randomness:
-- "init+data+dropout", "init", "data", "dropout", "none" ...) against what ensembling gains:
-- single member vs full ensemble, the gains, and the members' diversity.
CREATE VIEW v_randomness AS
  SELECT randomness, model, dataset, regularizer, reg_strength, rank, lr, ensemble_size,
         selection, epoch, final_epoch, split, eval_dataset, ood, n_runs,
         n_member_nonfinite + n_ensemble_nonfinite AS n_nonfinite,
         member_accuracy, member_accuracy_std, ensemble_accuracy, ensemble_accuracy_std,
         ensemble_accuracy - member_accuracy AS accuracy_gain,
         member_nll, member_nll_std, ensemble_nll, ensemble_nll_std,
         member_nll - ensemble_nll AS nll_gain,
         member_ece, member_ece_std, ensemble_ece, ensemble_ece_std,
         member_brier, ensemble_brier,
         ensemble_disagreement, ensemble_pairwise_kl,
         member_ood_auroc_entropy, ensemble_ood_auroc_entropy, ensemble_ood_auroc_mi,
         first_run_id
  FROM v_member_vs_ensemble;

-- v_run_summary: one row per run and evaluation set at the run's last evaluated epoch (for each
-- selection): the run's axes and state, its full ensemble's metrics and its members' mean.  A run
-- with no evaluation yet has one row, with NULL evaluation columns.
CREATE VIEW v_run_summary AS
  WITH last AS (
    SELECT run_id, selection, max(epoch) AS epoch FROM evaluations GROUP BY run_id, selection
  ),
  member_means AS (
    SELECT e.run_id, e.selection, e.split, e.dataset, count(*) AS n_rows,
           sum(NOT e.finite) AS n_nonfinite,
           avg(CASE WHEN e.finite THEN e.accuracy END) AS accuracy,
           avg(CASE WHEN e.finite THEN e.nll END) AS nll,
           avg(CASE WHEN e.finite THEN e.ece END) AS ece,
           avg(CASE WHEN e.finite THEN e.brier END) AS brier,
           avg(CASE WHEN e.finite THEN e.ood_auroc_maxprob END) AS ood_auroc_maxprob,
           avg(CASE WHEN e.finite THEN e.ood_auroc_entropy END) AS ood_auroc_entropy
    FROM evaluations AS e JOIN last AS l
      ON l.run_id = e.run_id AND l.selection = e.selection AND l.epoch = e.epoch
    WHERE e.kind = 'member'
    GROUP BY e.run_id, e.selection, e.split, e.dataset
  )
  SELECT r.run_id, r.run, r.status, r.model, r.dataset, r.regularizer, r.reg_strength, r.rank,
         r.lr, r.ensemble_size, r.randomness, r.seed, r.backend, runs.attempts, runs.error,
         l.selection, l.epoch AS last_epoch, e.split, e.dataset AS eval_dataset, e.ood, e.n,
         e.finite AS ensemble_finite,
         CASE WHEN e.finite THEN e.accuracy END AS ensemble_accuracy,
         CASE WHEN e.finite THEN e.nll END AS ensemble_nll,
         CASE WHEN e.finite THEN e.ece END AS ensemble_ece,
         CASE WHEN e.finite THEN e.brier END AS ensemble_brier,
         CASE WHEN e.finite THEN e.ood_auroc_maxprob END AS ensemble_ood_auroc_maxprob,
         CASE WHEN e.finite THEN e.ood_auroc_entropy END AS ensemble_ood_auroc_entropy,
         CASE WHEN e.finite THEN e.ood_auroc_mi END AS ensemble_ood_auroc_mi,
         CASE WHEN e.finite THEN e.disagreement END AS ensemble_disagreement,
         CASE WHEN e.finite THEN e.pairwise_kl END AS ensemble_pairwise_kl,
         m.accuracy AS member_accuracy, m.nll AS member_nll, m.ece AS member_ece,
         m.brier AS member_brier, m.ood_auroc_maxprob AS member_ood_auroc_maxprob,
         m.ood_auroc_entropy AS member_ood_auroc_entropy,
         m.n_rows AS n_members, m.n_nonfinite AS n_member_nonfinite
  FROM v_run_axes AS r
  JOIN runs ON runs.id = r.run_id
  LEFT JOIN last AS l ON l.run_id = r.run_id
  LEFT JOIN evaluations AS e
    ON e.run_id = r.run_id AND e.selection = l.selection AND e.epoch = l.epoch
       AND e.kind = 'ensemble' AND e.idx = r.ensemble_size
  LEFT JOIN member_means AS m
    ON m.run_id = r.run_id AND m.selection = l.selection AND m.split = e.split
       AND m.dataset = e.dataset;

-- v_summary: the table `lorens run` prints at its end (and `lorens summary`), one row per sweep
-- and group.  Groups are made of the sweep's own runs (sweep_runs), so a sweep that shares a
-- configuration with another is summarised over its own seeds only; their axes and group_id are
-- v_run_axes'.  At the group's last evaluated epoch (final_epoch: selection 'epoch', split
-- 'eval'), the mean single member (every member of every run) against the full ensemble of M
-- members (mean over runs): accuracy, NLL and ECE on the group's test set (test_dataset: the first
-- data.eval set not marked ood), and the AUROC by max probability on its first OOD set
-- (ood_dataset).  n_runs counts the group's runs in the sweep, whatever their status;
-- n_evaluated those with a row at final_epoch.  A group with no evaluation yet has NULL
-- final_epoch and metrics.
CREATE VIEW v_summary AS
  WITH sweep_run AS (  -- every sweep a run belongs to, as lorens status counts them
    SELECT sweep_id, run_id FROM sweep_runs UNION SELECT sweep_id, id FROM runs
  ),
  in_sweep AS (  -- each run of each sweep with its axes, its group and its two evaluation sets
    SELECT s.sweep_id, a.*,
           (SELECT json_extract(j.value, '$.name')
            FROM json_each(a.seedless_config, '$.data.eval') AS j
            WHERE NOT coalesce(json_extract(j.value, '$.ood'), 0) ORDER BY j.key LIMIT 1)
             AS test_dataset,
           (SELECT json_extract(j.value, '$.name')
            FROM json_each(a.seedless_config, '$.data.eval') AS j
            WHERE coalesce(json_extract(j.value, '$.ood'), 0) ORDER BY j.key LIMIT 1)
             AS ood_dataset
    FROM sweep_run AS s JOIN v_run_axes AS a ON a.run_id = s.run_id
  ),
  rows AS (  -- the evaluations the table shows: members and full ensembles on the two sets
    SELECT i.sweep_id, i.group_id, e.run_id, e.kind, e.epoch, e.ood, e.finite,
           CASE WHEN e.finite THEN e.accuracy END AS accuracy,
           CASE WHEN e.finite THEN e.nll END AS nll,
           CASE WHEN e.finite THEN e.ece END AS ece,
           CASE WHEN e.finite THEN e.ood_auroc_maxprob END AS ood_auroc_maxprob
    FROM in_sweep AS i JOIN evaluations AS e ON e.run_id = i.run_id
    WHERE e.selection = 'epoch' AND e.split = 'eval'
      AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = i.ensemble_size))
      AND ((e.ood = 0 AND e.dataset = i.test_dataset) OR (e.ood = 1 AND e.dataset = i.ood_dataset))
  ),
  final AS (
    SELECT sweep_id, group_id, max(epoch) AS epoch FROM rows GROUP BY sweep_id, group_id
  ),
  stats AS (
    SELECT r.sweep_id, r.group_id, r.epoch, count(DISTINCT r.run_id) AS n_evaluated,
           avg(CASE WHEN r.kind = 'member' AND NOT r.ood THEN r.accuracy END) AS member_accuracy,
           avg(CASE WHEN r.kind = 'ensemble' AND NOT r.ood THEN r.accuracy END)
             AS ensemble_accuracy,
           avg(CASE WHEN r.kind = 'member' AND NOT r.ood THEN r.nll END) AS member_nll,
           avg(CASE WHEN r.kind = 'ensemble' AND NOT r.ood THEN r.nll END) AS ensemble_nll,
           avg(CASE WHEN r.kind = 'member' AND NOT r.ood THEN r.ece END) AS member_ece,
           avg(CASE WHEN r.kind = 'ensemble' AND NOT r.ood THEN r.ece END) AS ensemble_ece,
           avg(CASE WHEN r.kind = 'member' AND r.ood THEN r.ood_auroc_maxprob END)
             AS member_ood_auroc_maxprob,
           avg(CASE WHEN r.kind = 'ensemble' AND r.ood THEN r.ood_auroc_maxprob END)
             AS ensemble_ood_auroc_maxprob,
           sum(r.kind = 'member' AND NOT r.finite) AS n_member_nonfinite,
           sum(r.kind = 'ensemble' AND NOT r.finite) AS n_ensemble_nonfinite
    FROM rows AS r JOIN final AS f
      ON f.sweep_id = r.sweep_id AND f.group_id = r.group_id AND f.epoch = r.epoch
    GROUP BY r.sweep_id, r.group_id
  ),
  groups AS (  -- the axes are the same on every run of a group, so any run's will do
    SELECT sweep_id, group_id, min(run_id) AS first_run_id, count(*) AS n_runs, model, dataset,
           regularizer, reg_strength, rank, lr, ensemble_size, randomness, backend, test_dataset,
           ood_dataset
    FROM in_sweep GROUP BY sweep_id, group_id
  )
  SELECT g.sweep_id, g.model, g.dataset, g.regularizer, g.reg_strength, g.rank, g.lr,
         g.ensemble_size, g.randomness, g.backend, g.test_dataset, g.ood_dataset, g.n_runs,
         coalesce(s.n_evaluated, 0) AS n_evaluated, s.epoch AS final_epoch,
         s.member_accuracy, s.ensemble_accuracy, s.member_nll, s.ensemble_nll, s.member_ece,
         s.ensemble_ece, s.member_ood_auroc_maxprob, s.ensemble_ood_auroc_maxprob,
         coalesce(s.n_member_nonfinite, 0) AS n_member_nonfinite,
         coalesce(s.n_ensemble_nonfinite, 0) AS n_ensemble_nonfinite, g.first_run_id
  FROM groups AS g
  LEFT JOIN stats AS s ON s.sweep_id = g.sweep_id AND s.group_id = g.group_id;
