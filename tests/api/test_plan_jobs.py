"""
Plans in worker threads, end to end against the real daemon and PostgreSQL:
a plan too big to answer at once is accepted (202 + Location) and polled to
done while /healthz keeps answering; beyond plan_workers + plan_queue_max a
request gets 429 with Retry-After; an apply that takes longer is accepted the
same way and its outcome lands in the plan; the referent sees each young
person's file reference.

The département (34, all in Sète) is written straight into PostgreSQL before
the daemon starts, so the plan is large (N_YOUTH x N_OFFERS eligible pairs)
without thousands of API calls. plan_sync_wait_ms = 0: every plan and apply
answers 202 at once, whatever the machine's speed.

Tests run in order and share one database and one daemon.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Database, expect, expect_problem, run_all, test  # noqa: E402

N_YOUTH, N_OFFERS = 500, 300
SETE = "34301"
D = DB = None
ADMIN = REF = None
PLANS = []


def setup():
    global D, DB, ADMIN, REF
    DB = Database("plan_jobs")
    D = Daemon(DB, name="main", start=False,
               env={"SIAOD_PLAN_SYNC_WAIT_MS": "0", "SIAOD_PLAN_WORKERS": "1", "SIAOD_PLAN_QUEUE_MAX": "1"})
    D.start()          # migrates
    D.stop()
    DB.sql("""
        INSERT INTO porteurs (name, departement, target_youth) VALUES ('Habitat Sète', '34', 0);
        INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon, capacity,
                            available_from, status)
        SELECT (SELECT min(id) FROM porteurs), 'iml',
               -- a few labels hold the text a stored plan is cut at (escaped in JSON)
               CASE WHEN g %% 50 = 1 THEN 'Offre {"youth_id":' || g || ',"ref":"PJ-1"} \\' ELSE 'Offre ' || g END,
               '%(c)s', '34', c.lat, c.lon, 1,
               current_date - 1, 'open'
        FROM generate_series(1, %(no)d) g, communes c WHERE c.insee = '%(c)s';
        INSERT INTO places (offer_id, number, active) SELECT id, 1, true FROM offers;
        INSERT INTO youth (ref, departement, birth_date, gender, household, situation, commune_insee,
                           support_need, wanted_months, status, wanted_from, registered_at)
        SELECT 'PJ-' || g, '34', current_date - interval '20 years' - g * interval '1 day',
               'female', 'alone', CASE WHEN g %% 2 = 0 THEN 'street' ELSE 'precarious' END,
               '%(c)s', 'standard', 1 + g %% 12, 'waiting', current_date, current_date - g
        FROM generate_series(1, %(ny)d) g;
    """ % {"c": SETE, "no": N_OFFERS, "ny": N_YOUTH})
    D.start()
    ADMIN = D.token("admin", label="admin")
    REF = D.token("referent", departements=("34",), label="ref34")


def healthz_ms():
    t = time.monotonic()
    expect(D.call("GET", "/healthz"), 200)
    return (time.monotonic() - t) * 1000


def poll(plan_id, until, timeout=300):
    """GETs the plan (and /healthz between two GETs) until until(plan); returns
    the plan, the statuses seen and the /healthz times measured meanwhile."""
    seen, health = [], []
    deadline = time.monotonic() + timeout
    while True:
        p = expect(D.call("GET", "/v1/allocation-plans/%d" % plan_id, REF), 200).json
        seen.append(p["status"])
        assert 0 <= p["progress"] <= 1, p
        if until(p):
            return p, seen, health
        health.append(healthz_ms())
        assert time.monotonic() < deadline, "plan %d not done after %d s: %r" % (plan_id, timeout, seen[-5:])
        time.sleep(0.02)


@test
def a_big_plan_is_accepted_then_polled_to_done_while_healthz_answers():
    r = D.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
    expect(r, 202)
    body = r.json
    assert body["status"] in ("queued", "running") and body["departement"] == "34", body
    loc = r.headers.get("Location")
    assert loc == "/v1/allocation-plans/%d" % body["id"], (loc, body)
    p, seen, health = poll(body["id"], lambda p: p["status"] in ("done", "failed"))
    assert p["status"] == "done" and p["progress"] == 1, p
    # healthz answered while the plan was computed (the loop never computes it)
    assert "running" in seen or "queued" in seen, seen
    assert health, "no /healthz call could be made while the plan ran: %r" % seen
    print("healthz while the plan ran: %d calls, worst %.1f ms" % (len(health), max(health)))
    # every offer has one place, every young person is eligible for every one
    assert len(p["assignments"]) == min(N_YOUTH, N_OFFERS), len(p["assignments"])
    assert p["eligible_pairs"] == N_YOUTH * N_OFFERS, p["eligible_pairs"]
    assert p["total_score"] == sum(a["score"] for a in p["assignments"]), p["total_score"]
    # the referent sees the file references: each item's own (read from the
    # database, not from the plan), the same in the GET and in the 201/202 path
    assert refs_are_right(p), p["assignments"][:3]
    assert sum(a["label"].startswith('Offre {"youth_id":') for a in p["assignments"]) == 6, p["assignments"][:3]
    assert get_plan(p["id"], REF) == p
    PLANS.append(p)


def get_plan(plan_id, token):
    """GET of a plan, parsed refusing any key written twice in an object (the
    answer is assembled as text: a key twice would be taken silently)."""
    def once(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), "a key twice: %r" % keys
        return dict(pairs)
    r = expect(D.call("GET", "/v1/allocation-plans/%d" % plan_id, token), 200)
    return json.loads(r.text, object_pairs_hook=once)


def refs_are_right(p):
    """Each item of the plan carries its young person's ref as the database
    has it now (null once erased), and each item has its keys once."""
    refs = dict(row.split("|", 1) for row in DB.sql("SELECT id, coalesce(ref, '<null>') FROM youth"))
    items = p["assignments"] + p["unassigned"]
    assert len(items) == N_YOUTH, len(items)
    for it in items:
        want = refs[str(it["youth_id"])]
        assert it["ref"] == (None if want == "<null>" else want), (it["youth_id"], it["ref"], want)
    return True


@test
def the_pairs_built_on_one_thread_or_three_give_the_same_plan():
    """plan_build_threads: the pairs are built in chunks of 64 young people
    (8 here) shared between threads, then put back in order; one thread,
    three (uneven shares) and the main daemon's one a core give the same
    pairs in the same order, hence the same plan, assignment by assignment."""
    def pairs(p):
        return [(a["youth_id"], a["offer_id"], a["score"], a["start_date"], a["end_date"]) for a in p["assignments"]]

    def why(p):
        return [(u["youth_id"], u["why"], u.get("eligible_offers")) for u in p["unassigned"]]

    first = PLANS[0]
    for threads in ("1", "3"):
        other = Daemon(DB, name="threads" + threads,
                       env={"SIAOD_PLAN_SYNC_WAIT_MS": "0", "SIAOD_PLAN_BUILD_THREADS": threads})
        try:
            r = other.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
            expect(r, 202)
            deadline = time.monotonic() + 300
            while True:
                p = expect(other.call("GET", "/v1/allocation-plans/%d" % r.json["id"], REF), 200).json
                if p["status"] in ("done", "failed"):
                    break
                assert time.monotonic() < deadline, p["status"]
                time.sleep(0.05)
        finally:
            other.stop()
        assert p["status"] == "done", p["status"]
        assert p["eligible_pairs"] == first["eligible_pairs"] == N_YOUTH * N_OFFERS, (threads, p["eligible_pairs"])
        assert p["total_score"] == first["total_score"], (threads, p["total_score"], first["total_score"])
        assert pairs(p) == pairs(first), (threads, pairs(p)[:3], pairs(first)[:3])
        assert why(p) == why(first), (threads, why(p)[:3], why(first)[:3])


@test
def beyond_the_workers_and_the_queue_a_plan_gets_429():
    """plan_workers 1, plan_queue_max 1: a third plan while two are in is refused."""
    first = D.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
    second = D.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
    third = D.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
    expect(first, 202)
    expect(second, 202)
    expect_problem(third, 429)
    assert int(third.headers.get("Retry-After", "0")) >= 1, third.headers
    done = [poll(r.json["id"], lambda p: p["status"] == "done")[0] for r in (first, second)]
    # the same snapshot, the same answer as the first plan
    for p in done:
        assert p["total_score"] == PLANS[0]["total_score"], (p["total_score"], PLANS[0]["total_score"])
    # and a worker is free again
    r = D.call("POST", "/v1/allocation-plans", REF, {"departement": "34"})
    expect(r, 202)
    poll(r.json["id"], lambda p: p["status"] == "done")


@test
def a_long_apply_is_accepted_then_its_outcome_lands_in_the_plan():
    p = PLANS[0]
    some = p["assignments"][:60]
    r = D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF,
               {"pairs": [{"youth_id": a["youth_id"], "offer_id": a["offer_id"]} for a in some]})
    expect(r, 202)
    assert r.headers.get("Location") == "/v1/allocation-plans/%d" % p["id"], r.headers
    assert r.json["status"] == "running", r.json
    # a second apply of the same plan meanwhile is refused
    again = D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF)
    if again.status != 200:
        expect_problem(again, 409)
    running = []

    def applied(g):
        if "apply" in g:
            running.append(g["apply"])
        return "apply" not in g and g["applied_at"] is not None
    g, _, health = poll(p["id"], applied)
    # while it ran, GET showed the plan with the apply's status beside it
    assert all(a["status"] == "running" and 0 <= a["progress"] <= 1 for a in running), running
    print("GETs while the apply ran: %d" % len(running))
    got = sorted((x["youth_id"], x["offer_id"], x["status"]) for x in g["applied"])
    assert got == sorted((a["youth_id"], a["offer_id"], 201) for a in some), got[:5]


@test
def a_pair_not_in_the_plan_is_refused_whole():
    p = PLANS[0]
    a = p["assignments"][-1]
    other = p["assignments"][-2]
    bad = expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF,
                                {"pairs": [{"youth_id": a["youth_id"], "offer_id": a["offer_id"]},
                                           {"youth_id": a["youth_id"], "offer_id": other["offer_id"]}]}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/pairs/1"], bad
    mine = expect(D.call("GET", "/v1/placements?youth_id=%d" % a["youth_id"], ADMIN), 200).json["items"]
    assert mine == [], mine


@test
def a_plan_read_after_an_erasure_shows_no_ref_for_that_young_person():
    """The refs are joined when the plan is read, never stored in it: once a
    young person of the plan is erased (ref emptied), GET shows null for
    them, the others' refs unchanged; the stored plan text never had a ref."""
    p = PLANS[0]
    gone, moved = p["unassigned"][0]["youth_id"], p["unassigned"][1]["youth_id"]
    before = get_plan(p["id"], REF)
    assert refs_are_right(before)
    ref_of = {u["youth_id"]: u["ref"] for u in before["unassigned"]}
    assert ref_of[gone].startswith("PJ-") and ref_of[moved].startswith("PJ-"), ref_of
    expect(D.call("DELETE", "/v1/youth/%d" % gone, REF), 200)
    # one moved to another département keeps their ref in the plan
    expect(D.call("PATCH", "/v1/youth/%d" % moved, ADMIN, {"departement": "30", "commune_insee": "30189"}), 200)
    after = get_plan(p["id"], ADMIN)
    ref_of = {u["youth_id"]: u["ref"] for u in after["unassigned"]}
    assert ref_of[gone] is None and ref_of[moved] == before_ref(before, moved), ref_of
    assert refs_are_right(after)
    # the rest of the plan is as it was
    strip = lambda plan: [{k: v for k, v in it.items() if k != "ref"} for it in plan["assignments"] + plan["unassigned"]]
    assert strip(after) == strip(before)
    assert DB.sql("SELECT count(*) FROM allocation_plans WHERE plan::text LIKE '%\"ref\"%'") == ["0"]


def before_ref(plan, youth_id):
    return [u["ref"] for u in plan["unassigned"] if u["youth_id"] == youth_id][0]


if __name__ == "__main__":
    run_all(setup)
