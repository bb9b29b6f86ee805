-- paper-table.sql: the paper's main table.  At each group's final epoch, on every evaluation set
-- of the eval split: a single member (mean ± sample std over every member of every seed) against
-- the full ensemble of M members (mean ± std over seeds), per training set and regularizer.
-- Accuracy, ECE and Brier are fractions, NLL is in nats; OOD sets (ood = 1) add the AUROC of
-- telling them from in-distribution inputs by predictive entropy (and, for the ensemble, mutual
-- information).  runs = seeds averaged; nonfinite = rows left out for NaN or infinite metrics.
--
--   lorens query --db results.db -f db/queries/paper-table.sql [--format csv]
SELECT dataset, regularizer, reg_strength AS strength, randomness, eval_dataset, ood, epoch,
       n_runs AS runs,
       iif(member_accuracy IS NULL, NULL, printf('%.4f', member_accuracy) ||
           iif(member_accuracy_std IS NULL, '', printf(' ± %.4f', member_accuracy_std)))
         AS member_acc,
       iif(ensemble_accuracy IS NULL, NULL, printf('%.4f', ensemble_accuracy) ||
           iif(ensemble_accuracy_std IS NULL, '', printf(' ± %.4f', ensemble_accuracy_std)))
         AS ensemble_acc,
       iif(member_nll IS NULL, NULL, printf('%.4f', member_nll) ||
           iif(member_nll_std IS NULL, '', printf(' ± %.4f', member_nll_std)))
         AS member_nll,
       iif(ensemble_nll IS NULL, NULL, printf('%.4f', ensemble_nll) ||
           iif(ensemble_nll_std IS NULL, '', printf(' ± %.4f', ensemble_nll_std)))
         AS ensemble_nll,
       iif(member_ece IS NULL, NULL, printf('%.4f', member_ece) ||
           iif(member_ece_std IS NULL, '', printf(' ± %.4f', member_ece_std)))
         AS member_ece,
       iif(ensemble_ece IS NULL, NULL, printf('%.4f', ensemble_ece) ||
           iif(ensemble_ece_std IS NULL, '', printf(' ± %.4f', ensemble_ece_std)))
         AS ensemble_ece,
       round(member_brier, 4) AS member_brier, round(ensemble_brier, 4) AS ensemble_brier,
       round(member_ood_auroc_entropy, 4) AS member_auroc_ent,
       round(ensemble_ood_auroc_entropy, 4) AS ensemble_auroc_ent,
       round(ensemble_ood_auroc_mi, 4) AS ensemble_auroc_mi,
       n_member_nonfinite + n_ensemble_nonfinite AS nonfinite
FROM v_member_vs_ensemble
WHERE split = 'eval' AND selection = 'epoch' AND epoch = final_epoch
ORDER BY model, dataset, regularizer, reg_strength, rank, lr, ensemble_size, randomness, ood,
         eval_dataset;
