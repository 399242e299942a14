#!/usr/bin/env python3
"""Checks that the modules of each crate import each other without cycles.

A module is a .rs file (mod.rs and lib.rs stand for their folder). An import is a `use` of a
`crate::`, `super::` or `self::` path, a `use` of a child module, or such a path written
inline in code; it points at the deepest module the path names. Test modules (`#[cfg(test)]`
and after) are not counted. This reads the source as text; it does not compile it.

Prints the number of modules and imports per crate, and exits 1 naming every cycle found.
"""
import os
import re
import sys

CRATES = {
    "procmap-api": "api/src",
    "procmap-worker": "worker/src",
    "procmap-core": "shared/core/src",
    "procmap-engine": "shared/engine/src",
    "procmap-render": "shared/render/src",
}


def module_of(src, path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand(path):
    """`a::{b, c::{d, self}}` -> `a::b`, `a::c::d`, `a::c`."""
    match = re.match(r"(.*?)::\{(.*)\}$", path)
    if not match:
        return [path]
    base, inner = match.groups()
    depth, current, parts = 0, "", []
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    out = []
    for part in parts:
        out += [base] if part == "self" else expand(base + "::" + part)
    return out


def imports(module, text, modules):
    code = text.split("#[cfg(test)]")[0]
    paths = []
    for used in re.findall(r"\buse\s+([^;]*);", code, re.S):
        used = re.sub(r"\s+", "", used)
        first = used.split("::")[0]
        if first not in ("crate", "super", "self"):
            if module + (first,) not in modules:
                continue
            used = "self::" + used
        paths += expand(used)
    without_uses = re.sub(r"\buse\s+[^;]*;", "", code, flags=re.S)
    without_comments = re.sub(r"//[^\n]*", "", without_uses)
    paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)", without_comments)
    for path in paths:
        segments = path.split(" as ")[0].split("::")
        target, i = list(module), 0
        if segments[0] == "crate":
            target, i = [], 1
        elif segments[0] == "self":
            i = 1
        while i < len(segments) and segments[i] == "super":
            target, i = target[:-1], i + 1
        for segment in segments[i:]:
            if tuple(target + [segment]) not in modules:
                break
            target.append(segment)
        if tuple(target) != module and tuple(target) in modules:
            yield tuple(target)


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def main(root):
    failed = False
    for crate, src in CRATES.items():
        src = os.path.join(root, src)
        files = [
            os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".rs")
        ]
        modules = {module_of(src, f): f for f in files}
        graph = {
            m: set(imports(m, open(f, encoding="utf-8").read(), modules))
            for m, f in modules.items()
        }
        edges = sum(len(targets) for targets in graph.values())
        found = cycles(graph)
        print(f"{crate}: {len(modules)} modules, {edges} imports, {len(found)} cycles")
        for component in found:
            failed = True
            names = sorted("::".join(m) or "(crate root)" for m in component)
            print(f"  cycle: {' <-> '.join(names)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
