#!/usr/bin/python3
"""
Fails when the #include graph of the daemon's modules has a cycle.

A module is a file name without its extension: daemon/store.c and
daemon/store.h are the module "store" (include/siaod/date.h and
daemon/date.c are "date"). Module A depends on module B when a file of A
includes "B.h" (quoted includes only; <system> headers are not ours). The
layers must only point down (see the Layout section of README.md), so the
graph has to be acyclic.

    include_cycles.py DIR...      check the .c and .h files of each DIR
    include_cycles.py --self-test check that a cyclic tree is caught and an
                                  acyclic one is not, then exit
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module(path):
    return os.path.splitext(os.path.basename(path))[0]


def graph(dirs):
    edges = {}
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                src = module(f)
                deps = edges.setdefault(src, set())
                for inc in INCLUDE.findall(text):
                    dst = module(inc)
                    if dst != src:
                        deps.add(dst)
    return edges


def find_cycle(edges):
    """One cycle as a list of modules [a, b, ..., a], or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {}
    stack = []

    def visit(n):
        color[n] = GREY
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            c = color.get(m, WHITE)
            if c == GREY:
                return stack[stack.index(m):] + [m]
            if c == WHITE:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(edges):
        if color.get(n, WHITE) == WHITE:
            found = visit(n)
            if found:
                return found
    return None


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        cyc = os.path.join(tmp, "cyclic")
        ok = os.path.join(tmp, "acyclic")
        os.makedirs(cyc)
        os.makedirs(ok)
        files = {
            (cyc, "a.c"): '#include "a.h"\n#include "b.h"\n',
            (cyc, "a.h"): "",
            (cyc, "b.c"): '#include "b.h"\n',
            (cyc, "b.h"): '#include "c.h"\n',
            (cyc, "c.c"): '#include "c.h"\n#include "a.h"\n',
            (cyc, "c.h"): "#include <stdio.h>\n",
            (ok, "a.c"): '#include "a.h"\n#include "b.h"\n',
            (ok, "a.h"): '#include "b.h"\n',
            (ok, "b.c"): '#include "b.h"\n#include "c.h"\n',
            (ok, "b.h"): "",
            (ok, "c.h"): '#include <a.h>\n',   # a system header: not ours
        }
        for (d, name), text in files.items():
            with open(os.path.join(d, name), "w") as fh:
                fh.write(text)
        cycle = find_cycle(graph([cyc]))
        assert cycle and set(cycle) == {"a", "b", "c"}, "the cycle a -> b -> c -> a was missed: %r" % cycle
        none = find_cycle(graph([ok]))
        assert none is None, "an acyclic tree was reported cyclic: %r" % none
    print("include_cycles self-test: a cycle is caught, an acyclic tree passes")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) < 2:
        print(__doc__)
        return 2
    edges = graph(argv[1:])
    cycle = find_cycle(edges)
    if cycle:
        print("include cycle: " + " -> ".join(cycle))
        return 1
    print("no include cycle among %d modules" % len(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
