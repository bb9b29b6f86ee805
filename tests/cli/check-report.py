#!/usr/bin/env python3
"""tests/cli/check-report.py REPORT.html CURVES.csv SIZES.csv PREDICTIONS.csv GAINS.csv: the
numbers a report of one panel plots against the database's (each CSV from `lorens query --format
csv`; GAINS.csv holds run_id, disagreement, accuracy_gain, nll_gain at the last epoch).

CURVES.csv and SIZES.csv hold run_id, kind, idx, epoch, accuracy, nll, ece, brier, finite for
every row behind the learning curves (members and full ensembles, every epoch) and the
ensemble-size figures (every k at the last epoch); PREDICTIONS.csv holds run_id, member,
example, label, probs at the last epoch, from which the reliability diagram's bins are recomputed
here as lorens defines them (docs/metrics.md: 10 equal-width bins of the top probability, the
ensemble the mean of its members' probabilities).  Checks that each figure holds as many marks as
the rows it says are behind it and that the marks are exactly the database's values."""
import csv
import importlib.util
import os
import re
import sys

# metrics.c's definitions as check-metrics.py writes them: the top choice, and its ECE bin.
_spec = importlib.util.spec_from_file_location(
    "check_metrics", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-metrics.py"))
check_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_metrics)

html = open(sys.argv[1], encoding="utf-8").read()


def read_marks(classes):
    marks = {}
    for m in re.finditer(r'<circle class="([%s])"[^>]*? data-run="(\d+)" data-idx="(\d+)" '
                         r'data-epoch="(\d+)" data-metric="(\w+)" data-v="([^"]+)"' % classes,
                         html):
        kind = "member" if m.group(1) == "m" else "ensemble"
        key = (int(m.group(2)), kind, int(m.group(3)), int(m.group(4)), m.group(5))
        if key in marks:
            sys.exit("mark %r drawn twice" % (key,))
        marks[key] = float(m.group(6))
    return marks


def read_values(path):
    want = {}
    for row in csv.DictReader(open(path, encoding="utf-8")):
        if row["finite"] != "1":
            continue
        for metric in ("accuracy", "nll", "ece", "brier"):
            if row[metric] != "":
                want[(int(row["run_id"]), row["kind"], int(row["idx"]), int(row["epoch"]),
                      metric)] = float(row[metric])
    return want


def compare(what, marks, want):
    missing = sorted(set(want) - set(marks))
    extra = sorted(set(marks) - set(want))
    worst = max((abs(marks[k] - want[k]) / max(abs(want[k]), 1e-300) for k in want if k in marks),
                default=0.0)
    for k in missing[:5]:
        print("%s: not plotted: %r" % (what, k))
    for k in extra[:5]:
        print("%s: plotted but not in the database: %r" % (what, k))
    print("%s: %d marks, %d database values, worst relative difference %.1e"
          % (what, len(marks), len(want), worst))
    return bool(missing or extra or worst > 1e-15 or not want)


def bins_of(predictions):
    """(n, mean confidence, accuracy) per non-empty bin of (probs, label) pairs."""
    n, conf, hit = [0] * 10, [0.0] * 10, [0] * 10
    for probs, label in predictions:
        top = check_metrics.argmax(probs)
        b = check_metrics.ece_bin(probs[top], 10)
        n[b] += 1
        conf[b] += probs[top]
        hit[b] += top == label
    return {b: (n[b], conf[b] / n[b], hit[b] / n[b]) for b in range(10) if n[b]}

bad = 0
for fig in re.finditer(r'<div class="fig" data-metric="(\w+)" data-rows="(\d+)">(.*?)</div>',
                       html, re.S):
    n = len(re.findall(r"<circle ", fig.group(3)))
    if n != int(fig.group(2)):
        print("figure %s: %d marks, %s rows behind it" % (fig.group(1), n, fig.group(2)))
        bad += 1

bad += compare("learning curves", read_marks("me"), read_values(sys.argv[2]))
bad += compare("ensemble sizes", read_marks("k"), read_values(sys.argv[3]))

members, by_example = [], {}
for row in csv.DictReader(open(sys.argv[4], encoding="utf-8")):
    probs = [float(x) for x in row["probs"].strip("[]").split(",")]
    label = int(row["label"])
    members.append((probs, label))
    by_example.setdefault((int(row["run_id"]), int(row["example"])), []).append(
        (int(row["member"]), probs, label))
ensembles = []
for key in sorted(by_example):
    rows = sorted(by_example[key])
    total = [0.0] * len(rows[0][1])
    for _, probs, _ in rows:
        total = [t + p for t, p in zip(total, probs)]
    ensembles.append(([t / len(rows) for t in total], rows[0][2]))
drawn = {}
for m in re.finditer(r'data-series="(\w+)" data-bin="(\d+)" data-n="(\d+)" '
                     r'data-conf="([^"]+)" data-acc="([^"]+)"', html):
    drawn[(m.group(1), int(m.group(2)))] = (int(m.group(3)), float(m.group(4)), float(m.group(5)))
want = {}
for series, preds in (("members", members), ("ensemble", ensembles)):
    for b, v in bins_of(preds).items():
        want[(series, b)] = v
rel_bad = set(drawn) != set(want) or any(
    drawn[k][0] != want[k][0] or abs(drawn[k][1] - want[k][1]) > 1e-12 or
    abs(drawn[k][2] - want[k][2]) > 1e-12 for k in want if k in drawn)
print("reliability: %d bins drawn, %d recomputed from %d member and %d ensemble predictions%s"
      % (len(drawn), len(want), len(members), len(ensembles), ", differing" if rel_bad else ""))
gains = {}
for m in re.finditer(r'<circle class="g"[^>]*? data-run="(\d+)" data-metric="(\w+)" '
                     r'data-x="([^"]+)" data-v="([^"]+)"', html):
    gains[(int(m.group(1)), m.group(2))] = (float(m.group(3)), float(m.group(4)))
want_gains = {}
for row in csv.DictReader(open(sys.argv[5], encoding="utf-8")):
    for metric in ("accuracy_gain", "nll_gain"):
        want_gains[(int(row["run_id"]), metric)] = (float(row["disagreement"]), float(row[metric]))
gain_bad = set(gains) != set(want_gains) or any(
    abs(gains[k][0] - want_gains[k][0]) > 1e-12 or abs(gains[k][1] - want_gains[k][1]) > 1e-12
    for k in want_gains if k in gains)
print("gains: %d marks, %d runs x 2 from the database%s"
      % (len(gains), len(want_gains) // 2, ", differing" if gain_bad else ""))
print("%d figures checked" % len(re.findall(r'<div class="fig"', html)))
bad += gain_bad
sys.exit(1 if bad or rel_bad or not want else 0)
