-- ensemble-size.sql: the ensemble-size curve.  At each group's final epoch, on every evaluation
-- set of the eval split: metrics of the ensemble of the first k members, k = 1 .. M (k = 1 is one
-- member), mean and std over seeds, with the members' disagreement.
--
--   lorens query --db results.db -f db/queries/ensemble-size.sql [--format csv]
SELECT dataset, regularizer, reg_strength AS strength, eval_dataset, ood, epoch, k,
       n_runs AS runs,
       round(accuracy, 4) AS accuracy, round(accuracy_std, 4) AS accuracy_std,
       round(nll, 4) AS nll, round(nll_std, 4) AS nll_std,
       round(ece, 4) AS ece, round(ece_std, 4) AS ece_std,
       round(brier, 4) AS brier,
       round(ood_auroc_mi, 4) AS auroc_mi,
       round(disagreement, 4) AS disagreement,
       n_nonfinite AS nonfinite
FROM v_ensemble_size
WHERE split = 'eval' AND selection = 'epoch' AND epoch = final_epoch
ORDER BY model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness, ood,
         eval_dataset, k;
