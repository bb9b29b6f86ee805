#!/usr/bin/env python3
"""tests/cli/check-report.py REPORT.html --curves C.csv [--sizes S.csv] [--predictions P.csv]
[--gains G.csv] [--ood-predictions O.csv --ood-aurocs A.csv --id-set NAME --ood-set NAME]:
the numbers a report plots against the database's (each CSV from `lorens query --format csv`).

--curves and --sizes hold run_id, kind, idx, epoch, accuracy, nll, ece, brier, finite and, when
the runs have several test sets, dataset, for every row behind the learning curves (members and
full ensembles, every epoch) and the ensemble-size figures (every k at the last epoch).  A mark of
a detailed figure must be its row's value; a summary mark (a figure of more rows) the mean of the
rows it says it stands for (the runs of its section, its epoch or k, kind and metric).
--predictions holds run_id, member, example, label, probs at the last epoch of one test set, from
which the reliability bins are recomputed as lorens defines them (docs/metrics.md).  --gains holds
run_id, disagreement, accuracy_gain, nll_gain.  --ood-predictions holds run_id, member, dataset,
example, probs of the ID and OOD sets at the last epoch, from which the OOD histograms are
recomputed (report-ood.h); --ood-aurocs holds kind, idx, ensemble_size, ood_auroc_maxprob,
ood_auroc_entropy, ood_auroc_mi of the OOD set's evaluations, whose means the titles show.
Every figure must hold as many marks as the rows it says are behind it (a summary mark or a bar
counting data-n of them).  Exits 1 on any difference."""
import argparse
import csv
import importlib.util
import math
import os
import re
import sys

# metrics.c's definitions as check-metrics.py writes them.
_spec = importlib.util.spec_from_file_location(
    "check_metrics", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-metrics.py"))
check_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_metrics)

ap = argparse.ArgumentParser()
ap.add_argument("report")
ap.add_argument("--curves", required=True)
ap.add_argument("--sizes")
ap.add_argument("--predictions")
ap.add_argument("--gains")
ap.add_argument("--ood-predictions")
ap.add_argument("--ood-aurocs")
ap.add_argument("--id-set")
ap.add_argument("--ood-set")
args = ap.parse_args()
html = open(args.report, encoding="utf-8").read()
METRICS = ("accuracy", "nll", "ece", "brier")
bad = 0


def sections():
    """(eval set, run ids, text) of each panel of test-set figures."""
    for m in re.finditer(r'<section class="panel" data-runs="([\d,]*)" data-eval="([^"]*)">(.*?)'
                         r'</section>', html, re.S):
        yield m.group(2), {int(x) for x in m.group(1).split(",") if x}, m.group(3)


def read_values(path):
    """(eval set or None, run, kind, idx, epoch, metric) -> value, finite rows only."""
    want = {}
    for row in csv.DictReader(open(path, encoding="utf-8")):
        if row["finite"] != "1":
            continue
        for metric in METRICS:
            if row[metric] != "":
                want[(row.get("dataset"), int(row["run_id"]), row["kind"], int(row["idx"]),
                      int(row["epoch"]), metric)] = float(row[metric])
    return want


def compare(what, want, by_k):
    """The marks of every panel against want; summary marks against means of want's rows."""
    marks, worst, summaries, summary_bad = {}, 0.0, 0, 0
    has_ds = any(k[0] for k in want)
    by_run = {}
    for k in want:
        by_run.setdefault(k[1], []).append(k)
    for ds, runs, text in sections():
        groups = {}  # (metric, epoch or k, kind) -> keys of the section's rows
        for r in runs:
            for k in by_run.get(r, []):
                if k[0] in (ds, None):
                    groups.setdefault((k[5], k[3] if by_k else k[4], "ensemble" if by_k else k[2]),
                                      []).append(k)
        detail = r'<circle class="%s"[^>]*? data-run="(\d+)" data-idx="(\d+)" data-epoch="(\d+)" ' \
                 r'data-metric="(\w+)" data-v="([^"]+)"' % ("k" if by_k else "[me]")
        for m in re.finditer(detail, text):
            kind = "ensemble" if by_k or 'class="e"' in m.group(0) else "member"
            key = (ds if has_ds else None, int(m.group(1)), kind, int(m.group(2)),
                   int(m.group(3)), m.group(4))
            if key in marks:
                sys.exit("mark %r drawn twice" % (key,))
            marks[key] = float(m.group(5))
        summary = r'<circle class="(%s)"[^>]*? data-%s="(\d+)" data-metric="(\w+)" ' \
                  r'data-n="(\d+)" data-v="([^"]+)"' % ("ak" if by_k else "am|ae", "k" if by_k else "epoch")
        for m in re.finditer(summary, text):
            x, metric, n, v = int(m.group(2)), m.group(3), int(m.group(4)), float(m.group(5))
            kind = "member" if m.group(1) == "am" else "ensemble"
            keys = groups.get((metric, x, kind), [])
            summaries += 1
            mean = sum(want[k] for k in keys) / len(keys) if keys else float("nan")
            if len(keys) != n or not abs(mean - v) <= 1e-12 * max(1.0, abs(mean)):
                print("%s: summary %s %d %s: %d rows, mean %r; the database: %d rows, mean %r"
                      % (what, m.group(1), x, metric, n, v, len(keys), mean))
                summary_bad += 1
            for k in keys:
                marks[k] = want[k]  # stood for by the summary
    missing = sorted(set(want) - set(marks), key=repr)
    extra = sorted(set(marks) - set(want), key=repr)
    for k in want:
        if k in marks:
            worst = max(worst, abs(marks[k] - want[k]) / max(abs(want[k]), 1e-300))
    for k in missing[:5]:
        print("%s: not plotted: %r" % (what, k))
    for k in extra[:5]:
        print("%s: plotted but not in the database: %r" % (what, k))
    print("%s: %d marks, %d database values, %d summary marks, worst relative difference %.1e"
          % (what, len(marks), len(want), summaries, worst))
    return bool(missing or extra or worst > 1e-15 or not want or summary_bad)


# Each figure holds as many marks as it says rows are behind it.
for fig in re.finditer(r'<div class="fig" data-metric="([\w-]+)" data-rows="(\d+)"[^>]*>(.*?)</div>',
                       html, re.S):
    body = fig.group(3)
    n = len(re.findall(r'<circle class="(?!am"|ae"|ak")', body))
    n += sum(int(x) for x in re.findall(r'<circle class="a[mek]"[^>]*? data-n="(\d+)"', body))
    n += sum(int(x) for x in re.findall(r'<rect class="o[io]"[^>]*? data-n="(\d+)"', body))
    if n != int(fig.group(2)):
        print("figure %s: %d marks, %s rows behind it" % (fig.group(1), n, fig.group(2)))
        bad += 1

bad += compare("learning curves", read_values(args.curves), False)
if args.sizes:
    bad += compare("ensemble sizes", read_values(args.sizes), True)


def ensemble_of(by_example):
    """The mean of each example's members' probabilities, members in order."""
    out = []
    for key in sorted(by_example):
        rows = sorted(by_example[key])
        out.append(([sum(p[j] for _, p in rows) / len(rows) for j in range(len(rows[0][1]))],
                    [p for _, p in rows]))
    return out


def probs_of(text):
    return [float(x) for x in text.strip("[]").split(",")]


if args.predictions:
    members, by_example, labels = [], {}, {}
    for row in csv.DictReader(open(args.predictions, encoding="utf-8")):
        probs, label = probs_of(row["probs"]), int(row["label"])
        members.append((probs, label))
        key = (int(row["run_id"]), int(row["example"]))
        by_example.setdefault(key, []).append((int(row["member"]), probs))
        labels[key] = label
    ensembles = [(mean, labels[key]) for key, (mean, _) in zip(sorted(by_example),
                                                               ensemble_of(by_example))]

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

    drawn = {}
    for m in re.finditer(r'data-series="(\w+)" data-bin="(\d+)" data-n="(\d+)" '
                         r'data-conf="([^"]+)" data-acc="([^"]+)"', html):
        drawn[(m.group(1), int(m.group(2)))] = (int(m.group(3)), float(m.group(4)),
                                                float(m.group(5)))
    want = {}
    for series, preds in (("members", members), ("ensemble", ensembles)):
        for b, v in bins_of(preds).items():
            want[(series, b)] = v
    rel_bad = set(drawn) != set(want) or any(
        drawn[k][0] != want[k][0] or abs(drawn[k][1] - want[k][1]) > 1e-12 or
        abs(drawn[k][2] - want[k][2]) > 1e-12 for k in want if k in drawn)
    print("reliability: %d bins drawn, %d recomputed from %d member and %d ensemble predictions%s"
          % (len(drawn), len(want), len(members), len(ensembles), ", differing" if rel_bad else ""))
    bad += rel_bad

if args.gains:
    gains = {}
    for m in re.finditer(r'<circle class="g"[^>]*? data-run="(\d+)" data-metric="(\w+)" '
                         r'data-x="([^"]+)" data-v="([^"]+)"', html):
        gains[(int(m.group(1)), m.group(2))] = (float(m.group(3)), float(m.group(4)))
    want_gains = {}
    for row in csv.DictReader(open(args.gains, encoding="utf-8")):
        for metric in ("accuracy_gain", "nll_gain"):
            want_gains[(int(row["run_id"]), metric)] = (float(row["disagreement"]),
                                                        float(row[metric]))
    gain_bad = set(gains) != set(want_gains) or any(
        abs(gains[k][0] - want_gains[k][0]) > 1e-12 or abs(gains[k][1] - want_gains[k][1]) > 1e-12
        for k in want_gains if k in gains)
    print("gains: %d marks, %d runs x 2 from the database%s"
          % (len(gains), len(want_gains) // 2, ", differing" if gain_bad else ""))
    bad += gain_bad

if args.ood_predictions:
    # Scores as train/ood.c computes them, binned as report-ood.h says.
    def mutual_info(mean, ps):
        if all(p == ps[0] for p in ps):
            return 0.0
        return check_metrics.entropy(mean) - sum(check_metrics.entropy(p) for p in ps) / len(ps)

    scores = {}  # (series, score, role) -> values
    for role, ds in ((0, args.id_set), (1, args.ood_set)):
        by_example = {}
        for row in csv.DictReader(open(args.ood_predictions, encoding="utf-8")):
            if row["dataset"] != ds:
                continue
            probs = probs_of(row["probs"])
            by_example.setdefault((int(row["run_id"]), int(row["example"])), []).append(
                (int(row["member"]), probs))
            scores.setdefault(("members", "maxprob", role), []).append(max(probs))
            scores.setdefault(("members", "entropy", role), []).append(check_metrics.entropy(probs))
        for mean, ps in ensemble_of(by_example):
            scores.setdefault(("ensemble", "maxprob", role), []).append(max(mean))
            scores.setdefault(("ensemble", "entropy", role), []).append(check_metrics.entropy(mean))
            if len(ps) >= 2:
                scores.setdefault(("ensemble", "mi", role), []).append(mutual_info(mean, ps))
    aurocs = {}
    for row in csv.DictReader(open(args.ood_aurocs, encoding="utf-8")):
        if row["kind"] == "ensemble" and row["idx"] != row["ensemble_size"]:
            continue
        series = "members" if row["kind"] == "member" else "ensemble"
        for score in ("maxprob", "entropy", "mi"):
            if row["ood_auroc_" + score] != "":
                aurocs.setdefault((series, score), []).append(float(row["ood_auroc_" + score]))
    ood_bad = figures = 0
    for fig in re.finditer(r'<div class="fig" data-metric="ood-(\w+)-(\w+)" data-rows="(\d+)" '
                           r'data-hi="([^"]+)"( data-auroc="([^"]+)" data-auroc-n="(\d+)")?>(.*?)</div>',
                           html, re.S):
        series, score, hi = fig.group(1), fig.group(2), float(fig.group(4))
        figures += 1
        values = [scores.get((series, score, r), []) for r in (0, 1)]
        top = max(max(v) if v else 0.0 for v in values)
        want_hi = 1.0 if score == "maxprob" or not top > 0 else top
        want = {}
        for r in (0, 1):
            for v in values[r]:
                b = min(int(v / want_hi * 20), 19)
                want[(r, b)] = want.get((r, b), 0) + 1
        drawn = {(0 if m.group(1) == "id" else 1, int(m.group(2))): int(m.group(3))
                 for m in re.finditer(r'data-role="(\w+)" data-bin="(\d+)" data-n="(\d+)"',
                                      fig.group(8))}
        stored = aurocs.get((series, score), [])
        mean = sum(stored) / len(stored) if stored else None
        shown = float(fig.group(6)) if fig.group(6) else None
        differs = drawn != want or hi != want_hi or (mean is None) != (shown is None) or (
            mean is not None and (abs(mean - shown) > 1e-12 or int(fig.group(7)) != len(stored)))
        if differs:
            print("OOD %s %s: drawn %r (hi %r, AUROC %r), recomputed %r (hi %r, AUROC %r of %d)"
                  % (series, score, drawn, hi, shown, want, want_hi, mean, len(stored)))
        ood_bad += differs
    print("OOD histograms: %d figures, %d ID and %d OOD scores of the full ensembles recomputed%s"
          % (figures, len(scores.get(("ensemble", "maxprob", 0), [])),
             len(scores.get(("ensemble", "maxprob", 1), [])), ", differing" if ood_bad else ""))
    bad += ood_bad or figures == 0

print("%d figures checked" % len(re.findall(r'<div class="fig"', html)))
sys.exit(1 if bad else 0)
