"""compare-predictions.py MINE REFERENCE [TOLERANCE]: `lorens predict` output against a reference
made by Hugging Face (tests/fixtures/make_predict_reference.py).  Prints one line per check as
"ok|not ok: what" and the largest probability difference; exits 1 if anything differs or a
probability is TOLERANCE (default 1e-4) or more away."""
import json
import sys

mine = [json.loads(line) for line in open(sys.argv[1])]
ref = [json.loads(line) for line in open(sys.argv[2])]
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
ok = len(mine) == len(ref)
print("%s: %d predictions, %d in the reference" % ("ok" if ok else "not ok", len(mine), len(ref)))
same_prompt = same_choice = 0
worst = 0.0
for a, b in zip(mine, ref):
    same_prompt += a["id"] == b["id"] and a["prompt_ids"] == b["prompt_ids"]
    ca = [c if isinstance(c, list) else [c] for c in a["choice_ids"]]
    cb = [c if isinstance(c, list) else [c] for c in b["choice_ids"]]
    same_choice += ca == cb
    worst = max([worst] + [abs(x - y) for x, y in zip(a["probs"][0], b["probs"])])
n = len(ref)
for what, count in (("prompt tokens identical", same_prompt), ("choice tokens identical", same_choice)):
    print("%s: %s for %d of %d" % ("ok" if count == n else "not ok", what, count, n))
    ok = ok and count == n
print("%s: largest probability difference %.3g (tolerance %g)" % ("ok" if worst < tol else "not ok", worst, tol))
sys.exit(0 if ok and worst < tol else 1)
