"""
Placements and stays, end to end against the real daemon and PostgreSQL: the
demo flow on a Sète shared flat, the whole transition table (every state x
every action), roles, refusal reasons, proposal conflicts, hold expiry under
the test clock, list/stays/availability views and their scopes, the
Idempotency-Key contract, matches kept fresh by every write, 64 clients
racing for 3 places (200 rounds), and SIGKILL in the middle of a stream of
proposals.

The main daemon (`D`) reads a config file so that the test clock can move
(test_clock_offset_days + SIGHUP, which also re-runs the hold expiry); tests
that move it put it back. Tests run in order and share one database.
"""
import calendar
import datetime
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Daemon, Database, eventually, expect,  # noqa: E402
                     expect_problem, run_all, test)

D = None
DB = None
CONF = None
ADMIN = None
REF34 = REF30 = None
PS = PO = PN = None            # porteurs: Sète (34), other (34), Nîmes (30)
PTS = PTO = PTN = None         # their tokens
TODAY0 = None                  # the machine's date in Europe/Paris
CLOCK = [0]                    # the daemon's test clock offset, in days

SETE, FRONTIGNAN, NIMES = "34301", "34108", "30189"
STATES = ["proposed", "accepted", "active", "ended", "refused", "cancelled", "expired"]
ACTIONS = ["accept", "refuse", "enter", "exit", "extend", "cancel"]
LEGAL = {("proposed", "accept"): "accepted", ("proposed", "refuse"): "refused",
         ("proposed", "cancel"): "cancelled", ("accepted", "enter"): "active",
         ("accepted", "cancel"): "cancelled", ("active", "exit"): "ended", ("active", "extend"): "active"}


def setup():
    global D, DB, CONF, ADMIN, REF34, REF30, PS, PO, PN, PTS, PTO, PTN, TODAY0
    DB = Database("placements")
    # offers registered on day 0 must not go stale (rule stale) as the test clock moves; freshness is test_imports.py's
    D = Daemon(DB, name="main", start=False, env={"SIAOD_RECONFIRM_DAYS": "3650"})
    CONF = os.path.join(D.dir, "siaod.conf")
    write_conf(0)
    D.args = ["--config", CONF]
    D.start()
    ADMIN = D.token("admin", label="admin")
    REF34 = D.token("referent", departements=("34",), label="ref34")
    REF30 = D.token("referent", departements=("30",), label="ref30")
    PS = porteur("Habitat Sète", "34")
    PO = porteur("Autre porteur", "34")
    PN = porteur("Habitat Nîmes", "30")
    PTS = D.token("porteur", porteur=PS, label="pts")
    PTO = D.token("porteur", porteur=PO, label="pto")
    PTN = D.token("porteur", porteur=PN, label="ptn")
    TODAY0 = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    o = offer(label="probe", capacity=1, status="closed")
    assert o["free_places_on"] == TODAY0.isoformat(), (o, TODAY0)


# ---------------------------------------------------------------- helpers

def write_conf(offset):
    with open(CONF, "w") as f:
        f.write("# written by test_placements.py\ntest_clock_offset_days = %d\n" % offset)


def set_clock(offset):
    """Moves the daemon's today to TODAY0 + offset days (SIGHUP re-runs the hold expiry)."""
    write_conf(offset)
    D.reload()
    CLOCK[0] = offset


def today():
    return TODAY0 + datetime.timedelta(days=CLOCK[0])


def days(n):
    return (today() + datetime.timedelta(days=n)).isoformat()


def iso_plus(s, n):
    return (datetime.date.fromisoformat(s) + datetime.timedelta(days=n)).isoformat()


def add_months(d, n):
    """Calendar months, the day clamped to the month's end."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return datetime.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def born(age, plus_days=0):
    t = TODAY0
    try:
        d = t.replace(year=t.year - age)
    except ValueError:
        d = t.replace(year=t.year - age, day=28)
    return (d + datetime.timedelta(days=plus_days)).isoformat()


def porteur(name, dep):
    return expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": name, "departement": dep}), 201).json["id"]


def offer(token=None, **over):
    b = {"porteur_id": PS, "kind": "iml", "label": "Offre", "commune_insee": SETE, "capacity": 2}
    b.update(over)
    return expect(D.call("POST", "/v1/offers", token or ADMIN, b), 201).json


SEQ = [0]


def youth_body(**over):
    SEQ[0] += 1
    b = {"ref": "P-%05d" % SEQ[0], "departement": "34", "birth_date": born(20), "gender": "female",
         "situation": "street", "commune_insee": SETE}
    b.update(over)
    return b


def youth(token=None, **over):
    return expect(D.call("POST", "/v1/youth", token or ADMIN, youth_body(**over)), 201).json


def propose(y, o, start=None, token=None, end=None, status=201, headers=None):
    body = {"youth_id": y["id"] if isinstance(y, dict) else y,
            "offer_id": o["id"] if isinstance(o, dict) else o,
            "start_date": start or days(0)}
    if end:
        body["planned_end_date"] = end
    r = D.call("POST", "/v1/placements", token or REF34, body, headers=headers)
    if status is None:
        return r
    if status >= 400:
        expect_problem(r, status)
        return r.json
    return expect(r, status).json


def act(p, action, body=None, token=None):
    pid = p["id"] if isinstance(p, dict) else p
    return D.call("POST", "/v1/placements/%d/%s" % (pid, action), token or PTS, body)


def ok(p, action, body=None, token=None):
    return expect(act(p, action, body, token), 200).json


def get_p(p, token=None):
    pid = p["id"] if isinstance(p, dict) else p
    return expect(D.call("GET", "/v1/placements/%d" % pid, token or ADMIN), 200).json


def youth_status(y):
    return expect(D.call("GET", "/v1/youth/%d" % y["id"], ADMIN), 200).json["status"]


def matches(yid, query=""):
    r = D.call("GET", "/v1/youth/%d/matches?limit=200&explain=1%s" % (yid, "&" + query if query else ""), ADMIN)
    return expect(r, 200).json


def matched(yid, oid, query=""):
    """The offer's item in the young person's matches, or None."""
    return {i["offer_id"]: i for i in matches(yid, query)["items"]}.get(oid)


def availability(o, frm=None, to=None, token=None):
    q = []
    if frm:
        q.append("from=" + frm)
    if to:
        q.append("to=" + to)
    r = D.call("GET", "/v1/offers/%d/availability%s" % (o["id"], "?" + "&".join(q) if q else ""), token or ADMIN)
    return expect(r, 200).json


def free_on(o, day):
    a = availability(o, day, day)
    return a["days"][0]["free_places"]


def walk(path, token, limit=50):
    items, cursor, pages = [], None, 0
    sep = "&" if "?" in path else "?"
    while True:
        url = "%s%slimit=%d" % (path, sep, limit) + ("&cursor=" + cursor if cursor else "")
        page = expect(D.call("GET", url, token), 200).json
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 500


def in_state(state, o, y=None, token=None):
    """A placement of a fresh young person (or y) on offer o, brought to `state` (not
    expired); it is planned for 60 days, so that it may be extended within a cap."""
    y = y or youth()
    p = propose(y, o, token=token, end=days(60))
    if state == "proposed":
        return p
    if state in ("refused", "cancelled"):
        return ok(p, "refuse" if state == "refused" else "cancel",
                  {"reason": "other"} if state == "refused" else None)
    p = ok(p, "accept")
    if state == "accepted":
        return p
    p = ok(p, "enter", {"date": days(0)})
    if state == "active":
        return p
    assert state == "ended"
    return ok(p, "exit", {"date": days(0), "destination": "street"})


def valid_body(action, p):
    return {"accept": None, "cancel": None, "refuse": {"reason": "other"},
            "enter": {"date": days(0)}, "exit": {"date": days(0), "destination": "street"},
            "extend": {"planned_end_date": iso_plus(p["planned_end_date"], 10)}}[action]


def check_transition(p, state, action, token=None):
    """Applies action with a valid body; 200 and the new status where the table allows
    it, else 409 with current_status and nothing changed. Returns an error text or None."""
    before = get_p(p)
    assert before["status"] == state, (before, state)
    tok = token or (REF34 if action == "cancel" else PTS)
    r = act(p, action, valid_body(action, before), tok)
    want = LEGAL.get((state, action))
    try:
        if want:
            expect(r, 200)
            assert r.json["status"] == want, r
            assert get_p(p)["status"] == want
        else:
            pb = expect_problem(r, 409)
            assert pb["type"] == "/problems/illegal-transition", pb
            assert pb.get("current_status") == state, "current_status %r, expected %r" % (pb.get("current_status"), state)
            after = get_p(p)
            assert (after["status"], after["version"]) == (state, before["version"]), (before, after)
    except AssertionError as e:
        return "%s x %s: %s" % (state, action, e)
    return None


# ---------------------------------------------------------------- the demo flow

@test
def demo_flow_on_a_sete_shared_flat():
    flat = offer(token=PTS, kind="shared_flat", label="F4 Sète", capacity=4, porteur_id=PS, available_from=days(-30))
    assert flat["max_stay_days"] == 90 and flat["free_places"] == 4, flat
    y = youth(token=REF34)
    r = D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": flat["id"], "start_date": days(0)})
    p = expect(r, 201).json
    assert isinstance(p["id"], int) and r.headers.get("ETag") == '"%d"' % p["version"], (p, r.headers)
    assert (p["status"], p["start_date"], p["planned_end_date"], p["youth_id"], p["offer_id"]) == \
        ("proposed", days(0), days(90), y["id"], flat["id"]), p
    assert p["hold_until"] == days(7), p
    assert get_p(p, PTS) == get_p(p, REF34) == p
    assert expect(D.call("GET", "/v1/offers/%d" % flat["id"], PTS), 200).json["free_places"] == 3
    p = ok(p, "accept")
    assert p["status"] == "accepted" and p["hold_until"] == days(7), p
    # an entry is recorded on or after the day: never a future date
    expect_problem(act(p, "enter", {"date": days(1)}), 400, "/date", "out_of_range")
    assert get_p(p)["status"] == "accepted"
    # retroactive entry: the stay starts then and is capped 90 days after it
    p = ok(p, "enter", {"date": days(-10)})
    assert (p["status"], p["start_date"], p["planned_end_date"]) == ("active", days(-10), days(80)), p
    assert youth_status(y) == "placed"
    # already at the cap: one more day is beyond it
    r = act(p, "extend", {"planned_end_date": days(81)})
    pb = expect_problem(r, 422, "/planned_end_date")
    assert pb["type"] == "/problems/beyond-cap", pb
    assert get_p(p)["planned_end_date"] == days(80)

    # A shorter stay may be extended up to the cap, not beyond.
    y2 = youth(token=REF34)
    p2 = propose(y2, flat, end=days(30))
    assert p2["planned_end_date"] == days(30)
    ok(p2, "accept")
    p2 = ok(p2, "enter")                                # default date: today
    assert (p2["start_date"], p2["planned_end_date"]) == (days(0), days(30)), p2
    assert ok(p2, "extend", {"planned_end_date": days(60)})["planned_end_date"] == days(60)
    expect_problem(act(p2, "extend", {"planned_end_date": days(50)}), 400, "/planned_end_date", "out_of_range")
    assert ok(p2, "extend", {"planned_end_date": days(90)})["planned_end_date"] == days(90)
    pb = expect_problem(act(p2, "extend", {"planned_end_date": days(91)}), 422, "/planned_end_date")
    assert pb["type"] == "/problems/beyond-cap", pb
    # A planned end beyond the cap at creation: 422; at the cap: fine.
    y3 = youth(token=REF34)
    r = D.call("POST", "/v1/placements", REF34, {"youth_id": y3["id"], "offer_id": flat["id"],
                                                 "start_date": days(0), "planned_end_date": days(91)})
    pb = expect_problem(r, 422, "/planned_end_date", "out_of_range")
    assert pb["type"] == "/problems/beyond-cap", pb
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % y3["id"]) == ["0"]
    p3 = propose(y3, flat, end=days(90))
    ok(p3, "cancel", token=REF34)

    # exit: dates between the entry and today only
    expect_problem(act(p, "exit", {"date": days(1), "destination": "durable_housing"}), 400, "/date", "out_of_range")
    expect_problem(act(p, "exit", {"date": days(-11), "destination": "durable_housing"}), 400, "/date", "out_of_range")
    expect_problem(act(p, "exit", {"date": days(0), "destination": "palace"}), 400, "/destination", "unknown_value")
    expect_problem(act(p, "exit", {"destination": "fjt"}), 400, "/date", "required")
    before = free_on(flat, days(0))
    p = ok(p, "exit", {"date": days(0), "destination": "durable_housing"})
    assert (p["status"], p["actual_end_date"], p["exit_destination"]) == ("ended", days(0), "durable_housing"), p
    assert youth_status(y) == "closed"
    # the place is free again on the exit day
    assert free_on(flat, days(0)) == before + 1
    # p held one place on the days it was lived, p2 holds one from today
    a = availability(flat, days(-11), days(0))
    assert [d["free_places"] for d in a["days"]] == [4] + [3] * 11, a


@test
def offers_without_a_cap_take_the_wished_months():
    """An FJT has no max_stay_days by default: the planned end is start + wanted_months
    (calendar months), any explicit end is fine, and no extension is beyond a cap."""
    o = offer(kind="fjt", label="FJT sans plafond", capacity=3)
    assert o["max_stay_days"] is None, o
    y = youth(wanted_months=4)
    r = D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": o["id"], "start_date": days(0)})
    p = expect(r, 201, "(a proposal on an offer without a cap)").json
    want = add_months(today(), 4)
    assert p["planned_end_date"] == want.isoformat(), (p, want)
    ok(p, "accept")
    p = ok(p, "enter", {"date": days(-3)})
    assert p["status"] == "active", p
    p = ok(p, "extend", {"planned_end_date": days(800)})
    assert p["planned_end_date"] == days(800), p
    q = propose(youth(), o, end=days(700))
    assert q["planned_end_date"] == days(700), q


@test
def the_place_is_free_on_the_exit_day_for_matches_and_availability():
    o = offer(label="Studio unique", capacity=1, commune_insee=FRONTIGNAN, available_from=days(-30))
    y, other = youth(), youth()
    p = propose(y, o, end=days(30))
    ok(p, "accept")
    ok(p, "enter", {"date": days(-5)})
    a = availability(o, days(-5), days(1))
    assert [d["free_places"] for d in a["days"]] == [0] * 7, a
    assert matched(other["id"], o["id"]) is None
    ok(p, "exit", {"date": days(0), "destination": "other_transitional"})
    a = availability(o, days(-5), days(1))
    assert [d["free_places"] for d in a["days"]] == [0] * 5 + [1, 1], a
    it = matched(other["id"], o["id"])
    assert it and it["free_places"] == 1, "the place freed today is not offered today: %r" % it
    # the offer's own free_places agree
    assert expect(D.call("GET", "/v1/offers/%d?available_on=%s" % (o["id"], days(-1)), ADMIN), 200).json["free_places"] == 0
    assert expect(D.call("GET", "/v1/offers/%d" % o["id"], ADMIN), 200).json["free_places"] == 1


@test
def exit_destination_sets_the_youth_status():
    o = offer(label="FJT destinations", capacity=7)
    want = {"durable_housing": "closed", "fjt": "closed", "family": "closed", "institution": "closed",
            "other_transitional": "waiting", "street": "waiting", "unknown": "waiting"}
    bad = []
    for dest, status in want.items():
        y = youth()
        p = in_state("active", o, y)
        assert youth_status(y) == "placed"
        q = ok(p, "exit", {"date": days(0), "destination": dest})
        assert q["exit_destination"] == dest
        if youth_status(y) != status:
            bad.append("%s: youth %s, expected %s" % (dest, youth_status(y), status))
        if status == "waiting":
            # waiting again: may be proposed again
            r = propose(y, o, status=None)
            if r.status != 201:
                bad.append("%s: a waiting young person cannot be proposed again: %r" % (dest, r))
            else:
                ok(r.json, "cancel", token=REF34)
        else:
            pb = propose(y, o, status=409)
            if pb["type"] != "/problems/youth-not-waiting":
                bad.append("%s: %r" % (dest, pb))
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------- the transition table

@test
def transition_table_every_state_times_every_action():
    o = offer(label="FJT transitions", capacity=60)
    errors = []
    # expired: six proposals and one accepted hold, past hold_days (7) on the test clock
    expired = [propose(youth(), o, end=days(60)) for _ in ACTIONS]
    acc = ok(propose(youth(), o, end=days(60)), "accept")
    set_clock(7)
    try:
        for p in expired + [acc]:
            eventually(lambda: get_p(p)["status"] == "expired", timeout=10, msg="placement %d expired" % p["id"])
        assert get_p(acc)["hold_until"] is None
        for p, action in zip(expired, ACTIONS):
            e = check_transition(p, "expired", action)
            if e:
                errors.append(e)
        e = check_transition(acc, "expired", "enter")
        if e:
            errors.append(e + " (an accepted hold past its day)")
    finally:
        set_clock(0)
    # every other state, one fresh placement per (state, action)
    for state in STATES[:-1]:
        for action in ACTIONS:
            p = in_state(state, o)
            e = check_transition(p, state, action)
            if e:
                errors.append(e)
    assert not errors, "%d case(s) wrong:\n%s" % (len(errors), "\n".join(errors))


@test
def referent_may_only_cancel_and_other_porteurs_nothing():
    o = offer(label="FJT roles", capacity=10)
    p = propose(youth(), o)
    bad = []
    for action in ACTIONS[:-1]:
        body = valid_body(action, p)
        if action == "refuse":
            # a referent records the young person's refusal only (by: youth,
            # tested in test_imports.py), never the porteur's
            body = dict(body, by="porteur")
        r = act(p, action, body, REF34)
        if r.status != 403:
            bad.append("referent %s: %r" % (action, r))
    for action in ACTIONS:
        r = act(p, action, valid_body(action, p), PTO)
        if r.status != 403:
            bad.append("porteur of another offer %s: %r" % (action, r))
        r = act(p, action, valid_body(action, p), REF30)
        if r.status != 403:
            bad.append("referent of another département %s: %r" % (action, r))
    assert get_p(p)["status"] == "proposed" and get_p(p)["version"] == p["version"], get_p(p)
    # an active stay: same for enter/exit/extend
    a = in_state("active", o)
    for action in ("exit", "extend"):
        for tok, who in ((REF34, "referent"), (PTO, "other porteur")):
            r = act(a, action, valid_body(action, a), tok)
            if r.status != 403:
                bad.append("%s %s on an active stay: %r" % (who, action, r))
    assert not bad, "\n".join(bad)
    assert get_p(a)["status"] == "active"
    # the referent of the young person cancels a proposed and an accepted placement
    assert ok(p, "cancel", token=REF34)["status"] == "cancelled"
    q = ok(propose(youth(), o), "accept")
    assert ok(q, "cancel", token=REF34)["status"] == "cancelled"
    # the porteur cancels too; an admin does anything
    assert ok(propose(youth(), o), "cancel", token=PTS)["status"] == "cancelled"
    q = propose(youth(), o, end=days(60))
    for action in ("accept", "enter", "extend", "exit"):
        q = ok(q, action, valid_body(action, q), ADMIN)
    assert q["status"] == "ended"
    # the refusals are audited with the actor
    pto = int(DB.sql("SELECT id FROM tokens WHERE label = 'pto'")[0])
    eventually(lambda: int(DB.sql("SELECT count(*) FROM audit WHERE token_id = %d AND outcome = 'denied' "
                                  "AND status = 403 AND entity = 'placement'" % pto)[0]) >= 6,
               msg="denied audit rows for the other porteur")


@test
def refusal_reasons_are_codes():
    o = offer(label="FJT refus", capacity=10)
    for reason in ("youth_declined", "no_show", "incompatible_needs", "place_unavailable", "other"):
        p = propose(youth(), o)
        q = ok(p, "refuse", {"reason": reason})
        assert (q["status"], q["refusal_reason"]) == ("refused", reason), q
    p = propose(youth(), o)
    expect_problem(act(p, "refuse", {"reason": "castle"}), 400, "/reason", "unknown_value")
    expect_problem(act(p, "refuse", {}), 400, "/reason", "required")
    expect_problem(act(p, "refuse"), 400, "/reason", "required")
    expect_problem(act(p, "refuse", {"reason": "other", "comment": "free text"}), 400, "/comment", "unknown_field")
    assert get_p(p)["status"] == "proposed"


# ---------------------------------------------------------------- proposals refused

@test
def proposal_conflicts_and_ineligibility():
    one = offer(label="Une place", capacity=1)
    other = offer(label="Autre", capacity=3)
    y1, y2 = youth(), youth()
    p1 = propose(y1, one, end=days(30))
    pb = propose(y2, one, end=days(20), status=409)
    assert pb["type"] == "/problems/no-free-place", pb
    pb = propose(y2, one, start=days(29), end=days(40), status=409)
    assert pb["type"] == "/problems/no-free-place", pb
    # half-open: the day p1 ends, the place is free
    p2 = propose(y2, one, start=days(30), end=days(40))
    assert p2["place_id"] == p1["place_id"], (p1, p2)
    pb = propose(y1, other, status=409)
    assert pb["type"] == "/problems/open-placement-exists" and pb.get("placement_id") == p1["id"], pb
    # not eligible: 422 with the rule
    old = youth(birth_date=born(27))
    pb = propose(old, other, status=422)
    assert pb["type"] == "/problems/not-eligible" and pb.get("rules") == ["age"], pb
    men = offer(label="Hommes", gender="male")
    pb = propose(youth(), men, status=422)
    assert pb.get("rules") == ["gender"], pb
    far = offer(label="Nîmes", commune_insee=NIMES, porteur_id=PN)
    pb = propose(youth(), far, status=422)
    assert pb.get("rules") == ["distance"], pb
    shut = offer(label="Fermée", status="closed")
    pb = propose(youth(), shut, status=422)
    assert pb.get("rules") == ["closed"], pb
    later = offer(label="Plus tard", available_from=days(10))
    pb = propose(youth(), later, status=422)
    assert pb.get("rules") == ["closed"], pb
    propose(youth(), later, start=days(10))
    pets = youth(has_pets=True)
    assert propose(pets, other, status=422).get("rules") == ["pets"]
    # bodies
    y = youth()
    for body, ptr, code in (({"offer_id": other["id"], "start_date": days(0)}, "/youth_id", "required"),
                            ({"youth_id": y["id"], "offer_id": other["id"]}, "/start_date", "required"),
                            ({"youth_id": y["id"], "offer_id": other["id"], "start_date": "soon"}, "/start_date", "wrong_type"),
                            ({"youth_id": y["id"], "offer_id": other["id"], "start_date": days(0), "place": 1}, "/place", "unknown_field"),
                            ({"youth_id": y["id"], "offer_id": other["id"], "start_date": days(5),
                              "planned_end_date": days(5)}, "/planned_end_date", "out_of_range")):
        expect_problem(D.call("POST", "/v1/placements", REF34, body), 400, ptr, code)
    for body, ptr in (({"youth_id": 987654, "offer_id": other["id"], "start_date": days(0)}, "/youth_id"),
                      ({"youth_id": y["id"], "offer_id": 987654, "start_date": days(0)}, "/offer_id")):
        # an id in the body that names nothing: 422 with the field (404 is for the URL's resource)
        expect_problem(D.call("POST", "/v1/placements", REF34, body), 422, ptr, "unknown_value")
    # the offer's porteur may not propose (issue 11 item 4; see porteurs_never_propose)
    expect_problem(D.call("POST", "/v1/placements", PTS, {"youth_id": youth()["id"], "offer_id": other["id"],
                                                          "start_date": days(0)}), 403)
    # scope: a referent of another département, a porteur of another offer
    expect_problem(D.call("POST", "/v1/placements", REF30, {"youth_id": y["id"], "offer_id": other["id"],
                                                            "start_date": days(0)}), 403)
    expect_problem(D.call("POST", "/v1/placements", PTO, {"youth_id": y["id"], "offer_id": other["id"],
                                                          "start_date": days(0)}), 403)
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % y["id"]) == ["0"]
    # nothing else was written by the refusals
    assert DB.sql("SELECT count(*) FROM placements WHERE offer_id = %d" % one["id"]) == ["2"]


# ---------------------------------------------------------------- issue 11: the end shown is the end booked

def next_august_31():
    d = datetime.date(today().year, 8, 31)
    return d if d > today() else datetime.date(today().year + 1, 8, 31)


def match_item(y, o, on):
    r = expect(D.call("GET", "/v1/youth/%d/matches?limit=200&on=%s" % (y["id"], on), REF34), 200)
    hits = [m for m in r.json["items"] if m["offer_id"] == o["id"]]
    assert len(hits) == 1, "offer %d not among the matches %r" % (o["id"], r.json["items"])
    return hits[0]


@test
def a_proposal_books_the_end_its_match_showed():
    """planned_end_date defaults to start + min(wanted_months calendar months, cap): the
    match item's end_date, never the offer's cap when the wish is shorter (a 6-month need
    on an IML offer with a 540-day cap used to hold the place for 540 days)."""
    start = next_august_31()
    iml = offer(label="IML 540 jours", kind="iml", capacity=5)
    assert iml["max_stay_days"] == 540, iml
    flat = offer(label="F4 90 jours", kind="shared_flat", capacity=5)
    cases = [(iml, 6, add_months(start, 6)),                                   # the wish, shorter than the cap
             (iml, 24, start + datetime.timedelta(days=540)),                  # the cap, shorter than the wish
             (flat, 6, start + datetime.timedelta(days=90))]
    assert cases[0][2] == datetime.date(start.year + 1, 2, 28 + calendar.isleap(start.year + 1))
    for o, months, want in cases:
        y = youth(wanted_months=months)
        m = match_item(y, o, start.isoformat())
        assert (m["start_date"], m["end_date"]) == (start.isoformat(), want.isoformat()), (months, m)
        # without planned_end_date: the end the match showed
        p = propose(y, o, start=m["start_date"])
        assert (p["start_date"], p["planned_end_date"]) == (m["start_date"], m["end_date"]), (m, p)
        ok(p, "cancel", token=REF34)
        # with the dates the card showed (as the UI and siaoctl send them): the same
        p = propose(y, o, start=m["start_date"], end=m["end_date"])
        assert (p["start_date"], p["planned_end_date"]) == (m["start_date"], m["end_date"]), (m, p)
        ok(p, "cancel", token=REF34)
    # an explicit end within the cap is booked as given
    y = youth(wanted_months=6)
    p = propose(y, iml, start=start.isoformat(), end=(start + datetime.timedelta(days=400)).isoformat())
    assert p["planned_end_date"] == (start + datetime.timedelta(days=400)).isoformat(), p


# ---------------------------------------------------------------- issue 11: the referent's own reference in stays

@test
def stays_show_ref_to_the_youths_referents_and_admins_never_to_porteurs():
    o = offer(label="Séjours ref", capacity=3)                     # PS, 34
    y34 = youth(ref="DOSSIER-SEJOUR-34")
    y30 = youth(ref="DOSSIER-SEJOUR-30", departement="30")
    s34 = in_state("active", o, y34)
    s30 = in_state("active", o, y30, token=REF30)

    def stays(token):
        items = walk("/v1/stays", token, 200)
        return {i["id"]: i for i in items if i["id"] in (s34["id"], s30["id"])}

    a = stays(ADMIN)
    assert (a[s34["id"]].get("ref"), a[s30["id"]].get("ref")) == ("DOSSIER-SEJOUR-34", "DOSSIER-SEJOUR-30"), a
    r34 = stays(REF34)
    assert r34[s34["id"]].get("ref") == "DOSSIER-SEJOUR-34", r34
    # the stay of a young person of 30 on an offer of 34: not this referent's file
    assert "ref" not in r34[s30["id"]], r34[s30["id"]]
    r30 = stays(REF30)
    assert set(r30) == {s30["id"]} and r30[s30["id"]].get("ref") == "DOSSIER-SEJOUR-30", r30
    # the porteur: the stays, never a file reference, anywhere in the answer
    pt = stays(PTS)
    assert set(pt) == {s34["id"], s30["id"]}, pt
    assert all("ref" not in i and "ref" not in i["youth"] for i in pt.values()), pt
    r = expect(D.call("GET", "/v1/stays?limit=200", PTS), 200)
    assert "DOSSIER-SEJOUR" not in r.text, r.text


# ---------------------------------------------------------------- issue 11: an offer's ETag follows its representation

@test
def an_offers_etag_changes_when_its_free_places_do():
    """free_places changes with a proposal, without a new version of the offer: the ETag
    (a strong validator of the representation) changes too, and an If-Match with the
    ETag read before is a 412; the version alone still guards the offer's own fields."""
    o = offer(label="ETag", capacity=2)
    path = "/v1/offers/%d" % o["id"]

    def read(query=""):
        r = expect(D.call("GET", path + query, PTS), 200)
        return r.headers["ETag"], r.json

    e1, j1 = read()
    assert read()[0] == e1, "the same representation, the same ETag"
    assert j1["free_places"] == 2
    p = propose(youth(), o)
    e2, j2 = read()
    assert (j2["free_places"], j2["version"]) == (1, j1["version"]), j2
    assert e2 != e1, "free_places changed, the ETag did not (%s)" % e1
    # another day shows another representation
    e_later, j_later = read("?available_on=%s" % days(400))
    assert j_later["free_places"] == 2 and e_later not in (e1, e2), (e_later, j_later)
    # the ETag read before the proposal no longer matches; the current one does
    r = D.call("PATCH", path, PTS, {"label": "ETag 2"}, headers={"If-Match": e1})
    expect_problem(r, 412)
    r = D.call("PATCH", path, PTS, {"label": "ETag 2"}, headers={"If-Match": e2})
    e3 = expect(r, 200).headers["ETag"]
    assert read()[0] == e3, "a PATCH answers the ETag a GET then shows"
    # the place freed: the ETag changes back to another value again
    ok(p, "cancel", token=REF34)
    e4, j4 = read()
    assert j4["free_places"] == 2 and e4 != e3, (e4, e3)
    # the version alone (as lists give it) still works
    r = D.call("PATCH", path, PTS, {"label": "ETag 3"}, headers={"If-Match": '"%d"' % j4["version"]})
    expect(r, 200)


# ---------------------------------------------------------------- issue 11: who proposes

@test
def porteurs_never_propose_but_still_see_candidates_and_answer():
    """A porteur's POST /v1/placements is a 403 that names no rule, whoever the young
    person is (eligible or not, of any département), and is audited as a refusal;
    the young person's referent and an admin still propose; the porteur still sees
    its offer's candidates and answers the proposals."""
    o = offer(label="Offre du porteur", capacity=3)
    fit, old = youth(), youth(birth_date=born(27))
    audit_before = int(DB.sql("SELECT count(*) FROM audit WHERE action = 'placement.create' "
                              "AND outcome = 'denied' AND status = 403")[0])
    for y in (fit, old):
        r = D.call("POST", "/v1/placements", PTS, {"youth_id": y["id"], "offer_id": o["id"], "start_date": days(0)})
        pb = expect_problem(r, 403)
        assert "rules" not in pb and "rule " not in pb["detail"], pb
        assert "age" not in pb["detail"], pb
    # before any check of the body either
    expect_problem(D.call("POST", "/v1/placements", PTS, {"youth_id": 987654, "offer_id": o["id"]}), 403)
    assert DB.sql("SELECT count(*) FROM placements WHERE offer_id = %d" % o["id"]) == ["0"]
    eventually(lambda: int(DB.sql("SELECT count(*) FROM audit WHERE action = 'placement.create' "
                                  "AND outcome = 'denied' AND status = 403")[0]) >= audit_before + 3,
               msg="the three refusals audited")
    # the porteur still sees its offer's candidates
    cands = expect(D.call("GET", "/v1/offers/%d/candidates?limit=200" % o["id"], PTS), 200).json["items"]
    assert fit["id"] in [c["youth_id"] for c in cands], cands
    # the referent and an admin propose; the porteur answers
    p = propose(fit, o, token=REF34)
    assert ok(p, "accept", token=PTS)["status"] == "accepted"
    q = propose(youth(), o, token=ADMIN)
    assert ok(q, "refuse", {"reason": "other"}, token=PTS)["status"] == "refused"


@test
def a_retroactive_entry_never_double_books():
    o = offer(label="Rétroactif", capacity=1)
    a = propose(youth(), o, start=days(0), end=days(10))
    ok(a, "accept")
    ok(a, "enter", {"date": days(-20)})             # not at the cap: held [today-20, today+10)
    a = get_p(a)
    ok(a, "exit", {"date": days(-10), "destination": "street"})
    b = propose(youth(), o, start=days(0), end=days(30))
    ok(b, "accept")
    r = act(b, "enter", {"date": days(-15)})        # would overlap a's lived stay [today-20, today-10)
    assert r.status in (409, 422), "a retroactive entry over another stay: %r" % r
    expect_problem(r, r.status)
    bad = DB.sql("SELECT count(*) FROM placements x JOIN placements y ON x.place_id = y.place_id "
                 "AND x.id < y.id AND x.held && y.held")
    assert bad == ["0"], bad
    assert ok(b, "enter", {"date": days(-10)})["start_date"] == days(-10)


# ---------------------------------------------------------------- holds

@test
def holds_expire_after_hold_days_and_free_the_place():
    o1 = offer(label="Hold proposé", capacity=1, commune_insee=FRONTIGNAN)
    o2 = offer(label="Hold accepté", capacity=1, commune_insee=FRONTIGNAN)
    y1, y2, y3 = youth(), youth(), youth()
    p1 = propose(y1, o1)                       # hold_until today + 7
    p2 = ok(propose(y2, o2, start=days(3)), "accept")   # hold_until start + 7 = today + 10
    assert (p1["hold_until"], p2["hold_until"]) == (days(7), days(10)), (p1, p2)
    assert matched(y3["id"], o1["id"]) is None
    try:
        set_clock(6)
        assert get_p(p1)["status"] == "proposed", "expired before hold_days"
        assert matched(y3["id"], o1["id"]) is None
        set_clock(7)
        eventually(lambda: get_p(p1)["status"] == "expired", timeout=10, msg="proposal expired at created + 7")
        assert get_p(p1)["hold_until"] is None
        assert get_p(p2)["status"] == "accepted"
        eventually(lambda: matched(y3["id"], o1["id"]) is not None, timeout=5, msg="expired hold back in matches")
        assert free_on(o1, days(0)) == 1
        ex = matches(y3["id"])
        assert o1["id"] in [i["offer_id"] for i in ex["items"]]
        # the young person may be proposed again, the place is theirs again
        again = propose(y1, o1)
        assert again["place_id"] == p1["place_id"] and again["status"] == "proposed", again
        ok(again, "cancel", token=REF34)
        set_clock(9)
        assert get_p(p2)["status"] == "accepted"
        set_clock(10)
        eventually(lambda: get_p(p2)["status"] == "expired", timeout=10, msg="accepted hold expired at start + 7")
        eventually(lambda: free_on(o2, days(0)) == 1, timeout=5, msg="o2 free again")
        # the scheduler's expiries are audited as the system
        rows = DB.sql("SELECT count(*) FROM audit WHERE action = 'placement.expire' AND entity_id IN (%d, %d)"
                      % (p1["id"], p2["id"]))
        assert rows == ["2"], rows
    finally:
        set_clock(0)
    assert get_p(p1)["status"] == "expired" and get_p(p2)["status"] == "expired"


@test
def capacity_never_drops_below_the_places_held():
    o = offer(label="Capacité", capacity=3)
    stay = in_state("active", o)                       # place 1, from today
    a = propose(youth(), o, start=days(10), end=days(20))   # place 2
    b = propose(youth(), o, start=days(15), end=days(25))   # place 3
    # each place is held on some day from today on
    r = D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 2})
    pb = expect_problem(r, 409, "/capacity", "out_of_range")
    assert pb["type"] == "/problems/capacity-below-occupancy", pb
    assert expect(D.call("GET", "/v1/offers/%d" % o["id"], PTS), 200).json["capacity"] == 3
    ok(stay, "exit", {"date": days(0), "destination": "street"})
    # the place of the stay ended today is free from today: it may go
    g = expect(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 2}), 200).json
    assert g["capacity"] == 2, g
    assert (get_p(a)["status"], get_p(b)["status"]) == ("proposed", "proposed")
    kept = {get_p(a)["place_id"], get_p(b)["place_id"]}
    active = DB.sql("SELECT id FROM places WHERE offer_id = %d AND active ORDER BY id" % o["id"])
    assert {int(x) for x in active} == kept, (active, kept)
    assert free_on(o, days(12)) == 1 and free_on(o, days(16)) == 0
    expect_problem(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 1}), 409, "/capacity")
    ok(a, "cancel", token=REF34)
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 1}), 200)
    assert free_on(o, days(16)) == 0 and free_on(o, days(30)) == 1


def places_taken_from_today(offer_id):
    """The places of the offer that a placement holds on some day from today
    on, counted in the database (what the UI's message shows)."""
    return int(DB.sql("SELECT count(DISTINCT pl.place_id) FROM placements pl "
                      "JOIN places p ON p.id = pl.place_id WHERE p.offer_id = %d "
                      "AND pl.held && daterange('%s'::date, NULL)" % (offer_id, days(0)))[0])


@test
def capacity_problem_says_the_places_taken():
    o = offer(label="Capacité minimale", capacity=4)
    stay = in_state("active", o)                              # held from today
    propose(youth(), o, start=days(5), end=days(9))           # held later on
    propose(youth(), o, start=days(7), end=days(20))          # overlapping: a third place
    in_state("active", offer(label="Autre offre", capacity=1))  # another offer's: not counted
    assert places_taken_from_today(o["id"]) == 3
    r = D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 2})
    pb = expect_problem(r, 409, "/capacity", "out_of_range")
    assert pb["type"] == "/problems/capacity-below-occupancy", pb
    assert pb["min_capacity"] == 3, pb
    # the stay ends today: its place is free from today on
    ok(stay, "exit", {"date": days(0), "destination": "street"})
    assert places_taken_from_today(o["id"]) == 2
    pb = expect_problem(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 1}), 409, "/capacity")
    assert pb["min_capacity"] == 2, pb
    g = expect(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 2}), 200).json
    assert g["capacity"] == 2, g


# ---------------------------------------------------------------- lists and scopes

@test
def placement_list_filters_and_scopes():
    a = offer(label="Liste A", capacity=5)                                     # PS, 34
    n = offer(label="Liste N", capacity=5, porteur_id=PN, commune_insee=NIMES)  # PN, 30
    y34 = youth()
    y30 = youth(departement="30", commune_insee=SETE)
    y30n = youth(departement="30", commune_insee=NIMES)
    pa1 = propose(y34, a)
    ok(pa1, "cancel", token=REF34)
    pa2 = propose(y34, a)                       # y34's history: two placements
    pa3 = propose(y30, a, token=REF30)          # a young person of 30 on an offer of 34
    pn1 = propose(y30n, n, token=REF30)
    mine = {pa1["id"], pa2["id"], pa3["id"], pn1["id"]}

    def ids(path, token=ADMIN, limit=50):
        return {i["id"] for i in walk(path, token, limit)}

    assert ids("/v1/placements?offer_id=%d" % a["id"]) == {pa1["id"], pa2["id"], pa3["id"]}
    assert ids("/v1/placements?youth_id=%d" % y34["id"], limit=1) == {pa1["id"], pa2["id"]}
    assert ids("/v1/placements?offer_id=%d&status=cancelled" % a["id"]) == {pa1["id"]}
    assert ids("/v1/placements?offer_id=%d&status=proposed" % a["id"]) == {pa2["id"], pa3["id"]}
    items = walk("/v1/placements?status=proposed", ADMIN, 7)
    assert all(i["status"] == "proposed" for i in items) and {pa2["id"], pa3["id"], pn1["id"]} <= {i["id"] for i in items}
    got = [i["id"] for i in walk("/v1/placements", ADMIN, 3)]
    assert got == sorted(got) and len(got) == len(set(got)), "pages overlap or unordered"
    # porteurs: their offers' placements only
    pts = walk("/v1/placements", PTS, 200)
    assert all(i["porteur_id"] == PS for i in pts) and mine & {i["id"] for i in pts} == {pa1["id"], pa2["id"], pa3["id"]}
    ptn = walk("/v1/placements", PTN, 200)
    assert {i["id"] for i in ptn} == {pn1["id"]}, ptn
    assert ids("/v1/placements?offer_id=%d" % a["id"], PTN) == set()
    # referents: their young people's or their offers' département
    r30 = walk("/v1/placements", REF30, 200)
    assert all(i["youth_departement"] == "30" or i["departement"] == "30" for i in r30), r30
    assert mine & {i["id"] for i in r30} == {pa3["id"], pn1["id"]}
    r34 = walk("/v1/placements", REF34, 200)
    assert all(i["youth_departement"] == "34" or i["departement"] == "34" for i in r34)
    assert mine & {i["id"] for i in r34} == {pa1["id"], pa2["id"], pa3["id"]}
    # one placement: 403 out of scope, 404 unknown
    for tok, p, status in ((PTN, pa2, 403), (PTO, pa2, 403), (REF30, pa2, 403), (REF34, pn1, 403),
                           (PTS, pa3, 200), (REF30, pa3, 200), (REF34, pa3, 200), (PTN, pn1, 200)):
        r = D.call("GET", "/v1/placements/%d" % p["id"], tok)
        if status == 200:
            expect(r, 200)
        else:
            expect_problem(r, status)
    expect_problem(D.call("GET", "/v1/placements/987654", ADMIN), 404)
    expect_problem(D.call("GET", "/v1/placements?status=lost", ADMIN), 400)
    expect_problem(D.call("GET", "/v1/placements?offer_id=x", ADMIN), 400)
    for p in (pa2, pa3, pn1):
        ok(p, "cancel", token=ADMIN)


@test
def stays_soonest_end_first_with_days_left_and_scoped():
    s1 = offer(label="Stays Sète", kind="shared_flat", capacity=5)
    s2 = offer(label="Stays Nîmes", kind="shared_flat", capacity=5, porteur_id=PN, commune_insee=NIMES)
    made = {}
    for key, o, entered, tok in (("d10", s1, -80, REF34), ("d30", s1, -60, REF34), ("d5", s1, -85, REF34),
                                 ("n20", s2, -70, REF30)):
        y = youth(departement="30", commune_insee=NIMES) if o is s2 else youth()
        p = propose(y, o, token=tok)
        ok(p, "accept", token=ADMIN)
        made[key] = ok(p, "enter", {"date": days(entered)}, token=ADMIN)
    not_stays = [propose(youth(), s1), in_state("ended", s1)]
    want_left = {"d5": 5, "d10": 10, "n20": 20, "d30": 30}
    for k, left in want_left.items():
        assert made[k]["planned_end_date"] == days(left), (k, made[k])
    ours = {made[k]["id"]: k for k in made}

    def stays(q, token=ADMIN):
        items = walk("/v1/stays" + q, token, 2)
        keys = [(i["planned_end_date"], i["id"]) for i in items]
        assert keys == sorted(keys), "not soonest end first: %r" % keys
        for i in items:
            assert i["status"] == "active", i
            assert i["days_left"] == (datetime.date.fromisoformat(i["planned_end_date"]) - today()).days, i
        return [ours[i["id"]] for i in items if i["id"] in ours], items

    got, items = stays("")
    assert got == ["d5", "d10", "n20", "d30"], got
    assert not {p["id"] for p in not_stays} & {i["id"] for i in items}
    assert stays("?ending_within_days=10")[0] == ["d5", "d10"]
    assert stays("?ending_within_days=4")[0] == []
    assert stays("?ending_within_days=20&departement=34")[0] == ["d5", "d10"]
    assert stays("?departement=30")[0] == ["n20"]
    assert stays("?porteur_id=%d" % PN)[0] == ["n20"]
    assert stays("?porteur_id=%d" % PS)[0] == ["d5", "d10", "d30"]
    # scoped
    got, items = stays("", PTS)
    assert got == ["d5", "d10", "d30"] and all(i["porteur_id"] == PS for i in items), got
    assert stays("", PTN)[0] == ["n20"]
    assert stays("?porteur_id=%d" % PS, PTN)[0] == []
    assert stays("", REF30)[0] == ["n20"]
    assert stays("", REF34)[0] == ["d5", "d10", "d30"]
    assert stays("", PTO)[1] == []
    assert {i["days_left"] for i in stays("")[1] if i["id"] in ours} == {5, 10, 20, 30}
    expect_problem(D.call("GET", "/v1/stays?ending_within_days=-1", ADMIN), 400)
    expect_problem(D.call("GET", "/v1/stays?departement=99", ADMIN), 400)
    # days_left follows the daemon's today
    try:
        set_clock(3)
        got = {ours[i["id"]]: i["days_left"] for i in walk("/v1/stays", ADMIN, 200) if i["id"] in ours}
        assert got == {k: v - 3 for k, v in want_left.items()}, got
    finally:
        set_clock(0)
    for k in made:
        ok(made[k], "exit", {"date": days(0), "destination": "unknown"}, token=ADMIN)


@test
def availability_per_day_and_frees_up_dates():
    o = offer(label="Disponibilités", capacity=3)
    bookings = [(5, 15), (10, 20), (15, 25), (12, 14)]
    ps = [propose(youth(), o, start=days(s), end=days(e)) for s, e in bookings]
    assert [p["place_number"] for p in ps] == [1, 2, 1, 3], [p["place_number"] for p in ps]
    gone = propose(youth(), o, start=days(1), end=days(3))
    ok(gone, "cancel", token=REF34)
    a = availability(o, days(0), days(30))
    assert (a["offer_id"], a["from"], a["to"], a["capacity"]) == (o["id"], days(0), days(30), 3), a
    want = [3 - sum(1 for s, e in bookings if s <= d < e) for d in range(31)]
    assert [x["date"] for x in a["days"]] == [days(d) for d in range(31)]
    assert [x["free_places"] for x in a["days"]] == want, ([x["free_places"] for x in a["days"]], want)
    # place 1 runs on from 15 (one stay ends, the next begins): frees up on 25; place 2 on 20; place 3 on 14
    assert a["frees_up"] == [{"date": days(14), "places": 1}, {"date": days(20), "places": 1},
                             {"date": days(25), "places": 1}], a["frees_up"]
    # GET /v1/offers/{id}?available_on= agrees day by day
    for d in (0, 5, 12, 14, 15, 24, 25):
        g = expect(D.call("GET", "/v1/offers/%d?available_on=%s" % (o["id"], days(d)), ADMIN), 200).json
        assert g["free_places"] == want[d], (d, g["free_places"], want[d])
    # defaults: from today, 30 days on
    dflt = availability(o)
    assert (dflt["from"], dflt["to"], len(dflt["days"])) == (days(0), days(30), 31), dflt
    # a window inside, and every role may read it
    part = availability(o, days(12), days(16), PTO)
    assert [x["free_places"] for x in part["days"]] == want[12:17]
    assert part["frees_up"] == [{"date": days(14), "places": 1}], part
    availability(o, days(12), days(12), REF30)
    for q in ("from=%s&to=%s" % (days(5), days(4)), "from=%s&to=%s" % (days(0), days(367)), "from=x", "to=2026-02-30"):
        expect_problem(D.call("GET", "/v1/offers/%d/availability?%s" % (o["id"], q), ADMIN), 400)
    expect_problem(D.call("GET", "/v1/offers/987654/availability", ADMIN), 404)
    # closed: nothing free any day
    expect(D.call("DELETE", "/v1/offers/%d" % o["id"], ADMIN), 200)
    assert {x["free_places"] for x in availability(o, days(0), days(30))["days"]} == {0}
    for p in ps:
        ok(p, "cancel", token=REF34)


# ---------------------------------------------------------------- matches stay fresh

@test
def every_committed_write_updates_matches_at_once():
    o = offer(label="Dernière place", capacity=1, commune_insee=FRONTIGNAN)
    a, b = youth(), youth()
    base = matches(b["id"])["excluded"]

    def state():
        m = matches(b["id"])
        it = {i["offer_id"]: i for i in m["items"]}.get(o["id"])
        return it, m["excluded"]["no_free_place"] - base["no_free_place"]

    it, d = state()
    assert it and it["free_places"] == 1 and d == 0, (it, d)
    steps = []
    p = propose(a, o)
    steps.append(("proposal", state(), False))
    ok(p, "refuse", {"reason": "youth_declined"})
    steps.append(("refusal", state(), True))
    p = propose(a, o)
    steps.append(("proposal again", state(), False))
    ok(p, "cancel", token=REF34)
    steps.append(("cancel", state(), True))
    p = propose(a, o)
    ok(p, "accept")
    steps.append(("accepted", state(), False))
    ok(p, "enter")
    steps.append(("entered", state(), False))
    ok(p, "exit", {"date": days(0), "destination": "street"})
    steps.append(("exit today", state(), True))
    bad = []
    for name, (it, d), free in steps:
        if free and not (it and it["free_places"] == 1 and d == 0):
            bad.append("after the %s the offer should be back: %r, no_free_place %+d" % (name, it, d))
        if not free and not (it is None and d == 1):
            bad.append("after the %s the offer should be gone (no_free_place): %r, no_free_place %+d" % (name, it, d))
    assert not bad, "\n".join(bad)
    # a porteur's capacity change too
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], PTS, {"capacity": 2}), 200)
    assert state()[0]["free_places"] == 2


# ---------------------------------------------------------------- Idempotency-Key

def wait_stored(key):
    """Waits until the daemon has kept the answer of the request with this key."""
    eventually(lambda: DB.sql("SELECT state FROM idempotency WHERE key = '%s'" % key) == ["done"],
               timeout=5, msg="the answer for key %s stored" % key)


def pg_background(sql):
    return subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB.url, "-c", sql],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@test
def idempotency_key_replays_the_first_answer():
    o = offer(label="Idempotence", capacity=5)
    y = youth()
    body = {"youth_id": y["id"], "offer_id": o["id"], "start_date": days(0)}
    h = {"Idempotency-Key": "prop-%d" % y["id"]}
    r1 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    expect(r1, 201)
    assert r1.headers.get("Idempotent-Replayed") is None, r1.headers
    r2 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    expect(r2, 201)
    assert r2.headers.get("Idempotent-Replayed") == "true", r2.headers
    assert r2.json == r1.json, (r1.json, r2.json)
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % y["id"]) == ["1"]
    # the same key with another body: 422, nothing done
    other = dict(body, start_date=days(1))
    pb = expect_problem(D.call("POST", "/v1/placements", REF34, other, headers=h), 422)
    assert pb["type"] == "/problems/idempotency-key-reused", pb
    # ... or on another path
    pb = expect_problem(D.call("POST", "/v1/placements/%d/cancel" % r1.json["id"], REF34, body, headers=h), 422)
    assert pb["type"] == "/problems/idempotency-key-reused", pb
    assert get_p(r1.json)["status"] == "proposed"
    # keys belong to a token: another token's same key is another request
    r3 = D.call("POST", "/v1/placements", ADMIN, body, headers=h)
    pb = expect_problem(r3, 409)
    assert pb["type"] == "/problems/open-placement-exists" and r3.headers.get("Idempotent-Replayed") is None, r3
    # transitions too: a replayed accept is the first 200, not a 409
    hk = {"Idempotency-Key": "accept-%d" % r1.json["id"]}
    a1 = expect(D.call("POST", "/v1/placements/%d/accept" % r1.json["id"], PTS, None, headers=hk), 200)
    a2 = expect(D.call("POST", "/v1/placements/%d/accept" % r1.json["id"], PTS, None, headers=hk), 200)
    assert a2.headers.get("Idempotent-Replayed") == "true" and a2.json == a1.json, (a1, a2)
    assert get_p(r1.json)["version"] == a1.json["version"]
    expect_problem(D.call("POST", "/v1/placements", REF34, body, headers={"Idempotency-Key": "é"}), 400)


@test
def idempotency_key_4xx_answers_are_replayed():
    o = offer(label="Idempotence 4xx", capacity=1)
    holder, y = youth(), youth()
    p = propose(holder, o)
    body = {"youth_id": y["id"], "offer_id": o["id"], "start_date": days(0)}
    h = {"Idempotency-Key": "full-%d" % y["id"]}
    r1 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    pb1 = expect_problem(r1, 409)
    assert pb1["type"] == "/problems/no-free-place", pb1
    wait_stored(h["Idempotency-Key"])     # (a retry at once: see the test after the next)
    r2 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    expect_problem(r2, 409)
    assert r2.headers.get("Idempotent-Replayed") == "true" and r2.json == r1.json, (r1, r2)
    # even once the place is free, the key answers what it answered first: no second effect
    ok(p, "cancel", token=REF34)
    r3 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    expect_problem(r3, 409)
    assert r3.headers.get("Idempotent-Replayed") == "true", r3.headers
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % y["id"]) == ["0"]
    # a 400 of the daemon's own checks, and a 422 of the eligibility rules
    for bad_body, status in (({"youth_id": y["id"]}, 400),
                             ({"youth_id": youth(birth_date=born(28))["id"], "offer_id": o["id"],
                               "start_date": days(0)}, 422)):
        k = {"Idempotency-Key": "bad-%d-%d" % (y["id"], status)}
        first = D.call("POST", "/v1/placements", REF34, bad_body, headers=k)
        expect_problem(first, status)
        wait_stored(k["Idempotency-Key"])
        again = D.call("POST", "/v1/placements", REF34, bad_body, headers=k)
        expect_problem(again, status)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json == first.json, (first, again)
    # a new key is a new request
    expect(D.call("POST", "/v1/placements", REF34, body, headers={"Idempotency-Key": "new-%d" % y["id"]}), 201)


@test
def idempotency_key_in_progress_is_a_409():
    o = offer(label="Idempotence lente", capacity=2)
    y = youth()
    body = {"youth_id": y["id"], "offer_id": o["id"], "start_date": days(0)}
    h = {"Idempotency-Key": "slow-%d" % y["id"]}
    locker = pg_background("BEGIN; SELECT id FROM offers WHERE id = %d FOR UPDATE; SELECT pg_sleep(2); COMMIT;" % o["id"])
    try:
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND query LIKE '%%pg_sleep(2)%%' AND state = 'active' "
                                  "AND pid <> pg_backend_pid()") == ["1"], timeout=5, msg="the offer row locked")
        first = {}
        t = threading.Thread(target=lambda: first.setdefault("r", D.call("POST", "/v1/placements", REF34, body,
                                                                         headers=h, timeout=30)))
        t0 = time.monotonic()
        t.start()
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'") != ["0"], timeout=5, msg="the first request waiting")
        r2 = D.call("POST", "/v1/placements", REF34, body, headers=h)
        pb = expect_problem(r2, 409)
        assert pb["type"] == "/problems/idempotency-in-progress", pb
        t.join(30)
        assert not t.is_alive()
        r1 = first["r"]
        expect(r1, 201)
        assert time.monotonic() - t0 > 0.5, "the first request was not held by the lock"
    finally:
        locker.wait(30)
    r3 = D.call("POST", "/v1/placements", REF34, body, headers=h)
    expect(r3, 201)
    assert r3.headers.get("Idempotent-Replayed") == "true" and r3.json["id"] == r1.json["id"], r3
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % y["id"]) == ["1"]


@test
def idempotency_retry_right_after_the_answer_is_replayed():
    """A client that retries as soon as it has the first answer (a lost ACK, a proxy)
    must get that answer again, never 409 idempotency-in-progress: the request is over."""
    o = offer(label="Idempotence immédiate", capacity=1)
    y = youth()
    odd = []
    for i in range(100):
        k = {"Idempotency-Key": "at-once-%d-%d" % (y["id"], i)}
        body = {"youth_id": y["id"], "offer_id": o["id"]}              # 400: no start_date
        first = D.call("POST", "/v1/placements", REF34, body, headers=k)
        again = D.call("POST", "/v1/placements", REF34, body, headers=k)
        if (again.status, again.headers.get("Idempotent-Replayed")) != (first.status, "true"):
            odd.append("400 then %d %s" % (again.status, (again.json or {}).get("type")))
    for i in range(15):
        k = {"Idempotency-Key": "token-at-once-%d" % i}
        body = {"role": "porteur", "porteur_id": PO, "label": "at-once-%d" % i}
        first = D.call("POST", "/v1/tokens", ADMIN, body, headers=k)
        again = D.call("POST", "/v1/tokens", ADMIN, body, headers=k)
        if (again.status, again.headers.get("Idempotent-Replayed")) != (201, "true"):
            odd.append("token 201 then %d %s" % (again.status, (again.json or {}).get("type")))
    assert not odd, "%d of 115 immediate retries not replayed: %r" % (len(odd), odd[:6])


@test
def idempotency_key_reused_on_another_bodiless_request_is_a_422():
    """accept and cancel have no body: the request is then its path alone, and the same
    key on another path (another placement, another action) is another request."""
    o = offer(label="Idempotence sans corps", capacity=3)
    a = propose(youth(), o)
    b = propose(youth(), o)
    h = {"Idempotency-Key": "no-body-%d" % a["id"]}
    expect(D.call("POST", "/v1/placements/%d/accept" % a["id"], PTS, None, headers=h), 200)
    bad = []
    for path in ("/v1/placements/%d/cancel" % b["id"], "/v1/placements/%d/accept" % b["id"],
                 "/v1/placements/%d/cancel" % a["id"]):
        r = D.call("POST", path, PTS, None, headers=h)
        if r.status != 422 or (r.json or {}).get("type") != "/problems/idempotency-key-reused":
            bad.append("POST %s with the key of POST /v1/placements/%d/accept: %d %s (replayed: %s)"
                       % (path, a["id"], r.status, r.text[:90], r.headers.get("Idempotent-Replayed")))
    assert (get_p(a)["status"], get_p(b)["status"]) == ("accepted", "proposed")
    assert not bad, "\n".join(bad)


@test
def idempotent_token_creation_never_shows_the_token_twice():
    h = {"Idempotency-Key": "token-once"}
    body = {"role": "referent", "label": "idem-token", "departements": ["34"]}
    r1 = expect(D.call("POST", "/v1/tokens", ADMIN, body, headers=h), 201)
    tok = r1.json["token"]
    assert tok and len(tok) > 20, r1
    wait_stored("token-once")
    r2 = D.call("POST", "/v1/tokens", ADMIN, body, headers=h)
    expect(r2, 201)
    assert r2.headers.get("Idempotent-Replayed") == "true", r2.headers
    assert r2.json["id"] == r1.json["id"], (r1.json, r2.json)
    assert tok not in r2.text and tok[6:] not in r2.text, "the replay shows the token again"
    assert DB.sql("SELECT count(*) FROM tokens WHERE label = 'idem-token'") == ["1"]
    stored = DB.sql("SELECT response FROM idempotency WHERE key = 'token-once'")
    assert stored and tok not in stored[0], "the token is kept in clear in the idempotency table"
    expect(D.call("GET", "/v1/offers?limit=1", tok), 200)


# ---------------------------------------------------------------- the race

@test
def race_64_clients_for_3_places_200_rounds():
    ROUNDS, CLIENTS, CAP = 200, 64, 3
    o = offer(label="Course", capacity=CAP)
    # 64 contenders, and a reserve to replace the 3 winners of each round
    pool = []
    lock = threading.Lock()

    def make(n):
        c = Client(D)
        for _ in range(n):
            r = c.call("POST", "/v1/youth", REF34, youth_body(birth_date=born(17)))
            expect(r, 201)
            with lock:
                pool.append(r.json["id"])
        c.close()
    makers = [threading.Thread(target=make, args=(n,)) for n in (166, 166, 166, 166)]
    for t in makers:
        t.start()
    for t in makers:
        t.join()
    assert len(pool) == CLIENTS + CAP * ROUNDS, len(pool)
    slots = pool[:CLIENTS]
    reserve = pool[CLIENTS:]
    base = today() + datetime.timedelta(days=10)
    start_barrier = threading.Barrier(CLIENTS + 1)
    end_barrier = threading.Barrier(CLIENTS + 1)
    results = [None] * CLIENTS
    stop = [False]

    def client(i):
        c = Client(D, timeout=60)
        try:
            for rnd in range(ROUNDS):
                start_barrier.wait()
                if stop[0]:
                    return
                s = base + datetime.timedelta(days=8 * rnd + i % 3)
                body = {"youth_id": slots[i], "offer_id": o["id"], "start_date": s.isoformat(),
                        "planned_end_date": (s + datetime.timedelta(days=6)).isoformat()}
                try:
                    r = c.call("POST", "/v1/placements", REF34, body)
                    results[i] = (r.status, r.json)
                except Exception as e:
                    results[i] = (-1, repr(e))
                end_barrier.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            c.close()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    created = []
    problems = []
    done = False
    try:
        for rnd in range(ROUNDS):
            start_barrier.wait(timeout=120)
            end_barrier.wait(timeout=120)
            won = [i for i, (st, _) in enumerate(results) if st == 201]
            lost = [(i, st, j) for i, (st, j) in enumerate(results) if st != 201]
            odd = [(i, st, j) for i, st, j in lost
                   if not (st == 409 and isinstance(j, dict) and j.get("type") == "/problems/no-free-place")]
            if len(won) != CAP or odd:
                problems.append("round %d: %d created; other answers: %r" % (rnd, len(won), odd[:3]))
                if len(problems) > 5:
                    break
            for i in won:
                created.append(results[i][1]["id"])
                slots[i] = reserve.pop() if reserve else slots[i]
        else:
            done = True
    finally:
        if not done:
            stop[0] = True
            start_barrier.abort()
            end_barrier.abort()
        for t in threads:
            t.join(10)
    assert not problems, "\n".join(problems)
    overlaps = DB.sql("SELECT count(*) FROM placements a JOIN placements b ON a.place_id = b.place_id "
                      "AND a.id < b.id AND a.held && b.held")
    assert overlaps == ["0"], "double bookings: %s" % overlaps
    assert len(created) == len(set(created)) == CAP * ROUNDS, len(created)
    rows = DB.sql("SELECT count(*), count(DISTINCT youth_id), count(*) FILTER (WHERE status = 'proposed') "
                  "FROM placements WHERE offer_id = %d" % o["id"])
    assert rows == ["%d|%d|%d" % ((CAP * ROUNDS,) * 3)], rows
    assert DB.sql("SELECT count(*) FROM placements WHERE offer_id = %d AND id NOT IN (%s)"
                  % (o["id"], ",".join(map(str, created)))) == ["0"]
    # each round filled the three places exactly
    per_place = DB.sql("SELECT count(DISTINCT place_id) FROM placements WHERE offer_id = %d" % o["id"])
    assert per_place == [str(CAP)], per_place


# ---------------------------------------------------------------- proposals together

def proposal_metrics():
    out = {}
    for line in expect(D.call("GET", "/metrics"), 200).text.splitlines():
        for name in ('siaod_proposal_statements_total{kind="alone"}', 'siaod_proposal_statements_total{kind="batch"}',
                     "siaod_proposals_batched_total", "siaod_proposals_waiting",
                     "siaod_proposal_statements_in_flight", "siaod_proposal_statements_in_flight_max"):
            if line.startswith(name + " "):
                out[name] = int(line.split()[-1])
    assert len(out) == 6, out
    return out


@test
def proposals_waiting_together_are_answered_each_as_alone():
    """Proposals that arrive while the statements in flight are held go to the
    database in one transaction (daemon/proposals.c); each is answered as it
    would be alone: a refusal undoes only its own writes, keys still replay."""
    held = offer(label="Tenue", capacity=5)
    two = offer(label="Deux places", capacity=2)
    many = offer(label="Large", capacity=20)
    flat = offer(kind="shared_flat", label="Colocation plafonnée", capacity=3)
    busy = youth()
    first = propose(busy, many)
    race = [youth() for _ in range(3)]
    keyed, reused_a, reused_b, capped = youth(), youth(), youth(), youth()
    cases = [("race", {"youth_id": y["id"], "offer_id": two["id"], "start_date": days(0)}, None) for y in race]
    cases += [
        ("open", {"youth_id": busy["id"], "offer_id": two["id"], "start_date": days(40)}, None),
        ("capped", {"youth_id": capped["id"], "offer_id": flat["id"], "start_date": days(0),
                    "planned_end_date": days(91)}, None),
        ("unknown", {"youth_id": 987654, "offer_id": many["id"], "start_date": days(0)}, None),
        ("keyed", {"youth_id": keyed["id"], "offer_id": many["id"], "start_date": days(0)}, "twice-%d" % keyed["id"]),
        ("keyed", {"youth_id": keyed["id"], "offer_id": many["id"], "start_date": days(0)}, "twice-%d" % keyed["id"]),
        ("reused", {"youth_id": reused_a["id"], "offer_id": many["id"], "start_date": days(0)}, "one-%d" % reused_a["id"]),
        ("reused", {"youth_id": reused_b["id"], "offer_id": many["id"], "start_date": days(0)}, "one-%d" % reused_a["id"]),
    ]
    before = proposal_metrics()
    locker = pg_background("BEGIN; SELECT id FROM offers WHERE id = %d FOR UPDATE; SELECT pg_sleep(60); COMMIT;"
                           % held["id"])
    answers = [None] * len(cases)
    lone = {}
    try:
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND query LIKE '%%pg_sleep(60)%%' AND state = 'active' "
                                  "AND pid <> pg_backend_pid()") == ["1"], timeout=5, msg="the offer row locked")
        # proposals on the locked offer, one at a time (each alone), fill the statements in flight
        inflight_max = before["siaod_proposal_statements_in_flight_max"]
        assert inflight_max >= 1, before
        blockers = [youth() for _ in range(inflight_max)]

        def lone_call(i):
            lone[i] = D.call("POST", "/v1/placements", REF34, {"youth_id": blockers[i]["id"], "offer_id": held["id"],
                                                               "start_date": days(0)}, timeout=60)
        threads = [threading.Thread(target=lone_call, args=(i,)) for i in range(inflight_max)]
        for i, t in enumerate(threads):
            t.start()
            eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'") == [str(i + 1)], timeout=5,
                       msg="%d proposals held" % (i + 1))
        assert proposal_metrics()["siaod_proposal_statements_in_flight"] == inflight_max

        def call(i):
            label, body, key = cases[i]
            answers[i] = D.call("POST", "/v1/placements", REF34, body,
                                headers={"Idempotency-Key": key} if key else None, timeout=60)
        waiting = [threading.Thread(target=call, args=(i,)) for i in range(len(cases))]
        for t in waiting:
            t.start()
        eventually(lambda: proposal_metrics()["siaod_proposals_waiting"] == len(cases), timeout=10,
                   msg="every proposal waiting")
        assert all(a is None for a in answers), answers
    finally:
        DB.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(60)%%' "
               "AND pid <> pg_backend_pid()")
        locker.wait(30)
    for t in threads + waiting:
        t.join(30)
    for i in range(inflight_max):
        expect(lone[i], 201)
    after = proposal_metrics()
    assert after["siaod_proposals_batched_total"] - before["siaod_proposals_batched_total"] == len(cases), (before, after)
    assert after['siaod_proposal_statements_total{kind="batch"}'] - \
        before['siaod_proposal_statements_total{kind="batch"}'] == 1, (before, after)
    assert after["siaod_proposals_waiting"] == 0, after
    # ... and none of them sent again alone (what a batch that failed as a whole would do)
    assert after['siaod_proposal_statements_total{kind="alone"}'] - \
        before['siaod_proposal_statements_total{kind="alone"}'] == inflight_max, (before, after)
    got = {}
    for (label, body, key), r in zip(cases, answers):
        got.setdefault(label, []).append(r)
    # two places for three: two proposals, one refused, and no place twice
    statuses = sorted(r.status for r in got["race"])
    assert statuses == [201, 201, 409], [(r.status, r.json) for r in got["race"]]
    assert [r.json["type"] for r in got["race"] if r.status == 409] == ["/problems/no-free-place"]
    won = [r.json for r in got["race"] if r.status == 201]
    assert len({p["place_id"] for p in won}) == 2, won
    for p in won:
        assert get_p(p) == p and p["status"] == "proposed" and p["offer_id"] == two["id"], p
    pb = expect_problem(got["open"][0], 409)
    assert pb["type"] == "/problems/open-placement-exists" and pb.get("placement_id") == first["id"], pb
    pb = expect_problem(got["capped"][0], 422, "/planned_end_date")
    assert pb["type"] == "/problems/beyond-cap" and pb.get("max_end_date") == days(90), pb
    expect_problem(got["unknown"][0], 422, "/youth_id", "unknown_value")
    # one key twice in one transaction: one placement, the second answer its replay
    k1, k2 = got["keyed"]
    expect(k1, 201)
    expect(k2, 201)
    assert k1.json == k2.json, (k1.json, k2.json)
    assert {k1.headers.get("Idempotent-Replayed"), k2.headers.get("Idempotent-Replayed")} == {"true", None}, \
        (k1.headers, k2.headers)
    # one key for two bodies: the first one's placement, the other refused
    ra, rb = got["reused"]
    assert sorted([ra.status, rb.status]) == [201, 422], (ra.status, rb.status)
    refused = ra if ra.status == 422 else rb
    assert refused.json["type"] == "/problems/idempotency-key-reused", refused.json
    # the refusals wrote nothing; the others are all there, once
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id IN (%d, %d, %d)"
                  % (keyed["id"], reused_a["id"], reused_b["id"])) == ["2"]
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % capped["id"]) == ["0"]
    assert DB.sql("SELECT count(*) FROM placements WHERE youth_id = %d" % busy["id"]) == ["1"]
    assert DB.sql("SELECT count(*) FROM placements WHERE offer_id = %d" % two["id"]) == ["2"]
    # and the answers stored for the keys are the ones given
    wait_stored("twice-%d" % keyed["id"])
    again = D.call("POST", "/v1/placements", REF34, cases[6][1], headers={"Idempotency-Key": cases[6][2]})
    assert again.status == 201 and again.json == k1.json and again.headers.get("Idempotent-Replayed") == "true", again


# ---------------------------------------------------------------- SIGKILL

@test
def sigkill_loses_no_acknowledged_placement():
    offers = [offer(label="Flux %d" % i, capacity=40) for i in range(8)]
    ys = []
    lock = threading.Lock()

    def make(n):
        c = Client(D)
        for _ in range(n):
            r = c.call("POST", "/v1/youth", REF34, youth_body())
            expect(r, 201)
            with lock:
                ys.append(r.json["id"])
        c.close()
    makers = [threading.Thread(target=make, args=(75,)) for _ in range(4)]
    for t in makers:
        t.start()
    for t in makers:
        t.join()
    acked = []
    errors = []

    def stream(k):
        c = Client(D, timeout=10)
        mine = ys[k::4]
        for n, yid in enumerate(mine):
            oid = offers[(n + k) % len(offers)]["id"]
            try:
                r = c.call("POST", "/v1/placements", REF34, {"youth_id": yid, "offer_id": oid, "start_date": days(0)})
            except Exception:
                return                      # the daemon is gone
            if r.status == 201:
                with lock:
                    acked.append((r.json["id"], yid, oid))
            else:
                with lock:
                    errors.append(r)
                return
        c.close()
    threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    eventually(lambda: len(acked) >= 60, timeout=30, interval=0.005, msg="60 placements acknowledged")
    D.kill()                                # SIGKILL, mid-stream
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(acked) < len(ys), "the stream ended before the kill; nothing was in flight"
    D.start()
    rows = DB.sql("SELECT id, youth_id, offer_id FROM placements WHERE id IN (%s)" % ",".join(str(a[0]) for a in acked))
    found = {tuple(int(x) for x in row.split("|")) for row in rows}
    lost = set(acked) - found
    assert not lost, "acknowledged placements lost after SIGKILL: %r" % sorted(lost)[:10]
    assert int(DB.sql("SELECT count(*) FROM placements WHERE youth_id IN (%s)" % ",".join(map(str, ys)))[0]) >= len(acked)
    # the daemon serves again, from what the database holds
    expect(D.call("GET", "/readyz"), 200)
    pid, yid, oid = acked[-1]
    assert get_p(pid)["status"] == "proposed"
    for o in offers:
        held = int(DB.sql("SELECT count(*) FROM placements WHERE offer_id = %d AND status = 'proposed'" % o["id"])[0])
        assert free_on(o, days(0)) == 40 - held, (o["id"], held)
    rest = [y for y in ys if y not in {a[1] for a in acked}]
    remaining = DB.sql("SELECT y.id FROM youth y WHERE y.id IN (%s) AND NOT EXISTS "
                       "(SELECT 1 FROM placements p WHERE p.youth_id = y.id)" % ",".join(map(str, rest)))
    assert remaining, "no young person left to propose"
    propose(int(remaining[0]), offers[0])


if __name__ == "__main__":
    run_all(setup)
