#!/usr/bin/env python3
"""tests/cli/check-report.py REPORT.html ROWS.csv: the numbers a report plots against the
database's.  ROWS.csv (from `lorens query --format csv`) holds run_id, kind, idx, epoch, accuracy,
nll, ece, brier, finite for every row the report draws.  Checks that each figure holds as many
marks as the rows it says are behind it, that the marks are exactly the database's finite values
(one per row and metric), and prints the counts."""
import csv
import re
import sys

html = open(sys.argv[1], encoding="utf-8").read()
marks = {}
for m in re.finditer(r'<circle class="([me])"[^>]*? data-run="(\d+)" data-idx="(\d+)" '
                     r'data-epoch="(\d+)" data-metric="(\w+)" data-v="([^"]+)"', html):
    kind = "ensemble" if m.group(1) == "e" else "member"
    key = (int(m.group(2)), kind, int(m.group(3)), int(m.group(4)), m.group(5))
    if key in marks:
        sys.exit("mark %r drawn twice" % (key,))
    marks[key] = float(m.group(6))

bad = 0
for fig in re.finditer(r'<div class="fig" data-metric="(\w+)" data-rows="(\d+)">(.*?)</div>',
                       html, re.S):
    n = len(re.findall(r"<circle ", fig.group(3)))
    if n != int(fig.group(2)):
        print("figure %s: %d marks, %s rows behind it" % (fig.group(1), n, fig.group(2)))
        bad += 1

want = {}
for row in csv.DictReader(open(sys.argv[2], encoding="utf-8")):
    if row["finite"] != "1":
        continue
    for metric in ("accuracy", "nll", "ece", "brier"):
        if row[metric] != "":
            want[(int(row["run_id"]), row["kind"], int(row["idx"]), int(row["epoch"]),
                  metric)] = float(row[metric])

missing = sorted(set(want) - set(marks))
extra = sorted(set(marks) - set(want))
worst = max((abs(marks[k] - want[k]) / max(abs(want[k]), 1e-300) for k in want if k in marks),
            default=0.0)
for k in missing[:5]:
    print("not plotted: %r" % (k,))
for k in extra[:5]:
    print("plotted but not in the database: %r" % (k,))
print("%d marks, %d database values, %d figures checked, worst relative difference %.1e"
      % (len(marks), len(want), len(re.findall(r'<div class="fig"', html)), worst))
sys.exit(1 if bad or missing or extra or worst > 1e-15 or not want else 0)
