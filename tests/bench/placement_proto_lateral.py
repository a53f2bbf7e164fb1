#!/usr/bin/env python3
"""Prints a prototype of placement_create (run_placement_bench.sh,
BENCH_PROTO=lateral; loaded into the throwaway cluster only, never a
migration): the function of sql/004_placements.sql as it is, but for its
free-place search, which becomes a LATERAL probe per place.

Why: written as NOT EXISTS (... x.place_id = pl.id AND x.held && range), the
planner may turn the search into an anti-join whose inner side scans the
exclusion constraint's GiST index for `held && range` alone, across every
place, materialised once per call (seen in the benchmark: 11-12 ms a call on
the hot offers, against 0.3 ms). It does so when the statistics put few
placements in the wanted dates, which is what they say of future dates
after an ANALYZE of a table of past stays. A LATERAL subquery with LIMIT 1
cannot be flattened: each place is probed by (place_id, held), the index's
own key.

    placement_proto_lateral.py sql/004_placements.sql > proto.sql
"""
import re
import sys

OLD = """    SELECT pl.id INTO v_place FROM places pl
    WHERE pl.offer_id = o.id AND pl.active
      AND NOT EXISTS (SELECT 1 FROM placements x WHERE x.place_id = pl.id
                      AND x.held && daterange(v_start, v_end))
    ORDER BY pl.number LIMIT 1;"""
NEW = """    SELECT pl.id INTO v_place FROM places pl
    LEFT JOIN LATERAL (SELECT 1 AS taken FROM placements x WHERE x.place_id = pl.id
                       AND x.held && daterange(v_start, v_end) LIMIT 1) t ON true
    WHERE pl.offer_id = o.id AND pl.active AND t.taken IS NULL
    ORDER BY pl.number LIMIT 1;"""

text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"^CREATE FUNCTION placement_create\(.*?^END \$\$;\n", text, re.S | re.M)
if not m or OLD not in m.group(0):
    sys.exit("placement_create or its free-place search is not as this prototype expects")
print("-- prototype (tests/bench/placement_proto_lateral.py), throwaway cluster only")
print(m.group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(OLD, NEW))
