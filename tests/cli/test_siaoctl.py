"""
siaoctl, the command-line client, end to end: the real siaoctl binary (from
the test build, so ASan/UBSan and LeakSanitizer watch every run) against the
real daemon and PostgreSQL, started by tests/api/harness.py.

What is checked: --help for every command and subcommand (and `help CMD`);
usage errors (exit 2); offers add/ls/close, youth add/show, match, place and
its transitions, stays, webhooks add/ls and report, each as a table (aligned
by display width, French labels, decomposed accents and wide glyphs
included) and as --json (the API's JSON, pretty-printed, equal to what the
API answers); the ranking of `siaoctl match` equal to GET /matches; the
one-line problem messages and exit 1 for 400/401/403/404/409/422 answers,
exit 3 when nothing answers; where the server and the token come from (flag
> environment > config file).

Tests run in order and share one database and one daemon (`D`). Every
siaoctl run gets an empty HOME, so no config file of the machine leaks in.
"""
import datetime
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unicodedata

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from harness import (SECRETS, WORKDIR, Daemon, Database, expect,  # noqa: E402
                     free_port, run_all, scan_for_sanitizer, test)

CLI = os.environ.get("SIAOCTL_BIN", "")

D = None
DB = None
URL = None
ADMIN = REF34 = REF30 = None   # tokens
P1 = P2 = P30 = None           # porteurs: Sète (34), Montpellier (34), Nîmes (30)
PT1 = PT2 = None               # porteur tokens of P1, P2
TODAY = None                   # the daemon's today, a datetime.date
EMPTY_HOME = None

SETE, FRONTIGNAN, MONTPELLIER, BALARUC, NIMES, CARCASSONNE = (
    "34301", "34108", "34172", "34023", "30189", "11069")
COMMANDS = ["offers", "youth", "match", "place", "stays", "webhooks", "report"]
SUBCOMMANDS = {"offers": ["ls", "add", "close"], "youth": ["add", "show"],
               "webhooks": ["add", "ls"],
               "place": ["accept", "refuse", "enter", "exit", "extend", "cancel", "show"]}


def setup():
    global D, DB, URL, ADMIN, REF34, REF30, P1, P2, P30, PT1, PT2, TODAY, EMPTY_HOME
    if not CLI:
        sys.exit("test_siaoctl: set SIAOCTL_BIN (tests/CMakeLists.txt does)")
    DB = Database("cli")
    D = Daemon(DB, name="main")
    URL = "http://127.0.0.1:%d" % D.port
    ADMIN = D.token("admin", label="admin")
    REF34 = D.token("referent", departements=("34",), label="ref34")
    REF30 = D.token("referent", departements=("30",), label="ref30")
    P1 = porteur("Habitat Sète", "34")
    P2 = porteur("Foyers de l'Hérault", "34")
    P30 = porteur("Habitat Nîmes", "30")
    PT1 = D.token("porteur", porteur=P1, label="pt1")
    PT2 = D.token("porteur", porteur=P2, label="pt2")
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    EMPTY_HOME = tempfile.mkdtemp(prefix="home-", dir=WORKDIR)


# ---------------------------------------------------------------- helpers

PORTEURS = {}   # id -> name


def porteur(name, dep):
    pid = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": name, "departement": dep}), 201).json["id"]
    PORTEURS[pid] = name
    return pid


def commune_name(insee):
    hits = [c for c in api("GET", "/v1/communes?q=%s" % insee)["items"] if c["insee"] == insee]
    assert len(hits) == 1, (insee, hits)
    return hits[0]["name"]


def days(n):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def born(age):
    d = TODAY.replace(day=1) if (TODAY.month, TODAY.day) == (2, 29) else TODAY
    return d.replace(year=d.year - age).isoformat()


def cli(*args, token="admin", url="default", env=None, home=None, binary=False):
    """Runs siaoctl ARGS with SIAOCTL_URL/SIAOCTL_TOKEN (None: unset; "admin" and
    the like: that token) and an empty HOME; returns the CompletedProcess."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("SIAOCTL_", "SIAOD_")) and k != "XDG_CONFIG_HOME"}
    e["HOME"] = home or EMPTY_HOME
    if url == "default":
        url = URL
    if url is not None:
        e["SIAOCTL_URL"] = url
    tokens = {"admin": ADMIN, "ref34": REF34, "ref30": REF30, "pt1": PT1, "pt2": PT2}
    if token is not None:
        e["SIAOCTL_TOKEN"] = tokens.get(token, token)
    e.update(env or {})
    p = subprocess.run([CLI] + [str(a) for a in args], env=e, capture_output=True,
                       text=not binary, timeout=60)
    err = p.stderr if not binary else p.stderr.decode("utf-8", "replace")
    scan_for_sanitizer(err, "siaoctl " + " ".join(str(a) for a in args))
    return p


def ok(p):
    """Exit 0, nothing on stderr; returns stdout."""
    assert p.returncode == 0 and not p.stderr, "exit %d, stderr %r, stdout %r" % (
        p.returncode, p.stderr, p.stdout)
    return p.stdout


def failed(p, code, line):
    """Exit `code`, nothing on stdout, exactly one line on stderr: `line` (a str
    compared whole, or a compiled regex that must match it whole)."""
    assert p.returncode == code, "exit %d, not %d; stderr %r" % (p.returncode, code, p.stderr)
    assert p.stdout == "", "stdout %r" % p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and p.stderr.endswith("\n"), "not one line: %r" % p.stderr
    if isinstance(line, str):
        assert lines[0] == line, "\n got  %r\n want %r" % (lines[0], line)
    else:
        assert line.fullmatch(lines[0]), "%r does not match %r" % (lines[0], line.pattern)
    return lines[0]


def api(method, path, token=None, body=None, status=200):
    return expect(D.call(method, path, token or ADMIN, body), status).json


def as_json(p):
    return json.loads(ok(p))


def width(s):
    """Columns a terminal gives s: wide glyphs 2, combining marks 0."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def cells(line):
    """The cells of a table line (separated by two spaces or more) as
    (text, first column, last column + 1), in display columns."""
    out = []
    for m in re.finditer(r"\S+(?: \S+)*", line):
        start = width(line[:m.start()])
        out.append((m.group(0), start, start + width(m.group(0))))
    return out


def table(text, headers):
    """Parses a table whose header row holds `headers` (a '>' first: a
    right-aligned column) and checks its alignment in display columns: every
    left-aligned cell starts where its title starts, every right-aligned one
    ends where its title ends. Returns the rows as lists of cell texts."""
    lines = text.splitlines()
    titles = [h.lstrip(">") for h in headers]
    idx = [i for i, l in enumerate(lines) if [c[0] for c in cells(l)] == titles]
    assert idx, "no header %r in:\n%s" % (titles, text)
    head = cells(lines[idx[0]])
    rows = []
    for line in lines[idx[0] + 1:]:
        row = cells(line)
        if len(row) != len(headers):
            break   # the footer, or the table's end
        for (txt, s, e), (title, hs, he), h in zip(row, head, headers):
            if h.startswith(">"):
                assert e == he, "%r ends at %d, %r at %d:\n%s" % (txt, e, title, he, text)
            else:
                assert s == hs, "%r starts at %d, %r at %d:\n%s" % (txt, s, title, hs, text)
        assert line == line.rstrip(), "trailing blanks in %r" % line
        rows.append([c[0] for c in row])
    return rows


def record(text):
    """A "key  value" record as a dict of strings."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s{2,}(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def offer_args(porteur_id, kind, label, commune, capacity, *extra):
    return ["offers", "add", "--porteur", porteur_id, "--kind", kind, "--label", label,
            "--commune", commune, "--capacity", capacity] + list(extra)


def new_offer(porteur_id, kind, label, commune, capacity, *extra):
    o = as_json(cli("--json", *offer_args(porteur_id, kind, label, commune, capacity, *extra)))
    return o


def label_id(label):
    """The id of the offer registered with that label."""
    return [i for i, l in LABELS.items() if l == label][0]


def new_youth(ref, commune=SETE, *extra, token="ref34", dep="34", age=20):
    return as_json(cli("youth", "add", "--json", "--ref", ref, "--departement", dep,
                       "--birth-date", born(age), "--gender", "female", "--situation", "street",
                       "--commune", commune, *extra, token=token))


# ---------------------------------------------------------------- help and usage

@test
def help_for_every_command_and_subcommand():
    main = ok(cli("--help", url=None, token=None))
    assert main.startswith("usage: siaoctl "), main
    for cmd in COMMANDS:
        assert re.search(r"^  %s\b" % cmd, main, re.M), "%s not in --help:\n%s" % (cmd, main)
    assert ok(cli("help", url=None, token=None)) == main
    assert ok(cli("-h", url=None, token=None)) == main
    for cmd in COMMANDS:
        text = ok(cli(cmd, "--help", url=None, token=None))
        assert text.startswith("usage: siaoctl %s" % cmd), text
        assert "--json" in text, text
        assert ok(cli("help", cmd, url=None, token=None)) == text, cmd
        assert ok(cli("--help", cmd, url=None, token=None)) == text, cmd
        assert ok(cli(cmd, "-h", url=None, token=None)) == text, cmd
        for sub in SUBCOMMANDS.get(cmd, []):
            assert re.search(r"siaoctl %s %s\b" % (cmd, sub), text), "%s %s undocumented" % (cmd, sub)
            assert ok(cli(cmd, sub, "--help", url=None, token=None)) == text, (cmd, sub)
    # the options each command documents
    assert "--ending-within N" in ok(cli("help", "stays", url=None, token=None))
    assert "--explain" in ok(cli("help", "match", url=None, token=None))
    assert "--csv" in ok(cli("help", "report", url=None, token=None))
    assert re.fullmatch(r"siaoctl \d+\.\d+\.\d+\n", ok(cli("--version", url=None, token=None)))


@test
def usage_errors_exit_2():
    p = cli(url=None, token=None)
    assert p.returncode == 2 and p.stdout == "" and p.stderr.startswith("usage: siaoctl"), p
    failed(cli("nope"), 2, "siaoctl: unknown command 'nope' (see: siaoctl --help)")
    failed(cli("help", "nope"), 2, "siaoctl: help: no command 'nope' (see: siaoctl --help)")
    failed(cli("offers"), 2, "siaoctl: offers: say which: ls, add, close (see: siaoctl help offers)")
    failed(cli("offers", "rm", "1"), 2,
           "siaoctl: offers: unknown subcommand 'rm' (ls, add, close) (see: siaoctl help offers)")
    failed(cli("offers", "ls", "--bogus"), 2, "siaoctl: offers ls: unknown option --bogus (see: siaoctl help offers)")
    failed(cli("offers", "ls", "--limit"), 2, "siaoctl: offers ls: --limit needs a value (see: siaoctl help offers)")
    failed(cli("offers", "ls", "--limit", "0"), 2, re.compile(r"siaoctl: offers ls: --limit expects a whole number .*"))
    failed(cli("offers", "add", "--label", "x", "--commune", SETE, "--capacity", "1"), 2,
           "siaoctl: offers add: --kind is required (see: siaoctl help offers)")
    failed(cli(*offer_args(P1, "alt", "x", SETE, "many")), 2,
           re.compile(r"siaoctl: offers add: --capacity expects a whole number .* not 'many' \(see: siaoctl help offers\)"))
    failed(cli("offers", "close"), 2, "siaoctl: offers close: missing OFFER_ID (see: siaoctl help offers)")
    failed(cli("offers", "close", "1", "2"), 2, "siaoctl: offers close: unexpected argument '2' (see: siaoctl help offers)")
    failed(cli("match"), 2, "siaoctl: match: missing YOUTH_ID (see: siaoctl help match)")
    failed(cli("match", "abc"), 2, re.compile(r"siaoctl: match: YOUTH_ID expects a whole number .*"))
    failed(cli("place", "refuse", "5"), 2, "siaoctl: place refuse: --reason is required (see: siaoctl help place)")
    failed(cli("place", "--youth", "1", "--offer", "2", "--end", "2030-01-01"), 2,
           "siaoctl: place: --end needs --start (without both, the match's dates are booked) (see: siaoctl help place)")
    failed(cli("place", "acept", "5"), 2, re.compile(r"siaoctl: place: unknown subcommand 'acept' .*"))
    failed(cli("youth", "add", "--ref", "x"), 2, "siaoctl: youth add: --departement is required (see: siaoctl help youth)")
    failed(cli("webhooks", "add", "--url", "https://hooks.example.org/x", "--events", "hold.expired",
               "--departement", "34", "--porteur", "1"), 2,
           "siaoctl: webhooks add: give --departement or --porteur, not both (see: siaoctl help webhooks)")
    failed(cli("report", "--csv", "--json"), 2,
           "siaoctl: report: --csv and --json exclude each other (see: siaoctl help report)")
    failed(cli("stays", "--ending-within", "soon"), 2, re.compile(r"siaoctl: stays: --ending-within expects .*"))
    # nothing says where the server is, or with which token
    failed(cli("offers", "ls", url=None), 2, re.compile(
        r"siaoctl: no server: give --url URL, set SIAOCTL_URL or write url = URL in .*/\.config/siaoctl/config"))
    failed(cli("offers", "ls", token=None), 2, re.compile(r"siaoctl: no token: give --token TOKEN, .*"))


# ---------------------------------------------------------------- offers

OFFER_HEADERS = [">ID", "PORTEUR", "KIND", "LABEL", "COMMUNE", "DEP", ">CAPACITY", ">FREE",
                 ">MAX STAY", "STATUS"]
LABELS = {}    # offer id -> label


@test
def offers_add_prints_the_record_and_json_is_the_apis():
    label = "Résidence Hélène-Boucher – Sète"
    out = ok(cli(*offer_args(P1, "alt", label, SETE, 3, "--charge", "120.5", "--support", "standard")))
    first, rest = out.split("\n", 1)
    m = re.fullmatch(r"offer (\d+) created", first)
    assert m, out
    oid = int(m.group(1))
    rec = record(rest)
    assert rec["id"] == str(oid) and rec["label"] == label and rec["kind"] == "alt", rec
    assert rec["capacity"] == "3" and rec["free_places"] == "3" and rec["monthly_charge_eur"] == "120.5", rec
    assert rec["max_stay_days"] == "180" and rec["available_until"] == "-" and rec["accepts_pets"] == "no", rec
    assert list(rec)[:3] == ["id", "label", "kind"], list(rec)
    # the record's key column is aligned whatever the accents
    assert len({width(l) - width(l.split("  ", 1)[1].lstrip()) for l in rest.splitlines()}) == 1, rest
    LABELS[oid] = label
    # --json: the API's resource, pretty-printed
    p = cli("--json", *offer_args(P1, "studio_tiroir", "Studio tiroir « Les Mûriers »", FRONTIGNAN, 1,
                                  "--max-stay-days", "150", "--pets", "--wheelchair", "--from", days(0)))
    o = as_json(p)
    assert p.stdout.startswith("{\n  \""), p.stdout[:40]
    assert o == api("GET", "/v1/offers/%d" % o["id"]), o
    assert o["accepts_pets"] is True and o["wheelchair_accessible"] is True and o["max_stay_days"] == 150, o
    LABELS[o["id"]] = o["label"]
    # decomposed accents (as pasted from some systems) and a wide glyph
    for label, commune, kind, extra in (("Colocation F4 Re\u0301sidence Sainte-Ce\u0301cile", BALARUC, "shared_flat", ["--max-stay-days", "90"]),
                                        ("FJT Montpellier 🏠 centre", MONTPELLIER, "fjt", ["--max-stay-days", "none"])):
        o = new_offer(P2, kind, label, commune, 2, *extra)
        assert o["label"] == label, o
        LABELS[o["id"]] = label
    assert o["max_stay_days"] is None, o
    # the API's refusals reach the user as one line
    failed(cli(*offer_args(P1, "shared_flat", "F4", SETE, 4, "--max-stay-days", "120")), 1,
           "siaoctl: 400 invalid-field: some fields contradict each other "
           "(pointer /max_stay_days: out_of_range, a shared flat caps stays at 90 days at most)")
    failed(cli(*offer_args(P1, "alt", "Nowhere", "99999", 1)), 1,
           "siaoctl: 400 invalid-field: no commune has the INSEE code 99999 (pointer /commune_insee: unknown_value)")
    failed(cli(*offer_args(P1, "castle", "x", SETE, 1)), 1, re.compile(
        r"siaoctl: 400 invalid-field: .*\(pointer /kind: unknown_value.*\)"))
    # a porteur registers for itself only
    failed(cli(*offer_args(P1, "alt", "x", SETE, 1), token="pt2"), 1,
           "siaoctl: 403 forbidden: a porteur token registers offers of its own porteur only")
    o = as_json(cli("offers", "add", "--json", "--kind", "iml", "--label", "Appartement IML Sète",
                    "--commune", SETE, "--capacity", "1", "--charge", "250", token="pt1"))
    assert o["porteur_id"] == P1, o
    LABELS[o["id"]] = o["label"]


@test
def offers_ls_table_is_aligned_and_json_is_the_apis():
    listed = api("GET", "/v1/offers?departement=34&limit=200")["items"]
    assert len(listed) == len(LABELS), (listed, LABELS)
    out = ok(cli("offers", "ls", "--departement", "34"))
    rows = table(out, OFFER_HEADERS)
    assert [int(r[0]) for r in rows] == [o["id"] for o in listed], out
    for r, o in zip(rows, listed):
        assert r[3] == o["label"] and r[2] == o["kind"], (r, o)
        # names beside ids: the porteur's and the commune's, as the API names them
        assert r[1] == "%s (#%d)" % (PORTEURS[o["porteur_id"]], o["porteur_id"]), (r, o)
        assert r[4] == "%s (%s)" % (commune_name(o["commune_insee"]), o["commune_insee"]), (r, o)
        assert int(r[6]) == o["capacity"] and int(r[7]) == o["free_places"], (r, o)
        assert r[8] == ("%d d" % o["max_stay_days"] if o["max_stay_days"] else "none"), (r, o)
    assert out.splitlines()[-1] == "%d offers; free places on %s" % (len(listed), TODAY.isoformat()), out
    # filters reach the API as its query parameters
    j = as_json(cli("offers", "ls", "--json", "--departement", "34", "--kind", "alt", "--on", days(10),
                    "--min-free", "1"))
    want = api("GET", "/v1/offers?departement=34&kind=alt&available_on=%s&min_free=1" % days(10))
    assert j == want and len(j["items"]) == 1, (j, want)
    assert ok(cli("offers", "ls", "--departement", "2A")) == "no offers\n"
    failed(cli("offers", "ls", "--on", "demain"), 1,
           "siaoctl: 400 invalid-query: expected a date as YYYY-MM-DD (parameter available_on: wrong_type)")


@test
def offers_ls_follows_next_cursor_unless_limit():
    # 205 offers: more than the 200 a page holds
    for i in range(205):
        expect(D.call("POST", "/v1/offers", ADMIN, {"porteur_id": P2, "kind": "alt", "label": "Carcassonne %03d" % i,
                                                    "commune_insee": CARCASSONNE, "capacity": 1}), 201)
    ids = []
    path = "/v1/offers?departement=11&limit=50"
    while True:
        page = api("GET", path)
        ids += [o["id"] for o in page["items"]]
        if not page["next_cursor"]:
            break
        path = "/v1/offers?departement=11&limit=50&cursor=" + page["next_cursor"]
    assert len(ids) == 205
    mark = len(D.log_text())
    j = as_json(cli("offers", "ls", "--departement", "11", "--json"))
    assert [o["id"] for o in j["items"]] == ids and j["next_cursor"] is None, len(j["items"])
    assert len(re.findall(r"route=offer\.list status=200", D.log_text()[mark:])) == 2, "not two pages"
    out = ok(cli("offers", "ls", "--departement", "11"))
    assert len(table(out, OFFER_HEADERS)) == 205 and out.endswith("\n205 offers; free places on %s\n" % TODAY), out[-200:]
    j = as_json(cli("offers", "ls", "--departement", "11", "--json", "--limit", "3"))
    assert [o["id"] for o in j["items"]] == ids[:3] and j["next_cursor"] == str(ids[2]), j["next_cursor"]
    j = as_json(cli("offers", "ls", "--departement", "11", "--json", "--limit", "201"))
    assert [o["id"] for o in j["items"]] == ids[:201] and j["next_cursor"] == str(ids[200])


@test
def offers_close_and_its_refusals():
    o = new_offer(P1, "alt", "Studio à fermer", SETE, 1)
    failed(cli("offers", "close", o["id"], token="pt2"), 1,
           "siaoctl: 403 forbidden: offer %d belongs to another porteur" % o["id"])
    failed(cli("offers", "close", o["id"], token="ref34"), 1,
           "siaoctl: 403 forbidden: this token's role may not use this route")
    assert ok(cli("offers", "close", o["id"], token="pt1")) == "offer %d (Studio à fermer) is closed\n" % o["id"]
    assert api("GET", "/v1/offers/%d" % o["id"])["status"] == "closed"
    j = as_json(cli("offers", "close", o["id"], "--json"))
    assert j["status"] == "closed" and j["id"] == o["id"], j
    failed(cli("offers", "close", "999999"), 1, "siaoctl: 404 not-found: offer 999999 does not exist")


# ---------------------------------------------------------------- youth

@test
def youth_add_and_show():
    out = ok(cli("youth", "add", "--ref", "DOS-2024-017", "--departement", "34", "--birth-date", born(22),
                 "--gender", "male", "--situation", "institution_exit", "--commune", SETE,
                 "--needs", "mental_health, justice_followup", "--household", "couple", "--pets", "--rqth",
                 "--income", "450.5", "--support", "intensive", "--wanted-from", days(3),
                 "--wanted-months", "9", "--max-distance-km", "25",
                 "--institution-exit-date", days(20), token="ref34"))
    first, rest = out.split("\n", 1)
    yid = int(re.fullmatch(r"young person (\d+) registered", first).group(1))
    y = api("GET", "/v1/youth/%d" % yid, REF34)
    assert y["needs"] == ["mental_health", "justice_followup"] and y["household"] == "couple", y
    assert y["has_pets"] is True and y["rqth"] is True and y["monthly_income_eur"] == 450.5, y
    assert y["support_need"] == "intensive" and y["wanted_from"] == days(3) and y["wanted_months"] == 9, y
    assert y["max_distance_km"] == 25 and y["institution_exit_date"] == days(20), y
    rec = record(rest)
    assert rec["ref"] == "DOS-2024-017" and rec["needs"] == "mental_health, justice_followup", rec
    assert rec["has_pets"] == "yes" and rec["monthly_income_eur"] == "450.5", rec
    assert record(ok(cli("youth", "show", yid, token="ref34"))) == rec
    assert as_json(cli("youth", "show", yid, "--json", token="ref34")) == y
    # the API's refusals
    failed(cli("youth", "show", yid, token="ref30"), 1,
           "siaoctl: 403 forbidden: this young person is outside this token's départements")
    failed(cli("youth", "show", yid, token="pt1"), 1, "siaoctl: 403 forbidden: this token's role may not use this route")
    failed(cli("youth", "show", "999999", token="ref34"), 1, re.compile(r"siaoctl: 404 not-found: .*"))
    failed(cli("youth", "add", "--ref", "x", "--departement", "34", "--birth-date", born(20), "--gender", "female",
               "--situation", "street", "--commune", SETE, "--needs", "wheelchair,telepathy", token="ref34"), 1,
           re.compile(r"siaoctl: 400 invalid-field: .*\(pointer /needs/1: unknown_value.*\)"))
    failed(cli("youth", "add", "--ref", "x", "--departement", "34", "--birth-date", "2031-02-30",
               "--gender", "female", "--situation", "street", "--commune", SETE, token="ref34"), 1,
           re.compile(r"siaoctl: 400 invalid-field: .*\(pointer /birth_date: out_of_range.*\)"))


# ---------------------------------------------------------------- match

MATCH_HEADERS = [">RANK", ">SCORE", ">OFFER", "KIND", "PORTEUR", ">DISTANCE", ">FREE", "START", "END", "LABEL",
                 "REASONS (POINTS)"]


def reasons_text(item):
    return ", ".join("%s %d" % (r["factor"], r["points"]) for r in item["reasons"])


@test
def match_ranking_is_the_apis():
    y = new_youth("MATCH-1", SETE, "--income", "600", "--max-distance-km", "40")
    for query, args in (("limit=10", []), ("limit=2", ["--limit", "2"]),
                        ("limit=10&on=%s" % days(30), ["--on", days(30)])):
        want = api("GET", "/v1/youth/%d/matches?%s" % (y["id"], query), REF34)
        assert len(want["items"]) >= 2, want
        assert as_json(cli("match", y["id"], "--json", *args, token="ref34")) == want, query
        out = ok(cli("match", y["id"], *args, token="ref34"))
        rows = table(out, MATCH_HEADERS)
        assert len(rows) == len(want["items"]), out
        for rank, (r, m) in enumerate(zip(rows, want["items"]), 1):
            assert r[:9] == [str(rank), str(m["score"]), str(m["offer_id"]), m["kind"],
                             "%s (#%d)" % (PORTEURS[m["porteur_id"]], m["porteur_id"]),
                             "%.1f km" % m["distance_km"], str(m["free_places"]),
                             m["start_date"], m["end_date"]], (r, m)
            assert r[9] == m["label"] and r[10] == reasons_text(m), (r, m)
    # the ranking has distinct scores to order (not a tie everywhere)
    assert len({m["score"] for m in want["items"]}) > 1, want
    # --explain: the reasons in full and the exclusions by rule
    want = api("GET", "/v1/youth/%d/matches?limit=10&explain=1" % y["id"], REF34)
    assert as_json(cli("match", y["id"], "--explain", "--json", token="ref34")) == want
    out = ok(cli("match", y["id"], "--explain", token="ref34"))
    assert len(table(out, MATCH_HEADERS)) == len(want["items"])
    details = table(out, [">RANK", ">OFFER", "FACTOR", ">POINTS", "REASON"])
    assert details == [[str(rank), str(m["offer_id"]), r["factor"], str(r["points"]), r["detail"]]
                       for rank, m in enumerate(want["items"], 1) for r in m["reasons"]], details
    excluded = table(out, ["EXCLUDED BY RULE", ">OFFERS"])
    assert excluded == [[k, str(v)] for k, v in want["excluded"].items()], excluded
    assert want["excluded"]["distance"] >= 205, want["excluded"]   # Carcassonne
    assert out.endswith("\n%d offers considered\n" % want["offers_considered"]), out[-100:]
    # nothing fits
    far = new_youth("MATCH-2", NIMES, "--max-distance-km", "5", token="ref30", dep="30")
    assert ok(cli("match", far["id"], token="ref30")) == "no offer fits young person %d\n" % far["id"]
    failed(cli("match", y["id"], token="ref30"), 1,
           "siaoctl: 403 forbidden: this young person is outside this token's départements")
    failed(cli("match", y["id"], "--on", "2026-13-01", token="ref34"), 1,
           "siaoctl: 400 invalid-query: expected a date as YYYY-MM-DD (parameter on: wrong_type)")


# ---------------------------------------------------------------- placements

PLACEMENT = {}


@test
def place_proposes_and_problems_are_one_line():
    y = new_youth("PLACE-1", SETE)
    o = new_offer(P1, "studio_tiroir", "Studio « La Corniche »", SETE, 1)
    out = ok(cli("place", "--youth", y["id"], "--offer", o["id"], "--start", days(5), token="ref34"))
    first, rest = out.split("\n", 1)
    m = re.fullmatch(r"placement (\d+) is proposed: young person %d, offer %d place 1, from %s to (\S+)"
                     % (y["id"], o["id"], days(5)), first)
    assert m, first
    pid = int(m.group(1))
    p = api("GET", "/v1/placements/%d" % pid)
    assert m.group(2) == p["planned_end_date"] and record(rest)["status"] == "proposed", (first, p)
    PLACEMENT.update(youth=y, offer=o, placement=p)
    # 409: an open placement exists (its id is an extra member of the problem)
    failed(cli("place", "--youth", y["id"], "--offer", o["id"], "--start", days(5), token="ref34"), 1,
           "siaoctl: 409 open-placement-exists: this young person already has an open placement "
           "(proposed, accepted or active) (placement id: %d)" % pid)
    # 409: the only place is held
    y2 = new_youth("PLACE-2", SETE)
    failed(cli("place", "--youth", y2["id"], "--offer", o["id"], "--start", days(10), "--end", days(40), token="ref34"), 1,
           "siaoctl: 409 no-free-place: no place of this offer is free from %s to %s" % (days(10), days(40)))
    # 422: not eligible (the rule is an extra member)
    nimes = new_offer(P30, "alt", "Studio Nîmes", NIMES, 1)
    failed(cli("place", "--youth", y2["id"], "--offer", nimes["id"], "--start", days(1), token="ref34"), 1,
           "siaoctl: 422 not-eligible: this young person is not eligible for this offer (rule distance) (rules: distance)")
    # 422: beyond the cap (pointer, code, detail and the extra member)
    failed(cli("place", "--youth", y2["id"], "--offer", label_id("Résidence Hélène-Boucher – Sète"),
               "--start", days(1), "--end", days(400), token="ref34"), 1,
           "siaoctl: 422 beyond-cap: the stay would end on %s, after the cap of this offer (%s) "
           "(pointer /planned_end_date: out_of_range, at most %s) (max end date: %s)"
           % (days(400), days(181), days(181), days(181)))
    # 400: a field, with its pointer and code
    failed(cli("place", "--youth", y2["id"], "--offer", o["id"], "--start", "2030-02-30", token="ref34"), 1,
           re.compile(r"siaoctl: 400 invalid-field: .*\(pointer /start_date: out_of_range(, .*)?\)"))
    # 401: unknown token; 403: outside the token's départements
    failed(cli("place", "--youth", y2["id"], "--offer", o["id"], "--start", days(1), token="not-a-token"), 1,
           "siaoctl: 401 unauthorized: unknown, expired or revoked token")
    failed(cli("place", "--youth", y2["id"], "--offer", o["id"], "--start", days(1), token="ref30"), 1,
           "siaoctl: 403 forbidden: this young person or offer is outside this token's scope")
    # --json is the API's placement
    j = as_json(cli("place", "show", pid, "--json", token="ref34"))
    assert j == p, (j, p)


STAY_HEADERS = [">PLACEMENT", ">YOUTH", ">OFFER", "PORTEUR", "DEP", ">PLACE", "START", "PLANNED END", ">DAYS LEFT"]


@test
def transitions_and_stays_with_days_left():
    pid = PLACEMENT["placement"]["id"]
    failed(cli("place", "enter", pid, token="pt1"), 1,
           "siaoctl: 409 illegal-transition: a placement that is proposed cannot be entered (current status: proposed)")
    failed(cli("place", "accept", pid, token="pt2"), 1, re.compile(r"siaoctl: 403 forbidden: .*"))
    first = ok(cli("place", "accept", pid, token="pt1")).splitlines()[0]
    assert first.startswith("placement %d is accepted: " % pid), first
    j = as_json(cli("place", "enter", pid, "--date", days(0), "--json", token="pt1"))
    assert j["status"] == "active" and j["start_date"] == days(0) and j["planned_end_date"] == days(180), j
    # a shared flat with a 20-day cap, a stay planned for 12 days: it ends soon
    y = new_youth("STAY-1", FRONTIGNAN)
    o = new_offer(P1, "shared_flat", "Colocation « Le Môle » Frontignan", FRONTIGNAN, 4, "--max-stay-days", "20")
    sp = as_json(cli("place", "--json", "--youth", y["id"], "--offer", o["id"], "--start", days(0),
                     "--end", days(12), token="ref34"))
    ok(cli("place", "accept", sp["id"], token="pt1"))
    ok(cli("place", "enter", sp["id"], token="pt1"))
    out = ok(cli("stays", "--ending-within", "30", token="ref34"))
    rows = table(out, STAY_HEADERS)
    assert rows == [[str(sp["id"]), str(y["id"]), str(o["id"]), "Habitat Sète (#%d)" % P1, "34", "1", days(0),
                     days(12), "12"]], out
    assert out.endswith("\n1 active stay ending within 30 days\n"), out
    want = api("GET", "/v1/stays?ending_within_days=30&limit=200", REF34)
    assert as_json(cli("stays", "--ending-within", "30", "--json", token="ref34")) == want
    # extend within the cap; beyond it refused
    j = as_json(cli("place", "extend", sp["id"], "--end", days(15), "--json", token="pt1"))
    assert j["planned_end_date"] == days(15) and j["status"] == "active", j
    assert table(ok(cli("stays", "--ending-within", "15")), STAY_HEADERS)[0][7:] == [days(15), "15"]
    failed(cli("place", "extend", sp["id"], "--end", days(60), token="pt1"), 1,
           "siaoctl: 422 beyond-cap: the stay would end on %s, after the cap of this offer (%s) "
           "(pointer /planned_end_date: out_of_range, at most %s) (max end date: %s)"
           % (days(60), days(20), days(20), days(20)))
    assert ok(cli("stays", "--ending-within", "10", token="ref34")) == "no active stay ends within 10 days\n"
    # all active stays, soonest end first; a département's, a porteur's
    rows = table(ok(cli("stays")), STAY_HEADERS)
    assert [r[0] for r in rows] == [str(sp["id"]), str(pid)] and rows[1][8] == "180", rows
    assert ok(cli("stays", "--departement", "30")) == "no active stays\n"
    assert [r[0] for r in table(ok(cli("stays", "--porteur", P1, "--limit", "1")), STAY_HEADERS)] == [str(sp["id"])]
    # exit; the young person may be proposed again elsewhere
    out = ok(cli("place", "exit", sp["id"], "--date", days(0), "--destination", "durable_housing", token="pt1"))
    assert record(out)["status"] == "ended" and record(out)["exit_destination"] == "durable_housing", out
    failed(cli("place", "exit", sp["id"], "--date", days(0), "--destination", "street", token="pt1"), 1,
           "siaoctl: 409 illegal-transition: a placement that is ended cannot be exited (current status: ended)")
    # refuse and cancel
    y3 = new_youth("STAY-3", SETE)
    p3 = as_json(cli("place", "--json", "--youth", y3["id"], "--offer", o["id"], "--start", days(2), token="ref34"))
    failed(cli("place", "refuse", p3["id"], "--reason", "bored", token="pt1"), 1,
           re.compile(r"siaoctl: 400 invalid-field: .*\(pointer /reason: unknown_value.*\)"))
    j = as_json(cli("place", "refuse", p3["id"], "--reason", "no_show", "--json", token="pt1"))
    assert j["status"] == "refused" and j["refusal_reason"] == "no_show", j
    p4 = as_json(cli("place", "--json", "--youth", y3["id"], "--offer", o["id"], "--start", days(2), token="ref34"))
    assert as_json(cli("place", "cancel", p4["id"], "--json", token="ref34"))["status"] == "cancelled"
    failed(cli("place", "show", "999999", token="ref34"), 1, re.compile(r"siaoctl: 404 not-found: .*"))


# ---------------------------------------------------------------- webhooks

WEBHOOK_HEADERS = [">ID", "URL", "EVENTS", "SCOPE", "STATUS", "LABEL"]


@test
def webhooks_add_shows_the_secret_once_and_ls_lists():
    out = ok(cli("webhooks", "add", "--url", "https://hooks.example.org/siao/34",
                 "--events", "stay.ending_soon,hold.expired", "--departement", "34",
                 "--label", "Outil du SIAO de l'Hérault"))
    m = re.search(r"^secret: (whsec_\S+)$", out, re.M)
    assert m and out.count("whsec_") == 1, out
    SECRETS.add(m.group(1))
    wid = int(re.match(r"webhook (\d+) created\n", out).group(1))
    rec = record(out.split("\n", 1)[1])
    assert rec["url"] == "https://hooks.example.org/siao/34" and rec["event_types"] == "stay.ending_soon, hold.expired"
    assert rec["departement"] == "34" and "secret" not in rec, rec
    # the server before the command, the subscriber's URL after it
    p = cli("--url", URL, "webhooks", "add", "--url", "https://hooks.example.org/porteur", "--events",
            "placement.status_changed", "--json", url=None, token="pt1")
    j = as_json(p)
    SECRETS.add(j["secret"])
    assert j["url"] == "https://hooks.example.org/porteur" and j["porteur_id"] == P1 and j["secret"].startswith("whsec_"), j
    assert as_json(cli("--server", URL, "webhooks", "ls", "--json", url=None, token="pt1"))["items"] == [
        {k: v for k, v in j.items() if k != "secret"}]
    # ls: no secret, ever
    out = ok(cli("webhooks", "ls"))
    assert "whsec_" not in out
    rows = table(out, WEBHOOK_HEADERS)
    assert rows[0] == [str(wid), "https://hooks.example.org/siao/34", "stay.ending_soon, hold.expired",
                       "département 34", "active", "Outil du SIAO de l'Hérault"], rows
    assert rows[1][3] == "porteur %d" % P1, rows
    want = api("GET", "/v1/webhooks?limit=200")
    got = as_json(cli("webhooks", "ls", "--json"))
    assert got == want and all("secret" not in w for w in got["items"]), got
    # the API's refusals
    failed(cli("webhooks", "add", "--url", "http://127.0.0.1:9/x", "--events", "hold.expired", "--departement", "34"), 1,
           "siaoctl: 400 invalid-field: loopback and private addresses are refused (webhook_allow_private) "
           "(pointer /url: out_of_range)")
    failed(cli("webhooks", "add", "--url", "https://hooks.example.org/x", "--events", "hold.expired",
               "--departement", "34", token="ref30"), 1,
           "siaoctl: 403 forbidden: this département is outside this token's scope")
    failed(cli("webhooks", "add", "--url", "https://hooks.example.org/x", "--events", "stay.started",
               "--departement", "34"), 1, re.compile(r"siaoctl: 400 invalid-field: .*\(pointer /event_types/0: unknown_value.*\)"))


# ---------------------------------------------------------------- report

@test
def report_tables_json_and_csv_are_the_apis():
    # The indicators endpoint landed (sql/007): figures as tables, JSON and CSV.
    want = api("GET", "/v1/reports/indicators")
    assert as_json(cli("report", "--json")) == want
    out = ok(cli("report"))
    assert out.startswith("Indicators from %s to %s; département: all; porteur: all\n"
                          % (want["from"], want["to"])), out
    headers = [">PORTEUR", "NAME", "DEP", ">TARGET", ">YOUTH", ">PROPOSALS", ">ACCEPTED", ">ACCEPT RATE",
               ">REFUSALS", ">ENTRIES", ">EXITS", ">DURABLE", ">MEAN STAY", ">MEDIAN STAY", ">AT CAP",
               ">OCCUPANCY", ">DAYS TO ENTRY"]
    rows = table(out, headers)
    assert [r[1] for r in rows] == [p["name"] for p in want["items"]], rows
    sete = [r for r in rows if r[0] == str(P1)][0]
    item = [p for p in want["items"] if p["porteur_id"] == P1][0]
    assert item["proposals"] >= 4 and item["exits"] == 1, item
    assert sete[5:7] == [str(item["proposals"]), str(item["accepted"])], (sete, item)
    assert sete[7] == "%.1f %%" % (100 * item["acceptance_rate"]), (sete, item)
    assert sete[8] == str(sum(item["refusals"].values())) and sete[10] == "1" and sete[11] == "100.0 %", sete
    # the refusals and exits in detail
    detail = table(out, [">PORTEUR", "EVENT", "REASON OR DESTINATION", ">COUNT"])
    assert [str(P1), "refusal", "no_show", "1"] in detail and [str(P1), "exit", "durable_housing", "1"] in detail, detail
    # the filters are the API's query parameters
    want30 = api("GET", "/v1/reports/indicators?departement=30&from=%s&to=%s" % (days(-30), days(0)))
    got = as_json(cli("report", "--json", "--departement", "30", "--from", days(-30), "--to", days(0)))
    assert got == want30 and [p["porteur_id"] for p in got["items"]] == [P30], got
    assert [r[0] for r in table(ok(cli("report", "--porteur", P2)), headers)] == [str(P2)]
    # CSV: the API's bytes, untouched (BOM, ';', CRLF)
    r = D.call("GET", "/v1/reports/indicators", ADMIN, headers={"Accept": "text/csv"})
    expect(r, 200)
    p = cli("report", "--csv", binary=True)
    assert p.returncode == 0 and p.stderr == b"" and p.stdout == r.data, (p.stdout[:200], r.data[:200])
    assert p.stdout.startswith(b"\xef\xbb\xbfporteur_id;"), p.stdout[:40]
    failed(cli("report", "--from", days(0), "--to", days(-1)), 1,
           "siaoctl: 400 invalid-query: to is on or after from (parameter to: out_of_range)")


class Stub(http.server.BaseHTTPRequestHandler):
    """A server that answers every request with the answer in `Stub.reply`
    and records what it was asked in `Stub.seen`."""
    reply = (404, "application/problem+json", b"", {})
    seen = []

    def do_GET(self):
        status, ctype, body, headers = Stub.reply
        Stub.seen.append((self.path, dict(self.headers)))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@test
def report_404_and_foreign_answers_are_one_line():
    # Before the indicators endpoint existed the daemon answered its generic
    # 404 problem; a stub plays that daemon (and a proxy's HTML error and a
    # 429) so the route, the query, the Accept header and the messages are
    # checked whatever the daemon serves. The figures themselves are checked
    # against the real endpoint in report_tables_json_and_csv_are_the_apis.
    srv = http.server.HTTPServer(("127.0.0.1", 0), Stub)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    stub = "http://127.0.0.1:%d/" % srv.server_address[1]
    try:
        Stub.reply = (404, "application/problem+json",
                      b'{"type":"/problems/not-found","title":"Not found","status":404,"detail":"no such resource"}', {})
        Stub.seen = []
        failed(cli("report", "--departement", "2A", "--porteur", "7", "--from", "2026-01-01", "--to", "2026-06-30",
                   url=stub, token="stub-token"), 1, "siaoctl: 404 not-found: no such resource")
        failed(cli("report", "--csv", url=stub, token="stub-token"), 1, "siaoctl: 404 not-found: no such resource")
        (path, h), (path_csv, h_csv) = Stub.seen
        assert path == "/v1/reports/indicators?departement=2A&porteur_id=7&from=2026-01-01&to=2026-06-30", path
        assert h["Accept"] == "application/json" and h["Authorization"] == "Bearer stub-token", h
        assert path_csv == "/v1/reports/indicators" and h_csv["Accept"] == "text/csv", (path_csv, h_csv)
        Stub.reply = (502, "text/html", b"<html><body>Bad Gateway</body></html>", {})
        failed(cli("offers", "ls", url=stub, token="t"), 1,
               "siaoctl: 502 Bad gateway (text/html answer, not application/problem+json)")
        Stub.reply = (429, "application/problem+json",
                      b'{"type":"/problems/rate-limited","title":"Too many requests","status":429,'
                      b'"detail":"slow down\\nplease","errors":[{"pointer":"","code":"too_long","detail":"x"}]}',
                      {"Retry-After": "7"})
        failed(cli("match", "1", url=stub, token="t"), 1,
               "siaoctl: 429 rate-limited: slow down please (pointer \"\" (the whole body): too_long, x) (retry after 7 s)")
        Stub.reply = (200, "application/json", b"{not json", {})
        failed(cli("youth", "show", "1", url=stub, token="t"), 1,
               re.compile(r"siaoctl: 200 answer to GET /v1/youth/1 is not JSON \(.*\)"))
    finally:
        srv.shutdown()
        srv.server_close()


@test
def no_answer_exits_3():
    port = free_port()
    failed(cli("offers", "ls", url="http://127.0.0.1:%d" % port), 3,
           re.compile(r"siaoctl: cannot reach http://127\.0\.0\.1:%d: .*" % port))
    failed(cli("offers", "ls", url="ftp://127.0.0.1:%d" % port), 2,
           "siaoctl: the server URL must start with http:// or https://")


# ---------------------------------------------------------------- configuration

def write_config(home, text, mode=0o600, xdg=False):
    d = os.path.join(home, "siaoctl") if xdg else os.path.join(home, ".config", "siaoctl")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "config")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@test
def config_precedence_flag_env_file():
    home = tempfile.mkdtemp(prefix="home-", dir=WORKDIR)
    dead = "http://127.0.0.1:%d" % free_port()
    want = api("GET", "/v1/offers?departement=30&limit=200")
    ls = ("offers", "ls", "--departement", "30", "--json")
    # the file alone
    write_config(home, "# siaoctl\nurl = %s/\n\ntoken = %s\n" % (URL, ADMIN))
    assert as_json(cli(*ls, url=None, token=None, home=home)) == want
    # the environment beats the file; the flag beats the environment
    write_config(home, "url = %s\ntoken = wrong-token\n" % dead)
    failed(cli(*ls, url=None, token=None, home=home), 3, re.compile(r"siaoctl: cannot reach %s: .*" % re.escape(dead)))
    failed(cli(*ls, token=None, home=home), 1, "siaoctl: 401 unauthorized: unknown, expired or revoked token")
    assert as_json(cli(*ls, home=home)) == want
    assert as_json(cli(*ls, "--token", ADMIN, token="wrong-token", home=home)) == want
    assert as_json(cli("--token", ADMIN, *ls, token="wrong-token", home=home)) == want
    failed(cli(*ls, "--token", "flag-token", home=home), 1, "siaoctl: 401 unauthorized: unknown, expired or revoked token")
    assert as_json(cli(*ls, "--url", URL, url=dead, home=home)) == want
    failed(cli(*ls, "--url", dead, home=home), 3, re.compile(r"siaoctl: cannot reach .*"))
    # url from the environment, token from the file (each setting on its own)
    write_config(home, "token = '%s'\n" % ADMIN)
    assert as_json(cli(*ls, token=None, home=home)) == want
    # XDG_CONFIG_HOME, when set, is where the file is
    xdg = tempfile.mkdtemp(prefix="xdg-", dir=WORKDIR)
    write_config(xdg, "url = %s\ntoken = %s\n" % (URL, ADMIN), xdg=True)
    assert as_json(cli(*ls, url=None, token=None, home=home, env={"XDG_CONFIG_HOME": xdg})) == want
    # a file others may read still works, with a warning; a malformed one is a usage error
    path = write_config(home, "url = %s\ntoken = %s\n" % (URL, ADMIN), mode=0o644)
    p = cli(*ls, url=None, token=None, home=home)
    assert p.returncode == 0 and json.loads(p.stdout) == want, p
    assert p.stderr == "siaoctl: warning: %s is readable by others; it holds a token (chmod 600 it)\n" % path, p.stderr
    write_config(home, "url %s\n" % URL)
    failed(cli(*ls, url=None, token=None, home=home), 2, "siaoctl: %s:1: expected key = value" % path)
    write_config(home, "url = %s\ntoken = %s\ncolour = yes\n" % (URL, ADMIN))
    p = cli(*ls, url=None, token=None, home=home)
    assert p.returncode == 0 and "unknown key 'colour'" in p.stderr, p
    # a token never travels with a space or a newline in it
    failed(cli(*ls, "--token", "two words", home=home), 2,
           "siaoctl: the token contains spaces or characters a token never has")
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(xdg, ignore_errors=True)


# ---------------------------------------------------------------- what people and scripts read

@test
def json_numbers_are_printed_as_the_api_sent_them():
    o = new_offer(P1, "iml", "Charges rondes", SETE, 1, "--charge", "250")
    raw = D.call("GET", "/v1/offers/%d" % o["id"], ADMIN).data.decode()
    assert '"monthly_charge_eur":250.0' in raw.replace(" ", ""), raw
    def numbers(text):
        """The number lexemes of a JSON text, in order (json's hooks see the raw text)."""
        seen = []
        json.loads(text, parse_float=lambda t: seen.append(t) or float(t),
                   parse_int=lambda t: seen.append(t) or int(t))
        return seen

    p = cli("offers", "ls", "--json", "--porteur", P1)
    out = ok(p)
    listed = D.call("GET", "/v1/offers?porteur_id=%d&limit=200" % P1, ADMIN).data.decode()
    # the same numbers in the same order, of the same kind (an integer stays one, a real keeps
    # its decimal point), in positional notation: 250.0, never 2.5e+02. (A real the daemon
    # wrote with 17 digits, 43.384399999999999, may come out as 43.3844: the same double.)
    got, sent = numbers(out), numbers(listed)
    assert len(got) == len(sent) and got, (out[:400], listed[:400])
    for g, w in zip(got, sent):
        assert float(g) == float(w) and ("." in g) == ("." in w or "e" in w.lower()), (g, w)
        assert "e" not in g.lower() or "e" in w.lower(), (g, w)
    assert '"monthly_charge_eur": 250.0' in out and "e+" not in out, out


@test
def commune_by_name_and_youth_ls():
    # --commune takes a name, as the web UI does; an INSEE code still works
    o = new_offer(P1, "alt", "Studio par le nom", "Sète", 1)
    assert o["commune_insee"] == SETE, o
    y = new_youth("NAME-1", "Frontignan")
    assert y["commune_insee"] == FRONTIGNAN, y
    # a name that names several communes: the candidates, a usage error
    p = cli("youth", "add", "--ref", "x", "--departement", "34", "--birth-date", born(20), "--gender",
            "female", "--situation", "street", "--commune", "Saint", token="ref34")
    assert p.returncode == 2 and p.stdout == "", p
    assert "--commune Saint names" in p.stderr and re.search(r"^  [0-9][0-9AB][0-9]{3}  Saint", p.stderr, re.M), p.stderr
    p = cli("offers", "add", "--porteur", P1, "--kind", "alt", "--label", "x", "--commune", "Zzyzx-sur-Mer",
            "--capacity", "1")
    assert p.returncode == 2 and "no commune has this name" in p.stderr, p
    # youth ls: the token's young people, with their commune's name
    want = api("GET", "/v1/youth?limit=200", REF34)["items"]
    out = ok(cli("youth", "ls", token="ref34"))
    rows = table(out, [">ID", "REF", "STATUS", "DEP", "BIRTH DATE", "SITUATION", "COMMUNE", "WANTED FROM", ">MONTHS"])
    assert [int(r[0]) for r in rows] == [x["id"] for x in want] and want, (out, want)
    for r, x in zip(rows, want):
        assert r[1] == x["ref"] and r[2] == x["status"] and r[3] == x["departement"], (r, x)
        assert r[6] == "%s (%s)" % (commune_name(x["commune_insee"]), x["commune_insee"]), (r, x)
    assert out.endswith("\n%d young people\n" % len(want)), out[-80:]
    assert as_json(cli("youth", "ls", "--json", "--status", "waiting", token="ref34")) == \
        api("GET", "/v1/youth?status=waiting&limit=200", REF34)
    assert ok(cli("youth", "ls", "--departement", "2A")) == "no young people\n"


@test
def place_books_the_dates_the_match_showed():
    y = new_youth("BOOK-1", SETE, "--wanted-months", "6", "--wanted-from", days(7))
    o = new_offer(P1, "iml", "IML au long cours", SETE, 2, "--max-stay-days", "540")
    matches = api("GET", "/v1/youth/%d/matches?limit=200" % y["id"], REF34)["items"]
    m = [x for x in matches if x["offer_id"] == o["id"]]
    assert m and m[0]["start_date"] and m[0]["end_date"], matches
    m = m[0]
    out = ok(cli("match", y["id"], "--limit", "200", token="ref34"))
    row = [r for r in table(out, MATCH_HEADERS) if r[2] == str(o["id"])][0]
    assert row[7:9] == [m["start_date"], m["end_date"]], (row, m)
    out = ok(cli("place", "--youth", y["id"], "--offer", o["id"], token="ref34"))
    assert out.startswith("booking the match's period: from %s to %s\n" % (m["start_date"], m["end_date"])), out
    placed = [p for p in api("GET", "/v1/placements?youth_id=%d" % y["id"], REF34)["items"]]
    assert len(placed) == 1, placed
    # what the card showed is what got booked
    assert placed[0]["start_date"] == m["start_date"] and placed[0]["planned_end_date"] == m["end_date"], (placed, m)
    # an offer that does not fit: say so, propose nothing
    nimes = new_offer(P30, "alt", "Loin de tout", NIMES, 1)
    y2 = new_youth("BOOK-2", SETE)
    p = cli("place", "--youth", y2["id"], "--offer", nimes["id"], token="ref34")
    assert p.returncode == 2 and "is not among the offers that fit" in p.stderr, p


@test
def the_api_base_printed_by_dev_up_works_as_url():
    want = api("GET", "/v1/offers?departement=34&limit=200")
    for url in (URL + "/v1", URL + "/v1/", URL + "/"):
        assert as_json(cli("offers", "ls", "--json", "--departement", "34", url=url)) == want, url


run_all(setup)
