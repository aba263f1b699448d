#!/usr/bin/env python3
"""Structure checks `make check` runs: no include cycle between the modules of one folder
(a module is foo.c with foo.h; foo.c including "bar.h" is an edge foo -> bar), and no
source file over the line limit. Prints what it finds and exits 1 on any finding."""
import os
import re
import sys

FOLDERS = ["lib", "agent", "controller", "netfilter", "ecsctl", "storage"]
MAX_LINES = 900
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)\.h"', re.M)


def modules(folder):
    """Module graph: foo.c and foo.h are module foo. A header with no .c of its own (an
    umbrella such as ctl.h) is no module: including it counts as including what it
    includes, so a cycle through it is still seen."""
    includes = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext not in (".c", ".h"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            text = f.read()
        deps = includes.setdefault((stem, ext), set())
        for dep in INCLUDE.findall(text):
            if os.path.exists(os.path.join(folder, dep + ".h")):
                deps.add(dep)
    has_c = {stem for stem, ext in includes if ext == ".c"}

    def expand(dep, seen):
        if dep in has_c:
            return {dep}
        if dep in seen:
            return set()
        seen.add(dep)
        out = set()
        for d in includes.get((dep, ".h"), ()):
            out |= expand(d, seen)
        return out

    graph = {}
    for (stem, ext), deps in includes.items():
        if stem not in has_c:
            continue
        edges = graph.setdefault(stem, set())
        for dep in deps:
            edges |= expand(dep, set())
        edges.discard(stem)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = 0
    for folder in FOLDERS:
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for dirpath, _, files in os.walk(path):
            for comp in cycles(modules(dirpath)):
                print(f"structure: include cycle in {os.path.relpath(dirpath, root)}/: "
                      + " <-> ".join(comp))
                problems += 1
            for name in files:
                if os.path.splitext(name)[1] not in (".c", ".h"):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    n = sum(1 for _ in f)
                if n > MAX_LINES:
                    print(f"structure: {os.path.relpath(os.path.join(dirpath, name), root)}"
                          f" has {n} lines (limit {MAX_LINES})")
                    problems += 1
    print(f"structure: {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
