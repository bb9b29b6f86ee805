-- failures.sql: runs that need attention, and why.  Runs that failed, diverged or were
-- interrupted (with how the worker ended and its error, first line), and any other run whose
-- members diverged or whose evaluations hold NaN or infinite metrics.  diverged lists the
-- diverged members as member@step; nonfinite counts evaluation rows with finite = 0 and
-- nonfinite_steps training steps with finite = 0.
--
--   lorens query --db results.db -f db/queries/failures.sql
WITH d AS (
  SELECT run_id, group_concat(member || '@' || coalesce(diverged_step, '?'), ' ') AS diverged
  FROM (SELECT * FROM members WHERE status = 'diverged' ORDER BY run_id, member)
  GROUP BY run_id
),
e AS (
  SELECT run_id, count(*) AS n FROM evaluations WHERE NOT finite GROUP BY run_id
),
t AS (
  SELECT run_id, count(*) AS n FROM train_log WHERE NOT finite GROUP BY run_id
)
SELECT substr(r.run_key, 1, 12) AS run, r.status, r.dataset, r.regularizer,
       r.reg_strength AS strength, r.lr, r.seed, r.attempts, r.exit_status,
       CASE WHEN instr(r.error, char(10)) THEN substr(r.error, 1, instr(r.error, char(10)) - 1)
            ELSE r.error END AS error,
       d.diverged, coalesce(e.n, 0) AS nonfinite, coalesce(t.n, 0) AS nonfinite_steps
FROM runs AS r
LEFT JOIN d ON d.run_id = r.id
LEFT JOIN e ON e.run_id = r.id
LEFT JOIN t ON t.run_id = r.id
WHERE r.status IN ('failed', 'diverged', 'interrupted') OR d.diverged IS NOT NULL OR e.n > 0
   OR t.n > 0
ORDER BY CASE r.status WHEN 'failed' THEN 0 WHEN 'diverged' THEN 1 WHEN 'interrupted' THEN 2
                       ELSE 3 END, r.dataset, r.regularizer, r.reg_strength, r.lr, r.seed, r.id;
