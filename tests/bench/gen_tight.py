#!/usr/bin/env python3
"""Tighter and larger variants of the shared assignment instance, for the planner benchmark.

Same generator (imported from ../shared/bench/gen_assignment_instance.py, so the same
splitmix64 draws), same file format, same seed; only the sizes and the capacity range
change, so every variant is deterministic:

  tight-cap12   5,000 people,  2,000 offers, capacity 1..2  (~3,000 places, ~200k pairs)
  tight-10k    10,000 people,  2,000 offers, capacity 1..4  (~5,000 places, ~400k pairs)
  large-20k    20,000 people,  8,000 offers, capacity 1..3  (~16,000 places, ~800k pairs)
  near-bal      the reference instance with its capacities trimmed to 4,960 places (40 fewer
                than people, the mirror of the reference's 40 spare places): the first offers
                with a capacity > 1 lose one place each; hard for successive shortest paths,
                whose last free places are far away

Each person is eligible for 30..50 distinct offers, scores 1..1000, as in the reference.

Usage: gen_tight.py OUTDIR [--shared DIR] [--only NAME[,NAME..]]
Writes OUTDIR/<name>.txt and prints one line per file:
  <name> people=.. offers=.. places=.. edges=.. sha256=<16 hex>
"""
import argparse
import hashlib
import importlib.util
import os
import sys

VARIANTS = [
    # name, people, offers, capmax, places (None: as drawn; else trimmed to that many)
    ("tight-cap12", 5000, 2000, 2, None),
    ("tight-10k", 10000, 2000, 4, None),
    ("large-20k", 20000, 8000, 3, None),
    ("near-bal", 5000, 2000, 4, 4960),
]
SEED = 20261123


def load_generator(shared):
    path = os.path.join(shared, "gen_assignment_instance.py")
    if not os.path.isfile(path):
        sys.exit(f"gen_tight.py: {path} not found (pass --shared DIR)")
    spec = importlib.util.spec_from_file_location("gen_assignment_instance", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--shared", default=os.path.normpath(os.path.join(here, "../../../shared/bench")))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    generate = load_generator(a.shared)
    only = set(filter(None, a.only.split(",")))
    os.makedirs(a.outdir, exist_ok=True)
    for name, people, offers, capmax, places in VARIANTS:
        if only and name not in only:
            continue
        caps, edges = generate(people, offers, SEED, capmax=capmax)
        if places is not None:
            excess = sum(caps) - places
            for j in range(offers):
                if excess <= 0:
                    break
                if caps[j] > 1:
                    caps[j] -= 1
                    excess -= 1
        lines = [f"{people} {offers} {len(edges)}"] + [str(c) for c in caps] + \
                [f"{p} {o} {s}" for p, o, s in edges]
        data = ("\n".join(lines) + "\n").encode()
        out = os.path.join(a.outdir, name + ".txt")
        with open(out, "wb") as f:
            f.write(data)
        print(f"{name} people={people} offers={offers} places={sum(caps)} edges={len(edges)} "
              f"sha256={hashlib.sha256(data).hexdigest()[:16]}", flush=True)


if __name__ == "__main__":
    main()
