-- epochs.sql: learning curves.  For every group and evaluation set of the eval split, epoch by
-- epoch: the mean single member, the full ensemble of M members (means over seeds, std beside
-- them) and the base model where it was evaluated; one row per curve and epoch, ready to plot
-- (--format csv) with the curve column as the series.
--
--   lorens query --db results.db -f db/queries/epochs.sql --format csv > epochs.csv
SELECT dataset, regularizer, reg_strength AS strength, randomness, eval_dataset, ood, curve, epoch,
       n_runs AS runs,
       round(accuracy, 4) AS accuracy, round(accuracy_std, 4) AS accuracy_std,
       round(nll, 4) AS nll, round(nll_std, 4) AS nll_std,
       round(ece, 4) AS ece, round(ece_std, 4) AS ece_std,
       round(brier, 4) AS brier,
       round(ood_auroc_entropy, 4) AS auroc_ent,
       round(disagreement, 4) AS disagreement,
       n_nonfinite AS nonfinite
FROM v_metrics_by_epoch
WHERE split = 'eval'
ORDER BY model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness, ood,
         eval_dataset, CASE curve WHEN 'base' THEN 0 WHEN 'member' THEN 1 ELSE 2 END, epoch;
