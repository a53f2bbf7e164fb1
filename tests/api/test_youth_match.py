"""
Young people and explainable matching, end to end against the real daemon and
PostgreSQL: youth CRUD (validation, merge-patch with If-Match, list filters and
pages), scopes (referent départements, porteurs kept out, the audit of refused
attempts), erasure, GET /v1/youth/{id}/matches (eligibility rules in order,
explain counts, the five factors and their points, ?on=, limit, age limits,
max_distance_km) and GET /v1/offers/{id}/candidates (ranking, porteur view,
scopes). Every write must show in the next matching answer.

Tests run in order and share one database and one daemon (`D`). Distances
are computed here with our own haversine from the communes table.
"""
import calendar
import datetime
import math
import os
import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, Database, eventually, expect,  # noqa: E402
                     expect_problem, run_all, test)

D = None
DB = None
ADMIN = None
REF34 = REF30 = REF66 = None   # referent tokens
P1 = P2 = None                 # porteurs (34)
PT1 = PT2 = None               # their tokens
TOKEN_IDS = {}
TODAY = None                   # the daemon's "today" (Europe/Paris), a datetime.date
WEIGHTS = {}
COMMUNES = {}                  # insee -> (lat, lon)

SETE, FRONTIGNAN, MONTPELLIER, BEZIERS = "34301", "34108", "34172", "34032"
PERPIGNAN, CANET, CARCASSONNE = "66136", "66037", "11069"
FACTORS = ["distance", "duration", "affordability", "support", "availability"]
RULES = ["closed", "distance", "age", "gender", "household", "pets", "wheelchair", "declined_recently", "stale",
         "no_free_place"]


def setup():
    global D, DB, ADMIN, REF34, REF30, REF66, P1, P2, PT1, PT2, TODAY
    DB = Database("youth_match")
    D = Daemon(DB, name="main")
    ADMIN = D.token("admin", label="admin")
    REF34 = D.token("referent", departements=("34",), label="ref34")
    REF30 = D.token("referent", departements=("30",), label="ref30")
    REF66 = D.token("referent", departements=("66",), label="ref66")
    P1 = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Porteur Sète", "departement": "34"}), 201).json["id"]
    P2 = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Porteur autre", "departement": "34"}), 201).json["id"]
    PT1 = D.token("porteur", porteur=P1, label="pt1")
    PT2 = D.token("porteur", porteur=P2, label="pt2")
    for label in ("admin", "ref34", "ref30", "ref66", "pt1", "pt2"):
        TOKEN_IDS[label] = int(DB.sql("SELECT id FROM tokens WHERE label = '%s'" % label)[0])
    for row in DB.sql("SELECT insee, lat, lon FROM communes WHERE insee IN ('%s')" % "','".join(
            (SETE, FRONTIGNAN, MONTPELLIER, BEZIERS, PERPIGNAN, CANET, CARCASSONNE))):
        insee, lat, lon = row.split("|")
        COMMUNES[insee] = (float(lat), float(lon))
    assert len(COMMUNES) == 7, COMMUNES
    # The daemon's today: the machine's date in Europe/Paris; an offer says it.
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    o = offer(label="probe", commune_insee=CARCASSONNE, capacity=1, status="closed")
    assert o["free_places_on"] == TODAY.isoformat(), (o["free_places_on"], TODAY)
    for line in D.cli("--check-config").stdout.splitlines():
        m = re.match(r"weight_(\w+) = (\d+)$", line)
        if m:
            WEIGHTS[m.group(1)] = int(m.group(2))
    assert sorted(WEIGHTS) == sorted(FACTORS) and sum(WEIGHTS.values()) == 100, WEIGHTS


# ---------------------------------------------------------------- helpers

def iso(d):
    return d.isoformat()


def days(n):
    return iso(TODAY + datetime.timedelta(days=n))


def years_before(d, n):
    try:
        return d.replace(year=d.year - n)
    except ValueError:          # 29 February in a year without one
        return d.replace(year=d.year - n, day=28)


def born(age, plus_days=0):
    """A birth date making the person `age` today; plus_days > 0 moves it later
    (younger), so born(26, 1) is 25 today and 26 tomorrow."""
    return iso(years_before(TODAY, age) + datetime.timedelta(days=plus_days))


def add_months(d, n):
    """Calendar months, the day clamped to the month's end (date_add_months)."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return datetime.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def haversine_km(a, b):
    """Great-circle distance, R = 6371.0 km, rounded to 0.1 km (the contract's)."""
    (lat1, lon1), (lat2, lon2) = a, b
    rad = math.pi / 180.0
    s_lat = math.sin((lat2 - lat1) * rad / 2)
    s_lon = math.sin((lon2 - lon1) * rad / 2)
    x = s_lat * s_lat + math.cos(lat1 * rad) * math.cos(lat2 * rad) * s_lon * s_lon
    km = 2 * 6371.0 * math.asin(math.sqrt(min(1.0, x)))
    return round(km * 10) / 10


def north(km, insee=SETE):
    """A latitude km kilometres due north of the commune's centroid (along a meridian
    the haversine distance is R times the angle)."""
    return COMMUNES[insee][0] + km / 6371.0 * 180.0 / math.pi


def ratio_points(weight, num, den):
    if weight <= 0 or num <= 0 or den <= 0:
        return 0
    if num >= den:
        return weight
    return (2 * weight * num + den) // (2 * den)


def distance_points(d_km, max_km):
    d, mx = round(d_km * 10), round(max_km * 10)
    if d > mx:
        return 0
    if mx == 0:
        return WEIGHTS["distance"]
    return ratio_points(WEIGHTS["distance"], mx - d, mx)


SEQ = [0]


def youth_body(**over):
    SEQ[0] += 1
    b = {"ref": "DOSSIER-%04d" % SEQ[0], "departement": "34", "birth_date": born(20), "gender": "female",
         "situation": "street", "commune_insee": SETE}
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


def youth(token=None, **over):
    r = D.call("POST", "/v1/youth", token or ADMIN, youth_body(**over))
    return expect(r, 201).json


def offer_body(**over):
    b = {"porteur_id": P1, "kind": "iml", "label": "Offre", "commune_insee": SETE, "capacity": 2}
    b.update(over)
    return b


def offer(token=None, **over):
    r = D.call("POST", "/v1/offers", token or ADMIN, offer_body(**over))
    return expect(r, 201).json


def matches(yid, query="", token=None):
    sep = "&" if query else ""
    r = D.call("GET", "/v1/youth/%d/matches?limit=200%s%s" % (yid, sep, query), token or ADMIN)
    return expect(r, 200).json


def explain(yid, query=""):
    m = matches(yid, "explain=1" + ("&" + query if query else ""))
    assert set(m["excluded"]) == set(RULES), m["excluded"]
    return m


def offer_ids(m):
    return [i["offer_id"] for i in m["items"]]


def rule_of(yid, oid, on=None):
    """The rule one (open) offer falls under for this young person: None when it
    matches, else read from the explain counts with the offer open and closed."""
    q = "on=" + on if on else ""
    with_it = explain(yid, q)
    if oid in offer_ids(with_it):
        return None
    expect(D.call("PATCH", "/v1/offers/%d" % oid, ADMIN, {"status": "closed"}), 200)
    try:
        without = explain(yid, q)
    finally:
        expect(D.call("PATCH", "/v1/offers/%d" % oid, ADMIN, {"status": "open"}), 200)
    diff = {r: with_it["excluded"][r] - without["excluded"][r] for r in RULES}
    up = [r for r in RULES if diff[r] == 1]
    if not up:
        assert not any(diff.values()), diff
        return "closed"
    assert len(up) == 1 and diff["closed"] == -1 and sum(diff.values()) == 0, diff
    return up[0]


def candidates(oid, token=None, query="limit=200"):
    r = D.call("GET", "/v1/offers/%d/candidates?%s" % (oid, query), token or ADMIN)
    return expect(r, 200).json


def audit(query=""):
    return expect(D.call("GET", "/v1/audit?limit=200" + query, ADMIN), 200).json["items"]


def walk(path, token, limit):
    items, pages, cursor = [], 0, None
    sep = "&" if "?" in path else "?"
    while True:
        url = "%s%slimit=%d" % (path, sep, limit) + ("&cursor=" + cursor if cursor else "")
        page = expect(D.call("GET", url, token), 200).json
        assert set(page) == {"items", "next_cursor"}, page.keys()
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 200, "pagination does not end"


# ---------------------------------------------------------------- youth CRUD

@test
def youth_create_and_get():
    body = youth_body(rqth=True, household="couple", has_pets=True, needs=["wheelchair", "pregnancy"],
                      situation="institution_exit", institution_exit_date=days(10), max_distance_km=25,
                      monthly_income_eur=612.5, support_need="intensive", wanted_from=days(14),
                      wanted_months=9)
    r = D.call("POST", "/v1/youth", REF34, body)
    y = expect(r, 201).json
    assert isinstance(y["id"], int) and y["id"] > 0, y
    for k, v in body.items():
        assert y[k] == v, (k, y[k], v)
    assert y["status"] == "waiting" and y["version"] == 1, y
    assert y["registered_at"] == iso(TODAY), "registered_at defaults to today: %r" % y
    assert r.headers.get("ETag") == '"1"', r.headers
    g = expect(D.call("GET", "/v1/youth/%d" % y["id"], REF34), 200)
    assert g.json == y, (g.json, y)
    assert g.headers.get("ETag") == '"1"'
    # Defaults.
    d = youth()
    assert (d["rqth"], d["household"], d["has_pets"], d["needs"], d["support_need"], d["wanted_months"],
            d["wanted_from"], d["monthly_income_eur"], d["max_distance_km"]) == \
        (False, "alone", False, [], "standard", 6, iso(TODAY), 0, None), d


@test
def registered_at_settable_in_the_past_never_in_the_future():
    y = youth(registered_at="2023-01-15")
    assert y["registered_at"] == "2023-01-15", y
    assert DB.sql("SELECT registered_at FROM youth WHERE id = %d" % y["id"]) == ["2023-01-15"]
    expect_problem(D.call("POST", "/v1/youth", ADMIN, youth_body(registered_at=days(1), ref="FUTUR")),
                   400, "/registered_at", "out_of_range")
    assert DB.sql("SELECT count(*) FROM youth WHERE ref = 'FUTUR'") == ["0"]
    # today itself is fine
    assert youth(registered_at=iso(TODAY))["registered_at"] == iso(TODAY)
    # never changed afterwards: the waiting time is kept
    r = D.call("PATCH", "/v1/youth/%d" % y["id"], ADMIN, {"registered_at": "2020-01-01"})
    expect_problem(r, 400, "/registered_at", "unknown_field")


@test
def youth_validation_pointers_and_codes():
    before = DB.sql("SELECT count(*) FROM youth")[0]
    cases = [
        (dict(needs=["castle"]), "/needs/0", "unknown_value"),
        (dict(needs=["wheelchair", "castle"]), "/needs/1", "unknown_value"),
        (dict(needs="wheelchair"), "/needs", "wrong_type"),
        (dict(gender="x"), "/gender", "unknown_value"),
        (dict(gender=None, ref="NOGENDER"), "/gender", "required"),
        (dict(birth_date=None), "/birth_date", "required"),
        (dict(birth_date="2005-02-30"), "/birth_date", "out_of_range"),
        (dict(birth_date="yesterday"), "/birth_date", "wrong_type"),
        (dict(birth_date=days(1)), "/birth_date", "out_of_range"),
        (dict(name="Jean Dupont"), "/name", "unknown_field"),
        (dict(household="tribe"), "/household", "unknown_value"),
        (dict(situation="lost"), "/situation", "unknown_value"),
        (dict(situation=None), "/situation", "required"),
        (dict(rqth="yes"), "/rqth", "wrong_type"),
        (dict(max_distance_km=0), "/max_distance_km", "out_of_range"),
        (dict(wanted_months=61), "/wanted_months", "out_of_range"),
        (dict(departement="20"), "/departement", "unknown_value"),
        (dict(departement=None), "/departement", "required"),
        (dict(commune_insee="34999"), "/commune_insee", "unknown_value"),   # well-formed, no such commune
        (dict(ref="x" * 65), "/ref", "too_long"),
        (dict(status="placed"), "/status", "unknown_value"),              # reached by an entry only
        (dict(support_need="total"), "/support_need", "unknown_value"),
    ]
    bad = []
    for over, pointer, code in cases:
        r = D.call("POST", "/v1/youth", ADMIN, youth_body(**over))
        try:
            expect_problem(r, 400, pointer, code)
        except AssertionError as e:
            bad.append("case %r: %s" % (over, e))
    assert not bad, "\n".join(bad)
    # Every problem at once.
    r = D.call("POST", "/v1/youth", ADMIN, {"gender": "x", "needs": ["castle"], "colour": 1})
    errs = {(e["pointer"], e["code"]) for e in expect_problem(r, 400)["errors"]}
    assert {("/gender", "unknown_value"), ("/needs/0", "unknown_value"), ("/colour", "unknown_field"),
            ("/birth_date", "required"), ("/departement", "required")} <= errs, errs
    assert DB.sql("SELECT count(*) FROM youth")[0] == before, "a refused body created a young person"


@test
def youth_patch_is_a_merge_patch_with_if_match():
    y = youth(token=REF34, max_distance_km=20, needs=["addiction"], monthly_income_eur=500)
    path = "/v1/youth/%d" % y["id"]
    etag = expect(D.call("GET", path, REF34), 200).headers["ETag"]
    r = D.call("PATCH", path, REF34, {"needs": ["mental_health", "wheelchair"], "wanted_months": 3},
               headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"})
    p = expect(r, 200).json
    assert p["needs"] == ["mental_health", "wheelchair"] and p["wanted_months"] == 3, p
    assert p["version"] == 2 and r.headers.get("ETag") == '"2"', (p, r.headers)
    for k in ("ref", "birth_date", "max_distance_km", "monthly_income_eur", "registered_at", "gender"):
        assert p[k] == y[k], "a merge patch changed %s: %r -> %r" % (k, y[k], p[k])
    # The old ETag no longer matches: 412 and nothing changes.
    r = D.call("PATCH", path, REF34, {"wanted_months": 12}, headers={"If-Match": etag})
    expect_problem(r, 412)
    assert expect(D.call("GET", path, REF34), 200).json["wanted_months"] == 3
    # null removes a nullable member; a required one cannot be removed.
    p = expect(D.call("PATCH", path, REF34, {"max_distance_km": None}), 200).json
    assert p["max_distance_km"] is None and p["version"] == 3, p
    expect_problem(D.call("PATCH", path, REF34, {"birth_date": None}), 400, "/birth_date")
    expect_problem(D.call("PATCH", path, REF34, {"needs": ["castle"]}), 400, "/needs/0", "unknown_value")
    expect_problem(D.call("PATCH", path, REF34, {"commune_insee": "34999"}), 400, "/commune_insee", "unknown_value")
    expect_problem(D.call("PATCH", path, REF34, {"status": "placed"}), 400, "/status", "unknown_value")
    assert expect(D.call("GET", path, REF34), 200).json["version"] == 3, "a refused patch changed the record"
    expect_problem(D.call("PATCH", "/v1/youth/987654", ADMIN, {"wanted_months": 2}), 404)
    expect_problem(D.call("GET", "/v1/youth/987654", ADMIN), 404)


@test
def youth_list_filters_by_status_and_pages():
    made = [youth(token=REF34, departement="34")["id"] for _ in range(7)]
    closed = made[1::2]
    for yid in closed:
        expect(D.call("PATCH", "/v1/youth/%d" % yid, REF34, {"status": "closed"}), 200)
    items, pages = walk("/v1/youth?status=closed", REF34, 2)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) and ids == sorted(ids), ids
    assert set(closed) <= set(ids) and not (set(made) - set(closed)) & set(ids), (closed, ids)
    assert all(i["status"] == "closed" for i in items), items
    assert pages >= 2, pages
    items, _ = walk("/v1/youth?status=waiting", REF34, 3)
    wids = {i["id"] for i in items}
    assert set(made) - set(closed) <= wids and not set(closed) & wids
    assert all(i["status"] == "waiting" and i["departement"] == "34" for i in items)
    everything, _ = walk("/v1/youth", REF34, 200)
    assert set(made) <= {i["id"] for i in everything}
    expect_problem(D.call("GET", "/v1/youth?status=lost", REF34), 400)
    expect_problem(D.call("GET", "/v1/youth?limit=0", REF34), 400)
    expect_problem(D.call("GET", "/v1/youth?limit=201", REF34), 400)


# ---------------------------------------------------------------- scopes

@test
def referent_reaches_only_its_departements_and_refusals_are_audited():
    other = youth(departement="30", commune_insee=SETE)          # made by an admin
    mine = youth(token=REF34)
    path = "/v1/youth/%d" % other["id"]
    refused = [
        ("POST", "/v1/youth", youth_body(departement="30", ref="HORS-SCOPE")),
        ("GET", path, None),
        ("PATCH", path, {"wanted_months": 2}),
        ("DELETE", path, None),
        ("GET", path + "/matches", None),
    ]
    for method, p, body in refused:
        expect_problem(D.call(method, p, REF34, body), 403)
    # moving one's own young person to another département is leaving the scope
    expect_problem(D.call("PATCH", "/v1/youth/%d" % mine["id"], REF34, {"departement": "30"}), 403)
    assert DB.sql("SELECT count(*) FROM youth WHERE ref = 'HORS-SCOPE'") == ["0"]
    g = expect(D.call("GET", path, ADMIN), 200).json
    assert g["wanted_months"] == other["wanted_months"] and g["version"] == 1, "a refused write applied"
    assert expect(D.call("GET", "/v1/youth/%d" % mine["id"], REF34), 200).json["departement"] == "34"
    # lists: a referent sees its départements, an admin everything
    ids34 = {i["id"] for i in walk("/v1/youth", REF34, 200)[0]}
    assert mine["id"] in ids34 and other["id"] not in ids34
    assert expect(D.call("GET", "/v1/youth?departement=30&limit=200", REF34), 200).json["items"] == []
    ids30 = {i["id"] for i in walk("/v1/youth", REF30, 200)[0]}
    assert other["id"] in ids30 and mine["id"] not in ids30
    all_ids = {i["id"] for i in walk("/v1/youth", ADMIN, 200)[0]}
    assert {mine["id"], other["id"]} <= all_ids
    expect(D.call("GET", path, REF30), 200)
    # the audit holds each refusal, with the actor, outcome denied and 403
    want = {("youth.create", None), ("youth.get", other["id"]), ("youth.patch", other["id"]),
            ("youth.erase", other["id"]), ("youth.matches", other["id"]), ("youth.patch", mine["id"])}

    def rows():
        got = {(a["action"], a["entity_id"]) for a in audit("&actor=%d" % TOKEN_IDS["ref34"])
               if a["outcome"] == "denied" and a["status"] == 403 and a["entity"] == "youth"}
        return want <= got or got
    got = eventually(rows, msg="denied audit rows of the referent")
    assert got is True, "missing denied audit rows: %r (got %r)" % (want, got)


@test
def porteur_tokens_never_reach_youth_routes():
    y = youth()
    path = "/v1/youth/%d" % y["id"]
    routes = [("POST", "/v1/youth", youth_body(ref="PAR-PORTEUR")), ("GET", "/v1/youth", None),
              ("GET", path, None), ("PATCH", path, {"wanted_months": 2}), ("DELETE", path, None),
              ("GET", path + "/matches", None)]
    for method, p, body in routes:
        r = D.call(method, p, PT1, body)
        expect_problem(r, 403)
        assert "ref" not in (r.json or {}) and y["ref"] not in r.text, r
    assert DB.sql("SELECT count(*) FROM youth WHERE ref = 'PAR-PORTEUR'") == ["0"]
    assert expect(D.call("GET", path, ADMIN), 200).json["version"] == 1

    def rows():
        got = {a["action"] for a in audit("&actor=%d" % TOKEN_IDS["pt1"])
               if a["outcome"] == "denied" and a["status"] == 403 and a["entity"] == "youth"}
        return got >= {"youth.create", "youth.list", "youth.get", "youth.patch", "youth.erase",
                       "youth.matches"} and got
    eventually(rows, msg="denied audit rows of the porteur")


# ---------------------------------------------------------------- erasure

@test
def delete_erases_the_person_everywhere():
    o = offer(commune_insee=CARCASSONNE, label="Carcassonne", capacity=3)
    y = youth(departement="11", commune_insee=CARCASSONNE, birth_date=born(23), needs=["addiction"],
              institution_exit_date=days(-3), situation="institution_exit", has_pets=False)
    keep = youth(departement="11", commune_insee=CARCASSONNE)
    assert y["id"] in [c["youth_id"] for c in candidates(o["id"])["items"]]
    assert o["id"] in offer_ids(matches(y["id"]))
    r = D.call("DELETE", "/v1/youth/%d" % y["id"], ADMIN)
    expect(r, 200)
    assert r.json.get("id") == y["id"], r
    # gone from every answer
    expect_problem(D.call("GET", "/v1/youth/%d" % y["id"], ADMIN), 404)
    expect_problem(D.call("PATCH", "/v1/youth/%d" % y["id"], ADMIN, {"wanted_months": 2}), 404)
    expect_problem(D.call("DELETE", "/v1/youth/%d" % y["id"], ADMIN), 404)
    expect_problem(D.call("GET", "/v1/youth/%d/matches" % y["id"], ADMIN), 404)
    for status in ("", "?status=closed", "?status=waiting"):
        ids = {i["id"] for i in walk("/v1/youth" + status, ADMIN, 200)[0]}
        assert y["id"] not in ids, "erased young person listed in /v1/youth%s" % status
    cands = [c["youth_id"] for c in candidates(o["id"])["items"]]
    assert y["id"] not in cands and keep["id"] in cands, cands
    # nothing that points at the person stays in the database; the statistics do
    row = DB.sql("SELECT ref IS NULL, birth_date IS NULL, commune_insee IS NULL, institution_exit_date IS NULL, "
                 "age_band, departement, situation, erased_at IS NOT NULL FROM youth WHERE id = %d" % y["id"])
    assert row == ["t|t|t|t|22-25|11|institution_exit|t"], row
    # a referent erases its own young people too
    z = youth(token=REF34)
    expect(D.call("DELETE", "/v1/youth/%d" % z["id"], REF34), 200)
    assert DB.sql("SELECT ref IS NULL, birth_date IS NULL, age_band FROM youth WHERE id = %d" % z["id"]) == ["t|t|18-21"]


@test
def a_proposal_is_seen_at_once_and_its_end_too():
    """The writer puts a new proposal into its inventory from the answer
    (no re-read): before the answer, the place is taken on its days and the
    young person is out of every offer's candidates; a cancellation gives
    both back."""
    o = offer(commune_insee=CARCASSONNE, label="Carcassonne proposée", capacity=2)
    o2 = offer(commune_insee=CARCASSONNE, label="Carcassonne voisine", capacity=2)
    y = youth(departement="11", commune_insee=CARCASSONNE)

    def free(on):
        return expect(D.call("GET", "/v1/offers/%d?available_on=%s" % (o["id"], days(on)), ADMIN), 200).json["free_places"]

    assert y["id"] in [c["youth_id"] for c in candidates(o2["id"])["items"]]
    assert (free(5), free(6)) == (2, 2)
    p = expect(D.call("POST", "/v1/placements", ADMIN, {"youth_id": y["id"], "offer_id": o["id"],
                                                       "start_date": days(3), "planned_end_date": days(6)}), 201).json
    assert y["id"] not in [c["youth_id"] for c in candidates(o2["id"])["items"]]
    assert (free(2), free(3), free(5), free(6)) == (2, 1, 1, 2)
    a = expect(D.call("GET", "/v1/offers/%d/availability?from=%s&to=%s" % (o["id"], days(2), days(6)), ADMIN), 200).json
    assert [d["free_places"] for d in a["days"]] == [2, 1, 1, 1, 2], a
    # a second proposal on the same days goes to the other place, seen as well
    z = youth(departement="11", commune_insee=CARCASSONNE)
    q = expect(D.call("POST", "/v1/placements", ADMIN, {"youth_id": z["id"], "offer_id": o["id"],
                                                       "start_date": days(4), "planned_end_date": days(5)}), 201).json
    assert q["place_id"] != p["place_id"], (p, q)
    assert free(4) == 0
    expect(D.call("POST", "/v1/placements/%d/cancel" % p["id"], ADMIN, {}), 200)
    assert (free(3), free(4)) == (2, 1)
    assert y["id"] in [c["youth_id"] for c in candidates(o2["id"])["items"]]


@test
def erasure_reaches_what_the_idempotency_store_kept():
    """Created with an Idempotency-Key, then erased: a replay of the same key and body
    returns no personal data (ref, birth date, commune, needs...) — the first answer with
    those members blanked as erasure blanks them — and creates nobody again; the
    idempotency table holds neither the ref nor the birth date any more. Answers about
    other young people stay as they were."""
    body = youth_body(ref="EFFACE-IDEM-0001", departement="11", commune_insee=CARCASSONNE,
                      birth_date="2005-03-17", needs=["addiction"], has_pets=True,
                      institution_exit_date=days(-2), situation="institution_exit")
    other = youth_body(ref="GARDE-IDEM-0002", departement="11", commune_insee=CARCASSONNE,
                       birth_date="2004-11-02")
    key, key2 = "erase-me-%d" % SEQ[0], "keep-me-%d" % SEQ[0]
    first = expect(D.call("POST", "/v1/youth", ADMIN, body,
                          headers={"Idempotency-Key": key}), 201)
    kept = expect(D.call("POST", "/v1/youth", ADMIN, other, headers={"Idempotency-Key": key2}), 201)
    yid = first.json["id"]
    assert first.json["ref"] == "EFFACE-IDEM-0001", first.json
    again = expect(D.call("POST", "/v1/youth", ADMIN, body, headers={"Idempotency-Key": key}), 201)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json["ref"] == "EFFACE-IDEM-0001", again
    expect(D.call("DELETE", "/v1/youth/%d" % yid, ADMIN), 200)
    n_youth = DB.sql("SELECT count(*) FROM youth")[0]
    r = D.call("POST", "/v1/youth", ADMIN, body, headers={"Idempotency-Key": key})
    expect(r, 201)
    assert r.headers.get("Idempotent-Replayed") == "true", r.headers
    for secret in ("EFFACE-IDEM-0001", "2005-03-17", CARCASSONNE, "addiction", days(-2)):
        assert secret not in r.text, "%r still in the replay: %s" % (secret, r.text)
    j = r.json
    assert j["id"] == yid and j["ref"] is None and j["birth_date"] is None, j
    assert (j["commune_insee"], j["needs"], j["has_pets"], j["institution_exit_date"]) == (None, [], False, None), j
    assert DB.sql("SELECT count(*) FROM youth")[0] == n_youth, "the replay created someone"
    stored = DB.sql("SELECT response FROM idempotency WHERE key = '%s'" % key)
    assert len(stored) == 1 and "EFFACE-IDEM-0001" not in stored[0] and "2005-03-17" not in stored[0], stored
    # another young person's stored answer is untouched
    r2 = expect(D.call("POST", "/v1/youth", ADMIN, other, headers={"Idempotency-Key": key2}), 201)
    assert r2.json == kept.json, (r2.json, kept.json)


# ---------------------------------------------------------------- matches

def item_checks(item, youth_pos, max_km, offer_pos):
    assert {"offer_id", "label", "kind", "porteur_id", "distance_km", "score", "free_places", "reasons"} <= set(item), item
    d = haversine_km(youth_pos, offer_pos)
    assert item["distance_km"] == d, "distance %r, expected %r (haversine R=6371.0)" % (item["distance_km"], d)
    reasons = item["reasons"]
    assert [x["factor"] for x in reasons] == FACTORS, reasons
    for x in reasons:
        assert isinstance(x["points"], int) and 0 <= x["points"] <= WEIGHTS[x["factor"]], x
        assert isinstance(x["detail"], str) and x["detail"], x
    assert sum(x["points"] for x in reasons) == item["score"], "points %r do not sum to score %r" % (
        [x["points"] for x in reasons], item["score"])
    assert 0 <= item["score"] <= 100
    pts = {x["factor"]: x["points"] for x in reasons}
    assert pts["distance"] == distance_points(d, max_km), (pts, d, max_km)
    return pts


@test
def matches_rank_explain_and_reasons():
    y = youth(household="couple", has_pets=True, needs=["wheelchair"], birth_date=born(20), max_distance_km=32,
              monthly_income_eur=800, support_need="standard", wanted_months=6)
    yid = y["id"]
    pos = COMMUNES[SETE]
    before = explain(yid)
    ok = dict(accepts_couples=True, accepts_pets=True, wheelchair_accessible=True, capacity=2)
    a = offer(label="A Sète", commune_insee=SETE, **ok)
    b = offer(label="B Frontignan", commune_insee=FRONTIGNAN, monthly_charge_eur=300, **ok)
    c = offer(label="C Montpellier", commune_insee=MONTPELLIER, porteur_id=P2, **ok)
    excl = {
        "closed": [offer(label="x closed", status="closed", **ok),
                   offer(label="x closed far male", status="closed", commune_insee=BEZIERS, gender="male", **ok),
                   offer(label="x not yet", available_from=days(30), **ok)],
        "distance": [offer(label="x Béziers", commune_insee=BEZIERS, **ok),
                     offer(label="x Béziers male", commune_insee=BEZIERS, gender="male", **ok)],
        "age": [offer(label="x min_age", min_age=21, **ok),
                offer(label="x min_age male", min_age=21, gender="male", **ok)],
        "gender": [offer(label="x male", gender="male", **dict(ok, accepts_pets=False))],
        "household": [offer(label="x no couples", **dict(ok, accepts_couples=False))],
        "pets": [offer(label="x no pets", **dict(ok, accepts_pets=False, wheelchair_accessible=False))],
        "wheelchair": [offer(label="x stairs", **dict(ok, wheelchair_accessible=False))],
        # (declined_recently and stale have tests of their own in test_imports.py)
        "declined_recently": [], "stale": [],
        "no_free_place": [offer(label="x full", **dict(ok, capacity=0))],
    }
    after = explain(yid)
    delta = {r: after["excluded"][r] - before["excluded"][r] for r in RULES}
    assert delta == {r: len(excl[r]) for r in RULES}, "excluded counts moved by %r, built %r" % (
        delta, {r: len(excl[r]) for r in RULES})
    assert after["offers_considered"] - before["offers_considered"] == 3 + sum(len(v) for v in excl.values())
    assert after["offers_considered"] == len(after["items"]) + sum(after["excluded"].values()), after
    # Ranking: best first; among ours A (0 km), B (11.1 km, dearer), C (31.2 km).
    m = matches(yid)
    assert "excluded" not in m, "excluded without explain=1"
    ids = offer_ids(m)
    excluded_ids = {o["id"] for v in excl.values() for o in v}
    assert not excluded_ids & set(ids), "an ineligible offer is listed: %r" % (excluded_ids & set(ids))
    ours = [i for i in ids if i in (a["id"], b["id"], c["id"])]
    assert ours == [a["id"], b["id"], c["id"]], (ours, m)
    keys = [(-i["score"], round(i["distance_km"] * 10), i["offer_id"]) for i in m["items"]]
    assert keys == sorted(keys), "not ordered by score, then distance, then id: %r" % keys
    by_id = {i["offer_id"]: i for i in m["items"]}
    for o, insee in ((a, SETE), (b, FRONTIGNAN), (c, MONTPELLIER)):
        it = by_id[o["id"]]
        pts = item_checks(it, pos, 32, COMMUNES[insee])
        assert it["free_places"] == 2, it
        assert (it["label"], it["kind"], it["porteur_id"]) == (o["label"], "iml", o["porteur_id"]), it
        # iml caps at 540 days: 6 wished months fit; the support level matches; start today
        assert pts["duration"] == WEIGHTS["duration"] and pts["support"] == WEIGHTS["support"], pts
        assert pts["availability"] == WEIGHTS["availability"], pts
        assert it["start_date"] == iso(TODAY) and it["end_date"] == iso(add_months(TODAY, 6)), it
    assert {x["factor"]: x["points"] for x in by_id[a["id"]]["reasons"]}["affordability"] == WEIGHTS["affordability"]
    # 300 € on 800 €: an effort rate of 37.5 %, between 30 % (full) and 60 % (none)
    aff = {x["factor"]: x["points"] for x in by_id[b["id"]]["reasons"]}["affordability"]
    assert aff == ratio_points(WEIGHTS["affordability"], 60 * 800 - 100 * 300, 30 * 800), aff
    assert by_id[a["id"]]["distance_km"] == 0.0
    assert by_id[b["id"]]["distance_km"] == haversine_km(pos, COMMUNES[FRONTIGNAN])
    # explain=1 lists the same items
    assert offer_ids(after) == ids


@test
def matches_on_changes_the_period_and_limit_cuts():
    y = youth(commune_insee=SETE, max_distance_km=5, wanted_months=6)
    yid = y["id"]
    flat = offer(kind="shared_flat", label="F4 Sète", capacity=4)
    later = offer(kind="fjt", label="FJT later", available_from=days(30), capacity=1)
    m = matches(yid)
    it = {i["offer_id"]: i for i in m["items"]}[flat["id"]]
    assert (it["start_date"], it["end_date"]) == (iso(TODAY), days(90)), it
    assert later["id"] not in offer_ids(m)
    # duration: 90 days of the ~6 months wished
    wanted = (add_months(TODAY, 6) - TODAY).days
    pts = {x["factor"]: x["points"] for x in it["reasons"]}
    assert pts["duration"] == ratio_points(WEIGHTS["duration"], 90, wanted), (pts, wanted)
    m = matches(yid, "on=" + days(20))
    it = {i["offer_id"]: i for i in m["items"]}[flat["id"]]
    assert (it["start_date"], it["end_date"]) == (days(20), days(110)), it
    pts = {x["factor"]: x["points"] for x in it["reasons"]}
    assert pts["availability"] == ratio_points(WEIGHTS["availability"], 90 - 20, 90), pts
    assert later["id"] not in offer_ids(m)
    assert rule_of(yid, later["id"], days(20)) == "closed"
    m30 = matches(yid, "on=" + days(30))
    assert later["id"] in offer_ids(m30), "available_from is the first day an entry may start"
    assert rule_of(yid, later["id"], days(30)) is None
    # without ?on=, the stay starts on wanted_from when it is later than today
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"wanted_from": days(14)}), 200)
    it = {i["offer_id"]: i for i in matches(yid)["items"]}[flat["id"]]
    assert (it["start_date"], it["end_date"]) == (days(14), days(104)), it
    assert {x["factor"]: x["points"] for x in it["reasons"]}["availability"] == WEIGHTS["availability"]
    it = {i["offer_id"]: i for i in matches(yid, "on=" + days(0))["items"]}[flat["id"]]
    assert {x["factor"]: x["points"] for x in it["reasons"]}["availability"] == \
        ratio_points(WEIGHTS["availability"], 90 - 14, 90), it
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"wanted_from": days(0)}), 200)
    # ?on= in the past is answered too (the offer opened today: closed before)
    assert flat["id"] not in offer_ids(matches(yid, "on=" + days(-1)))
    # limit
    full = matches(yid)
    assert len(full["items"]) >= 2, full
    one = expect(D.call("GET", "/v1/youth/%d/matches?limit=1" % yid, ADMIN), 200).json
    assert offer_ids(one) == offer_ids(full)[:1], (one, full)
    dflt = expect(D.call("GET", "/v1/youth/%d/matches" % yid, ADMIN), 200).json
    assert offer_ids(dflt) == offer_ids(full)[:10]
    for q in ("limit=0", "limit=201", "limit=x", "on=2026-13-01", "on=tomorrow"):
        expect_problem(D.call("GET", "/v1/youth/%d/matches?%s" % (yid, q), ADMIN), 400)
    expect_problem(D.call("GET", "/v1/youth/987654/matches", ADMIN), 404)


@test
def age_limits_on_the_start_date():
    o = offer(label="Âges Sète", capacity=3)
    oid = o["id"]

    def eligible(yid, on=None):
        return oid in offer_ids(matches(yid, "on=" + on if on else ""))

    turning26 = youth(birth_date=born(26, 1))["id"]       # 25 today, 26 tomorrow
    assert eligible(turning26), "25 on the start date is eligible"
    assert not eligible(turning26, days(1)), "26 on the start date is not (without RQTH)"
    assert rule_of(turning26, oid, days(1)) == "age"
    rqth29 = youth(birth_date=born(29), rqth=True)["id"]  # 29 today
    assert eligible(rqth29), "RQTH: 29 is eligible"
    rqth30 = youth(birth_date=born(30, 1), rqth=True)["id"]   # 29 today, 30 tomorrow
    assert eligible(rqth30) and not eligible(rqth30, days(1))
    no_rqth26 = youth(birth_date=born(26))["id"]
    assert not eligible(no_rqth26)
    sixteen = youth(birth_date=born(16))["id"]
    assert eligible(sixteen), "16 today is eligible"
    fifteen = youth(birth_date=born(16, 1))["id"]          # 16 tomorrow
    assert not eligible(fifteen) and eligible(fifteen, days(1))
    # the offer's own limits
    expect(D.call("PATCH", "/v1/offers/%d" % oid, ADMIN, {"max_age": 22}), 200)
    y22 = youth(birth_date=born(23, 1))["id"]              # 22 today, 23 tomorrow
    assert eligible(y22) and not eligible(y22, days(1))
    assert not eligible(rqth29), "the offer's max_age bounds RQTH too"


@test
def offers_state_ages_16_to_30_and_matching_keeps_the_programme_limit():
    """An FJT takes young workers aged 16 to 30: registering max_age 30 (or min_age 30)
    is accepted (C validation, the SQL CHECK of migration 013, the OpenAPI maximum);
    31 is not. Matching still applies min(max_age, rqth ? 29 : 25)."""
    fjt = offer(kind="fjt", label="FJT 16-30", capacity=3, min_age=16, max_age=30)
    assert (fjt["min_age"], fjt["max_age"]) == (16, 30), fjt
    thirty = offer(kind="fjt", label="FJT 30 ans", capacity=1, min_age=30, max_age=30)
    assert (thirty["min_age"], thirty["max_age"]) == (30, 30), thirty
    # a PATCH up to 30 passes the database's own CHECK
    o = offer(label="Âges relevés", capacity=2)
    assert o["max_age"] == 29, o
    r = D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"max_age": 30})
    assert expect(r, 200).json["max_age"] == 30, r
    assert DB.sql("SELECT max_age FROM offers WHERE id = %d" % o["id"]) == ["30"]
    for over, pointer in ((dict(max_age=31), "/max_age"), (dict(min_age=31, max_age=31), "/min_age"),
                          (dict(max_age=15), "/max_age")):
        expect_problem(D.call("POST", "/v1/offers", ADMIN, offer_body(**over)), 400, pointer, "out_of_range")
    try:
        DB.sql("UPDATE offers SET max_age = 31 WHERE id = %d" % o["id"])
        raise AssertionError("the database took max_age 31")
    except AssertionError as e:
        assert "ck_offers__max_age" in str(e), e
    # the programme's limit on top: 26-29 only with RQTH, 30 never
    y27, y27r = youth(birth_date=born(27)), youth(birth_date=born(27), rqth=True)
    y30r = youth(birth_date=born(30), rqth=True)
    assert fjt["id"] not in offer_ids(matches(y27["id"])) and rule_of(y27["id"], fjt["id"]) == "age"
    assert fjt["id"] in offer_ids(matches(y27r["id"])), "RQTH: 27 fits an offer up to 30"
    assert rule_of(y30r["id"], fjt["id"]) == "age", "30 is beyond the programme, whatever the offer says"
    assert rule_of(y30r["id"], thirty["id"]) == "age"


MENDE = "48095"


@test
def explain_says_what_would_change_the_answer():
    """explain=1 also gives hints: the nearest offer only its distance keeps out (and
    its distance), the day the young person becomes old enough, the first day a place
    within reach frees up for the whole period. Around Mende, where no other test puts
    an offer."""
    lat, lon = [float(x) for x in DB.sql("SELECT lat, lon FROM communes WHERE insee = '%s'" % MENDE)[0].split("|")]
    COMMUNES[MENDE] = (lat, lon)
    far = offer(label="Mende 35 km", commune_insee=MENDE, lat=north(35, MENDE), lon=lon, capacity=1)
    offer(label="Mende 50 km", commune_insee=MENDE, lat=north(50, MENDE), lon=lon, capacity=1)
    offer(label="Mende 30 km hommes", commune_insee=MENDE, lat=north(30, MENDE), lon=lon, capacity=1,
          gender="male")                                    # nearer, but another rule too
    full = offer(label="Mende complet", commune_insee=MENDE, lat=north(5, MENDE), lon=lon, capacity=1)
    offer(label="Mende 18 ans", commune_insee=MENDE, lat=north(6, MENDE), lon=lon, capacity=1, min_age=18,
          status="closed")
    who = dict(departement="48", commune_insee=MENDE, max_distance_km=20, wanted_months=6, gender="female")
    z = youth(birth_date=born(20), **who)
    p = expect(D.call("POST", "/v1/placements", ADMIN, {"youth_id": z["id"], "offer_id": full["id"],
                                                        "start_date": days(0), "planned_end_date": days(40)}), 201)
    y = youth(birth_date=born(20), **who)
    m = explain(y["id"])
    assert m["items"] == [], m["items"]
    h = m["hints"]
    assert h["distance"] == {"offer_id": far["id"], "label": "Mende 35 km", "distance_km": 35.0}, h
    assert h["no_free_place"] == {"offer_id": full["id"], "label": "Mende complet", "free_from": days(40)}, h
    assert h["age"] is None, h
    # 15 today, 16 in 30 days: old enough for "Mende complet" (16) then
    t = youth(birth_date=born(16, 30), **who)
    h = explain(t["id"])["hints"]
    assert h["age"] == {"offer_id": full["id"], "label": "Mende complet", "old_enough_on": days(30)}, h
    assert h["distance"] is None, "too young for the far offer too: %r" % h
    # the place freed earlier: the hint follows at once
    expect(D.call("POST", "/v1/placements/%d/cancel" % p.json["id"], ADMIN), 200)
    m = explain(y["id"])
    assert full["id"] in offer_ids(m) and m["hints"]["no_free_place"] is None, m
    # no explain, no hints
    assert "hints" not in matches(y["id"])


@test
def max_distance_is_inclusive_on_the_rounded_distance():
    y = youth(max_distance_km=20)
    lat0, lon0 = COMMUNES[SETE]
    at = offer(label="20,0 km", lat=north(20.04), lon=lon0)    # rounds to 20.0
    beyond = offer(label="20,1 km", lat=north(20.06), lon=lon0)  # rounds to 20.1
    assert haversine_km((lat0, lon0), (at["lat"], at["lon"])) == 20.0
    assert haversine_km((lat0, lon0), (beyond["lat"], beyond["lon"])) == 20.1
    before = explain(y["id"])
    m = matches(y["id"])
    ids = offer_ids(m)
    assert at["id"] in ids, "an offer at exactly max_distance_km (rounded) is within reach"
    assert beyond["id"] not in ids
    it = {i["offer_id"]: i for i in m["items"]}[at["id"]]
    assert it["distance_km"] == 20.0 and {x["factor"]: x["points"] for x in it["reasons"]}["distance"] == 0, it
    expect(D.call("DELETE", "/v1/offers/%d" % beyond["id"], ADMIN), 200)
    after = explain(y["id"])
    assert (after["excluded"]["distance"], after["excluded"]["closed"]) == \
        (before["excluded"]["distance"] - 1, before["excluded"]["closed"] + 1), (before, after)


@test
def every_write_shows_in_the_next_matches():
    y = youth(commune_insee=SETE, max_distance_km=15)
    yid = y["id"]
    base = explain(yid)["excluded"]
    o = offer(label="Nouvelle Frontignan", commune_insee=FRONTIGNAN, capacity=2)
    m = matches(yid)                            # the very next call, no wait
    assert o["id"] in offer_ids(m), "a new offer is missing from the next matches"
    it = {i["offer_id"]: i for i in m["items"]}[o["id"]]
    assert it["free_places"] == 2
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"capacity": 0}), 200)
    ex = explain(yid)
    assert o["id"] not in offer_ids(ex), "capacity 0 still matched"
    assert ex["excluded"]["no_free_place"] == base["no_free_place"] + 1, (base, ex["excluded"])
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"capacity": 1}), 200)
    it = {i["offer_id"]: i for i in matches(yid)["items"]}.get(o["id"])
    assert it and it["free_places"] == 1, it
    # a patch that takes it out of reach, then back
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"commune_insee": MONTPELLIER}), 200)
    ex = explain(yid)
    assert o["id"] not in offer_ids(ex) and ex["excluded"]["distance"] == base["distance"] + 1, ex["excluded"]
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"commune_insee": FRONTIGNAN}), 200)
    assert o["id"] in offer_ids(matches(yid))
    expect(D.call("DELETE", "/v1/offers/%d" % o["id"], ADMIN), 200)
    ex = explain(yid)
    assert o["id"] not in offer_ids(ex), "a closed offer still matched"
    assert ex["excluded"]["closed"] == base["closed"] + 1 and ex["excluded"]["no_free_place"] == base["no_free_place"], \
        (base, ex["excluded"])
    # a youth patch shows at once too
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"has_pets": True}), 200)
    o2 = offer(label="Sans animaux", commune_insee=SETE, accepts_pets=False)
    ex = explain(yid)
    assert o2["id"] not in offer_ids(ex) and ex["excluded"]["pets"] >= 1, ex["excluded"]
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"has_pets": False}), 200)
    assert o2["id"] in offer_ids(matches(yid)), "a youth patch not reflected in the next matches"
    # the reach: 15 km, then the default (30 km) once removed
    o3 = offer(label="25 km au nord", lat=north(25), lon=COMMUNES[SETE][1])
    assert o3["id"] not in offer_ids(matches(yid))
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"max_distance_km": None}), 200)
    it = {i["offer_id"]: i for i in matches(yid)["items"]}.get(o3["id"])
    assert it and it["distance_km"] == 25.0, it
    assert {x["factor"]: x["points"] for x in it["reasons"]}["distance"] == distance_points(25.0, 30)
    # the wished commune: from Sète to Perpignan, the Sète offers are out of reach
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"commune_insee": PERPIGNAN}), 200)
    ids = offer_ids(matches(yid))
    assert o2["id"] not in ids and o3["id"] not in ids, ids
    expect(D.call("PATCH", "/v1/youth/%d" % yid, ADMIN, {"commune_insee": SETE}), 200)
    assert o2["id"] in offer_ids(matches(yid))


# ---------------------------------------------------------------- candidates

def priority(situation, waited_days, exit_in=None):
    base = {"street": 500, "emergency_shelter": 400, "institution_exit": 300, "family_breakdown": 200,
            "precarious": 100}[situation]
    base += 100 * min(waited_days, 365) // 365
    if exit_in is not None and abs(exit_in) <= 30:
        base += 200
    return base


@test
def candidates_ranked_by_score_then_priority_with_the_porteur_view():
    pp = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Porteur Perpignan", "departement": "66"}), 201).json["id"]
    ptp = D.token("porteur", porteur=pp, label="ptp")
    o = offer(token=ptp, porteur_id=pp, label="IML Perpignan", commune_insee=PERPIGNAN, capacity=2)
    far = dict(departement="66", commune_insee=PERPIGNAN)
    ys = {
        "light_street_old": youth(support_need="light", situation="street", registered_at=days(-400), **far),
        "shelter": youth(situation="emergency_shelter", **far),
        "street": youth(situation="street", **far),
        "exit_soon": youth(situation="precarious", institution_exit_date=days(10), birth_date=born(17), **far),
        "street_old": youth(situation="street", registered_at=days(-400), household="couple", **far),
        "dep11": youth(situation="family_breakdown", registered_at=days(-73), departement="11",
                       commune_insee=PERPIGNAN),
    }
    # the couple does not fit an offer without couples: make this one accept them
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], ptp, {"accepts_couples": True}), 200)
    closed = youth(situation="street", **far)
    expect(D.call("PATCH", "/v1/youth/%d" % closed["id"], ADMIN, {"status": "closed"}), 200)
    too_old = youth(situation="street", birth_date=born(27), **far)
    erased = youth(situation="street", **far)
    expect(D.call("DELETE", "/v1/youth/%d" % erased["id"], ADMIN), 200)

    c = candidates(o["id"], ptp)
    got = [i["youth_id"] for i in c["items"]]
    assert c["offer_id"] == o["id"]
    for gone in (closed, too_old, erased):
        assert gone["id"] not in got, "young person %d should not be a candidate" % gone["id"]
    want_order = ["street_old", "street", "shelter", "exit_soon", "dep11", "light_street_old"]
    assert got == [ys[k]["id"] for k in want_order], (got, {k: v["id"] for k, v in ys.items()})
    items = {i["youth_id"]: i for i in c["items"]}
    want_prio = {"light_street_old": priority("street", 400), "shelter": priority("emergency_shelter", 0),
                 "street": priority("street", 0), "exit_soon": priority("precarious", 0, 10),
                 "street_old": priority("street", 400), "dep11": priority("family_breakdown", 73)}
    for k, p in want_prio.items():
        assert items[ys[k]["id"]]["priority"] == p, (k, items[ys[k]["id"]], p)
    keys = [(-i["score"], -i["priority"], i["youth_id"]) for i in c["items"]]
    assert keys == sorted(keys), keys
    top = items[ys["street"]["id"]]
    assert items[ys["light_street_old"]["id"]]["score"] < top["score"]
    # the porteur view: no ref, no birth date, nothing else personal
    for i in c["items"]:
        assert set(i) == {"youth_id", "score", "priority", "reasons", "distance_km", "start_date", "age_band",
                          "household", "needs", "situation", "support_need"}, sorted(i)
        assert [x["factor"] for x in i["reasons"]] == FACTORS
        assert sum(x["points"] for x in i["reasons"]) == i["score"]
    for k, v in ys.items():
        assert v["ref"] not in c and v["ref"] not in str(c), "ref leaked"
    assert (top["age_band"], top["household"], top["needs"], top["situation"], top["support_need"]) == \
        ("18-21", "alone", [], "street", "standard"), top
    assert items[ys["exit_soon"]["id"]]["age_band"] == "16-17"
    assert items[ys["street_old"]["id"]]["household"] == "couple"
    assert items[ys["dep11"]["id"]]["distance_km"] == 0.0
    # limit
    assert [i["youth_id"] for i in candidates(o["id"], ptp, "limit=2")["items"]] == got[:2]
    expect_problem(D.call("GET", "/v1/offers/%d/candidates?limit=0" % o["id"], ptp), 400)
    # scopes: another porteur 403; a referent its départements; an admin all
    expect_problem(D.call("GET", "/v1/offers/%d/candidates" % o["id"], PT1), 403)
    assert [i["youth_id"] for i in candidates(o["id"], REF66)["items"]] == \
        [ys[k]["id"] for k in want_order if k != "dep11"]
    assert candidates(o["id"], REF34)["items"] == []
    assert [i["youth_id"] for i in candidates(o["id"], ADMIN)["items"]] == got
    expect_problem(D.call("GET", "/v1/offers/987654/candidates", ADMIN), 404)
    # a write shows at once: a street youth waiting a year and leaving an institution comes first
    new = youth(situation="street", registered_at=days(-500), institution_exit_date=days(0), **far)
    assert [i["youth_id"] for i in candidates(o["id"], ptp)["items"]][0] == new["id"]


if __name__ == "__main__":
    run_all(setup)
