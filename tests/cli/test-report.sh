#!/bin/sh
# test-report.sh: `lorens report` on a small finished sweep (two runs of three members, three
# epochs, a test set and an OOD set): the page's numbers read back from its SVG against the
# database's, every figure with as many marks as rows behind it, nothing it could fetch, the same
# bytes twice; a sweep over several keys in sections, with labelled groups; a paper grid's worth
# of synthetic rows drawn as means, within a stated size; then in headless Chromium (Debian's
# chromium, where installed): it loads with no console message, no request leaves the file, the
# rendered page has every mark, and a screenshot is taken.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"
db="$tap_tmp/rep.db"
page="$tap_tmp/report.html"

g=$(fixture_grid "$tap_tmp/rep.yaml" rep "train: {batch_size: 8, epochs: 3}" \
  "ensemble: {size: 3}" "data:
  train: {format: jsonl, path: $data/tiny.jsonl}
  eval:
    - {name: tiny, format: jsonl, path: $data/tiny.jsonl}
    - {name: generic, format: jsonl, path: $TOP_SRCDIR/tests/data/datasets/generic.jsonl, ood: true}" "grid:
  seed: [0, 1]")
"$LORENS" run "$g" --db "$db" --backend-dir "$cpu" -q
ok $? "a small sweep runs"

# ---- usage ---------------------------------------------------------------------------------------
run "$LORENS" report --db "$db"
is "$status" 2 "--out is required"
run "$LORENS" report --db "$tap_tmp/none.db" -o "$page"
is "$status" 1 "a missing database fails"
ok "$([ ! -e "$page" ]; echo $?)" "and writes no page"
run "$LORENS" report --db "$db" --sweep nope -o "$page"
is "$status" 1 "an unknown sweep fails"
like "$err" "no sweep named 'nope'" "naming it"
run "$LORENS" report --db "$db" --epoch 7 -o "$page"
is "$status" 1 "an epoch no run was evaluated at fails"
like "$err" "--epoch 7: the sweep 'rep' has no evaluation at that epoch (its runs were evaluated at epochs 0 to 3)" \
  "saying which epochs there are"
ok "$([ ! -e "$page" ]; echo $?)" "and writes no page"

# ---- the page --------------------------------------------------------------------------------------
run "$LORENS" report --db "$db" -o "$page"
is "$status" 0 "report writes the page"
like "$err" "sweep 'rep': 2 runs" "and says what it drew"
html=$(cat "$page")
like "$html" "<h1>Sweep rep</h1>" "the page names the sweep"
like "$html" "<td>runs</td><td>2 done (2 in all)</td>" "its provenance counts the runs"
like "$html" "all runs, evaluated on tiny" "a panel per group and test set"
like "$html" "<td>groups differ by</td><td>nothing but the seed</td>" \
  "the provenance says what the groups differ by"
like "$html" "all runs: out-of-distribution detection, tiny against generic (epoch 3)" \
  "an OOD panel: the test set against the OOD set"
cols="e.run_id, e.kind, e.idx, e.epoch, e.accuracy, e.nll, e.ece, e.brier, e.finite"
head="run_id,kind,idx,epoch,accuracy,nll,ece,brier,finite"
where="e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0"
# (the OOD set 'generic' is drawn as histograms only)
q "$db" "SELECT $cols FROM evaluations e JOIN runs r ON r.id = e.run_id WHERE $where
           AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size))" |
  { echo "$head"; cat; } > "$tap_tmp/curves.csv"
q "$db" "SELECT $cols FROM evaluations e WHERE $where AND e.kind = 'ensemble' AND e.epoch = 3" |
  { echo "$head"; cat; } > "$tap_tmp/sizes.csv"
"$LORENS" query --db "$db" --format csv "SELECT run_id, member, example, label, probs
  FROM predictions WHERE split = 'eval' AND epoch = 3 AND dataset = 'tiny'" |
  tr -d '\r' > "$tap_tmp/predictions.csv"
"$LORENS" query --db "$db" --format csv "SELECT run_id, member, dataset, example, probs
  FROM predictions WHERE split = 'eval' AND epoch = 3" | tr -d '\r' > "$tap_tmp/ood-predictions.csv"
"$LORENS" query --db "$db" --format csv "SELECT e.kind, e.idx, r.ensemble_size, e.ood_auroc_maxprob,
  e.ood_auroc_entropy, e.ood_auroc_mi FROM evaluations e JOIN runs r ON r.id = e.run_id
  WHERE e.dataset = 'generic' AND e.epoch = 3 AND e.selection = 'epoch'" |
  tr -d '\r' > "$tap_tmp/ood-aurocs.csv"
q "$db" "SELECT e.run_id, e.disagreement, e.accuracy - avg(m.accuracy), avg(m.nll) - e.nll
         FROM evaluations e JOIN evaluations m ON m.run_id = e.run_id AND m.epoch = e.epoch
           AND m.dataset = e.dataset AND m.kind = 'member' AND m.selection = 'epoch'
           AND m.split = 'eval'
         WHERE e.selection = 'epoch' AND e.split = 'eval' AND e.kind = 'ensemble' AND e.idx = 3
           AND e.epoch = 3 AND e.ood = 0 GROUP BY e.id" |
  { echo "run_id,disagreement,accuracy_gain,nll_gain"; cat; } > "$tap_tmp/gains.csv"
run python3 "$TOP_SRCDIR/tests/cli/check-report.py" "$page" --curves "$tap_tmp/curves.csv" \
  --sizes "$tap_tmp/sizes.csv" --predictions "$tap_tmp/predictions.csv" \
  --gains "$tap_tmp/gains.csv" --ood-predictions "$tap_tmp/ood-predictions.csv" \
  --ood-aurocs "$tap_tmp/ood-aurocs.csv" --id-set tiny --ood-set generic
is "$status" 0 "the plotted numbers are the database's, a mark per row and metric"
diag "$out"
# (2 runs x (3 members + the ensemble) x 4 epochs) rows x 4 metrics
like "$out" "learning curves: 128 marks, 128 database values" "all 128 of the learning curves"
# 2 runs x 3 ensemble sizes x 4 metrics
like "$out" "ensemble sizes: 24 marks, 24 database values" "all 24 against the ensemble size"
like "$out" "from 18 member and 6 ensemble predictions" \
  "the reliability bins recomputed from every prediction (2 runs x 3 members x 3 examples)"
like "$out" "gains: 4 marks, 2 runs x 2 from the database" "a gain mark per run and measure"
# 2 runs x 3 test examples and 2 runs x 5 OOD examples (2 of them unlabelled: they count too)
like "$out" "OOD histograms: 5 figures, 6 ID and 10 OOD scores of the full ensembles recomputed" \
  "the OOD histograms recomputed from every prediction, with the stored AUROCs' means"
rows=$("$LORENS" query --db "$db" --format csv -f "$TOP_SRCDIR/db/queries/paper-table.sql" |
  tail -n +2 | wc -l | tr -d ' ')
like "$html" "(db/queries/paper-table.sql, $rows rows)" "the paper's table, with the rows lorens query gives ($rows)"
like "$html" "(db/queries/failures.sql, 0 rows)" "and no run that needs attention"
case $html in *randomness.sql*) ok 1 "no randomness table when the sweep does not vary it" ;;
  *) ok 0 "no randomness table when the sweep does not vary it" ;; esac
# Two test sets over the same file: their panels must show the same numbers.
g2=$(fixture_grid "$tap_tmp/rnd.yaml" rnd "train: {batch_size: 8, epochs: 1}" "data:
  train: {format: jsonl, path: $data/tiny.jsonl}
  eval:
    - {name: tiny, format: jsonl, path: $data/tiny.jsonl}
    - {name: same, format: jsonl, path: $data/tiny.jsonl}" "grid:
  ensemble.randomness: [{init: vary, data: fixed, dropout: fixed}, {init: vary, data: vary, dropout: vary}]")
"$LORENS" run "$g2" --db "$tap_tmp/rnd.db" --backend-dir "$cpu" -q
"$LORENS" report --db "$tap_tmp/rnd.db" -o "$tap_tmp/rnd.html" -q
rows=$("$LORENS" query --db "$tap_tmp/rnd.db" --format csv -f "$TOP_SRCDIR/db/queries/randomness.sql" |
  tail -n +2 | wc -l | tr -d ' ')
like "$(cat "$tap_tmp/rnd.html")" "(db/queries/randomness.sql, $rows rows)" \
  "a sweep over the randomness sources gets their comparison ($rows rows)"
# One line per reliability diagram: its bins.  The sweep varies the randomness, so two groups,
# each on both test sets: diagrams 1 and 2 must be equal, and 3 and 4.
awk 'BEGIN { RS = "data-metric=\"reliability\"" } NR > 1 {
       line = ""; s = $0
       while (match(s, /data-series="[a-z]*" data-bin="[0-9]*" data-n="[0-9]*" data-conf="[^"]*" data-acc="[^"]*"/)) {
         line = line substr(s, RSTART, RLENGTH) " "; s = substr(s, RSTART + RLENGTH) }
       print line }' "$tap_tmp/rnd.html" > "$tap_tmp/rnd-bins.txt"
ok "$([ "$(wc -l < "$tap_tmp/rnd-bins.txt")" -eq 4 ] &&
  [ "$(sed -n 1p "$tap_tmp/rnd-bins.txt")" = "$(sed -n 2p "$tap_tmp/rnd-bins.txt")" ] &&
  [ "$(sed -n 3p "$tap_tmp/rnd-bins.txt")" = "$(sed -n 4p "$tap_tmp/rnd-bins.txt")" ] &&
  [ -n "$(sed -n 1p "$tap_tmp/rnd-bins.txt")" ]; echo $?)" \
  "two test sets of the same examples draw the same reliability bins, in each group"
like "$(cat "$tap_tmp/rnd.html")" "<h3>ensemble.randomness=init, evaluated on same</h3>" \
  "a sweep over one key: a group per value, labelled by the grid's axis"
# A grid whose text no longer parses (an older lorens's): the keys that differ name the groups.
cp "$tap_tmp/rnd.db" "$tap_tmp/old.db"
python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE sweeps SET yaml = 'grid: [unparsable'\"); c.commit()" "$tap_tmp/old.db"
"$LORENS" report --db "$tap_tmp/old.db" -o "$tap_tmp/old.html" -q
ok $? "a sweep whose stored grid no longer parses still gets its report"
like "$(cat "$tap_tmp/old.html")" "<h3>ensemble.randomness=init+data+dropout, evaluated on tiny</h3>" \
  "grouped by the keys that differ between its runs"
# Two axes: a section per value of the first, a group per value of the second, a contents list.
g3=$(fixture_grid "$tap_tmp/two.yaml" two "train: {batch_size: 8, epochs: 1}" "grid:
  lora.rank: [1, 2]
  regularizer.kl.weight: [0.0, 0.5]")
"$LORENS" run "$g3" --db "$tap_tmp/two.db" --backend-dir "$cpu" -q
"$LORENS" report --db "$tap_tmp/two.db" -o "$tap_tmp/two.html" -q
two=$(cat "$tap_tmp/two.html")
like "$two" "<td>groups differ by</td><td>lora.rank, regularizer.kl.weight</td>" \
  "the axes of the grid, in its order"
like "$two" '<li><a href="#s0">lora.rank=1</a> (2 groups)</li>' "a contents list of the sections"
like "$two" '<h2 id="s1">lora.rank=2</h2>' "a section per value of the first axis"
like "$two" "<h3>regularizer.kl.weight=0.5, evaluated on tiny</h3>" "a group per value of the other"
is "$(grep -c '<section class="panel"' "$tap_tmp/two.html")" 4 "four groups, one test set: four panels"
ok "$(grep -Eiq '<script|<link|<img|<iframe|@import|url\(|src=|href="[^#]' "$page"; [ $? -ne 0 ]; echo $?)" \
  "nothing in it could fetch anything (no script, link, image, import, url(), src or href but to its own sections)"
ok "$(grep -o 'https\?://[^"]*' "$page" | grep -v '^http://www.w3.org/2000/svg$' | grep -q .; [ $? -ne 0 ]; echo $?)" \
  "the only URL is SVG's namespace"
"$LORENS" report --db "$db" -o "$tap_tmp/again.html" -q
ok "$(cmp -s "$page" "$tap_tmp/again.html"; echo $?)" "the same database gives the same bytes"

# A grid with a validation set and an OOD set only: the validation set is the OOD panel's reference.
g4=$(fixture_grid "$tap_tmp/vo.yaml" vo "train: {batch_size: 8, epochs: 1}" "data:
  train: {format: jsonl, path: $data/tiny.jsonl}
  validation: {name: val, format: jsonl, path: $data/tiny.jsonl}
  eval:
    - {name: generic, format: jsonl, path: $TOP_SRCDIR/tests/data/datasets/generic.jsonl, ood: true}")
"$LORENS" run "$g4" --db "$tap_tmp/vo.db" --backend-dir "$cpu" -q
"$LORENS" report --db "$tap_tmp/vo.db" -o "$tap_tmp/vo.html" -q
like "$(cat "$tap_tmp/vo.html")" "all runs: out-of-distribution detection, val (validation) against generic (epoch 1)" \
  "OOD sets only: the validation set is the reference"
like "$(cat "$tap_tmp/vo.html")" 'data-metric="ood-ensemble-maxprob" data-rows="8"' \
  "its histograms hold its 3 examples and the OOD set's 5"

# A stored prediction that is not a JSON array: the message names the database and the row.
cp "$db" "$tap_tmp/bad.db"
python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE predictions SET probs = '[0.5,oops]' WHERE run_id = 1 AND member = 0 AND example = 1 AND dataset = 'generic' AND epoch = 3\"); c.commit()" "$tap_tmp/bad.db"
run "$LORENS" report --db "$tap_tmp/bad.db" -o "$tap_tmp/bad.html"
is "$status" 1 "an unreadable stored prediction fails the report"
like "$err" "bad.db: predictions of run 1, member 0, set 'generic', epoch 3, example 1: probs '[0.5,oops]' is not a JSON array" \
  "naming the database and the prediction"
ok "$([ ! -e "$tap_tmp/bad.html" ]; echo $?)" "and writes no page"

# ---- a paper grid's worth of rows ------------------------------------------------------------------
# experiments/paper.yaml (60 runs: 4 tasks x 5 regularizers x 3 seeds, M = 5, 10 epochs, a test set
# and two OOD sets each) with synthetic results, 40 examples per set (the page's size does not
# grow with the examples: histograms bin them).
big="$tap_tmp/paper.db"
cp "$db" "$big"
"$LORENS" plan "$TOP_SRCDIR/experiments/paper.yaml" --format json > "$tap_tmp/paper-plan.json"
python3 "$TOP_SRCDIR/tests/cli/make-synthetic-sweep.py" "$big" "$tap_tmp/paper-plan.json" \
  "$TOP_SRCDIR/experiments/paper.yaml" --examples 40 > /dev/null
ok $? "a paper grid's worth of synthetic rows"
run "$LORENS" report --db "$big" --sweep lora-ensembles-paper -o "$tap_tmp/paper.html"
is "$status" 0 "its report is written"
size=$(wc -c < "$tap_tmp/paper.html" | tr -d ' ')
ok "$([ "$size" -lt 4000000 ]; echo $?)" "in under 4 MB ($size bytes)"
paper=$(cat "$tap_tmp/paper.html")
like "$paper" "<td>groups differ by</td><td>dataset, regularizer, lora.dropout</td>" \
  "grouped by the grid's axes, but the seed"
is "$(grep -c '<h2 id="s' "$tap_tmp/paper.html")" 4 "a section per task"
is "$(grep -c '<section class="panel"' "$tap_tmp/paper.html")" 20 \
  "a panel per group (5 regularizers in each of 4 sections) on its test set"
is "$(grep -c '<section class="panel ood"' "$tap_tmp/paper.html")" 40 "and one per OOD set"
like "$paper" "<h3>regularizer=kl 0.1, lora.dropout=0.0, evaluated on obqa-test</h3>" \
  "a group named by its regularizer"
sweep_rows="JOIN sweep_runs x ON x.run_id = e.run_id JOIN sweeps s ON s.id = x.sweep_id
  WHERE s.name = 'lora-ensembles-paper' AND $where"
q "$big" "SELECT $cols, e.dataset FROM evaluations e JOIN runs r ON r.id = e.run_id $sweep_rows
           AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size))" |
  { echo "$head,dataset"; cat; } > "$tap_tmp/paper-curves.csv"
q "$big" "SELECT $cols, e.dataset FROM evaluations e $sweep_rows AND e.kind = 'ensemble'
           AND e.epoch = 10" | { echo "$head,dataset"; cat; } > "$tap_tmp/paper-sizes.csv"
run python3 "$TOP_SRCDIR/tests/cli/check-report.py" "$tap_tmp/paper.html" \
  --curves "$tap_tmp/paper-curves.csv" --sizes "$tap_tmp/paper-sizes.csv"
is "$status" 0 "its figures stand for every row, each summary mark the mean of its rows"
diag "$out"
# 20 panels x 11 epochs x (members, ensembles) x 4 metrics; 20 x 5 sizes x 4
like "$out" "learning curves: 15840 marks, 15840 database values, 1760 summary marks" \
  "the 15840 learning-curve values drawn as 1760 means"

# ---- in a browser ------------------------------------------------------------------------------------
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
if [ -z "$browser" ]; then
  skip "no chromium here (Debian: chromium)" "the page in a headless browser"
  done_testing
fi
# Every network request goes to a closed port, and the net log keeps what the browser asked for.
chrome() {
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --no-default-browser-check --disable-background-networking \
    --disable-component-update --disable-sync --proxy-server=http://127.0.0.1:9 \
    --user-data-dir="$tap_tmp/profile" --enable-logging=stderr --v=0 "$@" "file://$page"
}
chrome --window-size=1280,1000 --screenshot="$tap_tmp/shot.png" \
  --log-net-log="$tap_tmp/net.json" >/dev/null 2>"$tap_tmp/chrome.err"
ok $? "headless Chromium loads the page"
ok "$([ -s "$tap_tmp/shot.png" ]; echo $?)" "and takes a screenshot ($(wc -c < "$tap_tmp/shot.png") bytes)"
ok "$(grep -q 'CONSOLE' "$tap_tmp/chrome.err"; [ $? -ne 0 ]; echo $?)" "with no console message"
# The browser's own background requests (its clock, updater and account check) are not the page's.
grep -o '"url":"[^"]*"' "$tap_tmp/net.json" | sort -u |
  grep -Ev '"url":"https?://(clients2\.google\.com/time/|update\.googleapis\.com/service/update2/|accounts\.google\.com/ListAccounts)' |
  grep -v '"url":"file://' > "$tap_tmp/requests.txt"
ok "$([ ! -s "$tap_tmp/requests.txt" ]; echo $?)" "no request leaves the file"
[ -s "$tap_tmp/requests.txt" ] && diag "$(cat "$tap_tmp/requests.txt")"
chrome --dump-dom > "$tap_tmp/dom.html" 2>/dev/null
is "$(grep -o '<circle ' "$tap_tmp/dom.html" | wc -l | tr -d ' ')" \
  "$(grep -o '<circle ' "$page" | wc -l | tr -d ' ')" "the rendered page has every mark"
is "$(grep -o '<svg xmlns="http://www.w3.org/2000/svg" class="plot"' "$tap_tmp/dom.html" | wc -l | tr -d ' ')" 16 \
  "and all sixteen figures (4 over epochs, 4 against the ensemble size, 2 gains, reliability, 5 OOD)"
is "$(grep -o '<rect class="o[io]"' "$tap_tmp/dom.html" | wc -l | tr -d ' ')" \
  "$(grep -o '<rect class="o[io]"' "$page" | wc -l | tr -d ' ')" "and every OOD bar"
# The paper grid's page: loads without a console message, with every mark.
page="$tap_tmp/paper.html"
chrome --dump-dom > "$tap_tmp/paper-dom.html" 2>"$tap_tmp/paper-chrome.err"
ok "$(grep -q 'CONSOLE' "$tap_tmp/paper-chrome.err"; [ $? -ne 0 ]; echo $?)" \
  "the paper grid's page loads with no console message"
is "$(grep -o '<circle \|<rect class="o' "$tap_tmp/paper-dom.html" | wc -l | tr -d ' ')" \
  "$(grep -o '<circle \|<rect class="o' "$page" | wc -l | tr -d ' ')" "with every mark rendered"
done_testing
