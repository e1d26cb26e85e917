#!/usr/bin/env python3
"""Import cycles between the files of each crate.

Usage: scripts/import_cycles.py [SRC_DIR ...]   (default: every crate's src/)

Reads each crate's `src/` as text: a file imports another when it names it by
a `crate::`, `super::` or `self::` path (in a `use`, braces expanded, or
inline), outside `#[cfg(test)]` and comments. Prints each group of files that
import each other in a circle and exits 1 if there is one, else prints
nothing and exits 0. A module file (`foo.rs`) that only declares its children
imports nothing by that.
"""

import os
import re
import sys


def rust_files(src):
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    files[os.path.relpath(path, src)] = f.read()
    return files


def module_path(file):
    parts = file[:-3].split(os.sep)
    return [] if parts in (["lib"], ["main"]) else parts


def expand(path):
    """`a::{b::c, d}` into `a::b::c` and `a::d`, at any depth."""
    start = path.find("{")
    if start < 0:
        return [path]
    depth = 0
    for end in range(start, len(path)):
        depth += {"{": 1, "}": -1}.get(path[end], 0)
        if depth == 0:
            break
    items, current, depth = [], "", 0
    for ch in path[start + 1 : end]:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    prefix = path[:start]
    return [p for item in items if item.strip() for p in expand(prefix + item.strip())]


def edges_of(files):
    modules = {tuple(module_path(f)): f for f in files}

    def resolve(parts):
        for i in range(len(parts), 0, -1):
            if tuple(parts[:i]) in modules:
                return modules[tuple(parts[:i])]
        return None

    edges = {f: set() for f in files}
    for file, text in files.items():
        code = text.split("#[cfg(test)]")[0]
        code = "\n".join(l for l in code.split("\n") if not l.strip().startswith("//"))
        here = module_path(file)
        paths = [p for m in re.finditer(r"\buse\s+([^;]+);", code) for p in expand(re.sub(r"\s+", "", m.group(1)))]
        paths += [m.group(0) for m in re.finditer(r"\b(?:crate|super|self)(?:::\w+)+", code)]
        for path in paths:
            head, *rest = path.split("::")
            if head == "crate":
                parts = rest
            elif head == "super":
                parts = here[:-1] + rest
            elif head == "self":
                parts = here + rest
            else:
                continue
            while "super" in parts:
                i = parts.index("super")
                parts = parts[: max(i - 1, 0)] + parts[i + 1 :]
            target = resolve(parts)
            if target and target != file:
                edges[file].add(target)
    return edges


def cycles(edges):
    """Tarjan's strongly connected components of more than one file."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main(dirs):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if not dirs:
        dirs = sorted(
            os.path.join(base, name, "src")
            for base in (os.path.join(root, "crates"), root)
            for name in os.listdir(base)
            if os.path.isdir(os.path.join(base, name, "src"))
        )
    failed = False
    for src in dirs:
        for group in cycles(edges_of(rust_files(src))):
            failed = True
            print(f"{os.path.relpath(src, root)}: " + " -> ".join(group))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
