"""
Every route × every kind of caller, generated from the route table itself
(daemon/routes.c): for each row (method, path, roles mask, name) this file
calls the route without a token, with an unknown, a malformed, a revoked and
an expired token, and as admin, referent in scope, referent out of scope,
porteur owning the resource and another porteur, and checks the class of the
answer:

  no / unknown / malformed / revoked / expired token   401 on every /v1 route
  a role outside the route's mask                       403
  a role in the mask, in scope                          neither 401 nor 403
                                                        (any business answer:
                                                        2xx, 400, 404, 409, 422)
  a role in the mask, out of scope                      what SCOPE says: 403 for
                                                        a resource of someone
                                                        else, "ok" for lists and
                                                        reads open to all

Nothing answers 5xx. Expectations come from the mask parsed out of routes.c
plus the small SCOPE table below (one entry per route name: a path built from
the fixtures, a valid body, and what an out-of-scope referent or porteur
gets). A route added to routes.c without a SCOPE entry, or whose mask gains a
role the entry says nothing about, fails the test: nobody can add a route and
forget who may call it. Paths that no route matches answer 404 (405 when only
the method is wrong), with or without a token.
"""
import datetime
import os
import re
import secrets
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, expect, expect_problem, run_all, test  # noqa: E402
import accounts_helpers as H  # noqa: E402

SOURCE = harness.SOURCE_DIR or os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

D = None
DB = None
TOK = {}          # caller name -> token (None: no Authorization header)
SESS = {}         # caller name -> accounts_helpers.Session (the same callers, signed in by cookie)
LOGIN = {}        # caller name -> (email, password) of its session's account
FX = {}           # fixture name -> id
TODAY = None

ROLE_LETTERS = {"A": "admin", "R": "referent", "P": "porteur"}

# Callers: name -> (role, in scope?)
CALLERS = {
    "admin": ("admin", True),
    "ref_in": ("referent", True),       # referent of 34, where the fixtures are
    "ref_out": ("referent", False),     # referent of 30 only
    "p_own": ("porteur", True),         # porteur of the fixtures' offers
    "p_other": ("porteur", False),      # another porteur (of 30)
}
NO_AUTH = ("none", "unknown", "malformed", "revoked", "expired")


# ---------------------------------------------------------------- the route table

# a row: method, path, handler, roles, name, then the route's effects (not read here)
ROW = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*([^,{}]+?)\s*,\s*"([^"]+)"\s*(?:,[^{}]*)?\}')


def parse_routes():
    """[(method, pattern, roles set, name)] from the table in daemon/routes.c. Every
    line of the table that opens a row must parse: an oddly written row fails here
    instead of slipping past the matrix."""
    with open(os.path.join(SOURCE, "daemon", "routes.c")) as f:
        text = f.read()
    start = text.index("const struct route routes[]")
    table = text[start:text.index("};", start)]
    rows = []
    for line in table.splitlines()[1:]:
        if not line.strip().startswith("{"):
            continue
        m = ROW.search(line)
        assert m, "routes.c: cannot read the route row %r" % line.strip()
        method, pattern, _handler, mask, name = m.groups()
        roles = set()
        if mask.strip() != "0":
            for part in mask.split("|"):
                part = part.strip()
                assert part in ROLE_LETTERS, "routes.c: unknown role %r in the mask of %s" % (part, name)
                roles.add(ROLE_LETTERS[part])
        rows.append((method, pattern, roles, name))
    assert len(rows) >= 40, "only %d routes read from routes.c" % len(rows)
    return rows


def pattern_regex(pattern):
    """The paths a routes.c pattern matches ({id}: a positive integer, trailing * any rest)."""
    rx = re.escape(pattern).replace(r"\{id\}", "[1-9][0-9]{0,17}").replace(r"\*", ".*")
    return re.compile("^" + rx + "/?$")


# ---------------------------------------------------------------- scope rules, one per route name

class Rule:
    """How to call a route and what out-of-scope callers get.
    path / body: a value, or a dict by role ("admin", "referent", "porteur");
    paths are formatted with the fixtures ({Y34} ...). ref_out / p_other: 403 or
    "ok", required exactly when the mask lets referents / porteurs in."""

    def __init__(self, path, body=None, ref_out=None, p_other=None):
        self.path, self.body, self.ref_out, self.p_other = path, body, ref_out, p_other

    def path_for(self, role, ids=None):
        p = self.path[role] if isinstance(self.path, dict) else self.path
        return p.format_map(FX if ids is None else ids)

    def body_for(self, role):
        b = self.body
        if isinstance(b, dict) and set(b) <= {"admin", "referent", "porteur"} and b:
            b = b.get(role)
        return b() if callable(b) else b


class AnyId(dict):
    """Formats every fixture as 1: paths are checked against the table before the
    fixtures exist."""

    def __missing__(self, key):
        return 1


def day(n=0):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


HOOK = "https://hooks.example.org/siaod"   # public: no private-address refusal

SCOPE = {
    "health.live": Rule("/healthz"),
    "health.ready": Rule("/readyz"),
    "metrics": Rule("/metrics"),
    "ui.file": Rule("/ui/"),

    "me.get": Rule("/v1/me", ref_out="ok", p_other="ok"),
    "commune.search": Rule("/v1/communes?q=S%C3%A8te", ref_out="ok", p_other="ok"),

    "porteur.create": Rule("/v1/porteurs", {"name": "Matrice", "departement": "34"}),
    "porteur.list": Rule("/v1/porteurs", ref_out="ok", p_other="ok"),
    "porteur.get": Rule("/v1/porteurs/{P1}", ref_out="ok", p_other="ok"),
    "porteur.patch": Rule("/v1/porteurs/{P1}", {"target_youth": 12}),

    "offer.create": Rule("/v1/offers", lambda: {"porteur_id": FX["P1"], "kind": "iml", "label": "Matrice",
                                                 "commune_insee": "34301", "capacity": 1},
                         p_other=403),
    "offer.list": Rule("/v1/offers", ref_out="ok", p_other="ok"),
    "offer.get": Rule("/v1/offers/{O1}", ref_out="ok", p_other="ok"),
    "offer.patch": Rule("/v1/offers/{O1}", {"label": "T3 Sète (matrice)"}, p_other=403),
    "offer.close": Rule("/v1/offers/{O_CLOSE}", p_other=403),
    "offer.candidates": Rule("/v1/offers/{O1}/candidates", ref_out="ok", p_other=403),
    "offer.availability": Rule("/v1/offers/{O1}/availability", ref_out="ok", p_other="ok"),
    "offer.confirm": Rule("/v1/offers/{O1}/confirm", p_other=403),
    # imports: a JSON body is refused (415) in scope; the scope comes first
    "import.run": Rule({"referent": "/v1/imports?kind=youth", "porteur": "/v1/imports?kind=offers",
                        "admin": "/v1/imports?kind=offers"}, {}, ref_out="ok", p_other="ok"),
    "import.template": Rule("/v1/imports/template?kind=offers", ref_out="ok", p_other="ok"),
    # every role lists the runs it may see; another's run is a 404 (test_imports.py)
    "import.list": Rule("/v1/imports", ref_out="ok", p_other="ok"),
    "import.get": Rule("/v1/imports/1", ref_out="ok", p_other="ok"),
    "refusal_reason.list": Rule("/v1/refusal-reasons", ref_out="ok", p_other="ok"),

    "youth.create": Rule("/v1/youth", lambda: youth_body(), ref_out=403),
    "youth.list": Rule("/v1/youth", ref_out="ok"),
    "youth.get": Rule("/v1/youth/{Y34}", ref_out=403),
    "youth.patch": Rule("/v1/youth/{Y34}", {"wanted_months": 7}, ref_out=403),
    "youth.erase": Rule("/v1/youth/{Y_ERASE}", ref_out=403),
    "youth.matches": Rule("/v1/youth/{Y34}/matches", ref_out=403),

    "placement.create": Rule("/v1/placements", lambda: {"youth_id": FX["Y34"], "offer_id": FX["O1"],
                                                         "start_date": day(1)},
                             ref_out=403),   # no porteur proposes (issue 11 item 4)
    "placement.list": Rule("/v1/placements", ref_out="ok", p_other="ok"),
    "placement.get": Rule("/v1/placements/{PL}", ref_out=403, p_other=403),
    "placement.accept": Rule("/v1/placements/{PL}/accept", p_other=403),
    "placement.refuse": Rule("/v1/placements/{PL}/refuse", {"reason": "other"}, ref_out=403, p_other=403),
    "placement.enter": Rule("/v1/placements/{PL}/enter", {}, p_other=403),
    "placement.exit": Rule("/v1/placements/{PL}/exit", lambda: {"date": day(0), "destination": "unknown"},
                           p_other=403),
    "placement.extend": Rule("/v1/placements/{PL}/extend", lambda: {"planned_end_date": day(60)}, p_other=403),
    "placement.cancel": Rule("/v1/placements/{PL}/cancel", ref_out=403, p_other=403),
    "stay.list": Rule("/v1/stays", ref_out="ok", p_other="ok"),

    "webhook.create": Rule("/v1/webhooks",
                           {"referent": {"url": HOOK, "event_types": ["stay.overdue"], "departement": "34"},
                            "porteur": lambda: {"url": HOOK, "event_types": ["stay.overdue"], "porteur_id": FX["P1"]},
                            "admin": {"url": HOOK, "event_types": ["stay.overdue"], "departement": "34"}},
                           ref_out=403, p_other=403),
    "webhook.list": Rule("/v1/webhooks", ref_out="ok", p_other="ok"),
    "webhook.delete": Rule({"referent": "/v1/webhooks/{W34_DEL}", "porteur": "/v1/webhooks/{WP1_DEL}",
                            "admin": "/v1/webhooks/{WP1_DEL}"}, ref_out=403, p_other=403),
    "webhook.deliveries": Rule({"referent": "/v1/webhooks/{W34}/deliveries", "porteur": "/v1/webhooks/{WP1}/deliveries",
                                "admin": "/v1/webhooks/{W34}/deliveries"}, ref_out=403, p_other=403),
    "webhook.retry": Rule({"referent": "/v1/webhooks/{W34}/deliveries/999999/retry",
                           "porteur": "/v1/webhooks/{WP1}/deliveries/999999/retry",
                           "admin": "/v1/webhooks/{W34}/deliveries/999999/retry"}, ref_out=403, p_other=403),

    "plan.create": Rule("/v1/allocation-plans", lambda: {"departement": "34", "on": day(1)}, ref_out=403),
    "plan.get": Rule("/v1/allocation-plans/{PLAN}", ref_out=403),
    "plan.apply": Rule("/v1/allocation-plans/{PLAN}/apply", {"pairs": []}, ref_out=403),
    "report.indicators": Rule("/v1/reports/indicators", ref_out="ok", p_other="ok"),

    "token.create": Rule("/v1/tokens", {"role": "referent", "label": "matrice", "departements": ["34"]}),
    "token.list": Rule("/v1/tokens"),
    "token.revoke": Rule("/v1/tokens/{VICTIM}"),

    "audit.list": Rule("/v1/audit"),

    # people: sign-in routes need no token (their own answers: 200, 202, 401,
    # 404, 409), accounts are for admins, sessions are everyone's own
    "auth.config": Rule("/auth/config"),
    "auth.password": Rule("/auth/password", lambda: {"email": "matrice@example.org", "password": FX["PW"]}),
    "auth.logout": Rule("/auth/logout"),
    "auth.link": Rule("/auth/link", {"token": "A" * 43}),
    "auth.invitation": Rule("/auth/invitation", {"token": "A" * 43, "password": "Un-long-chemin-vers-Sete"}),
    "auth.reset_request": Rule("/auth/reset-request", {"email": "matrice@example.org"}),
    "auth.reset": Rule("/auth/reset", {"token": "A" * 43, "password": "Un-long-chemin-vers-Sete"}),
    # OpenID Connect is not configured here (404 page): test_oidc.py covers it
    "auth.oidc_start": Rule("/auth/oidc/start"),
    "auth.oidc_callback": Rule("/auth/oidc/callback?state=" + "A" * 43 + "&code=x"),
    "session.list": Rule("/v1/me/sessions", ref_out="ok", p_other="ok"),
    "session.end_all": Rule("/v1/me/sessions", ref_out="ok", p_other="ok"),
    "session.end": Rule("/v1/me/sessions/{SESS}", ref_out="ok", p_other="ok"),
    # notifications: everyone's own (a token of no account: 404); unsubscribing
    # needs only the link's signed token (a forged one: 404)
    "notification.preferences_get": Rule("/v1/me/notification-preferences", ref_out="ok", p_other="ok"),
    "notification.preferences_set": Rule("/v1/me/notification-preferences",
                                         {"items": [{"kind": "proposal_new", "mode": "digest"}]},
                                         ref_out="ok", p_other="ok"),
    "notification.list": Rule("/v1/notifications", ref_out="ok", p_other="ok"),
    "notification.read": Rule("/v1/notifications/999999/read", ref_out="ok", p_other="ok"),
    "notification.unsubscribe_page": Rule("/unsubscribe?token=1.stay_ending." + "A" * 43),
    "notification.unsubscribe": Rule("/unsubscribe?token=1.stay_ending." + "A" * 43),
    "account.create": Rule("/v1/accounts", lambda: {"email": "m%d@example.org" % next_seq(), "role": "admin"}),
    "account.list": Rule("/v1/accounts"),
    "account.get": Rule("/v1/accounts/{ACC}"),
    "account.patch": Rule("/v1/accounts/{ACC}", {"display_name": "Matrice"}),
    "account.disable": Rule("/v1/accounts/{ACC_DIS}/disable"),
    "account.enable": Rule("/v1/accounts/{ACC_DIS}/enable"),
    "account.invite": Rule("/v1/accounts/{ACC}/invitation"),
}

# Routes after which a cookie caller's session is over by design (the
# cookie matrix signs that caller in again).
ENDS_SESSION = {"session.end_all", "auth.logout"}


def next_seq():
    SEQ[0] += 1
    return SEQ[0]


# ---------------------------------------------------------------- fixtures

SEQ = [0]


def youth_body(dep="34", commune="34301"):
    SEQ[0] += 1
    return {"ref": "MX-%04d" % SEQ[0], "departement": dep, "birth_date": born(20), "gender": "female",
            "situation": "street", "commune_insee": commune}


def born(age):
    try:
        d = TODAY.replace(year=TODAY.year - age)
    except ValueError:
        d = TODAY.replace(year=TODAY.year - age, day=28)
    return d.isoformat()


def created(method, path, token, body):
    return expect(D.call(method, path, token, body), 201).json


def setup():
    global D, DB, TODAY
    DB = Database("roles_matrix")
    D = Daemon(DB, env=H.daemon_env(), name="main", start=False)
    D.extra_env.update(H.public_env(D.port))
    D.start()
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    admin = D.token("admin", label="admin")
    TOK["admin"] = admin
    FX["P1"] = created("POST", "/v1/porteurs", admin, {"name": "Porteur 34", "departement": "34"})["id"]
    FX["P2"] = created("POST", "/v1/porteurs", admin, {"name": "Porteur 30", "departement": "30"})["id"]
    TOK["ref_in"] = D.token("referent", departements=("34",), label="ref34")
    TOK["ref_out"] = D.token("referent", departements=("30",), label="ref30")
    TOK["p_own"] = D.token("porteur", porteur=FX["P1"], label="p1")
    TOK["p_other"] = D.token("porteur", porteur=FX["P2"], label="p2")

    def offer(porteur, commune, label, capacity=3):
        return created("POST", "/v1/offers", admin, {"porteur_id": porteur, "kind": "iml", "label": label,
                                                     "commune_insee": commune, "capacity": capacity})["id"]
    FX["O1"] = offer(FX["P1"], "34301", "T2 Sète")
    FX["O_CLOSE"] = offer(FX["P1"], "34301", "À fermer")
    FX["O30"] = offer(FX["P2"], "30189", "T1 Nîmes")
    FX["Y34"] = created("POST", "/v1/youth", TOK["ref_in"], youth_body())["id"]
    FX["Y_ERASE"] = created("POST", "/v1/youth", TOK["ref_in"], youth_body())["id"]
    FX["Y30"] = created("POST", "/v1/youth", TOK["ref_out"], youth_body("30", "30189"))["id"]
    FX["PL"] = created("POST", "/v1/placements", admin, {"youth_id": FX["Y34"], "offer_id": FX["O1"],
                                                         "start_date": day(1)})["id"]
    hook34 = {"url": HOOK, "event_types": ["stay.overdue"], "departement": "34"}
    hookp1 = {"url": HOOK, "event_types": ["stay.overdue"], "porteur_id": FX["P1"]}
    FX["W34"] = created("POST", "/v1/webhooks", admin, hook34)["id"]
    FX["W34_DEL"] = created("POST", "/v1/webhooks", admin, hook34)["id"]
    FX["WP1"] = created("POST", "/v1/webhooks", admin, hookp1)["id"]
    FX["WP1_DEL"] = created("POST", "/v1/webhooks", admin, hookp1)["id"]
    FX["PLAN"] = created("POST", "/v1/allocation-plans", admin, {"departement": "34", "on": day(1)})["id"]
    FX["VICTIM"] = created("POST", "/v1/tokens", admin, {"role": "referent", "label": "victim",
                                                         "departements": ["34"]})["id"]
    # An admin token, revoked: the strongest role, worth nothing once revoked.
    rev = created("POST", "/v1/tokens", admin, {"role": "admin", "label": "revoked"})
    expect(D.call("DELETE", "/v1/tokens/%d" % rev["id"], admin), 200)
    TOK["revoked"] = rev["token"]
    # An admin token that expires in two seconds.
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    exp = created("POST", "/v1/tokens", admin, {"role": "admin", "label": "expiring", "expires_at": soon})
    expect(D.call("GET", "/v1/me", exp["token"]), 200)     # cached while valid...
    TOK["expired"] = exp["token"]
    TOK["none"] = None
    TOK["unknown"] = "siaod_" + secrets.token_hex(20)       # well formed, in no table
    TOK["malformed"] = "not-a-siaod-token"
    harness.SECRETS.add(TOK["unknown"])
    time.sleep(max(0.0, (datetime.datetime.strptime(soon, "%Y-%m-%dT%H:%M:%SZ")
                         .replace(tzinfo=datetime.timezone.utc)
                         - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 1.1)
    # ...and refused once expired, even from the cache.
    expect_problem(D.call("GET", "/v1/me", TOK["expired"]), 401)

    # people: an account for the sign-in routes, accounts to read and
    # disable, another person's session, and one session per caller
    acc, s = H.person(D, admin, "matrice@example.org", "referent", ["34"])
    FX["PW"] = H.PASSWORD % acc["id"]
    FX["ACC"] = acc["id"]
    FX["SESS"] = int(DB.sql("SELECT max(id) FROM sessions WHERE account_id = %d" % acc["id"])[0])
    FX["ACC_DIS"] = H.invite(D, admin, "a-desactiver@example.org", "referent", ["30"])[0]["id"]
    scopes = {"admin": ("admin", None, None), "ref_in": ("referent", ["34"], None),
              "ref_out": ("referent", ["30"], None), "p_own": ("porteur", None, FX["P1"]),
              "p_other": ("porteur", None, FX["P2"])}
    for caller, (role, deps, porteur) in scopes.items():
        email = "session-%s@example.org" % caller.replace("_", "-")
        a, sess = H.person(D, admin, email, role, deps, porteur)
        SESS[caller] = sess
        LOGIN[caller] = (email, H.PASSWORD % a["id"])
    # cookies worth nothing: unknown, malformed, signed out, expired
    SESS["none"] = None
    SESS["unknown"] = H.Session(D, secrets.token_urlsafe(32)[:43], "x" * 43)
    SESS["malformed"] = H.Session(D, "not-a-session", "x" * 43)
    a, gone = H.person(D, admin, "signed-out@example.org", "admin")
    expect(gone.call("POST", "/auth/logout"), 200)
    SESS["revoked"] = gone
    a, old = H.person(D, admin, "expired-session@example.org", "admin")
    DB.sql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE account_id = %d" % a["id"])
    SESS["expired"] = old
    harness.SECRETS.add(SESS["unknown"].cookie)


# ---------------------------------------------------------------- the matrix

@test
def every_route_has_a_scope_rule_and_a_path_it_matches():
    rows = parse_routes()
    names = [r[3] for r in rows]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, "route names used twice in routes.c: %s" % dup
    missing = [n for n in names if n not in SCOPE]
    assert not missing, ("routes in daemon/routes.c without a scope rule in test_roles_matrix.py "
                         "(add one to SCOPE saying who may call it): %s" % missing)
    stale = sorted(set(SCOPE) - set(names))
    assert not stale, "scope rules for routes that routes.c no longer has: %s" % stale
    problems = []
    for method, pattern, roles, name in rows:
        rule = SCOPE[name]
        if ("referent" in roles) != (rule.ref_out is not None):
            problems.append("%s: the mask %s referents but the rule %s ref_out" % (
                name, "admits" if "referent" in roles else "excludes",
                "lacks" if rule.ref_out is None else "states"))
        if ("porteur" in roles) != (rule.p_other is not None):
            problems.append("%s: the mask %s porteurs but the rule %s p_other" % (
                name, "admits" if "porteur" in roles else "excludes",
                "lacks" if rule.p_other is None else "states"))
        for v in (rule.ref_out, rule.p_other):
            if v not in (None, "ok", 403):
                problems.append("%s: scope expectation %r is neither 403 nor 'ok'" % (name, v))
        rx = pattern_regex(pattern)
        for role in ("admin", "referent", "porteur"):
            path = rule.path_for(role, AnyId()).split("?")[0]
            if not rx.match(path):
                problems.append("%s: path %s does not match the route %s" % (name, path, pattern))
        if not pattern.startswith("/v1/") and roles:
            problems.append("%s: a route outside /v1 that needs a token" % name)
        if pattern.startswith("/v1/") and not roles:
            problems.append("%s: a /v1 route open to anyone" % name)
    assert not problems, "\n".join(problems)


def expected(roles, rule, caller):
    """401, 403 or "ok" for this caller on a route with these roles."""
    if not roles:
        return "ok"
    if caller in NO_AUTH:
        return 401
    role, in_scope = CALLERS[caller]
    if role not in roles:
        return 403
    if in_scope:
        return "ok"
    return rule.ref_out if role == "referent" else rule.p_other


def call_order(roles):
    """Refusals first, then out-of-scope callers, then in-scope ones (admin last):
    the effects of allowed calls (an erasure, a closing) come after every check
    that needs the resource as it was."""
    order = list(NO_AUTH)
    order += [c for c, (role, _) in CALLERS.items() if role not in roles]
    order += [c for c, (role, ins) in CALLERS.items() if role in roles and not ins]
    order += [c for c in ("ref_in", "p_own", "admin") if CALLERS[c][0] in roles]
    return order


def send(auth, method, path, body):
    """A call as one caller: a bearer token, a cookie session, or nothing."""
    if isinstance(auth, H.Session):
        return auth.call(method, path, body)
    return D.call(method, path, auth, body, timeout=15)


def run_matrix(creds, label):
    failures = []
    calls = 0
    for method, pattern, roles, name in parse_routes():
        rule = SCOPE[name]
        for caller in call_order(roles):
            role = CALLERS[caller][0] if caller in CALLERS else "admin"
            path = rule.path_for(role)
            body = rule.body_for(role) if method in ("POST", "PATCH", "PUT") else None
            want = expected(roles, rule, caller)
            try:
                r = send(creds[caller], method, path, body)
            except Exception as e:      # a hang or a dropped connection
                failures.append("%s %s as %s: %r" % (method, path, caller, e))
                continue
            calls += 1
            got = r.status
            where = "%-18s %-6s %-50s as %-9s" % (name, method, path, caller)
            if got >= 500:
                failures.append("%s: %d (a 5xx) %s" % (where, got, r.text[:200]))
            elif want == "ok":
                if got in (401, 403, 405, 429) and not (name == "auth.password" and got == 200):
                    failures.append("%s: expected an answer (not 401/403), got %d %s" % (where, got, r.text[:200]))
            elif got != want:
                failures.append("%s: expected %d, got %d %s" % (where, want, got, r.text[:200]))
            else:
                ct = r.headers.get("Content-Type", "")
                if not ct.startswith("application/problem+json") or not isinstance(r.json, dict) \
                        or r.json.get("status") != want:
                    failures.append("%s: %d without a problem+json body: %r" % (where, got, r))
                if want == 401 and "WWW-Authenticate" not in r.headers:
                    failures.append("%s: 401 without WWW-Authenticate" % where)
            if name in ENDS_SESSION and isinstance(creds[caller], H.Session) and caller in LOGIN:
                creds[caller] = H.login(D, *LOGIN[caller])
    print("      %s: %d calls over %d routes" % (label, calls, len(SCOPE)))
    assert not failures, "%d unexpected answer(s):\n%s" % (len(failures), "\n".join(failures))


@test
def every_route_times_every_caller():
    run_matrix(TOK, "bearer tokens")


@test
def every_route_times_every_caller_with_cookie_sessions():
    """The same matrix with people signed in by cookie (CSRF token sent as the UI
    does): 0 unauthorised successes. What the first run used up is made again."""
    admin = TOK["admin"]
    FX["Y_ERASE"] = created("POST", "/v1/youth", TOK["ref_in"], youth_body())["id"]
    FX["O_CLOSE"] = created("POST", "/v1/offers", admin, {"porteur_id": FX["P1"], "kind": "iml", "label": "À fermer 2",
                                                          "commune_insee": "34301", "capacity": 1})["id"]
    hook34 = {"url": HOOK, "event_types": ["stay.overdue"], "departement": "34"}
    hookp1 = {"url": HOOK, "event_types": ["stay.overdue"], "porteur_id": FX["P1"]}
    FX["W34_DEL"] = created("POST", "/v1/webhooks", admin, hook34)["id"]
    FX["WP1_DEL"] = created("POST", "/v1/webhooks", admin, hookp1)["id"]
    run_matrix(SESS, "cookie sessions")


@test
def in_scope_is_not_just_any_answer_for_the_resource_routes():
    """The matrix accepts any business answer in scope; make sure the fixture reads
    really answer 200 to their owners (a 404 everywhere would hide a broken scope)."""
    for caller, path in (("ref_in", "/v1/youth/{Y34}"), ("ref_in", "/v1/youth/{Y34}/matches"),
                         ("ref_out", "/v1/youth/{Y30}"), ("ref_in", "/v1/placements/{PL}"),
                         ("p_own", "/v1/placements/{PL}"), ("p_own", "/v1/offers/{O1}/candidates"),
                         ("ref_in", "/v1/allocation-plans/{PLAN}"), ("ref_in", "/v1/webhooks/{W34}/deliveries"),
                         ("p_own", "/v1/webhooks/{WP1}/deliveries")):
        expect(D.call("GET", path.format(**FX), TOK[caller]), 200, "(as %s)" % caller)
    # and the symmetric refusals: the referent of 34 on a young person of 30
    for path in ("/v1/youth/{Y30}", "/v1/youth/{Y30}/matches"):
        expect_problem(D.call("GET", path.format(**FX), TOK["ref_in"]), 403)
    # lists open to out-of-scope callers show them nothing of the others
    items = expect(D.call("GET", "/v1/youth?limit=200", TOK["ref_out"]), 200).json["items"]
    assert {i["id"] for i in items} == {FX["Y30"]}, items
    items = expect(D.call("GET", "/v1/placements?limit=200", TOK["p_other"]), 200).json["items"]
    assert items == [], items
    items = expect(D.call("GET", "/v1/webhooks?limit=200", TOK["p_other"]), 200).json["items"]
    assert items == [], items


@test
def unrouted_paths_are_404_and_wrong_methods_405_with_or_without_a_token():
    for path in ("/", "/v1", "/v1/", "/v1/nothing", "/v2/offers", "/v1/offers/abc", "/v1/offers/0",
                 "/v1/offers/-1", "/v1/offers/1/unknown", "/v1/youth/1/matches/extra", "/healthz/x",
                 "/v1/offers/1234567890123456789", "/v1/webhooks/1/deliveries/x/retry", "/v1/porteurs/1/2",
                 "/V1/offers", "/v1//offers"):
        for caller in ("none", "admin", "unknown"):
            r = D.call("GET", path, TOK[caller])
            expect_problem(r, 404)
    allow_of = {}
    for method, pattern, roles, name in parse_routes():
        allow_of.setdefault(pattern, set()).add(method)
    for pattern, methods in allow_of.items():
        if "*" in pattern:
            continue
        path = pattern.replace("{id}", "1")
        for wrong in ("PUT", "PATCH", "DELETE", "POST"):
            if wrong in methods:
                continue
            for caller in ("none", "admin"):
                r = D.call(wrong, path, TOK[caller], {} if wrong != "DELETE" else None)
                expect_problem(r, 405)
                allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
                assert allow == methods, "%s %s: Allow %r, the table says %r" % (wrong, path, allow, methods)
            break   # one wrong method per path is enough


if __name__ == "__main__":
    run_all(setup)
