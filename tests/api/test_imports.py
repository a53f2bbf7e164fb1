"""
Issue 16 against the real daemon and PostgreSQL: spreadsheet imports (every
error kind, UTF-8 with and without BOM and Windows-1252, ';' and ',', dry run
vs apply, all or nothing, idempotent re-import, a corrected file, scope, the
pre-filled template, the body limit of this route only), freshness of offers
across reconfirm_days and twice that under the test clock (flag, reminder
event, rule stale, confirm), refusals by side with the cooldown rule
declined_recently, and the new indicators against a hand-computed fixture.

Tests run in order and share one database; the clock is moved by rewriting
the config file and sending SIGHUP, and put back by the tests that move it.
"""
import csv
import datetime
import io
import re
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, Database, expect, expect_problem, run_all,  # noqa: E402
                     test)

D = DB = CONF = None
ADMIN = REF34 = None
PA = PB = None          # porteurs in 34
PTA = PTB = None
TODAY0 = None
CLOCK = [0]
SETE, FRONTIGNAN = "34301", "34108"

OFFER_HEADER = ("Identifiant siaod;Code offre;Porteur;Type;Libellé;Commune;Département;Capacité;"
                "Durée max (jours);Âge min;Âge max;Public;Couples;Enfants;Animaux;Accès fauteuil;"
                "Accompagnement;Charge mensuelle (€);Disponible à partir du;Disponible jusqu'au;Statut")


def setup():
    global D, DB, CONF, ADMIN, REF34, PA, PB, PTA, PTB, TODAY0
    DB = Database("imports")
    D = Daemon(DB, name="main", start=False,
               env={"SIAOD_RECONFIRM_DAYS": "30", "SIAOD_REFUSAL_COOLDOWN_DAYS": "20",
                    "SIAOD_IMPORT_MAX_BYTES": "2000000", "SIAOD_MAX_BODY_BYTES": "65536"})
    CONF = os.path.join(D.dir, "siaod.conf")
    write_conf(0)
    D.args = ["--config", CONF]
    D.start()
    ADMIN = D.token("admin", label="admin")
    REF34 = D.token("referent", departements=("34",), label="ref34")
    PA = porteur("Habitat A", "34")
    PB = porteur("Habitat B", "34")
    PTA = D.token("porteur", porteur=PA, label="pta")
    PTB = D.token("porteur", porteur=PB, label="ptb")
    TODAY0 = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])


def write_conf(offset, extra=""):
    with open(CONF, "w") as f:
        f.write("# written by test_imports.py\ntest_clock_offset_days = %d\n%s" % (offset, extra))


def set_clock(offset):
    write_conf(offset)
    D.reload()
    CLOCK[0] = offset


def today():
    return TODAY0 + datetime.timedelta(days=CLOCK[0])


def porteur(name, dep):
    return expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": name, "departement": dep}), 201).json["id"]


def imp(token, kind, text, mode=None, encoding="utf-8", bom=False, ctype="text/csv; charset=utf-8"):
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = "/v1/imports?kind=%s" % kind + ("&mode=%s" % mode if mode else "")
    return D.call("POST", path, token, raw=data, headers={"Content-Type": ctype})


def offer_rows(*rows, sep=";"):
    return sep.join(OFFER_HEADER.split(";")) + "\r\n" + "".join(sep.join(r) + "\r\n" for r in rows)


def row(ref="", label="Studio", commune=SETE, capacity="2", kind="iml", porteur_id="", **kw):
    cells = {"id": "", "ref": ref, "porteur": porteur_id, "kind": kind, "label": label, "commune": commune,
             "dep": "", "capacity": capacity, "max_stay": "", "min_age": "", "max_age": "", "gender": "",
             "couples": "", "children": "", "pets": "", "wheelchair": "", "support": "", "charge": "",
             "from": "", "until": "", "status": ""}
    cells.update(kw)
    return [cells[k] for k in ("id", "ref", "porteur", "kind", "label", "commune", "dep", "capacity",
                               "max_stay", "min_age", "max_age", "gender", "couples", "children", "pets",
                               "wheelchair", "support", "charge", "from", "until", "status")]


def offers_of(p):
    return DB.sql("SELECT count(*) FROM offers WHERE porteur_id = %d" % p)[0]


def errors_by_row(report):
    out = {}
    for e in report["errors"]:
        out.setdefault(e["row"], []).append((e["column"], e["code"]))
    return out


# ---------------------------------------------------------------- imports

@test
def dry_run_lists_every_row_and_every_error_kind_and_changes_nothing():
    rows = [
        row(ref="A-1", label="Studio Sète", capacity="2", charge="120,50", **{"from": "01/01/2026"}),
        row(ref="A-2", label="", capacity="2"),                                   # required
        row(ref="A-3", capacity="deux"),                                         # wrong_type
        row(ref="A-4", capacity="5000"),                                         # out_of_range
        row(ref="A-5", kind="chateau"),                                          # unknown_value
        row(ref="A-6", label="x" * 201),                                         # too_long
        row(ref="A-1", label="Encore"),                                          # duplicate in file
        row(ref="A-8", commune="Saint-Clément"),                                 # ambiguous name
        row(ref="A-9", commune="Nullepart-sur-Mer"),                             # unknown commune
        row(ref="A-10", commune="Frontignan", couples="peut-être"),              # bool wrong_type
        row(ref="A-11", **{"from": "31/02/2026"}),                               # bad date
        row(ref="A-12", porteur_id=str(PB)),                                     # another porteur
        row(ref="A-13", kind="shared_flat", max_stay="120"),                     # cross-field
    ]
    before = offers_of(PA)
    r = expect(imp(PTA, "offers", offer_rows(*rows)), 200).json
    assert r["applied"] is False and r["kind"] == "offers", r
    outcomes = [(x["row"], x["outcome"]) for x in r["rows"]]
    assert outcomes[0] == (2, "create"), outcomes
    assert [o for _, o in outcomes[1:]] == ["error"] * 12, outcomes
    e = errors_by_row(r)
    assert e[3] == [("Libellé", "required")], e
    assert e[4] == [("Capacité", "wrong_type")], e
    assert e[5] == [("Capacité", "out_of_range")], e
    assert e[6] == [("Type", "unknown_value")], e
    assert e[7] == [("Libellé", "too_long")], e
    assert e[8] == [("Code offre", "duplicate")], e
    assert e[9] == [("Commune", "ambiguous")], e
    assert e[10] == [("Commune", "unknown_value")], e
    assert e[11] == [("Couples", "wrong_type")], e
    assert e[12] == [("Disponible à partir du", "wrong_type")], e
    assert e[13] == [("Porteur", "forbidden")], e
    assert e[14] == [("Durée max (jours)", "out_of_range")], e
    for x in r["errors"]:
        assert x["pointer"].startswith("/rows/%d/" % x["row"]), x
    assert r["summary"] == {"create": 1, "update": 0, "unchanged": 0, "error": 12, "rows": 13}, r["summary"]
    assert offers_of(PA) == before, "a dry run changed the database"


@test
def unknown_and_missing_columns_are_file_errors():
    r = expect(imp(PTA, "offers", "Code offre;Libellé;Couleur\r\nX;Y;bleu\r\n"), 200).json
    codes = {(x["column"], x["code"]) for x in r["errors"] if x["row"] == 1}
    assert ("Couleur", "unknown_field") in codes, r["errors"]
    assert ("Type", "required") in codes and ("Commune", "required") in codes, codes
    assert ("Capacité", "required") in codes, codes
    expect_problem(imp(PTA, "offers", "Code offre;Libellé;Couleur\r\nX;Y;bleu\r\n", mode="apply"), 422)


@test
def apply_is_all_or_nothing():
    before = offers_of(PA)
    r = imp(PTA, "offers", offer_rows(row(ref="N-1"), row(ref="N-2", capacity="-1")), mode="apply")
    p = expect_problem(r, 422)
    assert p["type"].endswith("/import-invalid"), p
    assert p["summary"]["error"] == 1 and p["summary"]["create"] == 1, p
    assert offers_of(PA) == before, "a file with an error imported something"


@test
def both_encodings_both_separators_with_and_without_bom():
    cases = [("utf-8", False, ";", "E-1"), ("utf-8", True, ";", "E-2"),
             ("cp1252", False, ";", "E-3"), ("utf-8", True, ",", "E-4"), ("cp1252", False, ",", "E-5")]
    for enc, bom, sep, ref in cases:
        text = offer_rows(row(ref=ref, label="Résidence Hélène « été »", commune="Sète",
                              charge="1 234,5" if sep == ";" else "99.5", support="léger"), sep=sep)
        if sep == ",":
            text = text.replace("1 234,5", "99.5")
        r = expect(imp(PTA, "offers", text, mode="apply", encoding=enc, bom=bom), 200).json
        assert r["applied"] and r["rows"][0]["outcome"] == "create", (enc, bom, sep, r)
        o = expect(D.call("GET", "/v1/offers/%d" % r["rows"][0]["id"], PTA), 200).json
        assert o["label"] == "Résidence Hélène « été »", (enc, o["label"])
        assert o["commune_insee"] == SETE and o["external_ref"] == ref, o
        assert o["support_level"] == "light", o
        assert o["monthly_charge_eur"] == (1234.5 if sep == ";" else 99.5), o


@test
def reimporting_the_same_file_changes_nothing_and_a_corrected_file_updates():
    text = offer_rows(row(ref="R-1", label="Studio 1", capacity="2", charge="336,91", **{"from": "01/03/2026"}),
                      row(ref="R-2", label="Studio 2", capacity="3", gender="femmes", pets="oui"))
    r1 = expect(imp(PTA, "offers", text, mode="apply"), 200).json
    assert [x["outcome"] for x in r1["rows"]] == ["create", "create"], r1
    ids = [x["id"] for x in r1["rows"]]
    versions = DB.sql("SELECT string_agg(version::text, ',' ORDER BY id) FROM offers WHERE id IN (%d, %d)" % tuple(ids))
    events = DB.sql("SELECT count(*) FROM outbox")[0]
    audits = DB.sql("SELECT count(*) FROM audit WHERE action = 'offer.patch'")[0]
    r2 = expect(imp(PTA, "offers", text, mode="apply"), 200).json
    assert [x["outcome"] for x in r2["rows"]] == ["unchanged", "unchanged"], r2
    assert [x["id"] for x in r2["rows"]] == ids
    assert DB.sql("SELECT string_agg(version::text, ',' ORDER BY id) FROM offers WHERE id IN (%d, %d)" % tuple(ids)) == versions
    assert DB.sql("SELECT count(*) FROM outbox")[0] == events, "an identical re-import emitted an event"
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'offer.patch'")[0] == audits
    # corrected: one capacity changes
    fixed = text.replace(";Studio 2;%s;;3;" % SETE, ";Studio 2;%s;;4;" % SETE)
    assert fixed != text
    dry = expect(imp(PTA, "offers", fixed), 200).json
    assert [x["outcome"] for x in dry["rows"]] == ["unchanged", "update"], dry
    r3 = expect(imp(PTA, "offers", fixed, mode="apply"), 200).json
    assert [x["outcome"] for x in r3["rows"]] == ["unchanged", "update"], r3
    o = expect(D.call("GET", "/v1/offers/%d" % ids[1], PTA), 200).json
    assert o["capacity"] == 4 and o["gender"] == "female" and o["accepts_pets"] is True, o
    assert offers_of(PA) == DB.sql("SELECT count(*) FROM offers WHERE porteur_id = %d" % PA)[0]


@test
def template_is_french_and_prefilled_so_a_first_import_updates():
    # an offer created by hand, without a code: the template carries its id
    o = expect(D.call("POST", "/v1/offers", PTA, {"kind": "fjt", "label": "FJT; centre \"ville\"",
                                                  "commune_insee": FRONTIGNAN, "capacity": 5}), 201).json
    t = expect(D.call("GET", "/v1/imports/template?kind=offers", PTA), 200)
    assert t.headers.get("Content-Type").startswith("text/csv"), t.headers
    body = t.data
    assert body.startswith(b"\xef\xbb\xbf"), body[:10]
    lines = body[3:].decode().split("\r\n")
    assert lines[0] == OFFER_HEADER, lines[0]
    mine = [ln for ln in lines[1:] if ln.startswith("%d;" % o["id"])]
    assert len(mine) == 1, lines
    assert all(";%d;" % PA in ln for ln in lines[1:] if ln), "another porteur's offer in the template"
    count = offers_of(PA)
    r = expect(imp(PTA, "offers", body.decode("utf-8-sig"), mode="apply"), 200).json
    assert {x["outcome"] for x in r["rows"]} == {"unchanged"}, [x for x in r["rows"] if x["outcome"] != "unchanged"]
    assert offers_of(PA) == count, "the template's rows created offers"
    # youth template: headers only
    ty = expect(D.call("GET", "/v1/imports/template?kind=youth", REF34), 200).data[3:].decode()
    assert ty.split("\r\n")[0].startswith("Référence;Département;Date de naissance"), ty
    assert ty.count("\r\n") == 1, ty


@test
def scope_refusals():
    expect_problem(imp(REF34, "offers", offer_rows(row(ref="S-1"))), 403)
    expect_problem(imp(PTA, "youth", "Référence;Département\r\nX;34\r\n"), 403)
    o = expect(D.call("POST", "/v1/offers", PTB, {"kind": "alt", "label": "B", "commune_insee": SETE,
                                                  "capacity": 1}), 201).json
    r = expect(imp(PTA, "offers", offer_rows(row(id=str(o["id"]), ref="S-2"))), 200).json
    assert errors_by_row(r)[2] == [("Identifiant siaod", "forbidden")], r
    # an admin names the porteur
    r = expect(imp(ADMIN, "offers", offer_rows(row(ref="S-3"))), 200).json
    assert errors_by_row(r)[2] == [("Porteur", "required")], r
    r = expect(imp(ADMIN, "offers", offer_rows(row(ref="S-3", porteur_id=str(PB)))), 200).json
    assert r["rows"][0]["outcome"] == "create", r
    expect_problem(imp(PTA, "offers", offer_rows(row(ref="S-4")), ctype="application/json"), 415)
    expect_problem(D.call("POST", "/v1/imports?kind=castles", PTA, raw=b"a", headers={"Content-Type": "text/csv"}), 400)


def youth_csv(*rows, sep=";"):
    head = ["Référence", "Département", "Date de naissance", "Genre", "Situation", "Commune souhaitée",
            "Besoins", "Ménage", "Inscrit le"]
    out = io.StringIO()
    w = csv.writer(out, delimiter=sep, lineterminator="\r\n")   # quotes "fauteuil, santé mentale"
    w.writerow(head)
    w.writerows(rows)
    return out.getvalue()


def born(age):
    return TODAY0.replace(year=TODAY0.year - age, day=min(TODAY0.day, 28)).strftime("%d/%m/%Y")


@test
def youth_import_by_ref_with_scope_and_idempotence():
    rows = [["Y-1", "34", born(20), "femme", "rue", "Sète", "fauteuil, santé mentale", "seule", ""],
            ["Y-2", "34", born(19), "homme", "sortie d'institution", SETE, "", "", "01/01/2025"],
            ["Y-3", "30", born(19), "homme", "rue", "", "", "", ""],                  # other département
            ["Y-4", "34", "01/01/1950", "homme", "rue", "", "", "", ""],             # too old
            ["Y-5", "34", born(20), "licorne", "rue", "", "", "", ""],               # unknown gender
            ["Y-6", "34", born(20), "femme", "rue", "", "grossesse|chats", "", ""],  # unknown need
            ["Y-7", "34", born(20), "femme", "rue", "", "", "", "01/01/2099"]]       # registered in the future
    r = expect(imp(REF34, "youth", youth_csv(*rows)), 200).json
    e = errors_by_row(r)
    assert [x["outcome"] for x in r["rows"]] == ["create", "create"] + ["error"] * 5, r
    assert e[4] == [("Département", "forbidden")], e
    assert e[5] == [("Date de naissance", "out_of_range")], e
    assert e[6] == [("Genre", "unknown_value")], e
    assert e[7] == [("Besoins", "unknown_value")], e
    assert e[8] == [("Inscrit le", "out_of_range")], e
    good = youth_csv(*rows[:2], sep=",")
    a = expect(imp(REF34, "youth", good, mode="apply", encoding="cp1252"), 200).json
    ids = [x["id"] for x in a["rows"]]
    y = expect(D.call("GET", "/v1/youth/%d" % ids[0], REF34), 200).json
    assert sorted(y["needs"]) == ["mental_health", "wheelchair"] and y["commune_insee"] == SETE, y
    y2 = expect(D.call("GET", "/v1/youth/%d" % ids[1], REF34), 200).json
    assert y2["situation"] == "institution_exit" and y2["registered_at"] == "2025-01-01", y2
    again = expect(imp(REF34, "youth", good, mode="apply", encoding="cp1252"), 200).json
    assert [x["outcome"] for x in again["rows"]] == ["unchanged", "unchanged"], again
    assert [x["id"] for x in again["rows"]] == ids
    # erased: the ref is free again, a new record is created
    expect(D.call("DELETE", "/v1/youth/%d" % ids[1], REF34), 200)
    third = expect(imp(REF34, "youth", good, mode="apply", encoding="cp1252"), 200).json
    assert [x["outcome"] for x in third["rows"]] == ["unchanged", "create"], third


@test
def body_limit_is_this_routes_own():
    big = offer_rows(*[row(ref="B-%d" % i) for i in range(2000)])     # > max_body_bytes
    assert 65536 < len(big.encode()) < 2000000
    r = expect(imp(PTA, "offers", big), 200).json
    assert r["summary"]["create"] == 2000, r["summary"]
    expect_problem(imp(PTA, "offers", "x" * 2000001), 413)
    expect_problem(D.call("POST", "/v1/porteurs", ADMIN, raw=b'{"name": "' + b"x" * 70000 + b'"}'), 413)


# ---------------------------------------------------------------- runs, occupancy, timeout

def run_of(token, run_id, status=200):
    return expect(D.call("GET", "/v1/imports/%d" % run_id, token), status).json


def runs_of(token, query=""):
    return expect(D.call("GET", "/v1/imports" + query, token), 200).json


@test
def every_import_is_a_run_listed_in_its_scope():
    text = offer_rows(row(ref="RUN-1"), row(ref="RUN-2", capacity="x"))
    dry = expect(imp(PTA, "offers", text), 200).json
    got = run_of(PTA, dry["run_id"])
    # what the report said is what the run keeps
    for k in ("kind", "applied", "summary", "rows", "errors"):
        assert got[k] == dry[k], (k, got[k], dry[k])
    assert got["mode"] == "dry_run" and got["role"] == "porteur" and got["porteur_id"] == PA, got
    assert got["encoding"] == "utf-8" and got["separator"] == ";", got
    refused = expect_problem(imp(PTA, "offers", text, mode="apply"), 422)
    app = expect(imp(PTA, "offers", offer_rows(row(ref="RUN-1")), mode="apply"), 200).json
    assert app["applied"] and app["rows"][0]["id"], app
    got = run_of(PTA, app["run_id"])
    assert got["mode"] == "apply" and got["applied"] is True and got["rows"] == app["rows"], got
    listed = runs_of(PTA)["items"]
    ids = [x["id"] for x in listed]
    assert ids == sorted(ids, reverse=True), ids
    assert {dry["run_id"], refused["run_id"], app["run_id"]} <= set(ids), (ids, refused)
    assert all(x["porteur_id"] == PA and x["kind"] == "offers" for x in listed), listed
    assert "rows" not in listed[0] and listed[0]["summary"]["rows"] >= 1, listed[0]
    mine = next(x for x in listed if x["id"] == refused["run_id"])
    assert mine["mode"] == "apply" and mine["applied"] is False, mine
    # another porteur, a referent: neither sees them; an admin does
    run_of(PTB, dry["run_id"], 404)
    assert dry["run_id"] not in [x["id"] for x in runs_of(PTB)["items"]]
    run_of(REF34, dry["run_id"], 404)
    assert run_of(ADMIN, dry["run_id"])["rows"] == dry["rows"]
    # youth runs: the referent of their département, not another one
    y = expect(imp(REF34, "youth", youth_csv(["RUN-Y1", "34", born(20), "femme", "rue", "", "", "", ""])), 200).json
    assert run_of(REF34, y["run_id"])["departements"] == ["34"]
    ref30 = D.token("referent", departements=("30",), label="ref30")
    run_of(ref30, y["run_id"], 404)
    assert runs_of(ref30)["items"] == []
    youth_runs = runs_of(ADMIN, "?kind=youth")["items"]
    assert youth_runs and {x["kind"] for x in youth_runs} == {"youth"}, youth_runs
    # pages
    page = runs_of(PTA, "?limit=1")
    assert len(page["items"]) == 1 and page["next_cursor"], page
    nxt = runs_of(PTA, "?limit=1&cursor=%s" % page["next_cursor"])
    assert nxt["items"][0]["id"] < page["items"][0]["id"], (page, nxt)
    expect_problem(D.call("GET", "/v1/imports?kind=castles", PTA), 400)


@test
def erasing_a_young_person_erases_their_rows_in_runs():
    good = youth_csv(["ER-1", "34", born(20), "femme", "rue", "", "", "", ""],
                     ["ER-2", "34", born(21), "homme", "rue", "", "", "", ""])
    a = expect(imp(REF34, "youth", good, mode="apply"), 200).json
    gone, kept = [x["id"] for x in a["rows"]]
    # a later dry run with an error on ER-1's row: the error belongs to them too
    bad = youth_csv(["ER-1", "34", born(20), "licorne", "rue", "", "", "", ""],
                    ["ER-2", "34", born(21), "homme", "rue", "", "", "", ""])
    d = expect(imp(REF34, "youth", bad), 200).json
    assert [(x["row"], x["id"]) for x in d["rows"]] == [(2, gone), (3, kept)], d["rows"]
    assert [e["row"] for e in d["errors"]] == [2], d["errors"]
    expect(D.call("DELETE", "/v1/youth/%d" % gone, REF34), 200)
    for run_id in (a["run_id"], d["run_id"]):
        got = run_of(REF34, run_id)
        assert [x["id"] for x in got["rows"]] == [kept], got["rows"]
        assert got["errors"] == [], got["errors"]
        assert got["summary"]["rows"] == 2, got["summary"]   # counts are no one's data
    assert DB.sql("SELECT count(*) FROM import_runs WHERE %d = ANY (youth_ids)" % gone) == ["0"]
    assert DB.sql("SELECT count(*) FROM import_runs WHERE %d = ANY (youth_ids)" % kept) != ["0"]
    assert DB.sql("SELECT count(*) FROM import_runs r, json_array_elements(r.rows) e "
                  "WHERE r.kind = 'youth' AND (e->>'id')::bigint = %d" % gone) == ["0"]


@test
def dry_run_reports_capacity_below_occupancy():
    a = expect(imp(PTA, "offers", offer_rows(row(ref="OCC-1", capacity="3")), mode="apply"), 200).json
    oid = a["rows"][0]["id"]
    for i in range(2):
        y = young("OCC-Y%d" % i)
        expect(D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": oid,
                                                         "start_date": today().isoformat()}), 201)
    # what PATCH answers for capacity 1...
    p = expect_problem(D.call("PATCH", "/v1/offers/%d" % oid, PTA, {"capacity": 1}), 409)
    assert p["type"].endswith("/capacity-below-occupancy") and p["min_capacity"] == 2, p
    # ...the dry run says before anything is applied, with the same code and count
    r = expect(imp(PTA, "offers", offer_rows(row(ref="OCC-1", capacity="1"))), 200).json
    assert r["rows"] == [{"row": 2, "outcome": "error", "id": oid}], r["rows"]
    [e] = r["errors"]
    assert (e["column"], e["code"], e["min_capacity"]) == ("Capacité", "capacity-below-occupancy", 2), e
    assert e["pointer"] == "/rows/2/capacity", e
    expect_problem(imp(PTA, "offers", offer_rows(row(ref="OCC-1", capacity="1")), mode="apply"), 422)
    assert DB.sql("SELECT capacity FROM offers WHERE id = %d" % oid) == ["3"]
    # down to the places taken is fine
    ok = expect(imp(PTA, "offers", offer_rows(row(ref="OCC-1", capacity="2")), mode="apply"), 200).json
    assert ok["rows"][0]["outcome"] == "update" and ok["errors"] == [], ok
    assert DB.sql("SELECT capacity FROM offers WHERE id = %d" % oid) == ["2"]


@test
def an_import_runs_under_its_own_statement_timeout():
    text = offer_rows(*[row(ref="TO-%d" % i) for i in range(500)])
    set_timeout = lambda ms: (write_conf(CLOCK[0], "import_statement_timeout_ms = %d\n" % ms), D.reload())
    set_timeout(1)
    try:
        p = expect_problem(imp(PTA, "offers", text), 503)
        assert p["type"].endswith("/database-unavailable"), p
        # the rest of the API keeps the pool's timeout
        expect(D.call("GET", "/v1/offers?limit=1", PTA), 200)
    finally:
        set_timeout(300000)
    r = expect(imp(PTA, "offers", text), 200).json
    assert r["summary"]["create"] == 500, r["summary"]


# ---------------------------------------------------------------- freshness

def fresh_offer(label):
    return expect(D.call("POST", "/v1/offers", PTA, {"kind": "iml", "label": label, "commune_insee": SETE,
                                                     "capacity": 2}), 201).json


def young(ref):
    return expect(D.call("POST", "/v1/youth", REF34, {
        "ref": ref, "departement": "34", "birth_date": TODAY0.replace(year=TODAY0.year - 20, day=1).isoformat(),
        "gender": "female", "situation": "street", "commune_insee": SETE, "max_distance_km": 5}), 201).json


def match(y):
    return expect(D.call("GET", "/v1/youth/%d/matches?limit=200&explain=1" % y["id"], REF34), 200).json


def in_matches(m, o):
    return [i for i in m["items"] if i["offer_id"] == o["id"]]


def metric_values():
    out = {}
    for line in expect(D.call("GET", "/metrics"), 200).text.splitlines():
        m = re.match(r'^(siaod_offers_\w+)\{porteur_id="(\d+)"\} (\d+)$', line)
        if m:
            out[(m.group(1), int(m.group(2)))] = int(m.group(3))
    return out


@test
def reconfirmation_across_both_thresholds():
    o = fresh_offer("Fraîcheur")
    y = young("F-1")
    assert o["confirmed_on"] == today().isoformat() and o["to_reconfirm"] is False, o
    try:
        set_clock(30)
        got = expect(D.call("GET", "/v1/offers/%d" % o["id"], PTA), 200).json
        assert got["to_reconfirm"] is False, got
        assert in_matches(match(y), o)[0]["to_reconfirm"] is False
        assert DB.sql("SELECT count(*) FROM outbox WHERE type = 'offer.reconfirm_due' "
                      "AND (data->>'offer_id')::bigint = %d" % o["id"])[0] == "0"
        set_clock(31)
        got = expect(D.call("GET", "/v1/offers/%d" % o["id"], PTA), 200).json
        assert got["to_reconfirm"] is True, got
        lst = expect(D.call("GET", "/v1/offers?porteur_id=%d&limit=200" % PA, PTA), 200).json["items"]
        assert [x["to_reconfirm"] for x in lst if x["id"] == o["id"]] == [True]
        it = in_matches(match(y), o)
        assert it and it[0]["to_reconfirm"] is True, it
        # /metrics: none of PA's open offers (all confirmed on day 0) is in time
        met = metric_values()
        assert met[("siaod_offers_open", PA)] > 0, met
        assert met[("siaod_offers_confirmed_in_time", PA)] == 0, met
        # the reminder: one event, once
        q = ("SELECT count(*) FROM outbox WHERE type = 'offer.reconfirm_due' "
             "AND (data->>'offer_id')::bigint = %d AND porteur_id = %d" % (o["id"], PA))
        assert DB.sql(q)[0] == "1"
        set_clock(60)
        assert in_matches(match(y), o), "stale one day too early"
        assert DB.sql(q)[0] == "1", "the reminder was sent twice"
        set_clock(61)
        m = match(y)
        assert not in_matches(m, o), "a stale offer is still matched"
        assert m["excluded"]["stale"] >= 1, m["excluded"]
        r = D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": o["id"],
                                                     "start_date": today().isoformat()})
        p = expect_problem(r, 422)
        assert p["rules"] == ["stale"], p
        expect_problem(D.call("POST", "/v1/offers/%d/confirm" % o["id"], PTB), 403)
        c = expect(D.call("POST", "/v1/offers/%d/confirm" % o["id"], PTA), 200).json
        assert c["version"] == o["version"], "confirming made a new version"
        assert c["confirmed_on"] == today().isoformat() and c["to_reconfirm"] is False, c
        assert in_matches(match(y), o), "a confirmed offer is not matched again"
        assert metric_values()[("siaod_offers_confirmed_in_time", PA)] == 1
    finally:
        set_clock(0)


# ---------------------------------------------------------------- refusals

@test
def refusal_reasons_come_from_the_config_with_labels():
    r = expect(D.call("GET", "/v1/refusal-reasons", REF34), 200).json
    codes = {i["code"]: i["label"] for i in r["reasons"]}
    assert codes["incomplete_file"] == "Dossier incomplet", codes
    assert set(codes) == {"youth_declined", "no_show", "incompatible_needs", "place_unavailable",
                          "incomplete_file", "other"}, codes


@test
def declined_offer_comes_back_after_the_cooldown():
    o = fresh_offer("Refusée")
    other = fresh_offer("Autre")
    y = young("C-1")
    p = expect(D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": o["id"],
                                                        "start_date": today().isoformat()}), 201).json
    # the referent records that the young person declined; it cannot speak for the porteur
    expect_problem(D.call("POST", "/v1/placements/%d/refuse" % p["id"], REF34,
                          {"reason": "youth_declined", "by": "porteur"}), 403)
    expect_problem(D.call("POST", "/v1/placements/%d/refuse" % p["id"], REF34, {"reason": "castle"}),
                   400, "/reason", "unknown_value")
    q = expect(D.call("POST", "/v1/placements/%d/refuse" % p["id"], REF34, {"reason": "youth_declined"}), 200).json
    assert q["refused_by"] == "youth" and q["answered_at"], q
    try:
        m = match(y)
        assert not in_matches(m, o) and in_matches(m, other), m["items"]
        assert m["excluded"]["declined_recently"] == 1, m["excluded"]
        r = D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": o["id"],
                                                     "start_date": today().isoformat()})
        assert expect_problem(r, 422)["rules"] == ["declined_recently"]
        set_clock(19)
        assert not in_matches(match(y), o), "back one day early"
        set_clock(20)
        assert in_matches(match(y), o), "still excluded after refusal_cooldown_days"
    finally:
        set_clock(0)
    # a porteur's refusal does not hold the young person off the offer
    y2 = young("C-2")
    p2 = expect(D.call("POST", "/v1/placements", REF34, {"youth_id": y2["id"], "offer_id": other["id"],
                                                         "start_date": today().isoformat()}), 201).json
    q2 = expect(D.call("POST", "/v1/placements/%d/refuse" % p2["id"], PTA, {"reason": "incomplete_file"}), 200).json
    assert q2["refused_by"] == "porteur" and q2["refusal_reason"] == "incomplete_file", q2
    assert in_matches(match(y2), other)


# ---------------------------------------------------------------- indicators

@test
def indicators_against_a_hand_computed_fixture():
    P = porteur("Indicateurs", "34")
    PT = D.token("porteur", porteur=P, label="pti")
    offers = [expect(D.call("POST", "/v1/offers", PT, {"kind": "fjt", "label": "I%d" % i,
                                                       "commune_insee": SETE, "capacity": 10}), 201).json
              for i in range(4)]
    ys = [young("I-%d" % i) for i in range(5)]
    ps = [expect(D.call("POST", "/v1/placements", REF34, {"youth_id": y["id"], "offer_id": offers[0]["id"],
                                                         "start_date": today().isoformat()}), 201).json
          for y in ys]
    expect(D.call("POST", "/v1/placements/%d/accept" % ps[0]["id"], PT), 200)
    expect(D.call("POST", "/v1/placements/%d/refuse" % ps[1]["id"], PT, {"reason": "incomplete_file"}), 200)
    expect(D.call("POST", "/v1/placements/%d/refuse" % ps[2]["id"], PT, {"reason": "incomplete_file"}), 200)
    expect(D.call("POST", "/v1/placements/%d/refuse" % ps[3]["id"], REF34, {"reason": "youth_declined"}), 200)
    # ps[4] stays unanswered
    # Answer delays fixed by hand: 2 h, 10 h, 30 h, 4 h -> sorted 2, 4, 10, 30 -> median 7.00 h
    for p, hours in zip(ps[:4], (2, 10, 30, 4)):
        DB.sql("UPDATE placements SET answered_at = created_at + interval '%d hours' WHERE id = %d" % (hours, p["id"]))
    # Freshness: two offers confirmed 40 days ago (> reconfirm_days 30), one closed
    DB.sql("UPDATE offers SET confirmed_on = confirmed_on - 40 WHERE id IN (%d, %d)" % (offers[1]["id"], offers[2]["id"]))
    expect(D.call("DELETE", "/v1/offers/%d" % offers[3]["id"], PT), 200)
    # open: offers 0, 1, 2 -> in time: offer 0 only -> 1/3 = 0.3333
    rep = expect(D.call("GET", "/v1/reports/indicators?porteur_id=%d" % P, ADMIN), 200).json["items"]
    assert len(rep) == 1, rep
    it = rep[0]
    assert it["refusals_by_side"] == {"porteur": {"incomplete_file": 2}, "youth": {"youth_declined": 1}}, it
    assert it["median_hours_to_answer"] == 7.0, it
    # the acceptance rate is over the porteur's answers: 1 accepted, 2 refused by the porteur;
    # the young person's decline (recorded by the referent) is no answer of the porteur's,
    # and ps[4] is pending -> 1 / 3 (not 1 / 4)
    assert (it["accepted"], it["refused"], it["pending"]) == (1, 2, 1), it
    assert it["acceptance_rate"] == 0.3333, it
    assert (it["offers_open"], it["offers_confirmed_in_time"]) == (3, 1), it
    assert it["confirmed_in_time_share"] == 0.3333, it
    csv = expect(D.call("GET", "/v1/reports/indicators?porteur_id=%d" % P, ADMIN,
                        headers={"Accept": "text/csv"}), 200).data.decode("utf-8-sig").split("\r\n")
    head, line = csv[0].split(";"), csv[1].split(";")
    cell = dict(zip(head, line))
    assert cell["refus_par_le_porteur"] == '"incomplete_file: 2"', cell
    assert cell["delai_median_reponse_heures"] == "7" and cell["part_confirmees_a_temps"] == "0,3333", cell


@test
def a_large_import_reaches_the_inventory_whole():
    # last: its 4,500 offers in Sète would crowd the matches of the tests above
    # 4,500 offers: the inventory reads them in slices of 2,000 (one turn
    # of the loop each); every one must be listed, with its own places,
    # once the import has answered; the pages come in id order, each once
    pc = porteur("Habitat C", "34")
    ptc = D.token("porteur", porteur=pc, label="ptc")
    n = 4500
    text = offer_rows(*[row(ref="BIG-%d" % i, capacity=str(1 + i % 4)) for i in range(n)])
    r = expect(imp(ptc, "offers", text, mode="apply"), 200).json
    assert r["summary"]["create"] == n, r["summary"]
    want = {int(i): int(c) for i, c in
            (x.split("|") for x in DB.sql("SELECT id || '|' || capacity FROM offers WHERE porteur_id = %d" % pc))}
    assert len(want) == n
    seen, cursor, pages = {}, None, 0
    while True:
        q = "/v1/offers?porteur_id=%d&limit=200" % pc + ("&cursor=%s" % cursor if cursor else "")
        page = expect(D.call("GET", q, ptc), 200).json
        ids = [o["id"] for o in page["items"]]
        assert ids == sorted(ids) and (not seen or ids[0] > max(seen)), ids[:5]
        for o in page["items"]:
            seen[o["id"]] = o["free_places"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(ids) == 200, len(ids)
    assert pages == (n + 199) // 200, pages
    assert seen == want, "listed %d of %d; free places differ for %d" % (
        len(seen), n, sum(1 for k in want if seen.get(k) != want[k]))


run_all(setup)
