-- summary.sql: the table `lorens run` prints at its end, for every sweep: per configuration (runs
-- equal but for the seed), at its last evaluated epoch, the mean single member against the
-- ensemble of all M members (mean over runs): accuracy, NLL and ECE on the test set (the first
-- data.eval set not marked ood) and the AUROC by max probability on the first OOD set.  runs =
-- runs evaluated at that epoch, of all the configuration's runs in the sweep; nonfinite = rows
-- left out for NaN or infinite metrics.  Every axis is a column here; `lorens summary` shows only
-- those that vary.
--
--   lorens query --db results.db -f db/queries/summary.sql [--format csv]
SELECT s.name AS sweep, v.dataset, v.regularizer, v.reg_strength AS strength, v.rank, v.lr,
       v.ensemble_size AS M, v.test_dataset AS test_set, v.ood_dataset AS ood_set,
       v.final_epoch AS epoch, v.n_evaluated || '/' || v.n_runs AS runs,
       round(v.member_accuracy, 4) AS member_acc, round(v.ensemble_accuracy, 4) AS ensemble_acc,
       round(v.member_nll, 4) AS member_nll, round(v.ensemble_nll, 4) AS ensemble_nll,
       round(v.member_ece, 4) AS member_ece, round(v.ensemble_ece, 4) AS ensemble_ece,
       round(v.member_ood_auroc_maxprob, 4) AS member_auroc,
       round(v.ensemble_ood_auroc_maxprob, 4) AS ensemble_auroc,
       v.n_member_nonfinite + v.n_ensemble_nonfinite AS nonfinite
FROM v_summary AS v JOIN sweeps AS s ON s.id = v.sweep_id
ORDER BY v.sweep_id, v.first_run_id;
