"""
Security properties, end to end:

- Per-token rate limit (rate_limit_per_second = 5, rate_limit_burst = 5): a
  burst of 20 requests, sequential or all at once, gets 429 problem+json with
  Retry-After for everything beyond the bucket; another token is unaffected;
  the token works again after Retry-After.
- Webhook targets on loopback, private, link-local or CGNAT addresses are
  refused (400, pointer /url) unless webhook_allow_private is true; a host
  name that resolves to loopback is accepted but never connected to.
- Retention (retention_months = 1): after a SIGHUP (which runs the
  scheduler: expiry, alerts, retention) a young person inactive for longer is
  anonymised (GET 404, ref and birth_date NULL, an audit row
  youth.retention), while one recently changed and one with an open
  placement are untouched.
- Secrets never leak: no token and no webhook secret (nor a piece of one) in
  any daemon log (at log_level debug, with tokens also sent where they do not
  belong: query string, odd Authorization schemes, bodies); tokens are never
  stored in clear, webhook secrets only in their subscription row.
"""
import datetime
import http.server
import os
import re
import secrets
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Client, Daemon, Database, eventually, expect, expect_problem, http_call,  # noqa: E402
                     run_all, test)

DB = None
D = None            # log_level debug, retention_months 1, webhook_allow_private false
RL = None           # the same database, rate limited
DBP = None
DP = None           # webhook_allow_private true, its own database
ADMIN = None
ADMIN_P = None
P1 = None
TODAY = None
WEBHOOK_SECRETS = []
SENT_TOKENS = set()     # every token value we sent, valid or not


def setup():
    global DB, D, RL, DBP, DP, ADMIN, ADMIN_P, P1, TODAY
    DB = Database("security")
    D = Daemon(DB, name="main", env={"SIAOD_LOG_LEVEL": "debug", "SIAOD_RETENTION_MONTHS": "1",
                                     "SIAOD_WEBHOOK_RETRY_SCHEDULE": "1s,1s"})
    RL = Daemon(DB, name="limited", env={"SIAOD_RATE_LIMIT_PER_SECOND": "5", "SIAOD_RATE_LIMIT_BURST": "5"})
    DBP = Database("security_private")
    DP = Daemon(DBP, name="private", env={"SIAOD_WEBHOOK_ALLOW_PRIVATE": "true", "SIAOD_LOG_LEVEL": "debug"})
    TODAY = datetime.date.fromisoformat(DB.sql("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")[0])
    ADMIN = D.token("admin", label="admin")
    ADMIN_P = DP.token("admin", label="admin")
    P1 = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}), 201).json["id"]


def youth_body(ref, **over):
    b = {"ref": ref, "departement": "34", "birth_date": TODAY.replace(year=TODAY.year - 20, day=1).isoformat(),
         "gender": "female", "situation": "street", "commune_insee": "34301"}
    b.update(over)
    return b


# ---------------------------------------------------------------- rate limit

def is_429(r):
    if r.status != 429:
        return False
    expect_problem(r, 429)
    ra = r.headers.get("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, "429 without a usable Retry-After: %r" % r.headers
    return True


@test
def a_burst_beyond_the_bucket_gets_429_with_retry_after_per_token():
    a = RL.token("referent", departements=("34",), label="burst-a")
    b = RL.token("referent", departements=("34",), label="burst-b")
    c = Client(RL)
    t0 = time.monotonic()
    answers = [c.call("GET", "/v1/me", a) for _ in range(20)]
    took = time.monotonic() - t0
    ok = [r for r in answers if r.status == 200]
    limited = [r for r in answers if is_429(r)]
    assert len(ok) + len(limited) == 20, [r.status for r in answers]
    # the bucket holds 5 and refills 5 per second while the burst lasts
    assert [r.status for r in answers[:5]] == [200] * 5, [r.status for r in answers]
    assert len(ok) <= 5 + int(took * 5) + 1, "%d of 20 allowed in %.2f s" % (len(ok), took)
    assert len(limited) >= 20 - (5 + int(took * 5) + 1), (len(limited), took)
    # another token is not affected, and neither is an anonymous route
    for _ in range(5):
        expect(c.call("GET", "/v1/me", b), 200)
    expect(c.call("GET", "/healthz"), 200)
    # the limited token is served again once Retry-After has passed
    wait = max(int(r.headers["Retry-After"]) for r in limited)
    time.sleep(wait + 0.05)
    expect(c.call("GET", "/v1/me", a), 200)
    c.close()


@test
def a_concurrent_burst_is_limited_too():
    tok = RL.token("admin", label="burst-c")
    results = []
    lock = threading.Lock()
    go = threading.Event()

    def one():
        go.wait()
        r = http_call(RL.port, "GET", "/v1/porteurs", tok)
        with lock:
            results.append(r)
    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join(15)
    took = time.monotonic() - t0
    ok = [r for r in results if r.status == 200]
    limited = [r for r in results if is_429(r)]
    assert len(results) == 20 and len(ok) + len(limited) == 20, [r.status for r in results]
    assert 5 <= len(ok) <= 5 + int(took * 5) + 1, "%d of 20 allowed in %.2f s" % (len(ok), took)
    # refusals are counted in /metrics (this burst's and the previous test's)
    m = re.search(r"^siaod_rate_limited_total (\d+)$", http_call(RL.port, "GET", "/metrics").text, re.M)
    assert m and int(m.group(1)) >= len(limited), "siaod_rate_limited_total: %r" % (m and m.group(0))


@test
def rate_limit_off_by_default_in_tests_and_set_per_daemon():
    # the harness's default (0) means no limit: 60 quick calls all pass on D
    c = Client(D)
    assert all(c.call("GET", "/v1/me", ADMIN).status == 200 for _ in range(60))
    c.close()


# ---------------------------------------------------------------- webhook targets

PRIVATE = ["http://127.0.0.1:8080/h", "http://127.0.0.2/h", "https://127.0.0.1/h", "http://localhost/h",
           "http://LOCALHOST./h", "http://api.localhost/h", "http://10.1.2.3/h", "http://172.16.5.4/h",
           "http://172.31.255.1/h", "http://192.168.0.10/h", "http://169.254.169.254/latest/meta-data/",
           "http://100.64.1.1/h", "http://0.0.0.0/h", "http://[::1]/h", "http://[::]/h", "http://[fd00::1]/h",
           "http://[fe80::1]/h", "http://[::ffff:127.0.0.1]/h", "http://[::ffff:10.0.0.1]/h"]


def hook(url, **over):
    b = {"url": url, "event_types": ["offer.capacity_available"], "porteur_id": P1}
    b.update(over)
    return b


def remember(w):
    if isinstance(w, dict) and isinstance(w.get("secret"), str):
        WEBHOOK_SECRETS.append(w["secret"])
        harness.SECRETS.add(w["secret"])     # the harness greps every log for it at the end
    return w


@test
def private_and_loopback_webhook_targets_are_refused_unless_allowed():
    for url in PRIVATE:
        r = D.call("POST", "/v1/webhooks", ADMIN, hook(url))
        expect_problem(r, 400, pointer="/url")
    n = DB.sql("SELECT count(*) FROM webhooks")[0]
    assert n == "0", "%s private subscriptions stored" % n
    # a public target is fine
    remember(expect(D.call("POST", "/v1/webhooks", ADMIN, hook("https://hooks.example.org/siaod")), 201).json)
    # where the operator allows it, the same private targets are accepted
    pp = expect(DP.call("POST", "/v1/porteurs", ADMIN_P, {"name": "P", "departement": "34"}), 201).json["id"]
    for url in PRIVATE[:6] + ["http://[::1]/h"]:
        remember(expect(DP.call("POST", "/v1/webhooks", ADMIN_P, hook(url, porteur_id=pp)), 201).json)


# The special-purpose blocks of the IANA registries (issue 11 item 11): no ordinary
# unicast destination, or an IPv6 form that carries an IPv4 address a relay or a local
# translator could deliver anywhere (so refused whatever IPv4 address it carries).
SPECIAL = ["http://[::ffff:8.8.8.8]/h", "http://[::ffff:7f00:1]/h", "http://[::8.8.8.8]/h",
           "http://[::127.0.0.1]/h", "http://[64:ff9b::808:808]/h", "http://[64:ff9b::7f00:1]/h",
           "http://[2002:7f00:1::1]/h", "http://[2002:808:808::1]/h", "http://198.18.0.1/h",
           "http://198.19.255.254/h", "http://100.127.255.254/h", "http://192.0.0.8/h",
           "http://224.0.0.1/h", "http://239.255.255.250/h", "http://[ff02::1]/h", "http://240.0.0.1/h",
           "http://250.1.2.3/h", "http://255.255.255.255/h"]


@test
def special_purpose_webhook_targets_are_refused_at_creation():
    before = DB.sql("SELECT count(*) FROM webhooks")[0]
    for url in SPECIAL:
        r = D.call("POST", "/v1/webhooks", ADMIN, hook(url))
        try:
            expect_problem(r, 400, pointer="/url", code="out_of_range")
        except AssertionError as e:
            raise AssertionError("%s: %s" % (url, e))
    assert DB.sql("SELECT count(*) FROM webhooks")[0] == before, "a special-purpose target was stored"
    # their neighbours outside the blocks are ordinary addresses
    for url in ("http://198.20.0.1/h", "http://100.128.0.1/h", "http://192.0.1.1/h", "http://223.1.2.3/h",
                "http://[2003::1]/h", "http://[2a01:cb00::1]/h"):
        w = remember(expect(D.call("POST", "/v1/webhooks", ADMIN, hook(url)), 201, url).json)
        # (no delivery to anyone's real address from a test)
        expect(D.call("DELETE", "/v1/webhooks/%d" % w["id"], ADMIN), 200)


class Receiver:
    def __init__(self):
        self.paths = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@test
def a_name_that_resolves_to_loopback_is_never_connected_to():
    rcv = Receiver()
    # spellings of loopback that the creation check cannot see through and
    # that libcurl itself resolves, whatever the host's files say (no
    # /etc/hosts, no resolver): full-width (IDNA-mapped) forms of "localhost"
    # and of a name under .localhost, which libcurl turns into "localhost" /
    # "appat.localhost" and answers with 127.0.0.1 without asking anyone.
    hidden = ["http://%s:%d/hidden-%d" % (h, rcv.port, i) for i, h in enumerate((
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",            # ｌｏｃａｌｈｏｓｔ
        "appat.\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54"))]    # appat.ｌｏｃａｌｈｏｓｔ
    # numeric forms inet_pton does not read (libcurl normalises them, so the
    # creation check may refuse them already: either way, never connected to)
    hidden += ["http://2130706433:%d/hidden-decimal" % rcv.port, "http://127.1:%d/hidden-short" % rcv.port]
    made = []
    for url in hidden:
        r = D.call("POST", "/v1/webhooks", ADMIN, hook(url))
        if r.status == 201:
            made.append(remember(r.json)["id"])
        else:
            expect_problem(r, 400, pointer="/url")
    # an event for them all: a new offer of P1
    expect(D.call("POST", "/v1/offers", ADMIN, {"porteur_id": P1, "kind": "iml", "label": "Appât",
                                                "commune_insee": "34301", "capacity": 1}), 201)
    assert made, "every hidden-loopback URL was refused at creation: nothing left to check at connect time"
    if made:
        ids = ",".join(map(str, made))
        eventually(lambda: DB.sql("SELECT count(*) FROM deliveries WHERE webhook_id IN (%s) AND attempts >= 1 "
                                  "AND status IN ('pending', 'failed')" % ids) == [str(len(made))],
                   timeout=10, msg="an attempt on every hidden-loopback subscription")
        rows = DB.sql("SELECT d.webhook_id, d.last_status, d.last_error FROM deliveries d WHERE webhook_id IN (%s)" % ids)
        for row in rows:
            wid, status, error = row.split("|", 2)
            assert status == "" and error, "subscription %s: a connection was made (%r)" % (wid, row)
    time.sleep(0.5)
    assert rcv.paths == [], "a private address was reached through a name: %r" % rcv.paths
    print("      %d of %d hidden-loopback URLs accepted, none connected to" % (len(made), len(hidden)), flush=True)
    # positive control: the same receiver, allowed, gets its event
    pp = int(DBP.sql("SELECT min(id) FROM porteurs")[0])
    remember(expect(DP.call("POST", "/v1/webhooks", ADMIN_P, hook("http://127.0.0.1:%d/allowed" % rcv.port,
                                                                   porteur_id=pp)), 201).json)
    expect(DP.call("POST", "/v1/offers", ADMIN_P, {"porteur_id": pp, "kind": "iml", "label": "Témoin",
                                                   "commune_insee": "34301", "capacity": 1}), 201)
    eventually(lambda: "/allowed" in rcv.paths, timeout=10, msg="delivery to an allowed private receiver")
    rcv.server.shutdown()


# ---------------------------------------------------------------- retention

def reload_and_wait(d, pattern, timeout=5):
    mark = d.reload()
    return d.wait_log(pattern, timeout=timeout, after=mark)


@test
def retention_anonymises_the_inactive_and_spares_the_active():
    ref = D.token("referent", departements=("34",), label="retention")
    long_ago = (TODAY - datetime.timedelta(days=100)).isoformat()
    old = expect(D.call("POST", "/v1/youth", ref, youth_body("RET-OLD", registered_at=long_ago)), 201).json["id"]
    touched = expect(D.call("POST", "/v1/youth", ref, youth_body("RET-TOUCHED", registered_at=long_ago)), 201).json["id"]
    placed = expect(D.call("POST", "/v1/youth", ref, youth_body("RET-PROPOSED", registered_at=long_ago)), 201).json["id"]
    o = expect(D.call("POST", "/v1/offers", ADMIN, {"porteur_id": P1, "kind": "iml", "label": "Rétention",
                                                    "commune_insee": "34301", "capacity": 2}), 201).json["id"]
    expect(D.call("POST", "/v1/placements", ref, {"youth_id": placed, "offer_id": o,
                                                  "start_date": TODAY.isoformat()}), 201)
    # old records: nothing changed for 100 days (the touched one is changed today below)
    DB.sql("UPDATE youth SET updated_at = now() - interval '100 days' WHERE id IN (%d, %d, %d)" % (old, touched, placed))
    expect(D.call("PATCH", "/v1/youth/%d" % touched, ref, {"wanted_months": 4}), 200)
    expect(D.call("GET", "/v1/youth/%d" % old, ref), 200)
    m = reload_and_wait(D, r"event=retention anonymised=(\d+)")
    assert m and m.group(1) == "1", "retention did not anonymise exactly one: %s" % D.log_tail()
    # the inactive one: gone from every answer, its personal fields NULL, audited
    expect_problem(D.call("GET", "/v1/youth/%d" % old, ref), 404)
    expect_problem(D.call("GET", "/v1/youth/%d/matches" % old, ref), 404)
    items = expect(D.call("GET", "/v1/youth?limit=200", ref), 200).json["items"]
    assert old not in [i["id"] for i in items], "an anonymised young person is still listed"
    row = DB.sql("SELECT ref IS NULL, birth_date IS NULL, commune_insee IS NULL, erased_at IS NOT NULL, status "
                 "FROM youth WHERE id = %d" % old)
    assert row == ["t|t|t|t|closed"], row
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'youth.retention' AND entity = 'youth' "
                  "AND entity_id = %d" % old) == ["1"]
    # the active ones are untouched
    for yid, r in ((touched, "RET-TOUCHED"), (placed, "RET-PROPOSED")):
        y = expect(D.call("GET", "/v1/youth/%d" % yid, ref), 200).json
        assert y["ref"] == r, y
    assert DB.sql("SELECT count(*) FROM youth WHERE erased_at IS NOT NULL") == ["1"]
    # running it again changes nothing and audits nothing twice
    reload_and_wait(D, r"event=reload result=ok")
    time.sleep(0.3)
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'youth.retention'") == ["1"]


# ---------------------------------------------------------------- secrets

@test
def tokens_sent_where_they_do_not_belong_are_not_logged():
    victim = D.token("admin", label="misplaced")
    fake = "siaod_" + secrets.token_hex(20)
    harness.SECRETS.add(fake)
    SENT_TOKENS.update((victim, fake))
    for tok in (victim, fake):
        for path in ("/v1/me?access_token=" + tok, "/v1/offers?token=" + tok, "/healthz?t=" + tok,
                     "/v1/nowhere?x=" + tok):
            http_call(D.port, "GET", path)
        for authz in ("Basic " + tok, "Bearer " + tok + " extra", "bearer " + tok, "Token " + tok, tok):
            http_call(D.port, "GET", "/v1/me", headers={"Authorization": authz})
        http_call(D.port, "GET", "/v1/me", headers={"X-Api-Key": tok, "Cookie": "session=" + tok})
        http_call(D.port, "POST", "/v1/porteurs", tok, raw=('{"name": "%s", ' % tok).encode())   # broken JSON
        http_call(D.port, "POST", "/v1/porteurs", ADMIN, raw=('{"name": 1, "x": "%s"}' % tok).encode())
    # a token and a webhook secret created with an Idempotency-Key, replayed
    key = {"Idempotency-Key": "sec-1"}
    first = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "admin", "label": "idem"}, headers=key), 201)
    again = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "admin", "label": "idem"}, headers=key), 201)
    assert first.json["token"] not in again.text, "the replay shows the token again"
    w = remember(expect(D.call("POST", "/v1/webhooks", ADMIN, hook("https://hooks.example.org/idem"),
                               headers={"Idempotency-Key": "sec-2"}), 201).json)
    again = D.call("POST", "/v1/webhooks", ADMIN, hook("https://hooks.example.org/idem"),
                   headers={"Idempotency-Key": "sec-2"})
    assert w["secret"] not in again.text, "the replay shows the webhook secret again"


@test
def a_token_pasted_into_the_url_path_is_not_logged():
    """A client that puts a token in the path, e.g. a
    mistaken GET /v1/tokens/<token>: the request log must not keep it (DESIGN:
    no tokens or secrets in logs). Its own daemon, so that its log is judged
    apart from the others'."""
    dpath = Daemon(DB, name="paths")
    tok = dpath.token("referent", departements=("34",), label="pasted")
    SENT_TOKENS.add(tok)
    for path in ("/v1/tokens/" + tok, "/v1/" + tok, "/v1/me/" + tok):
        expect_problem(http_call(dpath.port, "GET", path, tok), 404)
    assert dpath.stop() == 0
    log = dpath.log_text()
    leaked = [l for l in log.splitlines() if tok in l or tok[6:26] in l]
    assert not leaked, "the request log keeps a token pasted into the path:\n%s" % "\n".join(leaked[:3])


def pieces(secret):
    """The secret and pieces long enough to matter: a log holding half a token leaks too."""
    out = {secret}
    body = secret.split("_", 1)[1] if "_" in secret else secret
    out.add(body)
    if len(body) >= 32:
        out.update((body[:16], body[-16:]))
    return out


@test
def no_secret_in_any_log_nor_in_clear_in_the_database():
    # every daemon of this file, stopped so that its log is complete
    for d in (D, RL, DP):
        assert d.stop() == 0, "%s did not exit cleanly:\n%s" % (d.name, d.log_tail())
    tokens = {s for s in harness.SECRETS if s.startswith("siaod_")} | SENT_TOKENS
    assert len(tokens) >= 8 and len(WEBHOOK_SECRETS) >= 5, (len(tokens), len(WEBHOOK_SECRETS))
    leaks = []
    for d in harness.DAEMONS:
        if d.name == "paths":
            continue            # judged by a_token_pasted_into_the_url_path_is_not_logged
        log = d.log_text()
        for s in list(tokens) + WEBHOOK_SECRETS:
            for p in pieces(s):
                if p in log:
                    leaks.append("%s's log holds %s...%s (of a %s)" % (
                        d.name, p[:6], p[-4:], "token" if s.startswith("siaod_") else "webhook secret"))
    assert not leaks, "\n".join(sorted(set(leaks)))
    # the databases: tokens only as hashes; a webhook secret only in its subscription
    for db in (DB, DBP):
        dump = subprocess.run([os.path.join(harness.PG_BIN, "pg_dump"), "-d", db.url, "--data-only"],
                              capture_output=True, text=True, timeout=60)
        assert dump.returncode == 0, dump.stderr
        for t in tokens:
            assert t not in dump.stdout and t[6:] not in dump.stdout, "a token in clear in %s" % db.name
        for s in WEBHOOK_SECRETS:
            n = dump.stdout.count(s)
            assert n <= 1, "webhook secret stored %d times in %s" % (n, db.name)
    D.start()
    RL.start()
    DP.start()


if __name__ == "__main__":
    run_all(setup)
