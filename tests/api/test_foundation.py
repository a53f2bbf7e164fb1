"""
The foundation end to end, against the real daemon and PostgreSQL: health,
porteurs, offers (validation, defaults, filters, merge-patch, close), the HTTP
pipeline (404/405/413/415/400), roles and scopes, tokens, the audit log, the
request log, SIGHUP/SIGTERM and restart, and the command line.

Tests run in order and share one database and one daemon (`D`); a few start
daemons of their own for settings that only the environment or a config file
can change.
"""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, Database, cluster_sql, eventually, expect,  # noqa: E402
                     expect_problem, run_all, test)

# Shared state, filled by setup().
D = None          # the main daemon
DB = None
ADMIN = None      # admin token (CLI)
P1 = P2 = None    # two porteurs
PT1 = PT2 = None  # porteur tokens for P1 and P2
REF = None        # referent token for 34 and 30
IDS = {}          # token ids by name

FAR = "2090-06-01"   # a day far from "today", so date checks don't depend on when tests run


def setup():
    global D, DB, ADMIN, P1, P2, PT1, PT2, REF
    DB = Database("foundation")
    D = Daemon(DB, name="main")
    ADMIN = D.token("admin", label="admin")
    P1 = porteur("Porteur un", "34")["id"]
    P2 = porteur("Porteur deux", "31")["id"]
    PT1 = D.token("porteur", porteur=P1, label="p1")
    PT2 = D.token("porteur", porteur=P2, label="p2")
    REF = D.token("referent", departements=("34", "30"), label="ref")
    for name, label in (("admin", "admin"), ("p1", "p1"), ("p2", "p2"), ("ref", "ref")):
        IDS[name] = int(DB.sql("SELECT id FROM tokens WHERE label = '%s'" % label)[0])


# ---------------------------------------------------------------- helpers

def porteur(name, dep, token=None, daemon=None):
    r = (daemon or D).call("POST", "/v1/porteurs", token or ADMIN, {"name": name, "departement": dep})
    return expect(r, 201).json


DROP = object()   # offer_body(kind=DROP) leaves the field out


def offer_body(**over):
    b = {"porteur_id": P1, "kind": "iml", "label": "T2 Sète", "commune_insee": "34301", "capacity": 3}
    b.update(over)
    return {k: v for k, v in b.items() if v is not DROP}


def offer(token=None, daemon=None, **over):
    r = (daemon or D).call("POST", "/v1/offers", token or ADMIN, offer_body(**over))
    return expect(r, 201).json


def get(path, token=None):
    return D.call("GET", path, token or ADMIN)


def walk(path, token=None, limit=3):
    """Follows next_cursor to the end; returns (items, pages)."""
    items, pages, cursor = [], 0, None
    sep = "&" if "?" in path else "?"
    while True:
        url = "%s%slimit=%d" % (path, sep, limit) + ("&cursor=" + cursor if cursor else "")
        page = expect(get(url, token), 200).json
        assert set(page) == {"items", "next_cursor"}, page.keys()
        assert len(page["items"]) <= limit, "page larger than limit"
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert isinstance(cursor, str) and page["items"], "bad next_cursor %r" % cursor
        assert pages < 100, "pagination does not end"


def audit_items(query=""):
    return expect(get("/v1/audit?limit=200" + query), 200).json["items"]


# ---------------------------------------------------------------- health

@test
def healthz_answers_200():
    r = D.call("GET", "/healthz")
    expect(r, 200)
    assert r.json == {"status": "ok"}, r


@test
def readyz_answers_200_with_the_database_up():
    r = D.call("GET", "/readyz")
    expect(r, 200)
    assert r.json["status"] == "ready", r


@test
def readyz_503_while_the_database_is_unreachable_then_recovers():
    # Cut the daemon off without touching the shared cluster: forbid new
    # connections to our database and end the pool's current ones.
    cluster_sql('ALTER DATABASE "%s" WITH ALLOW_CONNECTIONS false' % DB.name)
    try:
        cluster_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = '%s' AND pid <> pg_backend_pid()" % DB.name)
        r = eventually(lambda: (lambda r: r if r.status == 503 else None)(D.call("GET", "/readyz")),
                       timeout=5, msg="/readyz 503")
        expect_problem(r, 503)
        assert int(r.headers.get("Retry-After", "0")) > 0, "503 without Retry-After: %r" % r.headers
        # A write is a 503 with Retry-After, never a 500 or a hang...
        r = D.call("POST", "/v1/porteurs", ADMIN, {"name": "pendant la panne", "departement": "34"})
        expect_problem(r, 503)
        assert "Retry-After" in r.headers
        # ...while offers keep being read from memory.
        expect(D.call("GET", "/v1/offers", ADMIN), 200)
    finally:
        cluster_sql('ALTER DATABASE "%s" WITH ALLOW_CONNECTIONS true' % DB.name)
    # The pool retries with a backoff capped at 1 s: back within 5 s.
    eventually(lambda: D.call("GET", "/readyz").status == 200, timeout=5, msg="/readyz 200 again")
    expect(D.call("GET", "/v1/porteurs", ADMIN), 200)


# ---------------------------------------------------------------- porteurs

@test
def admin_creates_and_reads_a_porteur():
    r = D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Jeunes Nîmes", "departement": "30",
                                               "target_youth": 40})
    p = expect(r, 201).json
    assert isinstance(p["id"], int) and p["id"] > 0, p
    assert (p["name"], p["departement"], p["target_youth"], p["version"]) == \
        ("Habitat Jeunes Nîmes", "30", 40, 1), p
    assert r.headers.get("ETag") == '"1"', r.headers
    g = expect(get("/v1/porteurs/%d" % p["id"], REF), 200).json
    assert g == p, (g, p)


@test
def porteur_list_walks_every_page_once():
    made = [porteur("Pagination %d" % i, "2A")["id"] for i in range(7)]
    items, pages = walk("/v1/porteurs", limit=3)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "duplicates across pages: %r" % ids
    assert set(made) <= set(ids), "missing porteurs: %r" % (set(made) - set(ids))
    assert ids == sorted(ids), "not in a stable order: %r" % ids
    assert pages >= 4, pages
    # departement filter
    only = expect(get("/v1/porteurs?departement=2A&limit=200"), 200).json["items"]
    assert sorted(p["id"] for p in only) == sorted(made), only


@test
def porteur_patch_honours_if_match():
    pid = porteur("Avant", "34")["id"]
    r = get("/v1/porteurs/%d" % pid)
    etag = r.headers["ETag"]
    r = D.call("PATCH", "/v1/porteurs/%d" % pid, ADMIN, {"name": "Après"}, headers={"If-Match": etag})
    p = expect(r, 200).json
    assert p["name"] == "Après" and p["version"] == 2 and p["departement"] == "34", p
    assert r.headers.get("ETag") == '"2"', r.headers
    # The old ETag no longer matches: 412 and nothing changes.
    r = D.call("PATCH", "/v1/porteurs/%d" % pid, ADMIN, {"name": "Perdu"}, headers={"If-Match": etag})
    expect_problem(r, 412)
    assert get("/v1/porteurs/%d" % pid).json["name"] == "Après"
    # Without If-Match the patch applies (last writer wins).
    expect(D.call("PATCH", "/v1/porteurs/%d" % pid, ADMIN, {"target_youth": 12}), 200)
    assert get("/v1/porteurs/%d" % pid).json["target_youth"] == 12


@test
def if_match_takes_a_list_and_compares_strongly():
    """RFC 9110 13.1.1: If-Match is a list of entity-tags, and the comparison is strong:
    a weak tag never matches, even with the current version's number."""
    pid = porteur("Liste", "34")["id"]
    path = "/v1/porteurs/%d" % pid

    def patch(if_match, name):
        return D.call("PATCH", path, ADMIN, {"name": name}, headers={"If-Match": if_match})

    r = expect(patch('"999", "1"', "Deux"), 200)                    # version 1 is in the list
    assert r.json["version"] == 2 and r.headers.get("ETag") == '"2"', r
    expect(patch('"1","2"', "Trois"), 200)                           # no space after the comma
    expect(patch(' "7" ,\t"3" ', "Quatre"), 200)                    # white space around
    expect_problem(patch('W/"4"', "Faible"), 412)                    # weak: never a strong match
    expect_problem(patch('W/"4", W/"999"', "Faible"), 412)
    expect_problem(patch('"999", "998"', "Aucun"), 412)              # none current
    expect_problem(patch('"4" garbage', "Mal"), 412)                 # malformed list
    expect_problem(patch('"4", *', "Mal"), 412)                      # "*" stands alone
    assert get(path).json["name"] == "Quatre"
    r = expect(patch('W/"999", "4"', "Cinq"), 200)                   # a weak tag beside the current one
    assert r.json["version"] == 5, r
    expect(patch("*", "Six"), 200)
    # the same rules on a young person's record and on an offer
    y = expect(D.call("POST", "/v1/youth", ADMIN, {"ref": "IFM-1", "departement": "34", "birth_date": "2005-01-02",
                                                    "gender": "male", "situation": "street",
                                                    "commune_insee": "34301"}), 201).json
    ypath = "/v1/youth/%d" % y["id"]
    expect_problem(D.call("PATCH", ypath, ADMIN, {"wanted_months": 3}, headers={"If-Match": 'W/"1"'}), 412)
    r = D.call("PATCH", ypath, ADMIN, {"wanted_months": 3}, headers={"If-Match": '"999", "1"'})
    assert expect(r, 200).json["version"] == 2, r
    o = offer()
    opath = "/v1/offers/%d" % o["id"]
    etag = get(opath).headers["ETag"]
    expect_problem(D.call("PATCH", opath, ADMIN, {"label": "x"}, headers={"If-Match": "W/" + etag}), 412)
    expect_problem(D.call("PATCH", opath, ADMIN, {"label": "x"}, headers={"If-Match": 'W/"1"'}), 412)
    r = D.call("PATCH", opath, ADMIN, {"label": "y"}, headers={"If-Match": '"999", %s' % etag})
    assert expect(r, 200).json["version"] == 2, r
    r = D.call("PATCH", opath, ADMIN, {"label": "z"}, headers={"If-Match": '"999", "2"'})
    assert expect(r, 200).json["version"] == 3, r


@test
def only_admins_create_porteurs():
    for tok in (REF, PT1):
        expect_problem(D.call("POST", "/v1/porteurs", tok, {"name": "X", "departement": "34"}), 403)
    assert DB.sql("SELECT count(*) FROM porteurs WHERE name = 'X'") == ["0"]


# ---------------------------------------------------------------- offers: creation

@test
def offer_located_from_its_commune():
    o = offer(kind="fjt", commune_insee="34301", capacity=4)
    assert (o["departement"], o["lat"], o["lon"]) == ("34", 43.3844, 3.6441), o
    assert o["status"] == "open" and o["free_places"] == 4, o
    assert isinstance(o["id"], int)
    assert expect(get("/v1/offers/%d" % o["id"], REF), 200).json["id"] == o["id"]


@test
def unknown_commune_is_a_400_on_commune_insee():
    r = D.call("POST", "/v1/offers", ADMIN, offer_body(commune_insee="99999"))
    expect_problem(r, 400, "/commune_insee", "unknown_value")


@test
def max_stay_days_defaults_per_kind():
    want = {"shared_flat": 90, "iml": 540, "alt": 180, "studio_tiroir": 180, "fjt": None}
    got = {k: offer(kind=k)["max_stay_days"] for k in want}
    assert got == want, got
    # An offer may set its own cap.
    assert offer(kind="alt", max_stay_days=60)["max_stay_days"] == 60


@test
def shared_flat_never_above_90_days():
    r = D.call("POST", "/v1/offers", ADMIN, offer_body(kind="shared_flat", max_stay_days=120))
    expect_problem(r, 400, "/max_stay_days", "out_of_range")
    r = D.call("POST", "/v1/offers", ADMIN, offer_body(kind="shared_flat", max_stay_days=None))
    expect_problem(r, 400, "/max_stay_days")
    o = offer(kind="shared_flat", max_stay_days=90)
    # A patch that breaks the cap on the merged row is refused by the database.
    r = D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"max_stay_days": 120})
    expect_problem(r, 400, "/max_stay_days", "out_of_range")
    # Turning an iml with a long cap into a shared flat hits the same rule.
    o2 = offer(kind="iml")
    r = D.call("PATCH", "/v1/offers/%d" % o2["id"], ADMIN, {"kind": "shared_flat"})
    expect_problem(r, 400, "/max_stay_days", "out_of_range")


@test
def shared_flat_cap_violation_points_at_max_stay_days():
    # An fjt has no cap; making it a shared flat breaks ck_offers__shared_flat_cap.
    # The error must name the field the client can fix, not the constraint.
    o = offer(kind="fjt")
    r = D.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"kind": "shared_flat"})
    expect_problem(r, 400, "/max_stay_days", "out_of_range")
    assert get("/v1/offers/%d" % o["id"]).json["kind"] == "fjt"


@test
def every_validation_code():
    cases = [
        (dict(kind=DROP), "/kind", "required"),
        (dict(capacity="3"), "/capacity", "wrong_type"),
        (dict(accepts_pets="yes"), "/accepts_pets", "wrong_type"),
        (dict(capacity=5000), "/capacity", "out_of_range"),
        (dict(lat=91, lon=3), "/lat", "out_of_range"),
        (dict(available_from="2026-02-30"), "/available_from", "out_of_range"),
        (dict(available_from="tomorrow"), "/available_from", "wrong_type"),
        (dict(kind="castle"), "/kind", "unknown_value"),
        (dict(gender="x"), "/gender", "unknown_value"),
        (dict(departement="9A"), "/departement", "unknown_value"),
        (dict(departement="20"), "/departement", "unknown_value"),
        (dict(colour="blue"), "/colour", "unknown_field"),
        (dict(label="x" * 201), "/label", "too_long"),
        (dict(min_age=25, max_age=20), "/max_age", "out_of_range"),
        (dict(available_from="2090-01-02", available_until="2090-01-01"), "/available_until", "out_of_range"),
        (dict(lat=43.5), "/lon", "required"),
        (dict(porteur_id=999999), "/porteur_id", "unknown_value"),
        (dict(porteur_id="1"), "/porteur_id", "wrong_type"),
        (dict(capacity=2.5), "/capacity", "wrong_type"),
    ]
    for over, pointer, code in cases:
        r = D.call("POST", "/v1/offers", ADMIN, offer_body(**over))
        try:
            expect_problem(r, 400, pointer, code)
        except AssertionError as e:
            raise AssertionError("case %r: %s" % (over, e))
    # Every problem at once, not just the first.
    r = D.call("POST", "/v1/offers", ADMIN, {"kind": "castle", "capacity": -1, "colour": 1})
    errs = {(e["pointer"], e["code"]) for e in expect_problem(r, 400)["errors"]}
    assert {("/kind", "unknown_value"), ("/capacity", "out_of_range"), ("/colour", "unknown_field"),
            ("/label", "required"), ("/commune_insee", "required")} <= errs, errs
    # Lengths are counted in characters: 200 "é" (400 bytes) fit.
    assert offer(label="é" * 200)["label"] == "é" * 200
    assert DB.sql("SELECT count(*) FROM offers WHERE label = 'castle'") == ["0"]


@test
def departement_codes_that_do_not_exist_are_refused():
    # Metropolitan départements stop at 95 (96-99 were never used); the
    # contract's codes are "34", "2A", "971".
    for dep in ("96", "99"):
        expect_problem(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Nulle part", "departement": dep}),
                       400, "/departement", "unknown_value")
        expect_problem(D.call("POST", "/v1/offers", ADMIN, offer_body(departement=dep)),
                       400, "/departement", "unknown_value")
        expect_problem(get("/v1/offers?departement=" + dep), 400)


@test
def invalid_utf8_body_is_a_400_invalid_utf8():
    r = D.call("POST", "/v1/offers", ADMIN, raw=b'{"label":"\xff"}')
    expect_problem(r, 400, code="invalid_utf8")


@test
def json_array_body_is_a_400_not_an_object():
    r = D.call("POST", "/v1/offers", ADMIN, raw=b'[{"label": "a"}]')
    expect_problem(r, 400, "", "not_an_object")


@test
def json_syntax_error_is_a_400():
    for raw in (b'{"label":', b"{'label': 1}", b'{"a":1} trailing'):
        r = D.call("POST", "/v1/offers", ADMIN, raw=raw)
        p = expect_problem(r, 400)
        assert p["errors"][0]["pointer"] == "", p
    # A POST that needs a body and has none is a 400 too, not a 500.
    r = D.call("POST", "/v1/offers", ADMIN, headers={"Content-Type": "application/json"})
    expect_problem(r, 400, "", "not_an_object")


# ---------------------------------------------------------------- offers: reading

@test
def offer_list_filters_and_pages():
    pid = porteur("Filtres", "34")["id"]
    a = offer(porteur_id=pid, kind="iml", capacity=3)                                    # 34, open
    b = offer(porteur_id=pid, kind="alt", commune_insee="31555", capacity=1)             # 31
    c = offer(porteur_id=pid, kind="iml", capacity=2, available_from="2089-01-01")       # not yet
    d = offer(porteur_id=pid, kind="iml", capacity=0)                                    # no place
    e = offer(porteur_id=pid, kind="fjt", capacity=5)
    expect(D.call("DELETE", "/v1/offers/%d" % e["id"], ADMIN), 200)                      # closed
    base = "/v1/offers?porteur_id=%d&limit=200" % pid

    def ids(q):
        return sorted(o["id"] for o in expect(get(base + q, REF), 200).json["items"])

    assert b["departement"] == "31"
    assert ids("") == sorted(x["id"] for x in (a, b, c, d, e))
    assert ids("&departement=31") == [b["id"]]
    assert ids("&departement=34") == sorted(x["id"] for x in (a, c, d, e))
    assert ids("&kind=alt") == [b["id"]]
    assert ids("&min_free=1") == sorted([a["id"], b["id"]])
    assert ids("&min_free=2") == [a["id"]]
    assert ids("&status=closed") == [e["id"]]
    # On a day after available_from, the future offer counts.
    assert ids("&min_free=2&available_on=" + FAR) == sorted([a["id"], c["id"]])
    items = expect(get(base + "&available_on=" + FAR), 200).json["items"]
    assert all(o["free_places_on"] == FAR for o in items), items
    assert {o["id"]: o["free_places"] for o in items}[c["id"]] == 2
    # Pagination over a filtered list.
    walked, pages = walk("/v1/offers?porteur_id=%d" % pid, limit=2)
    assert sorted(o["id"] for o in walked) == ids("") and pages == 3, (walked, pages)
    # Without ?limit= a page holds 50.
    while int(DB.sql("SELECT count(*) FROM offers")[0]) <= 50:
        offer(porteur_id=pid, capacity=0)
    page = expect(get("/v1/offers"), 200).json
    assert len(page["items"]) == 50 and page["next_cursor"] is not None, (len(page["items"]), page["next_cursor"])
    # Bad parameters are 400s.
    for q in ("kind=castle", "departement=999", "min_free=-1", "min_free=x", "available_on=2026-13-01",
              "limit=0", "limit=201", "cursor=abc", "status=gone"):
        r = get("/v1/offers?" + q)
        expect_problem(r, 400)


@test
def free_places_equals_capacity_when_open_and_0_when_closed():
    o = offer(capacity=4)
    assert o["free_places"] == 4, o
    assert get("/v1/offers/%d" % o["id"]).json["free_places"] == 4
    expect(D.call("DELETE", "/v1/offers/%d" % o["id"], ADMIN), 200)
    assert get("/v1/offers/%d" % o["id"]).json["free_places"] == 0
    assert get("/v1/offers/%d?available_on=%s" % (o["id"], FAR)).json["free_places"] == 0
    # Before available_from and after available_until there is no free place either.
    f = offer(capacity=2, available_from="2089-01-01", available_until="2089-12-31")
    assert f["free_places"] == 0, f
    assert get("/v1/offers/%d?available_on=2089-06-01" % f["id"]).json["free_places"] == 2
    assert get("/v1/offers/%d?available_on=2090-01-01" % f["id"]).json["free_places"] == 0


@test
def offer_patch_is_a_merge_patch():
    o = offer(capacity=3, label="Merge")
    path = "/v1/offers/%d" % o["id"]
    mp = {"Content-Type": "application/merge-patch+json"}
    r = D.call("PATCH", path, ADMIN, {"capacity": 5}, headers=mp)
    p = expect(r, 200).json
    assert (p["capacity"], p["free_places"], p["label"], p["version"]) == (5, 5, "Merge", 2), p
    p = expect(D.call("PATCH", path, ADMIN, {"capacity": 2}, headers=mp), 200).json
    assert (p["capacity"], p["free_places"]) == (2, 2), p
    assert DB.sql("SELECT count(*) FILTER (WHERE active), count(*) FROM places WHERE offer_id = %d"
                  % o["id"]) == ["2|5"], "retired places must be kept, not deleted"
    p = expect(D.call("PATCH", path, ADMIN, {"available_until": "2099-12-31"}, headers=mp), 200).json
    assert p["available_until"] == "2099-12-31", p
    p = expect(D.call("PATCH", path, ADMIN, {"available_until": None}, headers=mp), 200).json
    assert p["available_until"] is None and p["label"] == "Merge" and p["capacity"] == 2, p
    # null on a field that cannot be null, or porteur_id at all, is refused.
    expect_problem(D.call("PATCH", path, ADMIN, {"label": None}, headers=mp), 400, "/label", "required")
    expect_problem(D.call("PATCH", path, ADMIN, {"porteur_id": P2}, headers=mp), 400, "/porteur_id")
    # Moving the offer relocates it.
    p = expect(D.call("PATCH", path, ADMIN, {"commune_insee": "31555"}, headers=mp), 200).json
    assert (p["departement"], p["lat"], p["lon"]) == ("31", 43.6007, 1.4328), p
    assert get(path).json == p


@test
def offer_patch_honours_if_match():
    o = offer()
    path = "/v1/offers/%d" % o["id"]
    etag = get(path).headers["ETag"]
    # the version, then a hash of what changes without a version (free places today)
    assert re.fullmatch(r'"1-[0-9a-f]{8}"', etag), etag
    expect(D.call("PATCH", path, ADMIN, {"label": "v2"}, headers={"If-Match": etag}), 200)
    expect_problem(D.call("PATCH", path, ADMIN, {"label": "v3"}, headers={"If-Match": etag}), 412)
    expect_problem(D.call("PATCH", path, ADMIN, {"label": "v3"}, headers={"If-Match": "garbage"}), 412)
    assert get(path).json["label"] == "v2"
    r = D.call("PATCH", path, ADMIN, {"label": "v3"}, headers={"If-Match": '"2"'})
    assert expect(r, 200).json["version"] == 3


@test
def delete_closes_and_never_removes():
    o = offer(label="A fermer")
    path = "/v1/offers/%d" % o["id"]
    r = D.call("DELETE", path, ADMIN)
    assert expect(r, 200).json["status"] == "closed", r
    g = expect(get(path, REF), 200).json
    assert g["status"] == "closed" and g["label"] == "A fermer", g
    closed = [x["id"] for x in walk("/v1/offers?status=closed", limit=200)[0]]
    assert o["id"] in closed
    opened = [x["id"] for x in walk("/v1/offers?status=open", limit=200)[0]]
    assert o["id"] not in opened
    assert DB.sql("SELECT status FROM offers WHERE id = %d" % o["id"]) == ["closed"]
    assert DB.sql("SELECT count(*) FROM places WHERE offer_id = %d" % o["id"]) == ["3"]
    # Closing again is harmless.
    assert expect(D.call("DELETE", path, ADMIN), 200).json["status"] == "closed"


# ---------------------------------------------------------------- the HTTP pipeline

@test
def unknown_ids_and_paths_are_404():
    for method, path in (("GET", "/v1/offers/999999"), ("PATCH", "/v1/offers/999999"),
                         ("DELETE", "/v1/offers/999999"), ("GET", "/v1/porteurs/999999"),
                         ("PATCH", "/v1/porteurs/999999"), ("DELETE", "/v1/tokens/999999"),
                         ("GET", "/v1/offers/0"), ("GET", "/v1/offers/abc"), ("GET", "/v1/nothing"),
                         ("GET", "/nowhere"), ("GET", "/v1/offers/1/../../healthz")):
        body = None
        if method == "PATCH":
            body = {"name": "x"} if path.startswith("/v1/porteurs") else {"label": "x"}
        r = D.call(method, path, ADMIN, body)
        try:
            expect_problem(r, 404)
        except AssertionError as e:
            raise AssertionError("%s %s: %s" % (method, path, e))


@test
def wrong_method_is_405_with_allow():
    for method, path, allowed in (("PUT", "/v1/offers", {"GET", "POST"}),
                                  ("DELETE", "/v1/porteurs", {"GET", "POST"}),
                                  ("POST", "/v1/offers/1", {"GET", "PATCH", "DELETE"}),
                                  ("PATCH", "/v1/tokens/1", {"DELETE"}),
                                  ("POST", "/healthz", {"GET"})):
        r = D.call(method, path, ADMIN, {} if method in ("PUT", "POST", "PATCH") else None)
        expect_problem(r, 405)
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed <= allow, "%s %s: Allow %r" % (method, path, r.headers.get("Allow"))


@test
def non_json_body_is_415():
    r = D.call("POST", "/v1/offers", ADMIN, raw=b"label=x", headers={"Content-Type": "text/plain"})
    expect_problem(r, 415)
    r = D.call("POST", "/v1/offers", ADMIN, raw=b'{"label":"x"}', headers={"Content-Type": None})
    expect_problem(r, 415)


# A second daemon on the same database for settings only the environment sets.
LIMITS = None


def limits_daemon():
    global LIMITS
    if LIMITS is None:
        LIMITS = Daemon(DB, env={"SIAOD_MAX_STAY_DAYS_IML": "365", "SIAOD_MAX_BODY_BYTES": "2048"},
                        name="limits")
    return LIMITS


@test
def max_stay_days_default_comes_from_the_config():
    L = limits_daemon()
    o = expect(L.call("POST", "/v1/offers", ADMIN, offer_body(kind="iml")), 201).json
    assert o["max_stay_days"] == 365, o
    o = expect(L.call("POST", "/v1/offers", ADMIN, offer_body(kind="alt")), 201).json
    assert o["max_stay_days"] == 180, o
    o = expect(L.call("POST", "/v1/offers", ADMIN, offer_body(kind="iml", max_stay_days=100)), 201).json
    assert o["max_stay_days"] == 100, o


@test
def body_above_max_body_bytes_is_413():
    L = limits_daemon()
    big = json.dumps(offer_body(label="x" * 150, pad=["y" * 100] * 36)).encode()
    assert 3900 < len(big) < 4200, len(big)
    r = L.call("POST", "/v1/offers", ADMIN, raw=big)
    expect_problem(r, 413)
    # Just under the limit it goes on to validation (the pad field is unknown).
    small = json.dumps(offer_body(pad=["y" * 100] * 15)).encode()
    assert len(small) < 2048
    expect_problem(L.call("POST", "/v1/offers", ADMIN, raw=small), 400, "/pad", "unknown_field")
    expect(L.call("GET", "/healthz"), 200)


@test
def header_too_large_is_refused_and_the_daemon_keeps_serving():
    # 40 kB of header against the default 16 kB limit.
    req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", D.port), timeout=5)
    answer = b""
    try:
        s.sendall(req)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        raise AssertionError("the daemon neither answered nor closed: %r" % answer[:200])
    finally:
        s.close()
    if answer:
        m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        assert m and 400 <= int(m.group(1)) < 500, "expected a 4xx or a closed connection: %r" % answer[:200]
    expect(D.call("GET", "/healthz"), 200)
    expect(D.call("GET", "/v1/porteurs", ADMIN), 200)


# ---------------------------------------------------------------- roles and scopes

@test
def porteur_token_writes_its_own_offers_only():
    # porteur_id defaults to the token's porteur
    body = offer_body(porteur_id=DROP)
    o = expect(D.call("POST", "/v1/offers", PT1, body), 201).json
    assert o["porteur_id"] == P1, o
    expect(D.call("POST", "/v1/offers", PT1, offer_body(porteur_id=P1)), 201)
    expect_problem(D.call("POST", "/v1/offers", PT1, offer_body(porteur_id=P2)), 403)
    other = offer(porteur_id=P2)
    expect_problem(D.call("PATCH", "/v1/offers/%d" % other["id"], PT1, {"label": "pris"}), 403)
    expect_problem(D.call("DELETE", "/v1/offers/%d" % other["id"], PT1), 403)
    g = get("/v1/offers/%d" % other["id"]).json
    assert g["label"] == other["label"] and g["status"] == "open", "a refused write changed the offer"
    expect(D.call("PATCH", "/v1/offers/%d" % o["id"], PT1, {"label": "à moi"}), 200)
    assert expect(D.call("DELETE", "/v1/offers/%d" % o["id"], PT1), 200).json["status"] == "closed"
    # An admin must say which porteur.
    expect_problem(D.call("POST", "/v1/offers", ADMIN, offer_body(porteur_id=DROP)), 400, "/porteur_id", "required")


@test
def role_table():
    """(method, path, body, token, status) for every route and role: the route table's roles,
    and the porteur's own/other scope."""
    own = offer(porteur_id=P1)["id"]
    other = offer(porteur_id=P2)["id"]
    victim = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "admin", "label": "victim"}), 201).json["id"]
    fresh = lambda: "/v1/offers/%d" % offer(porteur_id=P1)["id"]  # noqa: E731  (a DELETE closes: one offer per row)
    mk_offer = offer_body(porteur_id=P1)
    mk_porteur = {"name": "Role", "departement": "34"}
    mk_token = {"role": "admin", "label": "made"}
    none, garbage = None, "siaod_" + "0" * 40
    rows = [
        ("GET", "/v1/porteurs", None, {ADMIN: 200, REF: 200, PT1: 200, none: 401, garbage: 401}),
        ("GET", "/v1/porteurs/%d" % P1, None, {ADMIN: 200, REF: 200, PT2: 200, none: 401, garbage: 401}),
        ("POST", "/v1/porteurs", mk_porteur, {ADMIN: 201, REF: 403, PT1: 403, none: 401, garbage: 401}),
        ("PATCH", "/v1/porteurs/%d" % P1, {"target_youth": 3}, {ADMIN: 200, REF: 403, PT1: 403, none: 401}),
        ("GET", "/v1/offers", None, {ADMIN: 200, REF: 200, PT1: 200, PT2: 200, none: 401, garbage: 401}),
        ("GET", "/v1/offers/%d" % own, None, {ADMIN: 200, REF: 200, PT1: 200, PT2: 200, none: 401}),
        ("POST", "/v1/offers", mk_offer, {ADMIN: 201, REF: 403, PT1: 201, PT2: 403, none: 401, garbage: 401}),
        ("PATCH", "/v1/offers/%d" % own, {"label": "r"}, {ADMIN: 200, REF: 403, PT1: 200, PT2: 403, none: 401}),
        ("PATCH", "/v1/offers/%d" % other, {"label": "r"}, {ADMIN: 200, PT1: 403, PT2: 200}),
        ("DELETE", fresh, None, {ADMIN: 200, REF: 403, PT1: 200, PT2: 403, none: 401, garbage: 401}),
        ("POST", "/v1/tokens", mk_token, {ADMIN: 201, REF: 403, PT1: 403, none: 401, garbage: 401}),
        ("GET", "/v1/tokens", None, {ADMIN: 200, REF: 403, PT1: 403, none: 401}),
        ("DELETE", "/v1/tokens/%d" % victim, None, {REF: 403, PT1: 403, none: 401}),
        ("GET", "/v1/audit", None, {ADMIN: 200, REF: 403, PT1: 403, none: 401, garbage: 401}),
        # anyone reaches health
        ("GET", "/healthz", None, {none: 200, garbage: 200}),
    ]
    names = {ADMIN: "admin", REF: "referent", PT1: "porteur P1", PT2: "porteur P2", none: "no token",
             garbage: "unknown token"}
    bad = []
    for method, path, body, expected in rows:
        for tok, status in expected.items():
            p = path() if callable(path) else path
            r = D.call(method, p, tok, body)
            if r.status != status:
                bad.append("%s %s as %s: %d, expected %d (%s)" % (method, p, names[tok], r.status, status, r.text[:120]))
            elif status >= 400 and not r.headers.get("Content-Type", "").startswith("application/problem+json"):
                bad.append("%s %s as %s: %d is not problem+json" % (method, p, names[tok], status))
    assert not bad, "\n".join(bad)
    # Malformed Authorization headers are 401 too.
    for h in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Bearer siaod_xyz", "bearer " + garbage):
        expect_problem(D.call("GET", "/v1/offers", headers={"Authorization": h}), 401)


@test
def revoked_token_is_401_at_once():
    t = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "referent", "departements": ["34"]}), 201).json
    expect(D.call("GET", "/v1/offers", t["token"]), 200)   # now in the daemon's cache
    r = expect(D.call("DELETE", "/v1/tokens/%d" % t["id"], ADMIN), 200)
    assert r.json["revoked_at"] is not None, r
    expect_problem(D.call("GET", "/v1/offers", t["token"]), 401)
    assert DB.sql("SELECT revoked_at IS NOT NULL FROM tokens WHERE id = %d" % t["id"]) == ["t"]


@test
def revoked_token_stops_working_on_every_instance_within_the_cache_time():
    # Instances share the database but each caches tokens for
    # AUTH_CACHE_SECONDS (10 s, daemon/auth.h): the documented bound.
    other = limits_daemon()
    t = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "admin", "label": "two"}), 201).json
    expect(other.call("GET", "/v1/porteurs?limit=1", t["token"]), 200)
    t0 = time.monotonic()
    expect(D.call("DELETE", "/v1/tokens/%d" % t["id"], ADMIN), 200)
    expect_problem(D.call("GET", "/v1/porteurs?limit=1", t["token"]), 401)
    eventually(lambda: other.call("GET", "/v1/porteurs?limit=1", t["token"]).status == 401,
               timeout=12, interval=0.5, msg="401 on the other instance")
    assert time.monotonic() - t0 < 12


@test
def expired_token_is_401():
    old = D.token("admin", label="expired-cli", expires_at="2020-01-01T00:00:00Z")
    expect_problem(D.call("GET", "/v1/offers", old), 401)
    past = expect(D.call("POST", "/v1/tokens", ADMIN,
                         {"role": "admin", "expires_at": "2021-06-01T12:00:00+02:00"}), 201).json
    expect_problem(D.call("GET", "/v1/offers", past["token"]), 401)
    future = expect(D.call("POST", "/v1/tokens", ADMIN,
                           {"role": "admin", "expires_at": "2099-01-01T00:00:00Z"}), 201).json
    expect(D.call("GET", "/v1/offers", future["token"]), 200)
    expect_problem(D.call("POST", "/v1/tokens", ADMIN, {"role": "admin", "expires_at": "soon"}),
                   400, "/expires_at", "wrong_type")


# ---------------------------------------------------------------- tokens

@test
def token_is_shown_once_and_stored_hashed():
    r = D.call("POST", "/v1/tokens", ADMIN, {"role": "porteur", "porteur_id": P2, "label": "once"})
    t = expect(r, 201).json
    assert re.fullmatch(r"siaod_[0-9a-f]{40}", t["token"]), t
    assert (t["role"], t["porteur_id"], t["label"]) == ("porteur", P2, "once"), t
    assert isinstance(t["id"], int)
    # It works, within its scope.
    assert expect(D.call("POST", "/v1/offers", t["token"], offer_body(porteur_id=DROP)), 201).json["porteur_id"] == P2
    # Never shown again.
    listed, _ = walk("/v1/tokens", limit=200)
    mine = [x for x in listed if x["id"] == t["id"]]
    assert mine and "token" not in mine[0] and "hash" not in mine[0], mine
    text = json.dumps(listed)
    assert t["token"] not in text and "hash" not in text, "GET /v1/tokens shows a secret"
    # Stored as its SHA-256.
    stored = DB.sql("SELECT encode(hash, 'hex') FROM tokens WHERE id = %d" % t["id"])[0]
    assert stored == hashlib.sha256(t["token"].encode()).hexdigest()
    assert DB.sql("SELECT count(*) FROM tokens WHERE encode(hash, 'escape') LIKE '%%%s%%'" % t["token"][6:]) == ["0"]


@test
def token_scope_must_fit_its_role():
    cases = [
        ({"role": "referent"}, "/departements", "required"),
        ({"role": "referent", "departements": []}, "/departements", "required"),
        ({"role": "porteur"}, "/porteur_id", "required"),
        ({"role": "porteur", "porteur_id": 999999}, "/porteur_id", "unknown_value"),
        ({"role": "admin", "porteur_id": P1}, "/porteur_id", "unknown_field"),
        ({"role": "root"}, "/role", "unknown_value"),
        ({"role": "referent", "departements": ["34", "XX"]}, "/departements/1", "unknown_value"),
    ]
    before = DB.sql("SELECT count(*) FROM tokens")
    for body, pointer, code in cases:
        try:
            expect_problem(D.call("POST", "/v1/tokens", ADMIN, body), 400, pointer, code)
        except AssertionError as e:
            raise AssertionError("%r: %s" % (body, e))
    assert DB.sql("SELECT count(*) FROM tokens") == before
    # The CLI refuses the same.
    p = D.cli("token", "create", "--role", "referent", check=False)
    assert p.returncode != 0 and "département" in p.stderr, p.stderr


# ---------------------------------------------------------------- audit

@test
def audit_shows_writes_and_refused_attempts():
    o = offer()
    expect(D.call("POST", "/v1/offers", REF, offer_body()), 403)
    expect(D.call("GET", "/v1/offers"), 401)
    expect(D.call("DELETE", "/v1/offers/%d" % o["id"], PT2), 403)   # refused by the SQL scope check

    def rows():
        items = audit_items()
        ok = [a for a in items if a["action"] == "offer.create" and a["outcome"] == "ok"
              and a["entity_id"] == o["id"]]
        denied = [a for a in items if a["outcome"] == "denied" and a["status"] == 403
                  and a["token_id"] == IDS["ref"] and a["action"] == "offer.create"]
        scoped = [a for a in items if a["outcome"] == "denied" and a["token_id"] == IDS["p2"]
                  and a["entity_id"] == o["id"]]
        unauth = [a for a in items if a["outcome"] == "unauthenticated" and a["status"] == 401]
        return (ok, denied, scoped, unauth) if ok and denied and scoped and unauth else None

    ok, denied, scoped, unauth = eventually(rows, msg="audit rows")   # refusals are written async
    assert ok[0]["token_id"] == IDS["admin"] and ok[0]["role"] == "admin" and ok[0]["status"] == 201, ok
    assert denied[0]["role"] == "referent" and denied[0]["entity"] == "offer", denied
    assert unauth[0]["token_id"] is None, unauth
    for a in ok + denied + unauth:
        assert a["request_id"], a
    # Filters.
    offers = audit_items("&entity=offer")
    assert offers and all(a["entity"] == "offer" for a in offers), offers
    assert any(a["entity_id"] == o["id"] for a in offers)
    by_ref = audit_items("&actor=%d" % IDS["ref"])
    assert by_ref and all(a["token_id"] == IDS["ref"] for a in by_ref), by_ref
    assert all(a["entity"] == "porteur" for a in audit_items("&entity=porteur"))
    assert audit_items("&from=2099-01-01") == []
    expect_problem(get("/v1/audit?entity=castle"), 400)
    # Newest first, and pages don't overlap.
    items, _ = walk("/v1/audit", limit=7)
    ids = [a["id"] for a in items]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)), ids[:20]


# ---------------------------------------------------------------- logs

@test
def every_request_is_logged():
    text = D.log_text()
    lines = {}
    for line in text.splitlines():
        if "event=request " in line:
            m = re.search(r"\brid=(\S+)", line)
            if m:
                lines[m.group(1)] = line
    answered = [c for c in D.calls if c[0]]
    assert len(answered) == len(D.calls), "answers without X-Request-Id: %r" % [c for c in D.calls if not c[0]][:5]
    assert len(answered) > 100, len(answered)
    missing = []
    for rid, method, path, status in answered:
        line = lines.get(rid)
        if not line:
            missing.append("%s %s %s (no line)" % (rid, method, path))
            continue
        for part in ("method=%s " % method, "status=%d " % status):
            if part not in line:
                missing.append("%s: %r not in %s" % (rid, part, line))
        if not re.search(r"\bpath=\S", line) or not re.search(r"\bdur_ms=\d+(\.\d+)?", line):
            missing.append("%s: no path/dur_ms in %s" % (rid, line))
        if re.fullmatch(r"[A-Za-z0-9/_.-]+", path) and "path=%s " % path not in line:
            missing.append("%s: path %s not in %s" % (rid, path, line))
    assert not missing, "\n".join(missing[:20])


@test
def no_token_ever_reaches_the_log():
    from harness import SECRETS
    assert len(SECRETS) >= 8, SECRETS
    for d in (D, LIMITS):
        if d is None:
            continue
        text = d.log_text()
        leaked = [t[:14] for t in SECRETS if t in text or t[6:] in text]
        assert not leaked, "%s log holds tokens %r" % (d.name, leaked)


# ---------------------------------------------------------------- lifecycle

def write(path, text):
    with open(path, "w") as f:
        f.write(text)


@test
def sighup_reloads_the_config_file_or_refuses_it():
    conf = os.path.join(os.path.dirname(D.log_path), "reload.conf")
    write(conf, "log_level = info\nhold_days = 7\n")
    H = Daemon(DB, args=["--config", conf], name="reload")
    tok = ADMIN

    def hup():
        mark = len(H.log_text())
        H.send_signal(signal.SIGHUP)
        return mark

    write(conf, "log_level = debug\nhold_days = 7\n")
    mark = hup()
    assert H.wait_log(r"event=reload result=ok", after=mark), H.log_tail()
    # log_level = warn applies: requests (info) are no longer logged.
    write(conf, "log_level = warn\nhold_days = 7\n")
    hup()
    time.sleep(0.3)
    r = expect(H.call("GET", "/v1/offers?limit=1", tok), 200)
    time.sleep(0.2)
    assert "rid=%s " % r.headers["X-Request-Id"] not in H.log_text(), "log_level=warn not applied"
    # Back to info; a key that needs a restart is named, not applied.
    write(conf, "log_level = info\nhold_days = 7\ndb_pool_size = 2\n")
    mark = hup()
    m = H.wait_log(r"event=reload result=ok( needs_restart=\S+)?", after=mark)
    assert m and "db_pool_size" in (m.group(1) or ""), H.log_tail()
    # A broken file is refused and the daemon keeps serving with the old config.
    for broken in ("log_level = info\nweight_distance = 99\n", "this is not a config\n",
                   "log_level = loud\n", "no_such_key = 1\n"):
        write(conf, broken)
        mark = hup()
        assert H.wait_log(r"event=reload result=refused", after=mark), (broken, H.log_tail())
        expect(H.call("GET", "/healthz"), 200)
        r = expect(H.call("GET", "/v1/porteurs?limit=1", tok), 200)
        assert H.wait_log(r"rid=%s " % r.headers["X-Request-Id"], after=mark), "log level changed by a refused file"
    code = H.stop()
    assert code == 0, "exit code %s after SIGTERM:\n%s" % (code, H.log_tail())


@test
def sigterm_with_an_idle_keepalive_connection_exits_0_promptly():
    T = Daemon(DB, name="term-idle")
    s = socket.create_connection(("127.0.0.1", T.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 200"), first
    # The connection stays open and idle; SIGTERM must not wait for it.
    t0 = time.monotonic()
    T.send_signal(signal.SIGTERM)
    code = T.wait(timeout=5)
    took = time.monotonic() - t0
    try:
        assert code is not None, "still running 5 s after SIGTERM with an idle keep-alive connection"
        s.settimeout(2)
        try:
            rest = s.recv(4096)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", "idle connection not closed: %r" % rest
    finally:
        s.close()
        if T.running():
            T.kill()
    assert code == 0, "exit code %s (%.1f s):\n%s" % (code, took, T.log_tail())
    assert T.wait_log(r"event=shutdown phase=done", timeout=0)


@test
def sigterm_answers_the_request_in_flight_then_exits_0():
    T = Daemon(DB, name="term-busy")
    o = offer(daemon=T)
    # No route is slow by itself: hold the offer's row lock from psql so that a
    # PATCH waits inside the database while we send SIGTERM.
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB.url, "-c",
         "BEGIN; SELECT 1 FROM offers WHERE id = %d FOR UPDATE; SELECT pg_sleep(2.5); COMMIT;" % o["id"]],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND query LIKE '%%pg_sleep(2.5)%%' AND pid <> pg_backend_pid()") == ["1"],
                   msg="lock holder running")
        result = {}
        th = threading.Thread(target=lambda: result.update(
            r=T.call("PATCH", "/v1/offers/%d" % o["id"], ADMIN, {"label": "drained"}, timeout=20)))
        th.start()
        eventually(lambda: DB.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'") == ["1"], msg="PATCH waiting on the lock")
        T.send_signal(signal.SIGTERM)
        # Draining: no new connection is accepted...
        time.sleep(0.3)
        try:
            socket.create_connection(("127.0.0.1", T.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        assert T.running(), "exited with a request in flight:\n" + T.log_tail()
        # ...but the request in flight is answered once the lock goes.
        th.join(20)
        r = result.get("r")
        assert r is not None, "the in-flight PATCH got no answer"
        expect(r, 200)
        assert r.json["label"] == "drained"
        assert r.headers.get("Connection", "").lower() == "close", r.headers
        code = T.wait(timeout=10)
        assert code == 0, "exit code %s:\n%s" % (code, T.log_tail())
        assert refused, "a new connection was accepted while draining"
    finally:
        holder.wait(10)
        if T.running():
            T.kill()
    assert DB.sql("SELECT label FROM offers WHERE id = %d" % o["id"]) == ["drained"]


@test
def restart_keeps_everything():
    p = porteur("Persistant", "66")
    o = offer(porteur_id=p["id"], kind="alt", label="Perpignan", commune_insee="66136", capacity=2)
    t = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "porteur", "porteur_id": p["id"]}), 201).json
    before_offers = walk("/v1/offers?porteur_id=%d" % p["id"])[0]
    n_porteurs = len(walk("/v1/porteurs", limit=200)[0])
    code = D.restart()
    assert code == 0, "exit code %s on restart:\n%s" % (code, D.log_tail())
    assert expect(get("/v1/porteurs/%d" % p["id"]), 200).json == p
    g = expect(get("/v1/offers/%d" % o["id"]), 200).json
    assert {k: v for k, v in g.items() if k != "free_places_on"} == \
        {k: v for k, v in o.items() if k != "free_places_on"}, (g, o)
    assert walk("/v1/offers?porteur_id=%d" % p["id"])[0] == before_offers
    assert len(walk("/v1/porteurs", limit=200)[0]) == n_porteurs
    # Tokens survive too (they live in the database, not in memory).
    expect(D.call("GET", "/v1/offers/%d" % o["id"], t["token"]), 200)
    expect(D.call("GET", "/v1/offers", PT1), 200)
    # and migrations are not applied twice
    assert D.log_text().count("applied=001_foundation.sql") == 1


# ---------------------------------------------------------------- command line

@test
def check_config_refuses_weights_not_summing_to_100():
    conf = os.path.join(os.path.dirname(D.log_path), "weights.conf")
    write(conf, "weight_distance = 40\n")   # 40 + 15 + 20 + 20 + 10 = 105
    p = D.cli("--check-config", "--config", conf, check=False)
    assert p.returncode != 0, p
    assert "100" in p.stderr and "105" in p.stderr, p.stderr
    # The environment counts as much as the file.
    p = D.cli("--check-config", check=False, env={"SIAOD_WEIGHT_SUPPORT": "0"})
    assert p.returncode != 0 and "100" in p.stderr, (p.returncode, p.stderr)
    # Defaults are fine, and the effective keys are printed without secrets.
    p = D.cli("--check-config", check=False)
    assert p.returncode == 0, p.stderr
    assert "weight_distance = 35" in p.stdout and "max_stay_days_iml = 540" in p.stdout, p.stdout
    p = D.cli("--check-config", check=False, env={"SIAOD_DATABASE_URL": "host=/tmp dbname=x password=hunter2"})
    assert p.returncode == 0 and "hunter2" not in p.stdout + p.stderr, p.stdout


@test
def version_and_bad_usage():
    p = D.cli("--version")
    assert re.match(r"siaod \d+\.\d+\.\d+", p.stdout), p.stdout
    p = D.cli("--no-such-option", check=False)
    assert p.returncode != 0 and "usage" in p.stderr, (p.returncode, p.stderr)
    p = D.cli("--config", "/nonexistent/siaod.conf", "--check-config", check=False)
    assert p.returncode != 0 and "/nonexistent/siaod.conf" in p.stderr, p.stderr


if __name__ == "__main__":
    run_all(setup)
