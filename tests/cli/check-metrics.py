#!/usr/bin/env python3
"""check-metrics.py DB [BINS]: recomputes every stored evaluation row from the stored predictions.

For each run, epoch, split and data set, the members' per-example probabilities in `predictions`
give each member's accuracy, NLL, ECE and Brier score, and the mean of the first k members' give
the ensemble of size k; disagreement and pairwise KL come from the same probabilities.  Every
`evaluations` row with selection 'epoch' must match to 1e-9 (relative).  Prints one line per
mismatch and a summary; exits 1 on any mismatch.  Python's standard library only (sqlite3, json).
"""
import json
import math
import sqlite3
import sys
from collections import defaultdict

FLOOR = 1e-12


def argmax(p):
    best = 0
    for j in range(1, len(p)):
        if p[j] > p[best]:
            best = j
    return best


def ece_bin(c, bins):
    """The largest j with c >= j / bins (each edge one correctly rounded division), as metrics.c."""
    if not c > 0:
        return 0
    if c >= 1:
        return bins - 1
    j = min(int(c * bins), bins - 1)
    while j > 0 and c < j / bins:
        j -= 1
    while j < bins - 1 and c >= (j + 1) / bins:
        j += 1
    return j


def metrics(rows, bins):
    """rows: (probs, label) over labelled examples -> accuracy, nll, ece, brier."""
    n = len(rows)
    if n == 0:
        return None
    correct = nll = brier = 0.0
    b_n = [0] * bins
    b_conf = [0.0] * bins
    b_acc = [0.0] * bins
    for p, y in rows:
        top = argmax(p)
        correct += top == y
        nll -= math.log(max(p[y], FLOOR))
        brier += sum((p[j] - (j == y)) ** 2 for j in range(len(p)))
        b = ece_bin(p[top], bins)
        b_n[b] += 1
        b_conf[b] += p[top]
        b_acc[b] += top == y
    ece = sum(abs(b_acc[b] - b_conf[b]) / n for b in range(bins) if b_n[b])
    return correct / n, nll / n, ece, brier / n


def kl(p, q):
    return sum(p[j] * (math.log(p[j]) - math.log(max(q[j], FLOOR))) for j in range(len(p)) if p[j] > 0)


def auroc(id_scores, ood_scores):
    """Mann-Whitney: P(an ID score > an OOD score) + P(tie) / 2, ID the positive class."""
    wins = 0.0
    for a in id_scores:
        for b in ood_scores:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(id_scores) * len(ood_scores))


def entropy(p):
    return -sum(x * math.log(x) for x in p if x > 0)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main():
    db = sqlite3.connect(sys.argv[1])
    bins = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    preds = defaultdict(dict)  # (run, epoch, split, dataset) -> {example: {member: (probs, label)}}
    for run, member, epoch, split, ds, ex, label, probs in db.execute(
            "SELECT run_id, member, epoch, split, dataset, example, label, probs FROM predictions"):
        preds[(run, epoch, split, ds)].setdefault(ex, {})[member] = (json.loads(probs), label)
    ood_sets = {ds for (ds,) in db.execute("SELECT DISTINCT dataset FROM evaluations WHERE ood = 1")}
    checked = bad = 0

    def scores(examples, members):
        """Per example: (max prob, -entropy, -MI) of the mean of these members' probabilities."""
        out = []
        for e in examples.values():
            ps = [e[m][0] for m in members]
            mean = [sum(p[j] for p in ps) / len(ps) for j in range(len(ps[0]))]
            mi = entropy(mean) - sum(entropy(p) for p in ps) / len(ps)
            if all(p == ps[0] for p in ps):
                mi = 0.0
            out.append((max(mean), -entropy(mean), -mi))
        return out

    for (run, epoch, split, ds), examples in preds.items():
        members = sorted(next(iter(examples.values())).keys())
        want = {}
        for m in members:
            rows = [(e[m][0], e[m][1]) for e in examples.values() if e[m][1] is not None]
            want[("member", m)] = metrics(rows, bins) + (None, None)
        for k in range(1, len(members) + 1):
            rows = []
            dis = kls = pairs = 0
            for e in examples.values():
                ps = [e[m][0] for m in members[:k]]
                mean = [sum(p[j] for p in ps) / k for j in range(len(ps[0]))]
                if e[0][1] is not None:
                    rows.append((mean, e[0][1]))
                for a in range(k):
                    for b in range(a + 1, k):
                        dis += argmax(ps[a]) != argmax(ps[b])
                        kls += kl(ps[a], ps[b]) + kl(ps[b], ps[a])
                        pairs += 1
            div = (dis / pairs, kls / (2 * pairs)) if pairs else (None, None)
            want[("ensemble", k)] = metrics(rows, bins) + div
        ood = {}
        ids = [d for (r, e, sp, d) in preds if r == run and e == epoch and sp == "eval" and d not in ood_sets]
        if ds in ood_sets and len(ids) == 1:
            ref = preds[(run, epoch, "eval", ids[0])]
            for key, members in [(("member", m), [m]) for m in members] + \
                    [(("ensemble", k), members[:k]) for k in range(1, len(members) + 1)]:
                a, b = scores(ref, members), scores(examples, members)
                mi = auroc([x[2] for x in a], [x[2] for x in b]) if len(members) > 1 and key[0] == "ensemble" else None
                ood[key] = (auroc([x[0] for x in a], [x[0] for x in b]),
                            auroc([x[1] for x in a], [x[1] for x in b]), mi)
        for kind, idx, acc, nll, ece, brier, dis, pkl, amp, aen, ami in db.execute(
                "SELECT kind, idx, accuracy, nll, ece, brier, disagreement, pairwise_kl, "
                "ood_auroc_maxprob, ood_auroc_entropy, ood_auroc_mi FROM "
                "evaluations WHERE run_id = ? AND epoch = ? AND split = ? AND dataset = ? AND "
                "selection = 'epoch'", (run, epoch, split, ds)):
            w = want.get((kind, idx))
            got = (acc, nll, ece, brier, dis, pkl)
            if ds in ood_sets and len(ids) == 1:
                w = w + ood.get((kind, idx), (None, None, None)) if w else None
                got = got + (amp, aen, ami)
            checked += 1
            if w is None or not all(close(g, x) for g, x in zip(got, w)):
                bad += 1
                print(f"mismatch: run {run} epoch {epoch} {split}/{ds} {kind} {idx}: stored {got}, "
                      f"recomputed {w}")
    print(f"{checked} evaluation rows recomputed from predictions, {bad} mismatches")
    sys.exit(1 if bad or checked == 0 else 0)


if __name__ == "__main__":  # check-report.py imports ece_bin and argmax
    main()
