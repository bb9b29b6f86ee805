-- randomness.sql: the randomness-source ablation.  At each group's final epoch, on every
-- evaluation set of the eval split: which seeds vary across members (randomness:
-- init+data+dropout, init, data, dropout, none ...), a single member against the full ensemble
-- (mean ± std over seeds), what ensembling gains (accuracy up, NLL down), and how diverse the
-- members are (disagreement, pairwise KL in nats).  With randomness = none every member is the
-- same, so the gains and the diversity are zero: the baseline the others are read against.
--
--   lorens query --db results.db -f db/queries/randomness.sql [--format csv]
SELECT dataset, eval_dataset, ood, randomness, regularizer, epoch, n_runs AS runs,
       round(member_accuracy, 4) AS member_acc, round(member_accuracy_std, 4) AS member_acc_std,
       round(ensemble_accuracy, 4) AS ensemble_acc,
       round(ensemble_accuracy_std, 4) AS ensemble_acc_std,
       round(accuracy_gain, 4) AS acc_gain,
       round(member_nll, 4) AS member_nll, round(ensemble_nll, 4) AS ensemble_nll,
       round(nll_gain, 4) AS nll_gain,
       round(member_ece, 4) AS member_ece, round(ensemble_ece, 4) AS ensemble_ece,
       round(ensemble_disagreement, 4) AS disagreement,
       round(ensemble_pairwise_kl, 4) AS pairwise_kl,
       n_nonfinite AS nonfinite
FROM v_randomness
WHERE split = 'eval' AND selection = 'epoch' AND epoch = final_epoch
ORDER BY model, dataset, ood, eval_dataset, regularizer, reg_strength, rank, lr, ensemble_size,
         CASE randomness WHEN 'init+data+dropout' THEN 0 WHEN 'init+data' THEN 1
                         WHEN 'init' THEN 2 WHEN 'data' THEN 3 WHEN 'dropout' THEN 4
                         WHEN 'none' THEN 9 ELSE 5 END, randomness;
