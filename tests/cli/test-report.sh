#!/bin/sh
# test-report.sh: `lorens report` on a small finished sweep (two runs of three members, three
# epochs): the page's numbers read back from its SVG against the database's, every figure with as
# many marks as rows behind it, nothing it could fetch, the same bytes twice; then in headless
# Chromium (Debian's chromium, where installed): it loads with no console message, no request
# leaves the file, the rendered page has every mark, and a screenshot is taken.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/cli/fixture.sh"
db="$tap_tmp/rep.db"
page="$tap_tmp/report.html"

g=$(fixture_grid "$tap_tmp/rep.yaml" rep "train: {batch_size: 8, epochs: 3}" \
  "ensemble: {size: 3}" "grid:
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

# ---- the page --------------------------------------------------------------------------------------
run "$LORENS" report --db "$db" -o "$page"
is "$status" 0 "report writes the page"
like "$err" "sweep 'rep': 2 runs" "and says what it drew"
html=$(cat "$page")
like "$html" "<h1>Sweep rep</h1>" "the page names the sweep"
like "$html" "<td>runs</td><td>2 done (2 in all)</td>" "its provenance counts the runs"
like "$html" "tiny / none, evaluated on tiny" "a panel per group and test set"
cols="e.run_id, e.kind, e.idx, e.epoch, e.accuracy, e.nll, e.ece, e.brier, e.finite"
head="run_id,kind,idx,epoch,accuracy,nll,ece,brier,finite"
where="e.selection = 'epoch' AND e.split = 'eval' AND e.ood = 0"
q "$db" "SELECT $cols FROM evaluations e JOIN runs r ON r.id = e.run_id WHERE $where
           AND (e.kind = 'member' OR (e.kind = 'ensemble' AND e.idx = r.ensemble_size))" |
  { echo "$head"; cat; } > "$tap_tmp/curves.csv"
q "$db" "SELECT $cols FROM evaluations e WHERE $where AND e.kind = 'ensemble' AND e.epoch = 3" |
  { echo "$head"; cat; } > "$tap_tmp/sizes.csv"
"$LORENS" query --db "$db" --format csv "SELECT run_id, member, example, label, probs
  FROM predictions WHERE split = 'eval' AND epoch = 3" | tr -d '\r' > "$tap_tmp/predictions.csv"
q "$db" "SELECT e.run_id, e.disagreement, e.accuracy - avg(m.accuracy), avg(m.nll) - e.nll
         FROM evaluations e JOIN evaluations m ON m.run_id = e.run_id AND m.epoch = e.epoch
           AND m.dataset = e.dataset AND m.kind = 'member' AND m.selection = 'epoch'
           AND m.split = 'eval'
         WHERE e.selection = 'epoch' AND e.split = 'eval' AND e.kind = 'ensemble' AND e.idx = 3
           AND e.epoch = 3 GROUP BY e.id" |
  { echo "run_id,disagreement,accuracy_gain,nll_gain"; cat; } > "$tap_tmp/gains.csv"
run python3 "$TOP_SRCDIR/tests/cli/check-report.py" "$page" "$tap_tmp/curves.csv" \
  "$tap_tmp/sizes.csv" "$tap_tmp/predictions.csv" "$tap_tmp/gains.csv"
is "$status" 0 "the plotted numbers are the database's, a mark per row and metric"
diag "$out"
# (2 runs x (3 members + the ensemble) x 4 epochs) rows x 4 metrics
like "$out" "learning curves: 128 marks, 128 database values" "all 128 of the learning curves"
# 2 runs x 3 ensemble sizes x 4 metrics
like "$out" "ensemble sizes: 24 marks, 24 database values" "all 24 against the ensemble size"
like "$out" "from 18 member and 6 ensemble predictions" \
  "the reliability bins recomputed from every prediction (2 runs x 3 members x 3 examples)"
like "$out" "gains: 4 marks, 2 runs x 2 from the database" "a gain mark per run and measure"
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
bins() { grep -o 'data-series="[a-z]*" data-bin="[0-9]*" data-n="[0-9]*" data-conf="[^"]*" data-acc="[^"]*"' "$tap_tmp/rnd.html"; }
n=$(bins | wc -l)
ok "$([ "$n" -gt 0 ] && [ "$n" -eq $(($(bins | sort -u | wc -l) * 2)) ]; echo $?)" \
  "two test sets of the same examples draw the same reliability bins, each its own ($n)"
ok "$(grep -Eiq '<script|<link|<img|<iframe|@import|url\(|src=|href=' "$page"; [ $? -ne 0 ]; echo $?)" \
  "nothing in it could fetch anything (no script, link, image, import, url(), src or href)"
ok "$(grep -o 'https\?://[^"]*' "$page" | grep -v '^http://www.w3.org/2000/svg$' | grep -q .; [ $? -ne 0 ]; echo $?)" \
  "the only URL is SVG's namespace"
"$LORENS" report --db "$db" -o "$tap_tmp/again.html" -q
ok "$(cmp -s "$page" "$tap_tmp/again.html"; echo $?)" "the same database gives the same bytes"

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
is "$(grep -o '<svg xmlns="http://www.w3.org/2000/svg" class="plot"' "$tap_tmp/dom.html" | wc -l | tr -d ' ')" 11 \
  "and all eleven figures (4 over epochs, 4 against the ensemble size, 2 gains, reliability)"
done_testing
