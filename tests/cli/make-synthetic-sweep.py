#!/usr/bin/env python3
"""tests/cli/make-synthetic-sweep.py DB PLAN.json GRID.yaml [--examples N] [--seed S]

Adds to DB (a lorens results database, already created by lorens) a finished sweep with the runs
that PLAN.json lists (`lorens plan GRID.yaml --format json`), and synthetic results of the shape a
real sweep stores: for every run, epoch 0..E (E from its configuration) and evaluation set, a row
per member and per ensemble of the first k members (k = 1..M) with accuracy, NLL, ECE and Brier,
disagreement and pairwise KL for k >= 2, and the OOD AUROCs on the OOD sets; per-example
predictions of every member at the last epoch (N examples per set, 4 or 5 choices); one train_log
row per member and epoch.  The numbers are made up but behave as the paper's do (a member's ECE
grows with the epochs, an ensemble's less) so that the report of a paper grid's worth of rows can
be drawn and measured without a GPU.  Deterministic for a given seed.  Standard library only.
"""
import argparse
import hashlib
import json
import math
import random
import sqlite3


def softmax(z):
    top = max(z)
    e = [math.exp(x - top) for x in z]
    s = sum(e)
    return [x / s for x in e]


def regularizer_of(c):
    """runs.regularizer and reg_strength, as lr_run_summary_of names them."""
    reg = c["regularizer"]
    names = []
    if reg["kl"]["weight"] > 0:
        names.append("kl")
    if reg["weight_decay"]["a"] > 0:
        names.append("wd_a")
    if reg["weight_decay"]["b"] > 0:
        names.append("wd_b")
    if reg["early_stopping"]["metric"] != "none":
        names.append("early_stop")
    if c["lora"]["dropout"] > 0:
        names.append("dropout")
    strength = (reg["kl"]["weight"] or reg["weight_decay"]["b"] or reg["weight_decay"]["a"] or
                c["lora"]["dropout"])
    return "+".join(names) or "none", float(strength)


def randomness_of(c):
    r = c["ensemble"]["randomness"]
    return "+".join(k for k in ("init", "data", "dropout") if r[k] == "vary") or "none"


def metrics(preds):
    """accuracy, NLL, ECE (10 bins), Brier of (probs, label) pairs."""
    n = len(preds)
    acc = nll = brier = 0.0
    b_n, b_conf, b_hit = [0] * 10, [0.0] * 10, [0.0] * 10
    for p, y in preds:
        top = max(range(len(p)), key=lambda j: p[j])
        acc += top == y
        nll -= math.log(max(p[y], 1e-12))
        brier += sum((p[j] - (j == y)) ** 2 for j in range(len(p)))
        b = min(int(p[top] * 10), 9)
        b_n[b] += 1
        b_conf[b] += p[top]
        b_hit[b] += top == y
    ece = sum(abs(b_hit[b] - b_conf[b]) for b in range(10)) / n
    return acc / n, nll / n, ece, brier / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("plan")
    ap.add_argument("grid")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    plan = json.load(open(a.plan, encoding="utf-8"))
    yaml = open(a.grid, encoding="utf-8").read()
    rnd = random.Random(a.seed)
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA foreign_keys = ON")
    cur = db.execute(
        "INSERT INTO sweeps (name, path, base_dir, yaml, yaml_sha256, lorens_version, created_at) "
        "VALUES (?, ?, '.', ?, ?, 'synthetic', '2026-01-01T00:00:00.000Z')",
        (plan["name"], a.grid, yaml, hashlib.sha256(yaml.encode()).hexdigest()))
    sweep = cur.lastrowid
    difficulty = {}
    for cell in plan["cells"]:
        c = cell["config"]
        reg, strength = regularizer_of(c)
        run = db.execute(
            "INSERT INTO runs (run_key, sweep_id, config, dataset, regularizer, reg_strength, rank, "
            "ensemble_size, seed, randomness, lr, backend, status, attempts, started_at, "
            "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', 1, 1.7e9, ?)",
            (cell["run_key"], sweep, json.dumps(c, sort_keys=True, separators=(",", ":")),
             c["data"]["train"]["name"], reg, strength, c["lora"]["rank"], c["ensemble"]["size"],
             c["seed"], randomness_of(c), c["train"]["lr"], c["backend"],
             1.7e9 + 3600 * rnd.uniform(1, 3))).lastrowid
        db.execute("INSERT INTO sweep_runs VALUES (?, ?)", (sweep, run))
        M, E = c["ensemble"]["size"], c["train"]["epochs"]
        # How much a regularizer tames overconfidence (0: none), and the task's difficulty.
        tame = 0.0 if reg == "none" else 0.5 if reg == "dropout" else 0.7
        task = difficulty.setdefault(c["data"]["train"]["name"], rnd.uniform(0.5, 1.5))
        for m in range(M):
            db.execute("INSERT INTO members (run_id, member, init_seed, data_seed, dropout_seed, "
                       "status) VALUES (?, ?, ?, ?, ?, 'done')", (run, m, m, m, m))
            for e in range(1, E + 1):
                db.execute("INSERT INTO train_log (run_id, member, epoch, step, loss, finite, "
                           "tokens, seconds) VALUES (?, ?, ?, ?, ?, 1, 400000, ?)",
                           (run, m, e, e, 1.0 / e, rnd.uniform(90, 110)))
        for ev in c["data"]["eval"]:
            k_choices = 5 if ev["format"] == "csqa" else 4
            ood = 1 if ev["ood"] else 0
            # Per example a "true" signal; each member adds its own noise; confidence grows with
            # the epochs (less under a regularizer), and OOD examples carry less signal.
            signal = [rnd.gauss(task * (0.3 if ood else 1.0), 0.8) for _ in range(a.examples)]
            labels = [rnd.randrange(k_choices) for _ in range(a.examples)]
            noise = [[[rnd.gauss(0, 1) for _ in range(k_choices)] for _ in range(a.examples)]
                     for _ in range(M)]
            for epoch in range(E + 1):
                scale = 1 + epoch * (1 - tame) * 0.35
                probs = []
                for m in range(M):
                    member = []
                    for i in range(a.examples):
                        z = [noise[m][i][j] * 0.6 * (0.3 + epoch / (E + 1)) for j in range(k_choices)]
                        z[labels[i]] += signal[i] * (0.2 + epoch / (E + 1))
                        member.append(softmax([x * scale for x in z]))
                    probs.append(member)
                rows = []
                for m in range(M):
                    rows.append(("member", m, probs[m], None))
                for k in range(1, M + 1):
                    mean = [[sum(probs[m][i][j] for m in range(k)) / k for j in range(k_choices)]
                            for i in range(a.examples)]
                    rows.append(("ensemble", k, mean, k))
                for kind, idx, p, k in rows:
                    acc, nll, ece, brier = metrics(list(zip(p, labels)))
                    dis = pkl = None
                    if k and k >= 2:
                        dis = rnd.uniform(0.05, 0.3) * (1 - tame * 0.5)
                        pkl = dis * rnd.uniform(0.5, 1.5)
                    au = [None, None, None]
                    if ood:
                        base = 0.55 + 0.1 * rnd.random() + (0.1 if kind == "ensemble" else 0)
                        au = [base, base - 0.02, base + 0.05 if k and k >= 2 else None]
                    db.execute(
                        "INSERT INTO evaluations (run_id, kind, idx, epoch, split, dataset, ood, n, "
                        "accuracy, nll, ece, brier, ood_auroc_maxprob, ood_auroc_entropy, "
                        "ood_auroc_mi, disagreement, pairwise_kl, finite) "
                        "VALUES (?, ?, ?, ?, 'eval', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                        (run, kind, idx, epoch, ev["name"], ood, a.examples, acc, nll, ece, brier,
                         au[0], au[1], au[2], dis, pkl))
                if epoch == E:
                    for m in range(M):
                        db.executemany(
                            "INSERT INTO predictions (run_id, member, epoch, split, dataset, "
                            "example, label, pred, probs) VALUES (?, ?, ?, 'eval', ?, ?, ?, ?, ?)",
                            [(run, m, epoch, ev["name"], i, labels[i],
                              max(range(k_choices), key=lambda j: probs[m][i][j]),
                              "[" + ",".join("%.17g" % x for x in probs[m][i]) + "]")
                             for i in range(a.examples)])
    db.commit()
    print("sweep %r: %d runs" % (plan["name"], len(plan["cells"])))


main()
