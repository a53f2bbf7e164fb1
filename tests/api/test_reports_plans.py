"""
Indicators of the bilans and allocation plans, end to end against the real
daemon and PostgreSQL.

Indicators: a small fixture is built through the API on a moving test clock
(test_clock_offset_days in a config file + SIGHUP): offers created, a
capacity change and a closing on given days, proposals made, accepted,
refused and cancelled on given days, entries and exits on given days, one
stay that runs to its cap. Every figure of "Habitat Jeunes de Sète" over the
period is then worked out by hand below and compared with the JSON and the
CSV. Scopes and parameters are checked too.

Plans: small départements where the answer is known: one where greedy by
score is not optimal, one where two young people tie for one place, then the
apply call (all pairs, chosen pairs, a pair not in the plan, a place taken
meanwhile), and two situations a plan must not get wrong (a young person who
already has a pending proposal; an offer whose places are free on the plan's
day but not for the whole stay).

Tests run in order and share one database and one daemon.
"""
import csv
import datetime
import io
import math
import os
import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, Database, expect, expect_problem, run_all,  # noqa: E402
                     test)

D = None
DB = None
CONF = None
ADMIN = None
REF34 = REF30 = REF66 = REF11 = REF12 = REF09 = REF48 = REF81 = None
TODAY0 = None                  # the machine's date in Europe/Paris
B = None                       # day 0 of the indicators fixture (TODAY0 - 125)
CLOCK = [0]                    # the daemon's test clock offset, in days
WEIGHTS = {}                   # weight_<factor> from --check-config

SETE, FRONTIGNAN, NIMES = "34301", "34108", "30189"
PERPIGNAN, CARCASSONNE, RODEZ, FOIX, MENDE, ALBI = "66136", "11069", "12202", "09122", "48095", "81004"
FACTORS = ["distance", "duration", "affordability", "support", "availability"]
RULES = ["closed", "distance", "age", "gender", "household", "pets", "wheelchair", "no_free_place"]

# The indicators fixture (filled by indicators_fixture_built_through_the_api).
FX = {}
FROM, TO = 30, 119             # the period, in fixture days, both included


def setup():
    global D, DB, CONF, ADMIN, REF34, REF30, REF66, REF11, REF12, REF09, REF48, REF81, TODAY0, B
    DB = Database("reports_plans")
    D = Daemon(DB, name="main", start=False)
    CONF = os.path.join(D.dir, "siaod.conf")
    write_conf(0)
    D.args = ["--config", CONF]
    D.start()
    ADMIN = D.token("admin", label="admin")
    REF34 = D.token("referent", departements=("34",), label="ref34")
    REF30 = D.token("referent", departements=("30",), label="ref30")
    REF66 = D.token("referent", departements=("66",), label="ref66")
    REF11 = D.token("referent", departements=("11",), label="ref11")
    REF12 = D.token("referent", departements=("12",), label="ref12")
    REF09 = D.token("referent", departements=("09",), label="ref09")
    REF48 = D.token("referent", departements=("48",), label="ref48")
    REF81 = D.token("referent", departements=("81",), label="ref81")
    TODAY0 = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    B = TODAY0 - datetime.timedelta(days=125)
    for line in D.cli("--config", CONF, "--check-config").stdout.splitlines():
        parts = line.split(" = ")
        if len(parts) == 2 and parts[0].startswith("weight_"):
            WEIGHTS[parts[0][len("weight_"):]] = int(parts[1])
    assert sorted(WEIGHTS) == sorted(FACTORS) and sum(WEIGHTS.values()) == 100, WEIGHTS


# ---------------------------------------------------------------- helpers

def write_conf(offset):
    with open(CONF, "w") as f:
        f.write("# written by test_reports_plans.py\ntest_clock_offset_days = %d\n" % offset)


def set_clock(offset):
    """Moves the daemon's today to TODAY0 + offset days."""
    if offset == CLOCK[0]:
        return
    write_conf(offset)
    D.reload()
    CLOCK[0] = offset


def at(k):
    """The daemon's today becomes fixture day k."""
    set_clock((B + datetime.timedelta(days=k) - TODAY0).days)


def day(k):
    """Fixture day k as YYYY-MM-DD."""
    return (B + datetime.timedelta(days=k)).isoformat()


def today():
    return (TODAY0 + datetime.timedelta(days=CLOCK[0])).isoformat()


def born(age):
    t = TODAY0
    try:
        return t.replace(year=t.year - age).isoformat()
    except ValueError:
        return t.replace(year=t.year - age, day=28).isoformat()


def porteur(name, dep, target=0):
    r = D.call("POST", "/v1/porteurs", ADMIN, {"name": name, "departement": dep, "target_youth": target})
    return expect(r, 201).json["id"]


def offer(token, **body):
    b = {"kind": "iml", "label": "Offre", "commune_insee": SETE, "capacity": 1}
    b.update(body)
    return expect(D.call("POST", "/v1/offers", token, b), 201).json


SEQ = [0]


def youth(token, **over):
    SEQ[0] += 1
    b = {"ref": "RP-%04d" % SEQ[0], "departement": "34", "birth_date": born(20), "gender": "female",
         "situation": "street", "commune_insee": SETE}
    b.update(over)
    return expect(D.call("POST", "/v1/youth", token, b), 201).json


def propose(token, y, o, start=None):
    body = {"youth_id": y["id"], "offer_id": o["id"], "start_date": start or today()}
    return expect(D.call("POST", "/v1/placements", token, body), 201).json


def act(token, p, action, body=None):
    r = D.call("POST", "/v1/placements/%d/%s" % (p["id"], action), token, body)
    return expect(r, 200).json


def stay(ref, porteur_tok, y, o, entry=None):
    """Proposed, accepted and entered today (or on `entry`, retroactively)."""
    p = propose(ref, y, o, start=entry)
    act(porteur_tok, p, "accept")
    return act(porteur_tok, p, "enter", {"date": entry or today()})


def indicators(token=None, query="", csv_=False):
    headers = {"Accept": "text/csv"} if csv_ else None
    return D.call("GET", "/v1/reports/indicators" + ("?" + query if query else ""), token or ADMIN,
                  headers=headers)


def period(frm=FROM, to=TO):
    return "from=%s&to=%s" % (day(frm), day(to))


def item_of(items, pid):
    hits = [i for i in items if i["porteur_id"] == pid]
    assert len(hits) == 1, "porteur %s appears %d times in %r" % (pid, len(hits), items)
    return hits[0]


def compare(got, want, what):
    """Every key of want, with numbers compared as numbers; all differences at once."""
    bad = []
    for k, v in want.items():
        g = got.get(k, "<missing>")
        same = (g == v) if not isinstance(v, float) or not isinstance(g, (int, float)) else abs(g - v) < 1e-9
        if not same:
            bad.append("%s: got %r, expected %r" % (k, g, v))
    assert not bad, "%s:\n  %s" % (what, "\n  ".join(bad))


# ---------------------------------------------------------------- the indicators fixture

@test
def indicators_fixture_built_through_the_api():
    """Fixture days are counted from B = today - 125 (so day 125 is the real today).

    Habitat Jeunes de Sète (34, target 12):
      F  shared_flat, max_stay_days 90, capacity 2 from day 0, 3 from day 70 (PATCH on day 70)
      A  alt (cap 180), capacity 1 from day 0, closed on day 90
    Autre porteur 34:  O iml in Frontignan, capacity 1 from day 0
    Habitat Nîmes (30): N alt in Nîmes, capacity 3 from day 0

    day   what (Sète unless said)                                        place
      0   offers created; young people registered (registered_at in the past)
      1   Y0  proposed on A, accepted, entered day 1                     A1
      5   Y1  proposed on F, accepted, entered day 5 (planned end 95)    F1
     10   Y2  proposed on F, accepted, entered day 10 (planned end 100, the cap)   F2
     20   Y0  exits (family)
     35   Y10 proposed on O (Autre), accepted, entered day 35
     40   Y1  exits (durable_housing)
     45   Y3  proposed on F, accepted                                    F1
     47   Y3  entry recorded retroactively on day 45 (planned end 135)
     50   Y4  proposed on A, accepted, entered day 50;  Y10 exits O (durable_housing)
     60   Y4  exits A (street: waiting again);  Y5 proposed on A, refused youth_declined
     65   Y6  proposed on A, refused incompatible_needs
     70   F   capacity 2 -> 3
     75   Y7  proposed on F, refused incompatible_needs                  F3
     80   Y8  proposed on F, accepted, then cancelled by the referent    F3
     85   Y4  proposed on F, accepted, entered day 85 (second stay)      F3
     90   A   closed
    100   Y2  exits on its capped planned end (fjt)
    110   Y4  exits F (other_transitional)
    115   Y11 proposed on F, cancelled by the referent before any answer
    119   Y11 proposed on F again, left pending (its hold runs to day 126)
    125   Y9  proposed on F, left pending (after the period);
          Nîmes: Y12, Y13, Y14 entered retroactively on day 0, exit on days 100, 101, 101
    """
    sete = porteur("Habitat Jeunes de Sète", "34", target=12)
    autre = porteur("Autre porteur 34", "34", target=5)
    nimes = porteur("Habitat Nîmes", "30", target=8)
    pt_sete = D.token("porteur", porteur=sete, label="pt_sete")
    pt_autre = D.token("porteur", porteur=autre, label="pt_autre")
    pt_nimes = D.token("porteur", porteur=nimes, label="pt_nimes")
    FX.update(sete=sete, autre=autre, nimes=nimes, pt_sete=pt_sete, pt_autre=pt_autre, pt_nimes=pt_nimes)

    at(0)
    F = offer(pt_sete, porteur_id=sete, kind="shared_flat", label="F4 Sète", capacity=2,
              max_stay_days=90, available_from=day(0))
    A = offer(pt_sete, porteur_id=sete, kind="alt", label="ALT Sète", capacity=1, available_from=day(0))
    assert A["max_stay_days"] == 180, A
    O = offer(pt_autre, porteur_id=autre, label="IML Frontignan", commune_insee=FRONTIGNAN,
              available_from=day(0))
    N = offer(pt_nimes, porteur_id=nimes, kind="alt", label="ALT Nîmes", commune_insee=NIMES,
              capacity=3, available_from=day(0))
    FX.update(F=F, A=A, O=O, N=N)
    reg = {"Y0": -40, "Y1": -20, "Y2": -30, "Y3": -15, "Y4": 0, "Y5": -5, "Y6": -5, "Y7": -5,
           "Y8": -5, "Y9": -5, "Y10": -5, "Y11": -5}
    Y = {n: youth(REF34, registered_at=day(r)) for n, r in reg.items()}
    for n in ("Y12", "Y13", "Y14"):
        Y[n] = youth(REF30, departement="30", commune_insee=NIMES, registered_at=day(-10))
    FX["Y"] = Y

    at(1)
    p0 = stay(REF34, pt_sete, Y["Y0"], A)
    at(5)
    p1 = stay(REF34, pt_sete, Y["Y1"], F)
    assert p1["planned_end_date"] == day(95), p1
    at(10)
    p2 = stay(REF34, pt_sete, Y["Y2"], F)
    assert p2["planned_end_date"] == day(100), p2
    at(20)
    act(pt_sete, p0, "exit", {"date": day(20), "destination": "family"})
    at(35)
    p10 = stay(REF34, pt_autre, Y["Y10"], O)
    at(40)
    act(pt_sete, p1, "exit", {"date": day(40), "destination": "durable_housing"})
    at(45)
    p3 = propose(REF34, Y["Y3"], F)
    act(pt_sete, p3, "accept")
    at(47)
    p3 = act(pt_sete, p3, "enter", {"date": day(45)})       # recorded two days late
    assert (p3["start_date"], p3["planned_end_date"]) == (day(45), day(135)), p3
    at(50)
    p4 = stay(REF34, pt_sete, Y["Y4"], A)
    act(pt_autre, p10, "exit", {"date": day(50), "destination": "durable_housing"})
    at(60)
    act(pt_sete, p4, "exit", {"date": day(60), "destination": "street"})
    act(pt_sete, propose(REF34, Y["Y5"], A), "refuse", {"reason": "youth_declined"})
    at(65)
    act(pt_sete, propose(REF34, Y["Y6"], A), "refuse", {"reason": "incompatible_needs"})
    at(70)
    r = D.call("PATCH", "/v1/offers/%d" % F["id"], pt_sete, {"capacity": 3})
    assert expect(r, 200).json["capacity"] == 3, r
    at(75)
    act(pt_sete, propose(REF34, Y["Y7"], F), "refuse", {"reason": "incompatible_needs"})
    at(80)
    p8 = propose(REF34, Y["Y8"], F)
    act(pt_sete, p8, "accept")
    act(REF34, p8, "cancel")
    at(85)
    p4b = stay(REF34, pt_sete, Y["Y4"], F)
    at(90)
    r = D.call("DELETE", "/v1/offers/%d" % A["id"], pt_sete)
    assert expect(r, 200).json["status"] == "closed", r
    at(100)
    e2 = act(pt_sete, p2, "exit", {"date": day(100), "destination": "fjt"})
    assert e2["actual_end_date"] == e2["planned_end_date"] == day(100), e2
    at(110)
    act(pt_sete, p4b, "exit", {"date": day(110), "destination": "other_transitional"})
    at(115)
    act(REF34, propose(REF34, Y["Y11"], F), "cancel")
    at(119)
    propose(REF34, Y["Y11"], F)
    at(125)
    assert today() == TODAY0.isoformat()
    propose(REF34, Y["Y9"], F)
    # Nîmes: three stays entered long ago and exited since, recorded "today".
    for n, end, dest in (("Y12", 100, "durable_housing"), ("Y13", 101, "durable_housing"),
                         ("Y14", 101, "unknown")):
        p = stay(REF30, pt_nimes, Y[n], N, entry=day(0))
        act(pt_nimes, p, "exit", {"date": day(end), "destination": dest})

    # The capacity history the writes left (what place_days_capacity is built on).
    hist = DB.sql("SELECT offer_id, from_day - date '%s', capacity, open FROM offer_capacity_history "
                  "WHERE offer_id IN (%d, %d) ORDER BY offer_id, from_day" % (day(0), F["id"], A["id"]))
    assert hist == ["%d|0|2|t" % F["id"], "%d|70|3|t" % F["id"],
                    "%d|0|1|t" % A["id"], "%d|90|1|f" % A["id"]], hist


# Habitat Jeunes de Sète over [day 30, day 119] (the range [30, 120)), by hand:
#
# Stays (active or ended) on its offers:
#   Y0 A [1, 20) family    Y1 F [5, 40) durable_housing    Y2 F [10, 100) fjt, capped
#   Y3 F [45, 135) active  Y4 A [50, 60) street            Y4 F [85, 110) other_transitional
# youth_accompanied    stays overlapping the period: Y1, Y2, Y3, Y4 (twice, counted once)
#                      -> 4 (Y0 ended on day 20, before)
# target_youth         12
# proposals            created on days 30..119: Y3 (45), Y4 (50), Y5 (60), Y6 (65), Y7 (75),
#                      Y8 (80), Y4 (85), Y11 (115), Y11 (119) -> 9
#                      (Y0 1, Y1 5, Y2 10 before; Y9 125 after)
# accepted             Y3, Y4, Y8 (accepted, then cancelled: still accepted), Y4 -> 4
# refused              Y5, Y6, Y7 -> 3
# pending              Y11 (119) -> 1 (Y11 (115) was cancelled before any answer)
# acceptance_rate      accepted / (accepted + refused), the pending and the cancelled-
#                      unanswered left out: 4 / 7 = 0.571428... -> 0.5714
#                      (not 4 / 9 = 0.4444: what the porteur did not answer is no refusal)
# refusals             youth_declined 1 (Y5), incompatible_needs 2 (Y6, Y7)
# entries              entry dates in the period: Y3 45, Y4 50, Y4 85 -> 3
# exits                exit dates in the period: Y1 40, Y4 60, Y2 100, Y4 110 -> 4 (Y0 20 before)
# exits_by_destination durable_housing 1, street 1, fjt 1, other_transitional 1
# durable_share        1 / 4 = 0.25
# stay lengths         Y1 40-5 = 35, Y4 60-50 = 10, Y2 100-10 = 90, Y4 110-85 = 25
# mean_stay_days       (35 + 10 + 90 + 25) / 4 = 160 / 4 = 40.00
# median_stay_days     10, 25, 35, 90 -> (25 + 35) / 2 = 30
# stays_to_cap         Y2 (planned end 100 = 10 + 90, the cap; exit on day 100) -> 1
#                      (Y1's planned end 95 was capped too, but it left on day 40)
# place_days_held      each stay cut to [30, 120): Y1 [30,40) 10, Y2 [30,100) 70,
#                      Y3 [45,120) 75, Y4 [50,60) 10, Y4 [85,110) 25, Y0 0 -> 190
# place_days_capacity  F: [30,70) 40 days x 2 = 80, [70,120) 50 days x 3 = 150 -> 230
#                      A: open [30,90) 60 days x 1 = 60, closed from day 90 -> 0
#                      -> 290
# occupancy_rate       190 / 290 = 0.655172... -> 0.6552
# median_days_to_entry young people whose first entry here is in the period: Y3 (45 - (-15)
#                      = 60), Y4 (first entry 50, not 85: 50 - 0 = 50) -> median 55
#                      (Y1, Y2 first entered on days 5 and 10, before)
SETE_WANT = {
    "name": "Habitat Jeunes de Sète", "departement": "34", "target_youth": 12,
    "youth_accompanied": 4, "proposals": 9, "accepted": 4, "refused": 3, "pending": 1,
    "acceptance_rate": 0.5714,
    "refusals": {"youth_declined": 1, "incompatible_needs": 2},
    "entries": 3, "exits": 4,
    "exits_by_destination": {"durable_housing": 1, "street": 1, "fjt": 1, "other_transitional": 1},
    "durable_share": 0.25, "mean_stay_days": 40.0, "median_stay_days": 30,
    "stays_to_cap": 1, "place_days_held": 190, "place_days_capacity": 290,
    "occupancy_rate": 0.6552, "median_days_to_entry": 55,
}

# Autre porteur 34 over the same period: Y10 on O [35, 50), durable_housing.
#   accompanied 1; proposals 1 (day 35), accepted 1, rate 1; entries 1; exits 1, durable 1.0;
#   stay 15 days (mean 15, median 15); held [35,50) = 15; capacity 90 days x 1 = 90;
#   occupancy 15 / 90 = 0.1667; days to entry 35 - (-5) = 40.
AUTRE_WANT = {
    "name": "Autre porteur 34", "target_youth": 5, "youth_accompanied": 1, "proposals": 1,
    "accepted": 1, "refused": 0, "pending": 0, "acceptance_rate": 1.0, "refusals": {}, "entries": 1, "exits": 1,
    "exits_by_destination": {"durable_housing": 1}, "durable_share": 1.0,
    "mean_stay_days": 15.0, "median_stay_days": 15, "stays_to_cap": 0,
    "place_days_held": 15, "place_days_capacity": 90, "occupancy_rate": 0.1667,
    "median_days_to_entry": 40,
}

# Habitat Nîmes over the same period: Y12 [0,100), Y13 [0,101), Y14 [0,101), all ended.
#   accompanied 3; proposals 0 (made on day 125) -> accepted 0, rate null, refusals {};
#   entries 0 (day 0); exits 3: durable_housing 2, unknown 1 -> durable 2/3 = 0.6667;
#   lengths 100, 101, 101 -> mean 302/3 = 100.666... -> 100.67, median 101; to cap 0 (cap 180);
#   held [30,100) 70 + [30,101) 71 + 71 = 212; capacity 90 x 3 = 270;
#   occupancy 212/270 = 0.785185... -> 0.7852; first entries on day 0, before: median null.
NIMES_WANT = {
    "name": "Habitat Nîmes", "departement": "30", "target_youth": 8, "youth_accompanied": 3,
    "proposals": 0, "accepted": 0, "refused": 0, "pending": 0, "acceptance_rate": None,
    "refusals": {}, "entries": 0,
    "exits": 3, "exits_by_destination": {"durable_housing": 2, "unknown": 1},
    "durable_share": 0.6667, "mean_stay_days": 100.67, "median_stay_days": 101,
    "stays_to_cap": 0, "place_days_held": 212, "place_days_capacity": 270,
    "occupancy_rate": 0.7852, "median_days_to_entry": None,
}


@test
def indicators_for_habitat_jeunes_de_sete_match_a_hand_computed_fixture():
    r = expect(indicators(query=period() + "&porteur_id=%d" % FX["sete"]), 200)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    rep = r.json
    assert (rep["from"], rep["to"], rep["porteur_id"]) == (day(FROM), day(TO), FX["sete"]), rep
    assert len(rep["items"]) == 1, rep
    compare(rep["items"][0], dict(SETE_WANT, porteur_id=FX["sete"]), "Habitat Jeunes de Sète")
    # The same figures through the porteur's own token and the referent of 34.
    for tok in (FX["pt_sete"], REF34):
        items = expect(indicators(tok, period()), 200).json["items"]
        assert item_of(items, FX["sete"]) == rep["items"][0], items


@test
def the_other_porteurs_figures_are_their_own():
    items = expect(indicators(query=period()), 200).json["items"]
    compare(item_of(items, FX["autre"]), AUTRE_WANT, "Autre porteur 34")
    compare(item_of(items, FX["nimes"]), NIMES_WANT, "Habitat Nîmes")


@test
def pending_proposals_are_no_refusals():
    """[day 120, day 125]: Y9's proposal of day 125, unanswered, is the only one: pending 1,
    nothing answered, so no rate (null) — not 0.0 as if the porteur had refused it."""
    one = item_of(expect(indicators(query=period(120, 125)), 200).json["items"], FX["sete"])
    compare(one, {"proposals": 1, "accepted": 0, "refused": 0, "pending": 1, "acceptance_rate": None},
            "Sète over days 120-125")
    # [day 115, day 119]: Y11 cancelled unanswered (left out), Y11 again, pending
    one = item_of(expect(indicators(query=period(115, 119)), 200).json["items"], FX["sete"])
    compare(one, {"proposals": 2, "accepted": 0, "refused": 0, "pending": 1, "acceptance_rate": None},
            "Sète over days 115-119")
    # [day 60, day 80]: Y5, Y6, Y7 refused, Y8 accepted (then cancelled): 1 / 4
    one = item_of(expect(indicators(query=period(60, 80)), 200).json["items"], FX["sete"])
    compare(one, {"proposals": 4, "accepted": 1, "refused": 3, "pending": 0, "acceptance_rate": 0.25},
            "Sète over days 60-80")


@test
def period_bounds_are_both_included():
    # [day 40, day 40]: Y1's exit day; held that day: Y2 (F2) only (Y1 left on 40, the
    # range is half-open) -> 1 place-day; capacity F 2 + A 1 = 3.
    one = item_of(expect(indicators(query=period(40, 40)), 200).json["items"], FX["sete"])
    # Y1's stay [5, 40) does not overlap [40, 41): accompanied is Y2 alone.
    compare(one, {"exits": 1, "entries": 0, "exits_by_destination": {"durable_housing": 1},
                  "mean_stay_days": 35.0, "youth_accompanied": 1, "place_days_held": 1,
                  "place_days_capacity": 3, "proposals": 0, "acceptance_rate": None},
            "Sète on day 40 alone")
    # [day 100, day 100]: Y2 leaves on its cap; held: Y3 (F1), Y4 (F3); capacity F 3, A closed.
    one = item_of(expect(indicators(query=period(100, 100)), 200).json["items"], FX["sete"])
    compare(one, {"exits": 1, "stays_to_cap": 1, "exits_by_destination": {"fjt": 1},
                  "place_days_held": 2, "place_days_capacity": 3, "youth_accompanied": 2},
            "Sète on day 100 alone")
    # [day 70, day 70]: the capacity change counts from its own day.
    one = item_of(expect(indicators(query=period(70, 70)), 200).json["items"], FX["sete"])
    compare(one, {"place_days_capacity": 4, "place_days_held": 2}, "Sète on day 70 alone")


@test
def indicators_are_scoped_to_the_token():
    def ids(tok, q=""):
        r = expect(indicators(tok, period() + q), 200)
        return sorted(i["porteur_id"] for i in r.json["items"])

    sete, autre, nimes = FX["sete"], FX["autre"], FX["nimes"]
    every = sorted(p["id"] for p in expect(D.call("GET", "/v1/porteurs?limit=200", ADMIN), 200).json["items"])
    assert ids(ADMIN) == every and {sete, autre, nimes} <= set(every), (ids(ADMIN), every)
    assert ids(ADMIN, "&departement=34") == sorted([sete, autre]), ids(ADMIN, "&departement=34")
    assert ids(ADMIN, "&porteur_id=%d" % nimes) == [nimes]
    # a porteur: its own only, whatever it asks
    assert ids(FX["pt_sete"]) == [sete]
    assert ids(FX["pt_sete"], "&departement=34") == [sete]
    # another porteur's id: 200 with no items (the filter narrows the token's scope;
    # DESIGN and the OpenAPI file: "the others are left out, never a 403")
    r = expect(indicators(FX["pt_sete"], period() + "&porteur_id=%d" % autre), 200)
    assert r.json["items"] == [], r.json
    assert ids(FX["pt_autre"]) == [autre]
    # a referent: the porteurs of its départements
    assert ids(REF34) == sorted([sete, autre])
    assert ids(REF34, "&departement=30") == []
    assert ids(REF34, "&porteur_id=%d" % nimes) == []
    assert ids(REF30) == [nimes]
    # the same scope in CSV: one row per porteur in scope
    r = expect(indicators(FX["pt_sete"], period(), csv_=True), 200)
    rows = read_csv(r)[1]
    assert [int(x[0]) for x in rows] == [sete], rows


def read_csv(r):
    """(header, rows) of a CSV answer, after checking the BOM and the line ends."""
    assert r.headers.get("Content-Type", "").startswith("text/csv"), r.headers
    assert r.data.startswith(b"\xef\xbb\xbf"), r.data[:20]
    text = r.data[3:].decode("utf-8")
    assert text.endswith("\r\n"), repr(text[-20:])
    assert "\n" not in text.replace("\r\n", ""), "bare LF in %r" % text
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return table[0], table[1:]


CSV_COLUMNS = [
    ("porteur_id", "porteur_id"), ("porteur", "name"), ("departement", "departement"),
    ("objectif_jeunes", "target_youth"), ("jeunes_accompagnes", "youth_accompanied"),
    ("propositions", "proposals"), ("acceptees", "accepted"), ("refusees", "refused"),
    ("en_attente", "pending"), ("taux_acceptation", "acceptance_rate"),
    ("refus", "refusals"), ("entrees", "entries"), ("sorties", "exits"),
    ("sorties_par_destination", "exits_by_destination"), ("part_logement_durable", "durable_share"),
    ("duree_moyenne_jours", "mean_stay_days"), ("duree_mediane_jours", "median_stay_days"),
    ("sejours_au_plafond", "stays_to_cap"), ("jours_places_occupes", "place_days_held"),
    ("jours_places_ouverts", "place_days_capacity"), ("taux_occupation", "occupancy_rate"),
    ("delai_median_entree_jours", "median_days_to_entry"),
]


def csv_value(field, kind):
    """A CSV field back to what the JSON says: numbers with a decimal comma, objects as
    'key: n, key: n', empty for null."""
    if kind == "object":
        if field == "":
            return {}
        out = {}
        for part in field.split(", "):
            k, v = part.split(": ")
            out[k] = int(v)
        return out
    if field == "":
        return None
    if kind == "text":
        return field
    assert "." not in field, "a point in the number %r (decimal commas expected)" % field
    return float(field.replace(",", ".")) if "," in field else int(field)


def kind_of(v):
    return "object" if isinstance(v, dict) else "text" if isinstance(v, str) else "number"


@test
def indicators_in_csv_for_a_french_spreadsheet():
    js = expect(indicators(query=period()), 200).json["items"]
    r = expect(indicators(query=period(), csv_=True), 200)
    raw = r.data[3:].decode("utf-8")
    header, rows = read_csv(r)
    assert raw.split("\r\n")[0] == ";".join(c for c, _ in CSV_COLUMNS), raw.split("\r\n")[0]
    assert header == [c for c, _ in CSV_COLUMNS], header
    assert len(rows) == len(js), (rows, js)
    for row in rows:
        assert len(row) == len(CSV_COLUMNS), row
    by_id = {int(row[0]): row for row in rows}
    sete_row = by_id[FX["sete"]]
    # the Sète row holds the hand-computed figures, with decimal commas
    want = dict(SETE_WANT, porteur_id=FX["sete"])
    got = {key: csv_value(sete_row[i], kind_of(want[key])) for i, (_, key) in enumerate(CSV_COLUMNS)}
    compare(got, {k: want[k] for _, k in CSV_COLUMNS}, "the CSV row of Habitat Jeunes de Sète")
    line = [l for l in raw.split("\r\n") if l.startswith("%d;" % FX["sete"])][0]
    assert '"Habitat Jeunes de Sète"' in line, line
    assert ";0,5714;" in line and ";0,25;" in line and ";0,6552;" in line, line
    # every row says what the JSON says (null: an empty field); decimals to 4 significant
    # digits here, csv_figures_keep_every_decimal_of_the_json asks for all of them
    for item in js:
        row = by_id[item["porteur_id"]]
        for i, (col, key) in enumerate(CSV_COLUMNS):
            g, v = csv_value(row[i], kind_of(item[key])), item[key]
            if isinstance(v, float) and isinstance(g, (int, float)):
                assert math.isclose(g, v, rel_tol=1e-3), (item["porteur_id"], col, row[i], v)
            else:
                assert g == v, (item["porteur_id"], col, row[i], v)
    nimes = by_id[FX["nimes"]]
    col = {c: i for i, (c, _) in enumerate(CSV_COLUMNS)}
    # rate null, no refusals, no median wait: empty fields
    assert nimes[col["taux_acceptation"]] == "" and nimes[col["refus"]] == "" \
        and nimes[col["delai_median_entree_jours"]] == "", nimes
    # Accept with parameters and among other types still picks CSV
    r2 = expect(indicators(query=period(), csv_=False), 200)
    assert r2.headers["Content-Type"].startswith("application/json")
    r3 = D.call("GET", "/v1/reports/indicators?" + period(), ADMIN,
                headers={"Accept": "text/csv;q=1.0, application/json;q=0.5"})
    assert expect(r3, 200).data == r.data, r3


@test
def csv_figures_keep_every_decimal_of_the_json():
    # Habitat Nîmes's mean stay is 100.67 days in JSON (302 / 3, rounded to 2 decimals by
    # report_porteur); the CSV must say 100,67, not a figure rounded again.
    header, rows = read_csv(expect(indicators(query=period(), csv_=True), 200))
    row = [x for x in rows if int(x[0]) == FX["nimes"]][0]
    mean = row[header.index("duree_moyenne_jours")]
    assert mean == "100,67", ("duree_moyenne_jours of Habitat Nîmes is %r in the CSV, 100.67 in the "
                              "JSON (daemon/api_reports.c csv_field formats reals with %%.4g: 4 "
                              "significant digits)" % mean)


@test
def indicator_parameters_are_checked():
    def bad(q, param):
        r = indicators(query=q)
        p = expect_problem(r, 400)
        errs = p.get("errors") or []
        assert any(e.get("parameter") == param or e.get("pointer") in (param, "/" + param) for e in errs), r
    bad("from=%s&to=%s" % (day(50), day(49)), "to")            # to < from
    bad("from=2025-02-30&to=2025-03-01", "from")                 # no such day
    bad("from=yesterday", "from")
    bad("from=%s&to=2025-13-01" % day(0), "to")
    bad("to=20250101", "to")
    bad("porteur_id=abc", "porteur_id")
    bad("porteur_id=0", "porteur_id")
    bad("departement=999", "departement")
    # from == to is one day
    expect(indicators(query=period(50, 50)), 200)
    # defaults: 1 January of this year to today
    rep = expect(indicators(), 200).json
    assert (rep["from"], rep["to"]) == (TODAY0.replace(month=1, day=1).isoformat(), today()), rep
    # no token, no report
    expect_problem(D.call("GET", "/v1/reports/indicators"), 401)


# ---------------------------------------------------------------- allocation plans

def plan(token, dep, on=None, status=201):
    body = {"departement": dep}
    if on:
        body["on"] = on
    r = D.call("POST", "/v1/allocation-plans", token, body)
    if status != 201:
        return expect_problem(r, status)
    return expect(r, 201).json


def apply(token, plan_id, body=None, status=200):
    r = D.call("POST", "/v1/allocation-plans/%d/apply" % plan_id, token, body)
    if status != 200:
        return expect_problem(r, status)
    return expect(r, 200).json


def pairs(p):
    return sorted((a["youth_id"], a["offer_id"]) for a in p["assignments"])


def placements_of(y):
    r = D.call("GET", "/v1/placements?youth_id=%d" % y["id"], ADMIN)
    return expect(r, 200).json["items"]


def ratio_points(weight, num, den):
    if weight <= 0 or num <= 0 or den <= 0:
        return 0
    if num >= den:
        return weight
    return (2 * weight * num + den) // (2 * den)


def check_reasons(a, want_points=None):
    """5 factors in order, summing to the score; with want_points, those points."""
    got = [(f["factor"], f["points"]) for f in a["reasons"]]
    assert [f for f, _ in got] == FACTORS, a
    assert sum(p for _, p in got) == a["score"], a
    for f in a["reasons"]:
        assert isinstance(f["detail"], str) and f["detail"], a
    if want_points:
        assert dict(got) == want_points, (dict(got), want_points)


def match_score(y, oid, on):
    r = D.call("GET", "/v1/youth/%d/matches?limit=200&on=%s" % (y["id"], on), ADMIN)
    hits = [m for m in expect(r, 200).json["items"] if m["offer_id"] == oid]
    return hits[0]["score"] if hits else None


PL = {}    # the dep-66 scene


@test
def plans_are_for_referents_of_the_departement_and_admins():
    pid = porteur("Habitat Perpignan", "66")
    pt = D.token("porteur", porteur=pid, label="pt66")
    PL.update(porteur=pid, pt=pt)
    plan(REF34, "66", status=403)           # referent of another département
    plan(pt, "66", status=403)              # a porteur
    expect_problem(D.call("POST", "/v1/allocation-plans", None, {"departement": "66"}), 401)
    # bad bodies
    expect_problem(D.call("POST", "/v1/allocation-plans", REF66, {}), 400, "/departement", "required")
    expect_problem(D.call("POST", "/v1/allocation-plans", REF66, {"departement": "66", "on": "demain"}),
                   400, "/on")
    expect_problem(D.call("POST", "/v1/allocation-plans", REF66, {"departement": "6A"}), 400, "/departement")
    expect_problem(D.call("GET", "/v1/allocation-plans/999999", ADMIN), 404)
    # an empty département gives an empty plan
    p = plan(REF66, "66")
    assert p["assignments"] == [] and p["unassigned"] == [] and p["total_score"] == 0, p
    # scope of GET and apply
    expect_problem(D.call("GET", "/v1/allocation-plans/%d" % p["id"], REF34), 403)
    expect_problem(D.call("GET", "/v1/allocation-plans/%d" % p["id"], pt), 403)
    expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF34), 403)
    expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], pt), 403)
    expect(D.call("GET", "/v1/allocation-plans/%d" % p["id"], ADMIN), 200)
    # malformed pairs
    expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF66, {"pairs": "all"}),
                   400, "/pairs", "wrong_type")
    expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF66,
                          {"pairs": [{"youth_id": "1", "offer_id": 2}]}), 400, "/pairs/0")


@test
def the_plan_is_optimal_where_greedy_by_score_is_not():
    """Perpignan (66), all in the same commune (distance 0), wished from today, 6 months:
      X  iml, 1 place, support standard, any gender
      Y  iml, 1 place, support light, women only
      Z  iml, 1 place, accepts pets, taken by F (entered today)
      A  woman, support need standard:   A-X 100, A-Y 85 (light for standard: 1/4 of support)
      B  man, support need intensive:    B-X 85 (standard for intensive: 1/4), B-Y ineligible (gender)
      C  man with a pet:                 X pets, Y gender, Z no free place -> no eligible place
    Greedy by score takes A-X (100) first and leaves B out: 100. The optimum is
    A-Y + B-X = 85 + 85 = 170."""
    pid, pt = PL["porteur"], PL["pt"]
    X = offer(pt, porteur_id=pid, label="X", commune_insee=PERPIGNAN, support_level="standard")
    Y = offer(pt, porteur_id=pid, label="Y", commune_insee=PERPIGNAN, support_level="light", gender="female")
    Z = offer(pt, porteur_id=pid, label="Z", commune_insee=PERPIGNAN, accepts_pets=True)
    yb = {"departement": "66", "commune_insee": PERPIGNAN}
    F = youth(REF66, **yb)
    stay(REF66, pt, F, Z)
    A = youth(REF66, gender="female", support_need="standard", **yb)
    Bm = youth(REF66, gender="male", support_need="intensive", **yb)
    C = youth(REF66, gender="male", has_pets=True, **yb)
    PL.update(X=X, Y=Y, Z=Z, A=A, B=Bm, C=C)
    on = today()
    p = plan(REF66, "66", on)
    assert p["on"] == on and p["departement"] == "66", p
    assert pairs(p) == sorted([(A["id"], Y["id"]), (Bm["id"], X["id"])]), p
    w = WEIGHTS
    quarter = ratio_points(w["support"], 1, 4)
    by_youth = {a["youth_id"]: a for a in p["assignments"]}
    full = {f: w[f] for f in FACTORS}
    check_reasons(by_youth[A["id"]], dict(full, support=quarter))
    check_reasons(by_youth[Bm["id"]], dict(full, support=quarter))
    assert by_youth[A["id"]]["score"] == by_youth[Bm["id"]]["score"] == 100 - w["support"] + quarter, p
    # the same scores as the matcher gives for that day
    for y, o in ((A, Y), (Bm, X)):
        assert by_youth[y["id"]]["score"] == match_score(y, o["id"], on), (y["id"], o["id"], p)
    assert match_score(A, X["id"], on) == 100     # what greedy would have picked
    assert p["total_score"] == sum(a["score"] for a in p["assignments"]) == 2 * (100 - w["support"] + quarter), p
    # C: no eligible free place, with the rule that excluded each of the 3 offers
    assert len(p["unassigned"]) == 1, p
    u = p["unassigned"][0]
    assert u["youth_id"] == C["id"] and u["why"] == "no_eligible_free_place", u
    want_ex = {r: 0 for r in RULES}
    want_ex.update(pets=1, gender=1, no_free_place=1)
    assert u["excluded"] == want_ex, u
    # F is placed, not waiting: not in the plan
    assert F["id"] not in [a["youth_id"] for a in p["assignments"]] + [x["youth_id"] for x in p["unassigned"]]
    # stored: GET gives it back; nothing applied, no placement proposed
    g = expect(D.call("GET", "/v1/allocation-plans/%d" % p["id"], REF66), 200).json
    assert g == p, (g, p)
    assert g["applied"] is None and g["applied_at"] is None, g
    for y in (A, Bm, C):
        assert placements_of(y) == [], placements_of(y)
    PL["plan"] = p


@test
def ties_go_to_the_higher_priority():
    """Carcassonne (11): W, one place; D (precarious, priority 100) and E (street, 500)
    score the same 100 on it; E, created after D (a higher id), gets it; D is left out
    because the place went to a better match."""
    pid = porteur("Habitat Carcassonne", "11")
    pt = D.token("porteur", porteur=pid, label="pt11")
    W = offer(pt, porteur_id=pid, label="W", commune_insee=CARCASSONNE)
    yb = {"departement": "11", "commune_insee": CARCASSONNE}
    Dp = youth(REF11, situation="precarious", **yb)
    E = youth(REF11, situation="street", **yb)
    on = today()
    assert match_score(Dp, W["id"], on) == match_score(E, W["id"], on) == 100
    p = plan(REF11, "11", on)
    assert pairs(p) == [(E["id"], W["id"])], p
    a = p["assignments"][0]
    assert a["score"] == 100 and a.get("priority") == 500, a
    check_reasons(a, {f: WEIGHTS[f] for f in FACTORS})
    # the referent sees the young person's own file reference, not only an id
    assert p["unassigned"] == [{"youth_id": Dp["id"], "ref": Dp["ref"], "why": "places_went_to_better_matches",
                                "eligible_offers": 1}], p["unassigned"]
    assert a["ref"] == E["ref"], a
    assert p["total_score"] == 100, p
    # apply with no body: every pair of the plan is proposed
    res = apply(REF11, p["id"])
    assert res["plan_id"] == p["id"], res
    assert [(x["youth_id"], x["offer_id"], x["status"]) for x in res["results"]] == [(E["id"], W["id"], 201)], res
    pl = placements_of(E)
    assert len(pl) == 1 and pl[0]["id"] == res["results"][0]["placement_id"], (pl, res)
    assert (pl[0]["status"], pl[0]["offer_id"], pl[0]["start_date"]) == ("proposed", W["id"], on), pl
    assert placements_of(Dp) == []


@test
def apply_without_a_body_proposes_every_pair():
    A, Bm, X, Y, p = PL["A"], PL["B"], PL["X"], PL["Y"], PL["plan"]
    res = apply(REF66, p["id"])
    got = sorted((x["youth_id"], x["offer_id"], x["status"]) for x in res["results"])
    assert got == sorted([(A["id"], Y["id"], 201), (Bm["id"], X["id"], 201)]), res
    for x in res["results"]:
        pl = placements_of({"id": x["youth_id"]})
        assert len(pl) == 1 and pl[0]["id"] == x["placement_id"], (pl, x)
        assert (pl[0]["status"], pl[0]["offer_id"], pl[0]["start_date"]) == ("proposed", x["offer_id"], p["on"]), pl
    g = expect(D.call("GET", "/v1/allocation-plans/%d" % p["id"], REF66), 200).json
    assert g["applied_at"] is not None and len(g["applied"]) == 2, g
    # applying again proposes nothing more: each pair reports its conflict
    again = apply(REF66, p["id"])
    assert sorted(x["status"] for x in again["results"]) == [409, 409], again
    assert all(x["problem"] == "open-placement-exists" for x in again["results"]), again
    assert len(placements_of(A)) == 1 and len(placements_of(Bm)) == 1
    for x in res["results"]:
        act(REF66, {"id": x["placement_id"]}, "cancel")


@test
def apply_with_pairs_proposes_only_those_and_refuses_pairs_not_in_the_plan():
    A, Bm, C, X, Y = PL["A"], PL["B"], PL["C"], PL["X"], PL["Y"]
    p = plan(REF66, "66", today())
    assert pairs(p) == sorted([(A["id"], Y["id"]), (Bm["id"], X["id"])]), p
    before = {y["id"]: len(placements_of(y)) for y in (A, Bm, C)}
    # a pair not among the plan's assignments: the whole call is refused (422), nothing proposed
    bad = expect_problem(D.call("POST", "/v1/allocation-plans/%d/apply" % p["id"], REF66,
                                {"pairs": [{"youth_id": Bm["id"], "offer_id": X["id"]},
                                           {"youth_id": A["id"], "offer_id": X["id"]},
                                           {"youth_id": C["id"], "offer_id": Y["id"]}]}), 422)
    assert bad["type"].endswith("/not-in-plan"), bad
    assert sorted(e["pointer"] for e in bad["errors"]) == ["/pairs/1", "/pairs/2"], bad
    assert {y["id"]: len(placements_of(y)) for y in (A, Bm, C)} == before
    # the plan's own pair alone is proposed
    res = apply(REF66, p["id"], {"pairs": [{"youth_id": Bm["id"], "offer_id": X["id"]}]})
    by = {(x["youth_id"], x["offer_id"]): x for x in res["results"]}
    assert set(by) == {(Bm["id"], X["id"])}, res
    assert by[(Bm["id"], X["id"])]["status"] == 201 and by[(Bm["id"], X["id"])].get("placement_id"), res
    after = {y["id"]: len(placements_of(y)) for y in (A, Bm, C)}
    assert after == {A["id"]: before[A["id"]], Bm["id"]: before[Bm["id"]] + 1, C["id"]: before[C["id"]]}, \
        (before, after)
    act(REF66, {"id": by[(Bm["id"], X["id"])]["placement_id"]}, "cancel")


@test
def a_place_taken_between_plan_and_apply_fails_that_pair_only():
    A, Bm, X, Y = PL["A"], PL["B"], PL["X"], PL["Y"]
    p = plan(REF66, "66", today())
    assert pairs(p) == sorted([(A["id"], Y["id"]), (Bm["id"], X["id"])]), p
    # meanwhile, someone proposes G on X by hand
    G = youth(REF66, departement="66", commune_insee=PERPIGNAN)
    propose(REF66, G, X)
    res = apply(REF66, p["id"])
    by = {(x["youth_id"], x["offer_id"]): x for x in res["results"]}
    assert by[(A["id"], Y["id"])]["status"] == 201, res
    taken = by[(Bm["id"], X["id"])]
    assert taken["status"] == 409 and taken["problem"] == "no-free-place" and "placement_id" not in taken, taken
    assert [x["status"] for x in placements_of(A) if x["status"] == "proposed"] == ["proposed"]
    assert [x for x in placements_of(Bm) if x["status"] == "proposed"] == []


@test
def a_plan_leaves_out_youth_who_already_have_a_pending_proposal():
    """Rodez (12): V1 and V2, one place each. G (street) has a proposal on V1 (made by hand,
    pending): G keeps status waiting but cannot be proposed anything else (one open placement
    per young person). H (precarious) waits. Both score 100 on V2. The plan must give V2 to
    H: a pair for G can only fail at apply (409 open-placement-exists) and leaves H out."""
    pid = porteur("Habitat Rodez", "12")
    pt = D.token("porteur", porteur=pid, label="pt12")
    V1 = offer(pt, porteur_id=pid, label="V1", commune_insee=RODEZ)
    V2 = offer(pt, porteur_id=pid, label="V2", commune_insee=RODEZ)
    yb = {"departement": "12", "commune_insee": RODEZ}
    G = youth(REF12, situation="street", **yb)
    H = youth(REF12, situation="precarious", **yb)
    propose(REF12, G, V1)
    p = plan(REF12, "12", today())
    assert G["id"] not in [a["youth_id"] for a in p["assignments"]], \
        "the plan assigns young person %d, who already has a pending proposal: %r" % (G["id"], p["assignments"])
    assert pairs(p) == [(H["id"], V2["id"])], p
    res = apply(REF12, p["id"])
    assert [x["status"] for x in res["results"]] == [201], res


@test
def a_plan_never_gives_an_offer_more_places_than_are_free_for_the_stays():
    """Foix (09): Q, 2 places. A proposal (for a young person of another département)
    holds place 1 from on + 10 days: both places are free on the plan's day, only one for
    a stay of 6 months. S and T (both wishing 6 months from `on`) are eligible (one place
    free for the whole stay) but only one of them can have it: the plan must assign one,
    not two pairs of which apply can only carry one."""
    pid = porteur("Habitat Foix", "09")
    pt = D.token("porteur", porteur=pid, label="pt09")
    Q = offer(pt, porteur_id=pid, label="Q", commune_insee=FOIX, capacity=2)
    on = datetime.date.fromisoformat(today())
    later = youth(REF34, departement="34", commune_insee=FOIX)
    held = propose(REF34, later, Q, start=(on + datetime.timedelta(days=10)).isoformat())
    assert held["place_number"] == 1, held
    yb = {"departement": "09", "commune_insee": FOIX, "wanted_months": 6}
    S = youth(REF09, situation="street", **yb)
    T = youth(REF09, situation="precarious", **yb)
    p = plan(REF09, "09", on.isoformat())
    assert len(p["assignments"]) == 1, \
        "offer %d has one place free for a 6-month stay from %s, the plan gives it %d young people: %r" % (
            Q["id"], on, len(p["assignments"]), p["assignments"])
    assert pairs(p) == [(S["id"], Q["id"])], p
    res = apply(REF09, p["id"])
    assert [x["status"] for x in res["results"]] == [201], res


@test
def applying_a_plan_proposes_the_stay_the_plan_checked():
    """Mende (48): K, an iml (cap 540 days), 1 place, held by a proposal from on + 200 days
    (for a young person of another département). M wishes 6 months from `on`: the place is
    free for that stay, so M is eligible and the plan gives K to M. Applying must then
    propose that stay; a proposal running to the 540-day cap would overlap the other
    proposal and be refused (409 no-free-place)."""
    pid = porteur("Habitat Mende", "48")
    pt = D.token("porteur", porteur=pid, label="pt48")
    K = offer(pt, porteur_id=pid, label="K", commune_insee=MENDE)
    on = datetime.date.fromisoformat(today())
    later = youth(REF34, departement="34", commune_insee=MENDE)
    propose(REF34, later, K, start=(on + datetime.timedelta(days=200)).isoformat())
    M = youth(REF48, departement="48", commune_insee=MENDE, wanted_months=6)
    p = plan(REF48, "48", on.isoformat())
    assert pairs(p) == [(M["id"], K["id"])], p
    res = apply(REF48, p["id"])
    assert [x["status"] for x in res["results"]] == [201], \
        "the plan's only pair cannot be applied: %r" % res["results"]
    pl = placements_of(M)[0]
    assert pl["planned_end_date"] <= (on + datetime.timedelta(days=200)).isoformat(), pl


@test
def applying_a_plan_checks_eligibility_again():
    """Albi (81): U, 1 place, any gender; Vm, a man, is planned on it. The porteur then
    makes U women only. Applying must refuse the pair (422 not-eligible, as POST
    /v1/placements does) rather than propose an offer Vm is no longer eligible for."""
    pid = porteur("Habitat Albi", "81")
    pt = D.token("porteur", porteur=pid, label="pt81")
    U = offer(pt, porteur_id=pid, label="U", commune_insee=ALBI)
    Vm = youth(REF81, departement="81", commune_insee=ALBI, gender="male")
    p = plan(REF81, "81", today())
    assert pairs(p) == [(Vm["id"], U["id"])], p
    expect(D.call("PATCH", "/v1/offers/%d" % U["id"], pt, {"gender": "female"}), 200)
    by_hand = D.call("POST", "/v1/placements", REF81,
                     {"youth_id": Vm["id"], "offer_id": U["id"], "start_date": today()})
    expect_problem(by_hand, 422)
    res = apply(REF81, p["id"])
    assert [(x["status"], x.get("problem")) for x in res["results"]] == [(422, "not-eligible")], \
        "a pair no longer eligible was applied: %r (placements of %d: %r)" % (
            res["results"], Vm["id"], placements_of(Vm))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ["=HYPERLINK(\"http://example.invalid\";\"x\")", "+33 Foyer", "-Foyer", "@SUM(A1)",
                  "\tFoyer tab", "\rFoyer cr"]


def injection_porteurs():
    """Porteurs whose names start like a formula, in a département of their own
    (2A: no other test counts its porteurs), made once."""
    if "inject" not in FX:
        FX["inject"] = {porteur(name, "2A"): name for name in FORMULA_STARTS}
        FX["inject"][porteur("Foyer sans danger = 1", "2A")] = "Foyer sans danger = 1"
    return FX["inject"]


@test
def csv_cells_that_start_like_a_formula_are_neutralised():
    made = injection_porteurs()
    r = expect(D.call("GET", "/v1/reports/indicators?departement=2A&" + period(), ADMIN,
                      headers={"Accept": "text/csv"}), 200)
    header, rows = read_csv(r)
    name_col = header.index("porteur")
    got = {int(row[0]): row[name_col] for row in rows}
    assert set(got) == set(made), (got, made)
    for pid, name in made.items():
        want = name if name[0] not in "=+-@\t\r" else "'" + name
        assert got[pid] == want, "porteur %d: CSV cell %r, expected %r" % (pid, got[pid], want)
    # no cell of the file starts like a formula, whatever the column
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in "=+@\t\r", (cell, row)
            # figures are numbers, never neutralised: a '-' may only start a number
            if cell.startswith("-"):
                float(cell.replace(",", "."))


def ooxml_text(v):
    """A string cell's text: OOXML writes control characters as _xHHHH_ (ECMA-376
    ST_Xstring), which spreadsheets decode and openpyxl leaves as they are."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), v) if isinstance(v, str) else v


@test
def indicators_in_xlsx_with_typed_cells():
    import openpyxl   # Debian python3-openpyxl
    made = injection_porteurs()
    foix = porteur("Foyer de l'Ariège", "09", target=7)
    js = expect(indicators(query=period()), 200).json
    r = expect(D.call("GET", "/v1/reports/indicators?" + period(), ADMIN, headers={"Accept": XLSX}), 200)
    assert r.headers.get("Content-Type") == XLSX, r.headers
    assert r.data[:2] == b"PK", r.data[:20]   # a zip, as every XLSX file
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    assert header == [c for c, _ in CSV_COLUMNS] + ["debut_periode", "fin_periode"], header
    assert len(rows) - 1 == len(js["items"]), (len(rows), len(js["items"]))
    by_id = {}
    for row in rows[1:]:
        assert row[0].data_type == "n" and isinstance(row[0].value, int), row[0]
        by_id[row[0].value] = row
    assert set(by_id) == {i["porteur_id"] for i in js["items"]}
    frm = datetime.datetime.fromisoformat(js["from"])
    to = datetime.datetime.fromisoformat(js["to"])
    for item in js["items"]:
        row = by_id[item["porteur_id"]]
        for i, (col, key) in enumerate(CSV_COLUMNS):
            cell, v = row[i], item[key]
            where = "porteur %d, %s" % (item["porteur_id"], col)
            if v is None:
                assert cell.value is None, (where, cell.value)
            elif isinstance(v, bool) or isinstance(v, str):
                # text as text: "09" stays "09", a name is never a formula
                assert cell.data_type == "s" and ooxml_text(cell.value) == v, (where, cell.data_type, cell.value, v)
            elif isinstance(v, (int, float)):
                assert cell.data_type == "n" and isinstance(cell.value, (int, float)), \
                    (where, cell.data_type, cell.value)
                assert math.isclose(cell.value, v, rel_tol=1e-12), (where, cell.value, v)
            elif v == {}:   # no exits: an empty cell, as the CSV's empty field
                assert cell.value is None, (where, cell.value)
            else:   # exits_by_destination: the CSV's "key: n, key: n"
                assert cell.data_type == "s" and csv_value(cell.value, "object") == v, (where, cell.value, v)
        # the period's days are dates (openpyxl reads date-formatted numbers as datetimes)
        d1, d2 = row[len(CSV_COLUMNS)], row[len(CSV_COLUMNS) + 1]
        assert d1.is_date and d1.value == frm, (d1.value, frm)
        assert d2.is_date and d2.value == to, (d2.value, to)
    # the cases that matter, named: the Ariège's "09", Sète's figures, formula-like names
    assert by_id[foix][2].value == "09" and by_id[foix][2].data_type == "s", by_id[foix][2].value
    assert by_id[foix][3].value == 7 and by_id[foix][3].data_type == "n"
    sete = by_id[FX["sete"]]
    rate = [col for col, _ in CSV_COLUMNS].index("taux_acceptation")
    assert math.isclose(sete[rate].value, 0.5714) and sete[rate].number_format == "0.0%", \
        (sete[rate].value, sete[rate].number_format)
    for pid, name in made.items():
        cell = by_id[pid][1]
        assert cell.data_type == "s" and ooxml_text(cell.value) == name, (pid, cell.data_type, cell.value)
    # CSV and XLSX named together: the better quality wins; XLSX at q=0 is refused
    both = D.call("GET", "/v1/reports/indicators?" + period(), ADMIN,
                  headers={"Accept": "text/csv;q=0.5, %s" % XLSX})
    assert expect(both, 200).headers.get("Content-Type") == XLSX
    csv_first = D.call("GET", "/v1/reports/indicators?" + period(), ADMIN,
                       headers={"Accept": "text/csv, %s;q=0.4" % XLSX})
    assert expect(csv_first, 200).headers.get("Content-Type", "").startswith("text/csv")
    none = D.call("GET", "/v1/reports/indicators?" + period(), ADMIN, headers={"Accept": "%s;q=0" % XLSX})
    assert expect(none, 200).headers.get("Content-Type", "").startswith("application/json")
    # what the blocking write costs (a figure, printed: the daemon writes the file on its loop)
    import time
    def mean_ms(accept, n=10):
        t0 = time.monotonic()
        for _ in range(n):
            expect(D.call("GET", "/v1/reports/indicators?" + period(), ADMIN, headers={"Accept": accept}), 200)
        return (time.monotonic() - t0) * 1e3 / n
    print("      %d porteurs: XLSX %.1f ms, CSV %.1f ms, JSON %.1f ms per request (client side, ASan build)"
          % (len(js["items"]), mean_ms(XLSX), mean_ms("text/csv"), mean_ms("application/json")), flush=True)
    # the private temporary directory is gone once the file is sent
    def dirs():
        return {n for n in os.listdir("/tmp") if n.startswith("siaod-xlsx-")}
    before = dirs()
    expect(D.call("GET", "/v1/reports/indicators?" + period(), ADMIN, headers={"Accept": XLSX}), 200)
    assert dirs() - before == set(), dirs() - before


if __name__ == "__main__":
    run_all(setup)
