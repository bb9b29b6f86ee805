#!/bin/sh
# test-views.sh: db/views.sql against a database of hand-made rows, every number checked against
# values worked out by hand; views reaching old databases (writable opens recreate them, read-only
# opens leave them); and every query of db/queries/ through `lorens query -f`.
. "$TOP_SRCDIR/tests/tap.sh"

sql="$TOP_BUILDDIR/tests/store-sql"
db="$tap_tmp/views.db"
cr=$(printf '\r')

# CSV of a query, without the carriage returns.
csv() { "$LORENS" query --db "$1" --format csv "$2" | tr -d "$cr"; }

# The data: runs of 2 regularizers (none, kl) x 2 seeds with M = 3 on the training set arc, and a
# run that failed before evaluating.  Evaluations on arc (in distribution) at epochs 1 and 2 and on
# mmlu (OOD) at epoch 2; the base model at epoch 0.  Member 2 of run 2 diverged: its epoch-2 arc
# row has finite = 0 (NaN NLL) and an accuracy of 0.25 that no mean may use.
"$sql" "$db" <<'SQL' || { ok 1 "the test database builds"; done_testing; }
INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)
  VALUES (1, 'paper', 'paper.yaml', '/w', 'name: paper', 'ab12', '0.1.0');
-- 2 regularizers x 2 seeds, M = 3, and a run that failed before evaluating anything.
INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,
                  ensemble_size, seed, randomness, lr, backend, status, attempts, error, exit_status)
  VALUES
  (1, 'a1a1a1a1a1a1a1a1', 1, '{"model":"m","kl":0,"seed":0}', 'arc', 'none', 0, 8, 3, 0,
   'init+data+dropout', 1e-4, 'cpu', 'done', 1, NULL, NULL),
  (2, 'a2a2a2a2a2a2a2a2', 1, '{"model":"m","kl":0,"seed":1}', 'arc', 'none', 0, 8, 3, 1,
   'init+data+dropout', 1e-4, 'cpu', 'done', 1, NULL, NULL),
  (3, 'b3b3b3b3b3b3b3b3', 1, '{"model":"m","kl":0.5,"seed":0}', 'arc', 'kl', 0.5, 8, 3, 0,
   'init+data+dropout', 1e-4, 'cpu', 'done', 1, NULL, NULL),
  (4, 'b4b4b4b4b4b4b4b4', 1, '{"model":"m","kl":0.5,"seed":1}', 'arc', 'kl', 0.5, 8, 3, 1,
   'init+data+dropout', 1e-4, 'cpu', 'done', 1, NULL, NULL),
  (5, 'c5c5c5c5c5c5c5c5', 1, '{"model":"m","kl":0,"seed":2}', 'arc', 'none', 0, 8, 3, 2,
   'init+data+dropout', 1e-4, 'cpu', 'failed', 2, 'out of memory
while opening the session', 'exit 1');
INSERT INTO sweep_runs SELECT 1, id FROM runs;
INSERT INTO members (run_id, member, init_seed, data_seed, dropout_seed, status, diverged_step)
  SELECT r.id, m.value, 1, 2, 3, CASE WHEN r.id = 2 AND m.value = 2 THEN 'diverged' ELSE 'done' END,
         CASE WHEN r.id = 2 AND m.value = 2 THEN 17 END
  FROM runs AS r, json_each('[0,1,2]') AS m WHERE r.id <= 4;

-- Epoch 0: the base model on arc.  Epoch 1: members and the full ensemble on arc, accuracy and NLL
-- only.  Epoch 2 (the last): every member and every ensemble size on arc, with all the metrics,
-- and the full ensemble and members on the OOD set mmlu.  Member 2 of run 2 diverged: its epoch-2
-- arc row is NaN (finite = 0), and its accuracy must be ignored.
WITH v (run, kind, idx, epoch, dataset, ood, acc, nll, ece, brier, amax, aent, ami, dis, pkl,
        finite) AS (VALUES
  (1, 'base',     0, 0, 'arc',  0, 0.25,  1.5,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'base',     0, 0, 'arc',  0, 0.25,  1.5,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'member',   0, 1, 'arc',  0, 0.5,   1.25,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'member',   1, 1, 'arc',  0, 0.5,   1.25,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'member',   2, 1, 'arc',  0, 0.75,  1.0,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'ensemble', 3, 1, 'arc',  0, 0.75,  1.0,   NULL,  NULL,  NULL, NULL, NULL, 0.25, 0.5,  1),
  (2, 'member',   0, 1, 'arc',  0, 0.5,   1.5,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'member',   1, 1, 'arc',  0, 0.75,  1.25,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'member',   2, 1, 'arc',  0, 0.5,   1.25,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'ensemble', 3, 1, 'arc',  0, 0.75,  1.0,   NULL,  NULL,  NULL, NULL, NULL, 0.25, 0.5,  1),
  (1, 'member',   0, 2, 'arc',  0, 0.5,   1.0,   0.125, 0.5,   NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'member',   1, 2, 'arc',  0, 0.75,  0.5,   0.25,  0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'member',   2, 2, 'arc',  0, 0.625, 0.75,  0.125, 0.375, NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'ensemble', 1, 2, 'arc',  0, 0.5,   1.0,   0.125, 0.5,   NULL, NULL, NULL, NULL, NULL, 1),
  (1, 'ensemble', 2, 2, 'arc',  0, 0.75,  0.625, 0.125, 0.25,  NULL, NULL, NULL, 0.25, 0.125, 1),
  (1, 'ensemble', 3, 2, 'arc',  0, 0.75,  0.5,   0.0625, 0.25, NULL, NULL, NULL, 0.5,  0.25, 1),
  (2, 'member',   0, 2, 'arc',  0, 0.625, 0.75,  0.25,  0.375, NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'member',   1, 2, 'arc',  0, 0.875, 0.25,  0.125, 0.125, NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'member',   2, 2, 'arc',  0, 0.25,  NULL,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 0),
  (2, 'ensemble', 1, 2, 'arc',  0, 0.625, 0.75,  0.25,  0.375, NULL, NULL, NULL, NULL, NULL, 1),
  (2, 'ensemble', 2, 2, 'arc',  0, 0.875, 0.5,   0.125, 0.25,  NULL, NULL, NULL, 0.25, 0.375, 1),
  (2, 'ensemble', 3, 2, 'arc',  0, 0.875, 0.375, 0.125, 0.125, NULL, NULL, NULL, 0.25, 0.25, 1),
  (3, 'member',   0, 1, 'arc',  0, 0.5,   1.0,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'member',   1, 1, 'arc',  0, 0.5,   1.0,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'member',   2, 1, 'arc',  0, 0.5,   1.0,   NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'ensemble', 3, 1, 'arc',  0, 0.5,   1.0,   NULL,  NULL,  NULL, NULL, NULL, 0.0,  0.0,  1),
  (4, 'member',   0, 1, 'arc',  0, 0.75,  0.75,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'member',   1, 1, 'arc',  0, 0.75,  0.75,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'member',   2, 1, 'arc',  0, 0.75,  0.75,  NULL,  NULL,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'ensemble', 3, 1, 'arc',  0, 0.75,  0.75,  NULL,  NULL,  NULL, NULL, NULL, 0.0,  0.0,  1),
  (3, 'member',   0, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'member',   1, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'member',   2, 2, 'arc',  0, 0.5,   0.75,  0.25,  0.5,   NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'ensemble', 1, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (3, 'ensemble', 2, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, 0.0,  0.0,  1),
  (3, 'ensemble', 3, 2, 'arc',  0, 0.75,  0.5,   0.0625, 0.25, NULL, NULL, NULL, 0.25, 0.125, 1),
  (4, 'member',   0, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'member',   1, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'member',   2, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'ensemble', 1, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, NULL, NULL, 1),
  (4, 'ensemble', 2, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, 0.0,  0.0,  1),
  (4, 'ensemble', 3, 2, 'arc',  0, 0.75,  0.5,   0.125, 0.25,  NULL, NULL, NULL, 0.0,  0.0,  1),
  (1, 'member',   0, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (1, 'member',   1, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.75, NULL, NULL, NULL, 1),
  (1, 'member',   2, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.75, NULL, NULL, NULL, 1),
  (1, 'ensemble', 3, 2, 'mmlu', 1, 0.5,   1.0,   0.25,  0.5,   0.75, 0.75, 0.75, 0.5,  0.5,  1),
  (2, 'member',   0, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (2, 'member',   1, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.5,  NULL, NULL, NULL, 1),
  (2, 'member',   2, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (2, 'ensemble', 3, 2, 'mmlu', 1, 0.25,  1.25,  0.5,   0.625, 0.75, 1.0,  0.875, 0.5, 0.75, 1),
  (3, 'member',   0, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (3, 'member',   1, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (3, 'member',   2, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  NULL, NULL, NULL, 1),
  (3, 'ensemble', 3, 2, 'mmlu', 1, 0.25,  1.5,   0.5,   0.75,  0.5,  0.5,  0.5,  0.0,  0.0,  1),
  (4, 'member',   0, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.75, NULL, NULL, NULL, 1),
  (4, 'member',   1, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.75, NULL, NULL, NULL, 1),
  (4, 'member',   2, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.75, NULL, NULL, NULL, 1),
  (4, 'ensemble', 3, 2, 'mmlu', 1, 0.5,   1.25,  0.25,  0.625, 0.75, 0.75, 0.75, 0.0,  0.0,  1))
INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, ood, n, accuracy, nll, ece,
                         brier, ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi, disagreement,
                         pairwise_kl, finite)
  SELECT run, kind, idx, epoch, 'eval', dataset, ood, 8, acc, nll, ece, brier, amax, aent, ami,
         dis, pkl, finite FROM v;
INSERT INTO train_log (run_id, member, epoch, step, loss, finite) VALUES (2, 2, 1, 17, NULL, 0);
SQL
ok 0 "the test database builds"

# ---- v_member_vs_ensemble ------------------------------------------------------------------------
# none, arc, epoch 2: the finite member accuracies are 0.5, 0.75, 0.625 (run 1) and 0.625, 0.875
# (run 2; its member 2 is not finite): mean 3.375 / 5 = 0.675, deviations -0.175, 0.075, -0.05,
# -0.05, 0.2, sample variance 0.08125 / 4 = 0.0203125, std 0.142522.  The full ensembles (k = 3):
# 0.75 and 0.875, mean 0.8125, std sqrt(2 * 0.0625^2) = 0.088388.  NLL: members 1.0, 0.5, 0.75,
# 0.75, 0.25: mean 0.65, variance (0.1225 + 0.0225 + 0.01 + 0.01 + 0.16) / 4 = 0.08125, std
# 0.285044; ensembles 0.5 and 0.375: mean 0.4375, std 0.088388.
# none, arc, epoch 1: members 0.5, 0.5, 0.75, 0.5, 0.75, 0.5: mean 3.5 / 6 = 0.583333, variance
# (4 * (1/12)^2 + 2 * (1/6)^2) / 5 = 1/60, std 0.129099; NLL 1.25, 1.25, 1.0, 1.5, 1.25, 1.25:
# mean 1.25, variance 2 * 0.0625 / 5 = 0.025, std 0.158114.
# kl: members all 0.5 (run 3) and all 0.75 (run 4) at epoch 1: mean 0.625, variance
# 6 * 0.125^2 / 5 = 0.01875, std 0.136931; ensembles 0.5 and 0.75: std 0.125 * sqrt(2) = 0.176777.
# kl, arc, epoch 2: members 0.75, 0.75, 0.5, 0.75, 0.75, 0.75: mean 4.25 / 6 = 0.708333, variance
# (5 * (1/24)^2 + (5/24)^2) / 5 = 1/96, std 0.102062; both ensembles 0.75: std 0.
run csv "$db" "SELECT regularizer, eval_dataset, ood, epoch, final_epoch, n_runs, n_member_rows,
  n_member_nonfinite, n_ensemble_rows, n_ensemble_nonfinite,
  round(member_accuracy, 6) AS ma, round(member_accuracy_std, 6) AS mas,
  round(ensemble_accuracy, 6) AS ea, round(ensemble_accuracy_std, 6) AS eas,
  round(member_nll, 6) AS mn, round(member_nll_std, 6) AS mns,
  round(ensemble_nll, 6) AS en, round(ensemble_nll_std, 6) AS ens
  FROM v_member_vs_ensemble ORDER BY regularizer DESC, eval_dataset, epoch"
is "$out" "regularizer,eval_dataset,ood,epoch,final_epoch,n_runs,n_member_rows,n_member_nonfinite,n_ensemble_rows,n_ensemble_nonfinite,ma,mas,ea,eas,mn,mns,en,ens
none,arc,0,1,2,2,6,0,2,0,0.583333,0.129099,0.75,0.0,1.25,0.158114,1.0,0.0
none,arc,0,2,2,2,5,1,2,0,0.675,0.142522,0.8125,0.088388,0.65,0.285044,0.4375,0.088388
none,mmlu,1,2,2,2,6,0,2,0,0.333333,0.129099,0.375,0.176777,1.416667,0.129099,1.125,0.176777
kl,arc,0,1,2,2,6,0,2,0,0.625,0.136931,0.625,0.176777,0.875,0.136931,0.875,0.176777
kl,arc,0,2,2,2,6,0,2,0,0.708333,0.102062,0.75,0.0,0.541667,0.102062,0.5,0.0
kl,mmlu,1,2,2,2,6,0,2,0,0.375,0.136931,0.375,0.176777,1.375,0.136931,1.375,0.176777" \
  "v_member_vs_ensemble: accuracy and NLL, members vs full ensembles, counts, the NaN row left out"

# ECE, Brier, the OOD AUROCs and diversity at epoch 2.  none/mmlu: member AUROC (max prob) 0.5,
# 0.5, 0.75, 0.5, 0.75, 0.5: mean 0.583333, std 0.129099; ensemble AUROC (entropy) 0.75 and 1.0:
# mean 0.875, std 0.176777; ensemble AUROC (MI) 0.75 and 0.875: mean 0.8125, std 0.088388.
# none/arc: member ECE 0.125, 0.25, 0.125, 0.25, 0.125 (the NaN row has none): mean 0.175, std
# sqrt(4 * 0.0625^2 ... ) = 0.068465; member Brier 0.5, 0.25, 0.375, 0.375, 0.125: mean 0.325, std
# 0.142522.  In-distribution sets have no AUROC (NULL).
run csv "$db" "SELECT regularizer, eval_dataset,
  round(member_ece, 6) AS me, round(member_ece_std, 6) AS mes,
  round(ensemble_ece, 6) AS ee, round(ensemble_ece_std, 6) AS ees,
  round(member_brier, 6) AS mb, round(member_brier_std, 6) AS mbs,
  round(ensemble_brier, 6) AS eb, round(ensemble_brier_std, 6) AS ebs,
  round(member_ood_auroc_maxprob, 6) AS mam, round(member_ood_auroc_maxprob_std, 6) AS mams,
  round(member_ood_auroc_entropy, 6) AS mae, round(ensemble_ood_auroc_entropy, 6) AS eae,
  round(ensemble_ood_auroc_entropy_std, 6) AS eaes, round(ensemble_ood_auroc_mi, 6) AS emi,
  round(ensemble_ood_auroc_mi_std, 6) AS emis, ensemble_disagreement AS dis,
  ensemble_pairwise_kl AS kl
  FROM v_member_vs_ensemble WHERE epoch = 2 ORDER BY regularizer DESC, eval_dataset"
is "$out" "regularizer,eval_dataset,me,mes,ee,ees,mb,mbs,eb,ebs,mam,mams,mae,eae,eaes,emi,emis,dis,kl
none,arc,0.175,0.068465,0.09375,0.044194,0.325,0.142522,0.1875,0.088388,,,,,,,,0.375,0.25
none,mmlu,0.416667,0.129099,0.375,0.176777,0.708333,0.06455,0.5625,0.088388,0.583333,0.129099,0.583333,0.875,0.176777,0.8125,0.088388,0.5,0.625
kl,arc,0.145833,0.051031,0.09375,0.044194,0.291667,0.102062,0.25,0.0,,,,,,,,0.125,0.0625
kl,mmlu,0.375,0.136931,0.375,0.176777,0.6875,0.068465,0.6875,0.088388,0.625,0.136931,0.625,0.625,0.176777,0.625,0.176777,0.0,0.0" \
  "v_member_vs_ensemble: ECE, Brier, OOD AUROCs and diversity"

run csv "$db" "SELECT DISTINCT model, dataset, reg_strength, rank, lr, ensemble_size, randomness,
  selection, split, first_run_id FROM v_member_vs_ensemble ORDER BY regularizer DESC"
is "$out" "model,dataset,reg_strength,rank,lr,ensemble_size,randomness,selection,split,first_run_id
m,arc,0.0,8,0.0001,3,init+data+dropout,epoch,eval,1
m,arc,0.5,8,0.0001,3,init+data+dropout,epoch,eval,3" "v_member_vs_ensemble: the axes of each group"

# ---- v_metrics_by_epoch ----------------------------------------------------------------------------
run csv "$db" "SELECT regularizer, curve, epoch, n_runs, n_rows, n_nonfinite,
  round(accuracy, 6) AS acc, round(accuracy_std, 6) AS acc_std, round(nll, 6) AS nll, disagreement
  FROM v_metrics_by_epoch WHERE eval_dataset = 'arc' ORDER BY regularizer DESC, curve, epoch"
is "$out" "regularizer,curve,epoch,n_runs,n_rows,n_nonfinite,acc,acc_std,nll,disagreement
none,base,0,2,2,0,0.25,0.0,1.5,
none,ensemble,1,2,2,0,0.75,0.0,1.0,0.25
none,ensemble,2,2,2,0,0.8125,0.088388,0.4375,0.375
none,member,1,2,6,0,0.583333,0.129099,1.25,
none,member,2,2,5,1,0.675,0.142522,0.65,
kl,ensemble,1,2,2,0,0.625,0.176777,0.875,0.0
kl,ensemble,2,2,2,0,0.75,0.0,0.5,0.125
kl,member,1,2,6,0,0.625,0.136931,0.875,
kl,member,2,2,6,0,0.708333,0.102062,0.541667," \
  "v_metrics_by_epoch: base, member and ensemble curves over epochs"

# ---- v_ensemble_size -------------------------------------------------------------------------------
# none, arc, epoch 2: k = 1 is 0.5 and 0.625 (mean 0.5625, std 0.088388), k = 2 and 3 are 0.75 and
# 0.875 (mean 0.8125); NLL k = 1: 1.0 and 0.75 (0.875, std 0.176777); k = 3 disagreement 0.5 and
# 0.25 (0.375, std 0.176777).  Ensembles of one member have no diversity (NULL).
run csv "$db" "SELECT regularizer, k, final_epoch, n_runs, accuracy, round(accuracy_std, 6) AS acc_std,
  nll, round(nll_std, 6) AS nll_std, ece, disagreement,
  round(disagreement_std, 6) AS dis_std, pairwise_kl
  FROM v_ensemble_size WHERE eval_dataset = 'arc' AND epoch = 2 ORDER BY regularizer DESC, k"
is "$out" "regularizer,k,final_epoch,n_runs,accuracy,acc_std,nll,nll_std,ece,disagreement,dis_std,pairwise_kl
none,1,2,2,0.5625,0.088388,0.875,0.176777,0.1875,,,
none,2,2,2,0.8125,0.088388,0.5625,0.088388,0.125,0.25,0.0,0.25
none,3,2,2,0.8125,0.088388,0.4375,0.088388,0.09375,0.375,0.176777,0.25
kl,1,2,2,0.75,0.0,0.5,0.0,0.125,,,
kl,2,2,2,0.75,0.0,0.5,0.0,0.125,0.0,0.0,0.0
kl,3,2,2,0.75,0.0,0.5,0.0,0.09375,0.125,0.176777,0.0625" "v_ensemble_size: k = 1 .. M over seeds"

# ---- v_randomness ------------------------------------------------------------------------------------
# Gains: none/arc 0.8125 - 0.675 = 0.1375 in accuracy, 0.65 - 0.4375 = 0.2125 in NLL.
run csv "$db" "SELECT randomness, regularizer, eval_dataset, n_runs, n_nonfinite,
  round(accuracy_gain, 6) AS acc_gain, round(nll_gain, 6) AS nll_gain,
  ensemble_disagreement AS dis, ensemble_pairwise_kl AS kl
  FROM v_randomness WHERE epoch = 2 ORDER BY regularizer DESC, eval_dataset"
is "$out" "randomness,regularizer,eval_dataset,n_runs,n_nonfinite,acc_gain,nll_gain,dis,kl
init+data+dropout,none,arc,2,1,0.1375,0.2125,0.375,0.25
init+data+dropout,none,mmlu,2,0,0.041667,0.291667,0.5,0.625
init+data+dropout,kl,arc,2,0,0.041667,0.041667,0.125,0.0625
init+data+dropout,kl,mmlu,2,0,0.0,0.0,0.0,0.0" "v_randomness: gains and diversity per randomness source"

# ---- v_run_summary -----------------------------------------------------------------------------------
# Run 2 on arc: its finite members at epoch 2 are 0.625 and 0.875 (mean 0.75), NLL 0.75 and 0.25
# (0.5); the failed run 5 has one row with no evaluation.
run csv "$db" "SELECT run_id, run, status, regularizer, seed, attempts, selection, last_epoch,
  eval_dataset, ood, n, ensemble_finite, ensemble_accuracy, ensemble_nll, ensemble_ood_auroc_mi,
  round(member_accuracy, 6) AS member_accuracy, round(member_nll, 6) AS member_nll, n_members,
  n_member_nonfinite FROM v_run_summary ORDER BY run_id, eval_dataset"
is "$out" "run_id,run,status,regularizer,seed,attempts,selection,last_epoch,eval_dataset,ood,n,ensemble_finite,ensemble_accuracy,ensemble_nll,ensemble_ood_auroc_mi,member_accuracy,member_nll,n_members,n_member_nonfinite
1,a1a1a1a1a1a1,done,none,0,1,epoch,2,arc,0,8,1,0.75,0.5,,0.625,0.75,3,0
1,a1a1a1a1a1a1,done,none,0,1,epoch,2,mmlu,1,8,1,0.5,1.0,0.75,0.333333,1.416667,3,0
2,a2a2a2a2a2a2,done,none,1,1,epoch,2,arc,0,8,1,0.875,0.375,,0.75,0.5,3,1
2,a2a2a2a2a2a2,done,none,1,1,epoch,2,mmlu,1,8,1,0.25,1.25,0.875,0.333333,1.416667,3,0
3,b3b3b3b3b3b3,done,kl,0,1,epoch,2,arc,0,8,1,0.75,0.5,,0.666667,0.583333,3,0
3,b3b3b3b3b3b3,done,kl,0,1,epoch,2,mmlu,1,8,1,0.25,1.5,0.5,0.25,1.5,3,0
4,b4b4b4b4b4b4,done,kl,1,1,epoch,2,arc,0,8,1,0.75,0.5,,0.75,0.5,3,0
4,b4b4b4b4b4b4,done,kl,1,1,epoch,2,mmlu,1,8,1,0.5,1.25,0.75,0.5,1.25,3,0
5,c5c5c5c5c5c5,failed,none,2,2,,,,,,,,,,,,," "v_run_summary: one row per run and set, the failed run too"

# ---- queries -------------------------------------------------------------------------------------------
header() { "$LORENS" query --db "$db" -f "$TOP_SRCDIR/db/queries/$1" | head -n 1; }
for q in paper-table epochs ensemble-size randomness failures summary; do
  run "$LORENS" query --db "$db" -f "$TOP_SRCDIR/db/queries/$q.sql"
  is "$status" 0 "db/queries/$q.sql runs"
  head -n 1 "$TOP_SRCDIR/db/queries/$q.sql" | grep -q "^-- $q.sql: "
  ok $? "db/queries/$q.sql starts by saying what it shows"
done
is "$(header paper-table.sql)" "dataset  regularizer  strength  randomness         eval_dataset  ood  epoch  runs  member_acc       ensemble_acc     member_nll       ensemble_nll     member_ece       ensemble_ece     member_brier  ensemble_brier  member_auroc_ent  ensemble_auroc_ent  ensemble_auroc_mi  nonfinite" \
  "paper-table.sql: its header"
run "$LORENS" query --db "$db" --format csv -f "$TOP_SRCDIR/db/queries/paper-table.sql"
like "$(printf '%s' "$out" | tr -d "$cr")" "arc,none,0.0,init+data+dropout,arc,0,2,2,0.6750 ± 0.1425,0.8125 ± 0.0884,0.6500 ± 0.2850,0.4375 ± 0.0884," \
  "paper-table.sql: the final epoch, mean ± std"
is "$(header epochs.sql)" "dataset  regularizer  strength  randomness         eval_dataset  ood  curve     epoch  runs  accuracy  accuracy_std     nll  nll_std     ece  ece_std   brier  auroc_ent  disagreement  nonfinite" \
  "epochs.sql: its header"
is "$(header ensemble-size.sql)" "dataset  regularizer  strength  eval_dataset  ood  epoch  k  runs  accuracy  accuracy_std     nll  nll_std     ece  ece_std   brier  auroc_mi  disagreement  nonfinite" \
  "ensemble-size.sql: its header"
is "$(header randomness.sql)" "dataset  eval_dataset  ood  randomness         regularizer  epoch  runs  member_acc  member_acc_std  ensemble_acc  ensemble_acc_std  acc_gain  member_nll  ensemble_nll  nll_gain  member_ece  ensemble_ece  disagreement  pairwise_kl  nonfinite" \
  "randomness.sql: its header"
run "$LORENS" query --db "$db" --format csv -f "$TOP_SRCDIR/db/queries/failures.sql"
is "$(printf '%s' "$out" | tr -d "$cr")" "run,status,dataset,regularizer,strength,lr,seed,attempts,exit_status,error,diverged,nonfinite,nonfinite_steps
c5c5c5c5c5c5,failed,arc,none,0.0,0.0001,2,2,exit 1,out of memory,,0,0
a2a2a2a2a2a2,done,arc,none,0.0,0.0001,1,1,,,2@17,1,1" \
  "failures.sql: the failed run with its error's first line, and the run with a diverged member"

# ---- how views reach a database ------------------------------------------------------------------
views="run_status_counts v_ensemble_size v_eval_stats v_member_vs_ensemble v_metrics_by_epoch v_randomness v_run_axes v_run_summary v_summary"
names() { csv "$1" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name)" | tail -n 1; }
is "$(names "$db")" "$views" "a new database has every view of db/views.sql"
cookie() { csv "$1" "PRAGMA schema_version" | tail -n 1; }
before=$(cookie "$db")
"$sql" "$db" < /dev/null
is "$(cookie "$db")" "$before" "a writable open of a current database rewrites no view"

# An older database: one view missing, one stale, and a view of the user's own.
"$sql" "$db" --raw <<'SQL'
DROP VIEW v_randomness;
DROP VIEW v_run_axes;
CREATE VIEW v_run_axes AS SELECT 1 AS stale;
CREATE VIEW my_view AS SELECT count(*) AS n FROM runs;
SQL
run "$LORENS" query --db "$db" "SELECT * FROM v_run_axes"
is "$out" "stale
-----
    1" "a read-only open uses the views the file has"
run "$LORENS" query --db "$db" "SELECT * FROM v_randomness"
like "$err" "no such table: v_randomness" "and does not add missing ones"
"$sql" "$db" < /dev/null
ok $? "a writable open of the older database works"
is "$(names "$db")" "my_view $views" "it recreated every view of db/views.sql"
run csv "$db" "SELECT count(*) AS n FROM v_run_axes"
is "$out" "n
5" "the stale view is the current one again"
run csv "$db" "SELECT n FROM my_view"
is "$out" "n
5" "the user's own view is left alone"
run csv "$db" "SELECT round(accuracy_gain, 6) AS g FROM v_randomness WHERE regularizer = 'none' AND eval_dataset = 'arc' AND epoch = 2"
is "$out" "g
0.1375" "the missing view is back, with the same numbers"

done_testing
