#!/bin/sh
# test-query.sh: `lorens query`: the three output formats exactly, SQL files with several
# statements, errors with their line, and that nothing it is given can write to the database.
. "$TOP_SRCDIR/tests/tap.sh"

sql="$TOP_BUILDDIR/tests/store-sql"
db="$tap_tmp/runs.db"
cr=$(printf '\r')

"$sql" "$db" <<'SQL' || { ok 1 "the test database builds"; done_testing; }
INSERT INTO sweeps (id, name, path, base_dir, yaml, yaml_sha256, lorens_version)
  VALUES (1, 'demo', 'demo.yaml', '/w', 'name: demo', 'ab12', '0.1.0');
INSERT INTO runs (id, run_key, sweep_id, config, dataset, regularizer, reg_strength, rank,
                  ensemble_size, seed, randomness, lr, backend, status, error)
  VALUES (1, 'aaaa1111bbbb2222', 1, '{}', 'arc-easy', 'none', 0, 8, 4, 0, 'all', 1e-4, 'cpu',
          'done', NULL),
         (2, 'cccc3333dddd4444', 1, '{}', 'obqa', 'l2, "x"', 0.1, 16, 4, 1, 'init', 2e-4, 'cpu',
          'failed', 'line one
line two');
INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, n, accuracy, nll, finite)
  VALUES (1, 'ensemble', 4, 0, 'eval', 'arc-easy', 100, 0.1, 1e300 * 1e300, 0),
         (1, 'member', 0, 0, 'eval', 'arc-easy', 100, 3, NULL, 0),
         (2, 'member', 0, 0, 'eval', 'obqa', 100, 0.123456789012345678, 2.5, 1);
SQL
ok 0 "the test database builds"
before=$(cksum < "$db")

q1="SELECT id, run_key, regularizer, reg_strength, rank, error FROM runs ORDER BY id"
q2="SELECT idx, accuracy, nll, kind FROM evaluations ORDER BY id"

# ---- table ------------------------------------------------------------------------------------------
run "$LORENS" query --db "$db" "$q1"
is "$status" 0 "a query exits 0"
is "$out" "id  run_key           regularizer  reg_strength  rank  error
--  ----------------  -----------  ------------  ----  ------------------
 1  aaaa1111bbbb2222  none                  0.0     8  NULL
 2  cccc3333dddd4444  l2, \"x\"               0.1    16  line one\\nline two" \
  "table: header, dashes, numbers right-aligned, NULL shown, newlines escaped"

run "$LORENS" query --db "$db" --format table "$q2"
is "$out" "idx  accuracy   nll  kind
---  --------  ----  --------
  4       0.1   inf  ensemble
  0       3.0  NULL  member
  0  0.123457   2.5  member" "table: reals to 6 significant digits, integral reals keep '.0'"

# ---- CSV ----------------------------------------------------------------------------------------------
run "$LORENS" query --db "$db" --format csv "$q1; $q2"
want=$(printf '%s\r\n' 'id,run_key,regularizer,reg_strength,rank,error' \
  '1,aaaa1111bbbb2222,none,0.0,8,' '2,cccc3333dddd4444,"l2, ""x""",0.1,16,"line one
line two"' '' 'idx,accuracy,nll,kind' '4,0.1,inf,ensemble' '0,3.0,,member' \
  '0,0.12345678901234568,2.5,member')
is "$out" "$want" "csv: RFC 4180 quoting, CRLF, NULL empty, exact reals, a blank line between results"
run "$LORENS" query --db "$db" --format csv "SELECT '' AS empty, NULL AS null_value"
is "$out" "empty,null_value$cr
\"\",$cr" "csv: an empty string is \"\", NULL is nothing"

# ---- JSON ---------------------------------------------------------------------------------------------
run "$LORENS" query --db "$db" --format json "$q2"
is "$out" '[
  {"idx": 4, "accuracy": 0.1, "nll": null, "kind": "ensemble"},
  {"idx": 0, "accuracy": 3.0, "nll": null, "kind": "member"},
  {"idx": 0, "accuracy": 0.12345678901234568, "nll": 2.5, "kind": "member"}
]' "json: one statement is an array of objects; infinity is null"
run "$LORENS" query --db "$db" --format json "SELECT id, error FROM runs ORDER BY id; SELECT 1 AS one WHERE 0"
is "$out" '[
  [
    {"id": 1, "error": null},
    {"id": 2, "error": "line one\nline two"}
  ],
  []
]' "json: several statements are an array of arrays"
if command -v python3 >/dev/null 2>&1; then
  printf '%s' "$out" > "$tap_tmp/out.json"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tap_tmp/out.json"
  ok $? "the JSON parses"
else
  skip "python3 not installed" "the JSON parses"
fi
# Text that is not UTF-8 (a cut sequence, a UTF-16 surrogate, a stray byte) becomes U+FFFD, one
# per maximal invalid subpart, so strict JSON parsers accept the output.
run "$LORENS" query --db "$db" --format json "SELECT CAST(X'E28278' AS TEXT) AS cut,
  CAST(X'EDA080' AS TEXT) AS surrogate, 'caf' || CAST(X'C3A9' AS TEXT) AS ok, CAST(X'FF' AS TEXT) AS stray"
is "$out" '[
  {"cut": "\ufffdx", "surrogate": "\ufffd\ufffd\ufffd", "ok": "café", "stray": "\ufffd"}
]' "json: invalid UTF-8 becomes U+FFFD"

# ---- SQL files ------------------------------------------------------------------------------------------
cat > "$tap_tmp/two.sql" <<'SQL'
-- how many runs, then the datasets
SELECT count(*) AS runs FROM runs;

/* a block comment */
SELECT DISTINCT dataset
FROM runs ORDER BY dataset;
SQL
run "$LORENS" query --db "$db" -f "$tap_tmp/two.sql"
is "$out" "runs
----
   2

dataset
--------
arc-easy
obqa" "a file's statements run in order, a blank line between their tables"
run "$LORENS" query --db "$db" --file - < "$tap_tmp/two.sql"
like "$out" "arc-easy" "-f - reads standard input"

printf 'SELECT 1;\n\n-- next\nSELECT\n  nope\nFROM runs;\n' > "$tap_tmp/bad.sql"
run "$LORENS" query --db "$db" -f "$tap_tmp/bad.sql"
is "$status" 1 "an SQL error exits 1"
is "$err" "lorens: error: $tap_tmp/bad.sql:5:3: no such column: nope" \
  "the error names the file, the line and SQLite's message"
is "$out" "" "and no statement ran: every one is compiled first"

printf 'SELECT 1 AS a;\nSELECT json_extract(%s, %s);\n' "'{bad'" "'\$.a'" > "$tap_tmp/runtime.sql"
run "$LORENS" query --db "$db" -f "$tap_tmp/runtime.sql"
is "$status" 1 "an error while running exits 1"
is "$err" "lorens: error: $tap_tmp/runtime.sql:2: malformed JSON" "naming the statement's line"

run "$LORENS" query --db "$db" "SELECT 1; SELECT nope FROM runs"
is "$status" 1 "an inline SQL error exits 1"
is "$err" "lorens: error: no such column: nope (query: SELECT nope FROM runs)" \
  "with SQLite's message and the statement"

# ---- read-only ------------------------------------------------------------------------------------------
for q in "INSERT INTO schema_version VALUES (5)" "UPDATE runs SET status = 'pending'" \
    "DELETE FROM runs" "CREATE TABLE t (x)" "CREATE TEMP TABLE t (x)" "DROP TABLE members" \
    "ATTACH '$tap_tmp/other.db' AS other" "PRAGMA journal_mode = delete" \
    "PRAGMA user_version = 9" "PRAGMA writable_schema = 1" "VACUUM INTO '$tap_tmp/copy.db'" \
    "UPDATE sqlite_master SET sql = ''" "REINDEX" "ANALYZE" "PRAGMA wal_checkpoint(TRUNCATE)"; do
  run "$LORENS" query --db "$db" "$q"
  is "$status" 1 "refused: $q"
done
run "$LORENS" query --db "$db" "DELETE FROM runs"
like "$err" "not authorized (lorens query is read-only) (query: DELETE FROM runs)" \
  "a refused write says query is read-only"
is "$(cksum < "$db")" "$before" "the database file is unchanged"
[ ! -e "$tap_tmp/other.db" ] && [ ! -e "$tap_tmp/copy.db" ]
ok $? "ATTACH and VACUUM INTO created no file"
run "$LORENS" query --db "$db" "SELECT count(*) FROM runs"
is "$out" "count(*)
--------
       2" "every row is still there"
run "$LORENS" query --db "$db" "PRAGMA journal_mode"
like "$out" "wal" "reading a setting is allowed, and the journal mode is still WAL"
run "$LORENS" query --db "$db" "SELECT name FROM pragma_table_info('members') WHERE pk ORDER BY cid"
is "$out" "name
------
run_id
member" "table-valued PRAGMA functions work"
run "$LORENS" query --db "$db" "BEGIN; SELECT status, n FROM run_status_counts WHERE n > 0; COMMIT"
is "$out" "status  n
------  -
done    1
failed  1" "BEGIN/COMMIT around reads are fine and print nothing"

# ---- the database ------------------------------------------------------------------------------------
run "$LORENS" query --db "$tap_tmp/missing.db" "SELECT 1"
is "$status" 1 "a missing database exits 1"
is "$err" "lorens: error: $tap_tmp/missing.db: does not exist" "saying so"
[ ! -e "$tap_tmp/missing.db" ]
ok $? "and is not created"
printf 'not a database at all, just some text that is long enough\n' > "$tap_tmp/text.db"
run "$LORENS" query --db "$tap_tmp/text.db" "SELECT 1"
is "$err" "lorens: error: $tap_tmp/text.db: not a lorens database (not an SQLite file)" \
  "a file that is not a database is refused"
"$sql" "$tap_tmp/other.sqlite" --raw <<'SQL'
CREATE TABLE notes (t TEXT);
SQL
run "$LORENS" query --db "$tap_tmp/other.sqlite" "SELECT * FROM notes"
is "$err" "lorens: error: $tap_tmp/other.sqlite: not a lorens database (no lorens application_id)" \
  "another program's database is refused"
latest=$("$sql" --schema-version)
"$sql" "$tap_tmp/newer.db" <<SQL
UPDATE schema_version SET version = $((latest + 1)); PRAGMA user_version = $((latest + 1));
SQL
run "$LORENS" query --db "$tap_tmp/newer.db" "SELECT 1"
like "$err" "newer.db: written by a newer lorens: schema version $((latest + 1)), and this lorens knows versions up to $latest" \
  "a database from a newer lorens is refused, naming both versions"

# ---- usage -----------------------------------------------------------------------------------------------
run "$LORENS" query "SELECT 1"
is "$status" 2 "no --db is a usage error"
like "$err" "missing --db FILE" "saying so"
run "$LORENS" query --db "$db"
is "$status" 2 "no SQL is a usage error"
run "$LORENS" query --db "$db" -f "$tap_tmp/two.sql" "SELECT 1"
is "$status" 2 "SQL both inline and from a file is a usage error"
run "$LORENS" query --db "$db" --format xml "SELECT 1"
like "$err" "--format must be one of table|csv|json, not 'xml'" "a bad --format is a usage error"
run "$LORENS" query --db "$db" -f "$tap_tmp/nope.sql"
is "$status" 1 "a missing SQL file exits 1"
like "$err" "nope.sql" "naming it"
run "$LORENS" help query
like "$out" "read-only" "help query says it is read-only"

done_testing
