#!/usr/bin/env python3
"""tests/check-architecture.py TOP_SRCDIR: the layering rules of docs/internals.md, as TAP.

- src/ holds one folder per layer, in this order: base, model, text, grid, train, store,
  pretrain, run, report, cli.  A file includes headers of its own folder and of folders before it, never
  of a later one (and every quoted include names its folder, so the rule can be read off the line).
- No cycle among the modules (a module is X.c with X.h, and X's private header X-internal.h or
  X-impl.h): if X includes Y, Y never reaches X.
- SQL and the SQLite API stay in src/store/: no other file includes <sqlite3.h> or calls sqlite3_.
- Only src/model/backend-session.c calls into a plugin's function table (and the loader probes).
- Of plugins/, src/ may include only the headers in SHARED (named from plugins/): code compiled
  into liblorens as well as into the backends, which needs nothing but the C library and
  <lorens/backend.h>, so it sits below every layer.

Reads the sources as text; runs no compiler.
"""
import os
import re
import sys

LAYERS = ["base", "model", "text", "grid", "train", "store", "pretrain", "run", "report", "cli"]
ROOT_FILES = {"compat.h"}  # the build's config wrapper, included first everywhere
# plugins/common/quant.h: ggml's tensor types and their dequantization (QUANT_SOURCES in
# Makefile.am), which the host uses to load GGUF files.
SHARED = {"common/quant.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SQLITE = re.compile(r'\bsqlite3_\w+|<sqlite3\.h>')
PLUGIN_CALL = re.compile(r'(?:->|\.)\s*(session_open|session_info|member_get|member_set|train_step|'
                         r'session_close|peak_gflops|score)\s*\(')

n = 0
failed = 0


def ok(cond, name, details=()):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, name))
    if not cond:
        failed += 1
        for d in list(details)[:20]:
            print("# " + d)
        if len(details) > 20:
            print("# ... and %d more" % (len(details) - 20))


def module_of(path):
    """folder/name without extension; a private header belongs to its component."""
    mod = path.rsplit(".", 1)[0]
    return re.sub(r'-(internal|impl)$', '', mod)


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    src = os.path.join(top, "src")
    files = {}  # "folder/name" -> text
    stray = []
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if os.path.isdir(path):
            if name not in LAYERS:
                stray.append("src/%s/ is not a layer (%s)" % (name, ", ".join(LAYERS)))
                continue
            for f in sorted(os.listdir(path)):
                if f.endswith((".c", ".h")):
                    with open(os.path.join(path, f), encoding="utf-8") as fp:
                        files[name + "/" + f] = strip_comments(fp.read())
        elif name.endswith((".c", ".h")) and name not in ROOT_FILES:
            stray.append("src/%s is in no layer" % name)
    print("1..6")
    ok(not stray and len(files) > 0, "every source file of src/ is in a layer folder", stray)

    bad_layer, unqualified = [], []
    deps = {}  # module -> set of modules
    for rel, text in files.items():
        folder = rel.split("/")[0]
        mod = module_of(rel)
        deps.setdefault(mod, set())
        for line_no, inc in ((text[:m.start()].count("\n") + 1, m.group(1))
                             for m in INCLUDE.finditer(text)):
            if inc in ROOT_FILES or inc in SHARED or inc.startswith("../"):
                continue
            if "/" not in inc:
                if inc.startswith("lorens/"):
                    continue
                unqualified.append("src/%s:%d: #include \"%s\" names no folder" % (rel, line_no, inc))
                continue
            ifolder = inc.split("/")[0]
            if ifolder == "lorens":
                continue
            if ifolder not in LAYERS:
                unqualified.append("src/%s:%d: #include \"%s\": no such layer" % (rel, line_no, inc))
                continue
            if LAYERS.index(ifolder) > LAYERS.index(folder):
                bad_layer.append("src/%s:%d: %s/ includes %s from the later layer %s/"
                                 % (rel, line_no, folder, inc, ifolder))
            target = module_of(inc)
            if target != mod:
                deps[mod].add(target)
    ok(not unqualified, "every quoted include names its layer folder", unqualified)
    ok(not bad_layer, "no file includes a header of a later layer", bad_layer)

    # Cycles among modules: depth-first search, reporting each back edge's cycle.
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for d in sorted(deps.get(m, ())):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d in deps and state.get(d) is None:
                visit(d, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(deps):
        if state.get(m) is None:
            visit(m, [])
    ok(not cycles, "no include cycle between modules", cycles)

    sql = ["src/%s: %s" % (rel, ", ".join(sorted(set(SQLITE.findall(text))))[:200])
           for rel, text in files.items() if not rel.startswith("store/") and SQLITE.search(text)]
    ok(not sql, "SQL and the SQLite API only in src/store/", sql)

    calls = ["src/%s: calls %s" % (rel, ", ".join(sorted(set(PLUGIN_CALL.findall(text)))))
             for rel, text in files.items()
             if rel != "model/backend-session.c" and PLUGIN_CALL.search(text)]
    ok(not calls, "only src/model/backend-session.c calls into a plugin", calls)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
