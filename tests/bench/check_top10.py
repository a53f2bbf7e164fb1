#!/usr/bin/env python3
"""Do siaod and tests/bench/match_query.sql rank the same offers?

    check_top10.py --url http://127.0.0.1:PORT --token TOKEN --conninfo "host=... dbname=siaod"
                   [--query match_query.sql] [--samples 100] [--seed N] [--max-id 200000]
                   [--sample-body FILE]

For SAMPLES young people drawn with the seed from 1..MAX_ID, asks siaod for
GET /v1/youth/{id}/matches?limit=10 and runs the SQL query (in one psql
session), and compares the two top-10s: the offer ids in order and their
scores, and also each one's distance, free places and the points of every
factor. Prints one summary line ("top10 check: 100/100 identical ...") and
the first differences; exits 0 when every sampled top-10 is identical.

--sample-body writes the body of a typical response (the one whose size is
the median of the sampled ones) to FILE: the static file nginx serves for
the HTTP ceiling.
"""
import argparse
import json
import random
import subprocess
import sys
import urllib.request

FACTORS = ["distance", "duration", "affordability", "support", "availability"]


def siaod_top(url, token, yid):
    req = urllib.request.Request(f"{url}/v1/youth/{yid}/matches?limit=10",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    items = []
    for it in json.loads(body)["items"]:
        pts = {f["factor"]: f["points"] for f in it["reasons"]}
        items.append((it["offer_id"], it["score"], round(it["distance_km"], 1),
                      it["free_places"], tuple(pts[f] for f in FACTORS)))
    return items, body


def sql_tops(conninfo, query_path, ids):
    with open(query_path, encoding="utf-8") as f:
        # pgbench's "\set id random(...)" is not psql's: set the id ourselves
        query = "".join(l for l in f if not l.startswith("\\set"))
    script = "".join(f"\\set id {i}\n\\echo @@{i}\n{query}\n" for i in ids)
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1",
                          conninfo], input=script, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check_top10: psql failed: {out.stderr.strip()}")
    tops, cur = {}, None
    for line in out.stdout.splitlines():
        if line.startswith("@@"):
            cur = int(line[2:])
            tops[cur] = []
            continue
        if not line:
            continue
        oid, score, dist, free, *pts = line.split("|")
        tops[cur].append((int(oid), int(score), round(float(dist), 1), int(free),
                          tuple(int(p) for p in pts)))
    return tops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--query", default="match_query.sql")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-id", type=int, default=200000)
    ap.add_argument("--sample-body")
    a = ap.parse_args()

    ids = random.Random(f"top10:{a.seed}").sample(range(1, a.max_id + 1), a.samples)
    sql = sql_tops(a.conninfo, a.query, ids)
    same_ids = same_scores = same_all = 0
    n_items = 0
    diffs, bodies = [], []
    for yid in ids:
        got, body = siaod_top(a.url, a.token, yid)
        bodies.append(body)
        want = sql.get(yid, [])
        n_items += len(got)
        if [g[:2] for g in got] == [w[:2] for w in want]:
            same_scores += 1
        if [g[0] for g in got] == [w[0] for w in want]:
            same_ids += 1
        if got == want:
            same_all += 1
        elif len(diffs) < 5:
            diffs.append((yid, got, want))
    n = len(ids)
    print(f"top10 check: {same_scores}/{n} identical top-10s (offer ids, order and scores); "
          f"{same_ids}/{n} same ids in order; {same_all}/{n} identical down to distance, "
          f"free places and every factor's points; {n_items} offers compared, "
          f"{n_items / n:.1f} per young person")
    for yid, got, want in diffs:
        print(f"  youth {yid}:")
        for i in range(max(len(got), len(want))):
            g = got[i] if i < len(got) else None
            w = want[i] if i < len(want) else None
            if g != w:
                print(f"    #{i + 1} siaod {g}  sql {w}")
    if a.sample_body:
        bodies.sort(key=len)
        with open(a.sample_body, "wb") as f:
            f.write(bodies[len(bodies) // 2])
    sys.exit(0 if same_scores == n and same_all == n else 1)


if __name__ == "__main__":
    main()
