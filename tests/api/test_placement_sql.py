"""
What a placement costs the database (issue 13, item 3), against the real
daemon and PostgreSQL:

- POST /v1/placements with an Idempotency-Key is one statement: the function
  statistics (track_functions = all, set on the database before siaod
  connects) count one placement_propose per placement, no idem_begin (the
  gate's claim, a round trip of its own before) and no idem_store; and no
  function written in LANGUAGE sql (planned again on every call by
  PostgreSQL 15) is called once per placement — the inventory's re-reads
  (inv_*, batched after commits) aside.
- The free-place search probes each place through the exclusion
  constraint's index on (place_id, held), under the generic plan PL/pgSQL
  keeps after five calls, with the statistics of a table of past stays (the
  case where the anti-join used to scan the whole index): auto_explain of
  the nested statement, one index probe per place until the free one.
- The change table (sql/022) is read through its index, not scanned, even
  when it holds many rows; its rows go once a mark taken after their
  transaction ended is older than the time kept.
"""
import datetime
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Database, eventually, expect, run_all, test  # noqa: E402

DB = None
D = None
ADMIN = REF = None
P1 = None
TODAY = None
SETE = "34301"
SEQ = [0]


def setup():
    global DB, D, ADMIN, REF, P1, TODAY
    DB = Database("placement_sql")
    # every function call counted, in the sessions siaod opens after this
    DB.sql('ALTER DATABASE "%s" SET track_functions = \'all\'' % DB.name)
    D = Daemon(DB, env={"SIAOD_RECONFIRM_DAYS": "3650", "SIAOD_RATE_LIMIT_PER_SECOND": "0"})
    ADMIN = D.token("admin", label="admin")
    REF = D.token("referent", departements=("34",), label="ref34")
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    P1 = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}), 201).json["id"]


def day(n=0):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def youth():
    SEQ[0] += 1
    b = {"ref": "S-%05d" % SEQ[0], "departement": "34", "birth_date": TODAY.replace(year=TODAY.year - 20, day=1).isoformat(),
         "gender": "female", "situation": "street", "commune_insee": SETE}
    return expect(D.call("POST", "/v1/youth", REF, b), 201).json["id"]


def offer(capacity, label="Offre"):
    b = {"porteur_id": P1, "kind": "fjt", "label": label, "commune_insee": SETE, "capacity": capacity}
    return expect(D.call("POST", "/v1/offers", ADMIN, b), 201).json["id"]


def function_calls():
    """{schema.name: (calls, language)} from pg_stat_user_functions."""
    rows = DB.sql("SELECT s.schemaname || '.' || s.funcname, sum(s.calls), min(l.lanname) "
                  "FROM pg_stat_user_functions s JOIN pg_proc p ON p.oid = s.funcid "
                  "JOIN pg_language l ON l.oid = p.prolang GROUP BY 1")
    out = {}
    for r in rows:
        name, calls, lang = r.split("|")
        out[name] = (int(calls), lang)
    return out


def settled_function_calls():
    """function_calls() once backends have flushed what they counted: idle
    backends flush about once a second, later on a loaded machine, so wait
    for two readings 1.5 s apart that agree."""
    last = function_calls()
    deadline = time.time() + 30
    while True:
        time.sleep(1.5)
        now = function_calls()
        if now == last or time.time() > deadline:
            return now
        last = now


def delta(after, before, name):
    return after.get(name, (0, ""))[0] - before.get(name, (0, ""))[0]


@test
def a_keyed_placement_is_one_statement_calling_no_sql_function():
    n = 20
    pairs = [(youth(), offer(2, "Un aller %d" % i)) for i in range(n)]
    before = settled_function_calls()    # the setup's own statistics flushed
    for y, o in pairs:
        r = expect(D.call("POST", "/v1/placements", REF, {"youth_id": y, "offer_id": o, "start_date": day(3)},
                          headers={"Idempotency-Key": "one-trip-%d" % y}), 201)
        assert r.json["place_number"] == 1 and r.json["status"] == "proposed", r.json
    # the keyed answer is stored all the same: a retry replays it
    y, o = pairs[0]
    again = expect(D.call("POST", "/v1/placements", REF, {"youth_id": y, "offer_id": o, "start_date": day(3)},
                          headers={"Idempotency-Key": "one-trip-%d" % y}), 201)
    assert again.headers.get("Idempotent-Replayed") == "true", again.headers
    # backends flush their counts when idle, at most once a second
    after = eventually(lambda: (lambda a: a if delta(a, before, "api.placement_propose") >= n + 1 else None)(
        function_calls()), timeout=10, interval=0.5, msg="the calls counted")
    assert delta(after, before, "api.placement_propose") == n + 1, delta(after, before, "api.placement_propose")
    assert delta(after, before, "api.placement_create") == n
    for f in ("api.idem_begin", "api.idem_store", "api.idem_store_text", "api.audit_write", "api.placement_json"):
        assert delta(after, before, f) == 0, "%s called %d times" % (f, delta(after, before, f))
    per_placement = sorted("%s (%d)" % (f, delta(after, before, f)) for f, (_, lang) in after.items()
                           if lang == "sql" and delta(after, before, f) >= n and not f.startswith("api.inv_"))
    assert not per_placement, "LANGUAGE sql functions called once per placement: %s" % per_placement
    assert DB.sql("SELECT count(*) FROM idempotency WHERE key LIKE 'one-trip-%' AND state = 'done' "
                  "AND status = 201") == [str(n)]
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'placement.create' AND status = 201") == [str(n)]


def auto_explain(sql):
    """Runs sql in a psql session with auto_explain logging every nested
    statement's plan (JSON, with ANALYZE) to the client, under the generic
    plans PL/pgSQL keeps after five calls. Returns (stdout, [plans])."""
    script = "\n".join([
        "SET search_path = api, public;",
        "LOAD 'auto_explain';",
        "SET auto_explain.log_min_duration = 0;",
        "SET auto_explain.log_analyze = on;",
        "SET auto_explain.log_nested_statements = on;",
        "SET auto_explain.log_format = json;",
        "SET plan_cache_mode = force_generic_plan;",
        "SET client_min_messages = log;",
        sql,
    ])
    p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", DB.url], input=script,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-3000:]
    plans = []
    decoder = json.JSONDecoder()
    for chunk in re.split(r"^LOG:\s+", p.stderr, flags=re.M):
        m = re.search(r"plan:\s*\n", chunk)
        if m and "{" in chunk[m.end():]:
            # the plan, then maybe CONTEXT lines: one JSON value from its start
            text = chunk[m.end():]
            plans.append(decoder.raw_decode(text[text.index("{"):])[0])
    assert plans, "no plan logged: %s" % p.stderr[-2000:]
    return p.stdout, plans


def nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


@test
def the_free_place_search_probes_each_place_through_the_index():
    places = 40
    o = offer(places, "Foyer très demandé")
    past = youth()
    # 50 past stays on each place, then an ANALYZE: the statistics put
    # nothing in future dates (what made the anti-join scan the whole index)
    DB.sql("INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date, "
           "actual_end_date, created_on) "
           "SELECT %d, %d, pl.id, 'ended', d, d + 28, d + 28, d FROM places pl, generate_series(0, 49) k, "
           "LATERAL (SELECT date '%s' - 2000 + 30 * k AS d) x WHERE pl.offer_id = %d"
           % (past, o, day(0), o))
    # every place but the last is held over the wanted stay
    DB.sql("INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date, "
           "actual_end_date, created_on) "
           "SELECT %d, %d, pl.id, 'ended', date '%s', date '%s', date '%s', date '%s' "
           "FROM places pl WHERE pl.offer_id = %d AND pl.number < %d"
           % (past, o, day(100), day(130), day(130), day(0), o, places))
    DB.sql("ANALYZE placements")
    y = youth()
    body = json.dumps({"youth_id": y, "offer_id": o, "start_date": day(110), "planned_end_date": day(120)})
    actor = json.dumps({"role": "admin", "token_id": 0, "request_id": "test-explain"})
    out, plans = auto_explain("BEGIN;\nSELECT placement_create('%s'::jsonb, '%s'::jsonb, '%s'::date, 7);\nROLLBACK;"
                              % (body, actor, day(0)))
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][0])
    assert result["place_number"] == places, result
    search = [pl for pl in plans if "LEFT JOIN LATERAL" in pl.get("Query Text", "")]
    assert len(search) == 1, [pl.get("Query Text", "")[:80] for pl in plans]
    scans = [n for n in nodes(search[0]["Plan"]) if n.get("Relation Name") == "placements"]
    assert scans, search[0]
    for n in scans:
        assert n["Node Type"] in ("Index Scan", "Index Only Scan"), n["Node Type"]
        # the B-tree of sql/024, (place_id, lower(held)), read backwards from
        # the stay's end: one entry per place, never the GiST of the constraint
        assert n.get("Index Name") == "placements_place_held_idx", n.get("Index Name")
        assert n.get("Scan Direction") == "Backward", n.get("Scan Direction")
        cond = n.get("Index Cond", "")
        assert "place_id" in cond and "lower(held)" in cond, "the probe is not by (place_id, lower(held)): %r" % cond
        # one probe per place, up to the free one, each reading one entry:
        # 50 past stays per place are never walked
        assert n["Actual Loops"] == places, n["Actual Loops"]
        assert n["Actual Rows"] * n["Actual Loops"] <= places, n
    # the offer's places, through the (offer_id, number) key: never the table
    places_scans = [n for n in nodes(search[0]["Plan"]) if n.get("Relation Name") == "places"]
    assert places_scans and all(n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")
                                and n["Actual Rows"] <= places for n in places_scans), \
        [(n["Node Type"], n["Actual Rows"]) for n in places_scans]


@test
def the_free_place_search_is_exact_at_the_edges_of_held_stays():
    # Place 1 holds [100, 130) (ended) and [140, 170) (proposed), and a
    # cancelled proposal over the gap, which holds nothing; place 2 is free.
    # The probe reads only the last range of a place starting before the
    # wanted end: each case below is decided by that range, its neighbour,
    # or none, and must give the place an overlap test would give.
    o = offer(2, "Bords")
    holder = youth()
    DB.sql("INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date, "
           "actual_end_date, created_on) SELECT %d, %d, pl.id, s, date '%s' + a, date '%s' + b, "
           "CASE WHEN s = 'ended' THEN date '%s' + b END, date '%s' "
           "FROM places pl, (VALUES ('ended', 100, 130), ('proposed', 140, 170), ('cancelled', 128, 142)) v(s, a, b) "
           "WHERE pl.offer_id = %d AND pl.number = 1" % (holder, o, day(0), day(0), day(0), day(0), o))
    y = youth()
    actor = json.dumps({"role": "admin", "token_id": 0, "request_id": "test-edges"})

    def place_for(a, b):
        body = json.dumps({"youth_id": y, "offer_id": o, "start_date": day(a), "planned_end_date": day(b)})
        rows = DB.sql("SET search_path = api, public; BEGIN; "
                      "SELECT placement_create('%s'::jsonb, '%s'::jsonb, '%s'::date, 7)->>'place_number'; ROLLBACK;"
                      % (body, actor, day(0)))
        return int([r for r in rows if r.isdigit()][0])

    cases = [((130, 140), 1), ((90, 100), 1), ((170, 200), 1), ((129, 140), 2), ((130, 141), 2),
             ((95, 175), 2), ((99, 101), 2), ((169, 171), 2), ((135, 136), 1), ((60, 101), 2)]
    got = [(span, place_for(*span)) for span, _ in cases]
    assert got == cases, got


@test
def a_hinted_place_is_taken_when_free_and_ignored_otherwise():
    # The daemon passes the place its inventory saw free first; the database
    # takes it only if it is this offer's, active and free over the stay.
    o = offer(3, "Indice")
    other = offer(1, "Autre")
    ids = {int(n): int(i) for n, i in (r.split("|") for r in DB.sql(
        "SELECT number, id FROM places WHERE offer_id = %d" % o))}
    elsewhere = int(DB.sql("SELECT id FROM places WHERE offer_id = %d" % other)[0])
    holder = youth()
    DB.sql("INSERT INTO placements (youth_id, offer_id, place_id, status, start_date, planned_end_date, created_on) "
           "VALUES (%d, %d, %d, 'proposed', date '%s', date '%s', date '%s')"
           % (holder, o, ids[1], day(10), day(40), day(0)))
    y = youth()
    actor = json.dumps({"role": "admin", "token_id": 0, "request_id": "test-hint"})
    body = json.dumps({"youth_id": y, "offer_id": o, "start_date": day(20), "planned_end_date": day(30)})

    def place_with(hint):
        rows = DB.sql("SET search_path = api, public; BEGIN; "
                      "SELECT placement_create('%s'::jsonb, '%s'::jsonb, '%s'::date, 7, %s)->>'place_number'; ROLLBACK;"
                      % (body, actor, day(0), "NULL" if hint is None else hint))
        return int([r for r in rows if r.isdigit()][0])

    assert place_with(None) == 2               # the first free by number
    assert place_with(ids[3]) == 3             # free: taken as hinted
    assert place_with(ids[1]) == 2             # taken over the stay: the search
    assert place_with(elsewhere) == 2          # another offer's: the search
    DB.sql("UPDATE places SET active = false WHERE id = %d" % ids[3])
    assert place_with(ids[3]) == 2             # no longer active: the search


@test
def prepared_statements_survive_a_function_that_changes_shape():
    # siaod prepares its statements once per connection. Another instance's
    # migration may re-create a function with another result type under it
    # ("cached plan must not change result type"): the call is sent again
    # on fresh statements, and no client sees an error.
    y, o = youth(), offer(1, "Forme")
    p = expect(D.call("POST", "/v1/placements", REF, {"youth_id": y, "offer_id": o, "start_date": day(3)}), 201).json
    first = [expect(D.call("GET", "/v1/placements/%d" % p["id"], ADMIN), 200).json for _ in range(12)]
    assert all(f == first[0] for f in first), first
    DB.sql("BEGIN; ALTER FUNCTION api.placement_get(bigint, jsonb) RENAME TO placement_get_kept; "
           "CREATE FUNCTION api.placement_get(p_id bigint, actor jsonb) RETURNS text LANGUAGE sql "
           "AS $$ SELECT api.placement_get_kept(p_id, actor)::text $$; COMMIT;")
    try:
        # concurrent calls, so that every pooled connection meets the change
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda _: D.call("GET", "/v1/placements/%d" % p["id"], ADMIN), range(40)))
        assert [r.status for r in got] == [200] * 40, [(r.status, r.text[:200]) for r in got if r.status != 200]
        assert all(r.json == first[0] for r in got)
    finally:
        DB.sql("BEGIN; DROP FUNCTION api.placement_get(bigint, jsonb); "
               "ALTER FUNCTION api.placement_get_kept(bigint, jsonb) RENAME TO placement_get; COMMIT;")
    assert expect(D.call("GET", "/v1/placements/%d" % p["id"], ADMIN), 200).json == first[0]
    assert "result=invalidated" in D.log_text(), "the invalidation was never met: nothing was prepared"


@test
def the_change_table_is_read_through_its_index():
    # a large table of changes already read (one old transaction's), then one more
    DB.sql("INSERT INTO inventory_changes (offer_id) SELECT g FROM generate_series(1, 100000) g")
    snap = DB.sql("SELECT pg_current_snapshot()")[0]
    o = offer(1, "Changement")
    DB.sql("ANALYZE inventory_changes")
    out, plans = auto_explain("SELECT offer_ids FROM inventory_changes_since('%s', NULL);" % snap)
    arrays = [line for line in out.splitlines() if line.startswith("{")]
    assert len(arrays) == 1 and o in [int(x) for x in arrays[0].strip("{}").split(",") if x], out
    reading = [pl for pl in plans if "WITH c AS" in pl.get("Query Text", "")]
    assert len(reading) == 1, [pl.get("Query Text", "")[:80] for pl in plans]
    scans = [n for n in nodes(reading[0]["Plan"]) if n.get("Relation Name") == "inventory_changes"]
    assert len(scans) == 2, scans
    for n in scans:
        assert n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), n["Node Type"]
        assert n["Actual Rows"] * n["Actual Loops"] <= 10, n



@test
def old_changes_are_purged_once_every_reader_has_read_them():
    DB.sql("SET search_path = api, public; SELECT inventory_changes_purge(0)")     # a first mark
    time.sleep(0.05)
    DB.sql("INSERT INTO inventory_changes (offer_id) VALUES (-1)")
    before_mark = int(DB.sql("SELECT count(*) FROM inventory_changes")[0])
    assert before_mark > 0
    # the first mark predates the row's transaction: nothing of it goes
    DB.sql("SET search_path = api, public; SELECT inventory_changes_purge(0)")
    assert DB.sql("SELECT count(*) FROM inventory_changes WHERE offer_id = -1") == ["1"]
    # A later mark (taken after the row committed) past the 0 s kept lets it go, once
    # that mark saw no transaction older than the row running: the cluster is
    # shared with the other suites (ctest -j), whose transactions hold the
    # oldest running one back for a while, so each try takes a new mark.
    def purged():
        time.sleep(0.05)
        DB.sql("SET search_path = api, public; SELECT inventory_changes_purge(0)")
        return DB.sql("SELECT count(*) FROM inventory_changes WHERE offer_id = -1") == ["0"]
    eventually(purged, timeout=30, interval=0, msg="the row purged once every reader has read it")
    # kept for the scheduler's 600 s, a fresh row stays
    DB.sql("INSERT INTO inventory_changes (offer_id) VALUES (-2)")
    DB.sql("SET search_path = api, public; SELECT inventory_changes_purge(600)")
    assert DB.sql("SELECT count(*) FROM inventory_changes WHERE offer_id = -2") == ["1"]
    assert int(DB.sql("SELECT count(*) FROM inventory_change_marks")[0]) <= 4


if __name__ == "__main__":
    run_all(setup)
