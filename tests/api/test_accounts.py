"""
People's accounts and their sessions, against the real daemon (two instances
on one database, and a third with short session lifetimes):

  - an admin invites by e-mail; the invitation link is in the answer once,
    single use, expiring; the invited person sets a password and is signed in;
  - the session cookie's attributes; /v1/me names the person and gives the
    CSRF token; writes by cookie need X-CSRF-Token (and a matching Origin),
    bearer tokens do not;
  - a person lists their sessions (device, last use), ends one, ends all;
  - disabling an account ends its sessions and revokes its tokens, seen by the
    other instance within 1 s; changing a scope ends the sessions too;
  - idle and absolute expiry;
  - the audit names the account, for sessions and for tokens it owns;
  - password policy, password sign-in, its throttle (per account and per
    address, a delay with a French message, never a lockout).
"""
import datetime
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, expect, expect_problem, eventually, run_all, test  # noqa: E402
import accounts_helpers as H  # noqa: E402

DB = Database("accounts")
D = D2 = D3 = None
ADMIN = None
FX = {}
SETE = "34301"


def setup():
    global D, D2, D3, ADMIN
    D = Daemon(DB, env=H.daemon_env(), name="a", start=False)
    D.extra_env.update(H.public_env(D.port))
    D.start()
    # the second instance keeps the default Secure cookie
    D2 = Daemon(DB, env={"SIAOD_ARGON2_M_COST_KIB": "1024", "SIAOD_ARGON2_T_COST": "1"}, name="b", start=False)
    D2.extra_env.update(H.public_env(D2.port))
    D2.start()
    D3 = Daemon(DB, env=H.daemon_env({"SIAOD_SESSION_IDLE_SECONDS": "2",
                                      "SIAOD_SESSION_ABSOLUTE_SECONDS": "5"}), name="short", start=False)
    D3.extra_env.update(H.public_env(D3.port))
    D3.start()
    ADMIN = D.token("admin")
    FX["p34"] = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}), 201).json["id"]


def youth_body(n):
    return {"ref": "ACC-%04d" % n, "departement": "34", "birth_date": "2005-03-01", "gender": "female",
            "situation": "street", "commune_insee": SETE}


@test
def invitation_link_is_shown_once_single_use_and_signs_in():
    acc, tok = H.invite(D, ADMIN, "Marie.Referente@example.org", "referent", ["34"])
    assert acc["invitation_mailed"] is False and acc["has_password"] is False
    assert "invitation_url" not in expect(D.call("GET", "/v1/accounts/%d" % acc["id"], ADMIN), 200).json
    listed = expect(D.call("GET", "/v1/accounts", ADMIN), 200).json["items"]
    assert all("invitation_url" not in a for a in listed) and any(a["id"] == acc["id"] for a in listed)
    # only the hash is stored
    assert DB.sql("SELECT count(*) FROM account_links WHERE encode(hash, 'escape') LIKE '%%%s%%'" % tok[:20]) == ["0"]
    peek = expect(D.call("POST", "/auth/link", None, {"token": tok}), 200).json
    assert peek["kind"] == "invitation" and peek["email"] == "marie.referente@example.org", peek
    s = H.accept(D, tok, "Un-long-chemin-vers-Sete")
    me = expect(s.call("GET", "/v1/me"), 200).json
    assert me["account_id"] == acc["id"] and me["role"] == "referent" and me["departements"] == ["34"], me
    assert me["email"] == "marie.referente@example.org" and me["session"] is True, me
    assert me["csrf_token"] == s.csrf and me["token_id"] == 0, me
    # single use
    expect_problem(D.call("POST", "/auth/invitation", None, {"token": tok, "password": "Un-autre-chemin-long"},
                          headers={"Origin": "http://127.0.0.1:%d" % D.port}), 404)
    FX["ref"] = (acc, s)


@test
def expired_or_replaced_invitation_is_refused():
    acc, tok = H.invite(D, ADMIN, "expire@example.org", "referent", ["34"])
    DB.sql("UPDATE account_links SET expires_at = now() - interval '1 second' WHERE account_id = %d" % acc["id"])
    expect_problem(D.call("POST", "/auth/link", None, {"token": tok}), 404)
    expect_problem(D.call("POST", "/auth/invitation", None, {"token": tok, "password": "Un-long-chemin-vers-Agde"}), 404)
    # a new invitation works, and the older link stays dead
    again = expect(D.call("POST", "/v1/accounts/%d/invitation" % acc["id"], ADMIN), 201).json
    tok2 = H.link_token(again["invitation_url"])
    assert tok2 != tok
    H.accept(D, tok2, "Un-long-chemin-vers-Agde")


@test
def weak_passwords_are_refused_with_a_french_reason():
    acc, tok = H.invite(D, ADMIN, "jean.dupont@example.org", "porteur", porteur=FX["p34"])
    origin = {"Origin": "http://127.0.0.1:%d" % D.port}
    for pw, word in (("court", "au moins 12"), ("azertyuiop123", "courants"), ("motdepasse2025", "courants"),
                     ("aaaaaaaaaaaaaaaa", "répéter"), ("xx-jean.dupont-xx", "adresse")):
        p = expect_problem(D.call("POST", "/auth/invitation", None, {"token": tok, "password": pw}, headers=origin),
                           400, "/password", "out_of_range")
        assert word in p["detail"], (pw, p)
    # the link was not used up by the refusals
    H.accept(D, tok, "Pas-si-courant-que-ca-34")


@test
def cookie_attributes():
    acc, tok = H.invite(D2, ADMIN, "cookie@example.org", "admin")
    r = expect(D2.call("POST", "/auth/invitation", None, {"token": tok, "password": "Biscuit-au-beurre-34"}), 200)
    sc = r.headers["Set-Cookie"]
    H.cookie_of(r)
    for attr in ("HttpOnly", "SameSite=Lax", "Path=/", "Secure"):
        assert attr in sc, (attr, sc)
    r = expect(D.call("POST", "/auth/password", None, {"email": "cookie@example.org", "password": "Biscuit-au-beurre-34"}), 200)
    sc = r.headers["Set-Cookie"]
    H.cookie_of(r)
    assert "HttpOnly" in sc and "Secure" not in sc, sc   # session_cookie_secure = false on D
    assert r.headers.get("Cache-Control") == "no-store"


@test
def csrf_is_needed_for_cookie_writes_not_for_bearer_tokens():
    acc, s = FX["ref"]
    expect_problem(s.call("POST", "/v1/youth", youth_body(1), csrf=False), 403)
    expect_problem(s.call("POST", "/v1/youth", youth_body(1), csrf=False, origin=False), 403)
    bad = H.Session(D, s.cookie, "x" * 43)
    expect_problem(bad.call("POST", "/v1/youth", youth_body(1)), 403)
    expect_problem(s.call("POST", "/v1/youth", youth_body(1), headers={"Origin": "https://evil.example"}), 403)
    assert DB.sql("SELECT count(*) FROM youth WHERE ref = 'ACC-0001'") == ["0"]
    # reads need no token; a write with the token (and no Origin, as some clients) goes through
    expect(s.call("GET", "/v1/youth", csrf=False), 200)
    y = expect(s.call("POST", "/v1/youth", youth_body(1), origin=False), 201).json
    expect(s.call("PATCH", "/v1/youth/%d" % y["id"], {"gender": "male"}), 200)
    # the bearer path is untouched: no CSRF header needed
    expect(D.call("POST", "/v1/youth", ADMIN, youth_body(2)), 201)
    FX["youth"] = y["id"]


@test
def audit_names_the_account_for_sessions_and_owned_tokens():
    acc, s = FX["ref"]
    rows = DB.sql("SELECT account_id, coalesce(token_id, 0), action FROM audit WHERE action = 'youth.create' "
                  "AND entity_id = %d" % FX["youth"])
    assert rows == ["%d|0|youth.create" % acc["id"]], rows
    refused = DB.sql("SELECT count(*) FROM audit WHERE account_id = %d AND outcome = 'denied'" % acc["id"])
    assert int(refused[0]) >= 1, refused
    tok = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "referent", "departements": ["34"],
                                                       "account_id": acc["id"], "label": "script"}), 201).json
    assert tok["account_id"] == acc["id"]
    y = expect(D.call("POST", "/v1/youth", tok["token"], youth_body(3)), 201).json
    rows = DB.sql("SELECT account_id, token_id FROM audit WHERE action = 'youth.create' AND entity_id = %d" % y["id"])
    assert rows == ["%d|%d" % (acc["id"], tok["id"])], rows
    mine = expect(D.call("GET", "/v1/audit?account=%d&limit=200" % acc["id"], ADMIN), 200).json["items"]
    assert mine and all(i["account_id"] == acc["id"] for i in mine), mine
    assert {i["action"] for i in mine} >= {"youth.create", "youth.patch"}, mine
    assert mine[0]["account_email"] == "marie.referente@example.org"
    FX["ref_token"] = tok


@test
def my_sessions_listed_ended_one_by_one_and_all_at_once():
    acc, first = H.person(D, ADMIN, "sessions@example.org", "referent", ["34"])
    pw = H.PASSWORD % acc["id"]
    second = H.login(D, "sessions@example.org", pw)
    third = H.login(D2, "sessions@example.org", pw)
    items = expect(first.call("GET", "/v1/me/sessions"), 200).json["items"]
    assert len(items) == 3, items
    cur = [i for i in items if i["current"]]
    assert len(cur) == 1 and cur[0]["device"] == "Firefox sur Linux", items
    assert {i["device"] for i in items} == {"Firefox sur Linux", "Chrome sur Windows"}, items
    assert all(i["last_used_at"] and i["expires_at"] for i in items)
    other = [i for i in items if not i["current"]][0]["id"]
    # someone else's session id is not yours to end
    _, stranger = H.person(D, ADMIN, "stranger@example.org", "referent", ["34"])
    expect_problem(stranger.call("DELETE", "/v1/me/sessions/%d" % other), 404)
    # ending needs the CSRF token like any cookie write
    expect_problem(first.call("DELETE", "/v1/me/sessions/%d" % other, csrf=False), 403)
    expect(first.call("DELETE", "/v1/me/sessions/%d" % other), 200)
    alive = [s for s in (second, third) if s.call("GET", "/v1/me").status == 200]
    assert len(alive) == 1, "one of the two other sessions must have ended"
    expect(first.call("GET", "/v1/me"), 200)
    r = expect(first.call("DELETE", "/v1/me/sessions"), 200)
    assert r.json["ended"] == 2, r
    assert "siaod_session=;" in r.headers.get("Set-Cookie", ""), r.headers
    for s in (first, second, third):
        expect_problem(s.call("GET", "/v1/me"), 401)
    expect(stranger.call("GET", "/v1/me"), 200)


@test
def sign_out_ends_the_session():
    acc, s = H.person(D, ADMIN, "logout@example.org", "porteur", porteur=FX["p34"])
    r = expect(D.call("POST", "/auth/logout", None, None, headers=s.headers()), 200)
    assert r.json["ended"] is True and "Max-Age=0" in r.headers["Set-Cookie"]
    expect_problem(s.call("GET", "/v1/me"), 401)


@test
def disabling_ends_sessions_and_revokes_tokens_on_every_instance_within_a_second():
    acc, s = H.person(D, ADMIN, "partant@example.org", "referent", ["34"])
    tok = expect(D.call("POST", "/v1/tokens", ADMIN, {"role": "referent", "departements": ["34"],
                                                       "account_id": acc["id"]}), 201).json["token"]
    s2 = H.login(D2, "partant@example.org", H.PASSWORD % acc["id"])
    # both instances have the session (and D2 the token) in their caches
    for _ in range(3):
        expect(s.call("GET", "/v1/me", d=D2), 200)
        expect(s2.call("GET", "/v1/me"), 200)
        expect(D2.call("GET", "/v1/me", tok), 200)
    r = expect(D.call("POST", "/v1/accounts/%d/disable" % acc["id"], ADMIN), 200).json
    t0 = time.monotonic()
    assert r["disabled_at"] and r["sessions_ended"] == 2 and r["tokens_revoked"] == 1, r

    def all_refused():
        return (s.call("GET", "/v1/me", d=D2).status == 401 and s2.call("GET", "/v1/me", d=D2).status == 401
                and D2.call("GET", "/v1/me", tok).status == 401)
    eventually(all_refused, timeout=1.0, interval=0.05, msg="disabled account refused on the other instance")
    took = time.monotonic() - t0
    assert took <= 1.0, took
    expect_problem(s.call("GET", "/v1/me"), 401)
    expect_problem(D.call("GET", "/v1/me", tok), 401)
    # and no new sign-in
    r = H.login(D, "partant@example.org", H.PASSWORD % acc["id"], expect_status=401)
    assert r.json["detail"] == "Adresse e-mail ou mot de passe incorrect.", r
    assert DB.sql("SELECT action FROM audit WHERE entity = 'account' AND entity_id = %d AND action = 'account.disable'"
                  % acc["id"]) == ["account.disable"]


@test
def a_session_ended_on_one_instance_is_refused_by_the_other_within_a_second():
    acc, s = H.person(D, ADMIN, "deux@example.org", "porteur", porteur=FX["p34"])
    times = []
    for _ in range(3):
        s2 = H.login(D, "deux@example.org", H.PASSWORD % acc["id"])
        for _ in range(3):
            expect(s2.call("GET", "/v1/me", d=D2), 200)   # cached on D2
        expect(s2.call("POST", "/auth/logout"), 200)
        t0 = time.monotonic()
        eventually(lambda: s2.call("GET", "/v1/me", d=D2).status == 401, timeout=1.0, interval=0.02,
                   msg="logout seen by the other instance")
        times.append(time.monotonic() - t0)
    assert max(times) <= 1.0, times
    print("      revocation seen by the second instance after %.3f s at most" % max(times))


@test
def changing_a_scope_ends_the_sessions_that_carried_the_old_one():
    acc, s = H.person(D, ADMIN, "mutation@example.org", "referent", ["34"])
    expect(s.call("GET", "/v1/youth/%d" % FX["youth"]), 200)
    r = expect(D.call("PATCH", "/v1/accounts/%d" % acc["id"], ADMIN, {"departements": ["30"]},
                      headers={"Content-Type": "application/merge-patch+json"}), 200).json
    assert r["departements"] == ["30"], r
    expect_problem(s.call("GET", "/v1/me"), 401)
    s = H.login(D, "mutation@example.org", H.PASSWORD % acc["id"])
    assert expect(s.call("GET", "/v1/me"), 200).json["departements"] == ["30"]
    expect_problem(s.call("GET", "/v1/youth/%d" % FX["youth"]), 403)
    # a porteur account needs its porteur
    expect_problem(D.call("PATCH", "/v1/accounts/%d" % acc["id"], ADMIN, {"role": "porteur"}), 400)
    expect_problem(D.call("PATCH", "/v1/accounts/%d" % acc["id"], ADMIN, {"email": "x@example.org"}), 400)


@test
def account_patch_takes_an_if_match_list_compared_strongly():
    acc, _ = H.person(D, ADMIN, "ifmatch@example.org", "referent", ["34"])
    path = "/v1/accounts/%d" % acc["id"]
    r = expect(D.call("GET", path, ADMIN), 200)
    etag, v = r.headers["ETag"], r.json["version"]
    assert etag == '"%d"' % v, (etag, v)

    def patch(name, if_match):
        return D.call("PATCH", path, ADMIN, {"display_name": name},
                      headers={"Content-Type": "application/merge-patch+json", "If-Match": if_match})
    expect_problem(patch("Faible", "W/" + etag), 412)
    expect_problem(patch("Ancienne", '"%d"' % (v + 50)), 412)
    r = expect(patch("Liste", '"%d", %s' % (v + 50, etag)), 200)
    assert r.json["display_name"] == "Liste" and r.json["version"] == v + 1, r.json
    expect_problem(patch("Perdu", etag), 412)
    assert expect(D.call("GET", path, ADMIN), 200).json["display_name"] == "Liste"


@test
def idle_and_absolute_expiry():
    acc, _ = H.person(D, ADMIN, "court@example.org", "referent", ["34"])
    pw = H.PASSWORD % acc["id"]
    s = H.login(D3, "court@example.org", pw)
    expect(s.call("GET", "/v1/me"), 200)
    time.sleep(3.2)                          # idle 2 s
    expect_problem(s.call("GET", "/v1/me"), 401)
    s = H.login(D3, "court@example.org", pw)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4.0:       # kept busy, under the absolute 5 s
        expect(s.call("GET", "/v1/me"), 200)
        time.sleep(0.8)
    time.sleep(1.5)
    expect_problem(s.call("GET", "/v1/me"), 401)


@test
def password_sign_in_and_its_throttle():
    acc, _ = H.person(D, ADMIN, "essais@example.org", "referent", ["34"])
    pw = H.PASSWORD % acc["id"]
    s = H.login(D, "ESSAIS@example.org", pw)    # e-mail case does not matter
    expect(s.call("GET", "/v1/me"), 200)
    for i in range(5):
        r = H.login(D, "essais@example.org", "Pas-le-bon-%d" % i, expect_status=401)
        assert r.json["detail"] == "Adresse e-mail ou mot de passe incorrect."
    r = H.login(D, "essais@example.org", pw, expect_status=429)      # even the right one waits
    assert r.json["detail"].startswith("Trop de tentatives de connexion. Réessayez dans"), r
    assert int(r.headers["Retry-After"]) >= 1
    # the other instance applies the same throttle (it is in the database)
    H.login(D2, "essais@example.org", pw, expect_status=429)
    # a delay, not a lockout: once it passed, the right password works
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    s = H.login(D, "essais@example.org", pw)
    expect(s.call("GET", "/v1/me"), 200)
    # an unknown address is refused the same way as a wrong password
    r = H.login(D, "personne@example.org", "Un-long-chemin-vers-Sete", expect_status=401)
    assert r.json["detail"] == "Adresse e-mail ou mot de passe incorrect."


@test
def throttle_per_client_address():
    DB.sql("DELETE FROM login_failures")
    for i in range(20):
        H.login(D, "inconnu%d@example.org" % i, "Mauvais-mot-de-passe", expect_status=401)
    r = H.login(D, "cookie@example.org", "Biscuit-au-beurre-34", expect_status=429)
    assert "Trop de tentatives" in r.json["detail"]
    DB.sql("DELETE FROM login_failures")
    H.login(D, "cookie@example.org", "Biscuit-au-beurre-34")


@test
def accounts_routes_are_for_admins_only():
    acc, s = FX["ref"]
    expect_problem(D.call("GET", "/v1/accounts", FX["ref_token"]["token"]), 403)
    expect_problem(s.call("POST", "/v1/accounts", {"email": "a@example.org", "role": "admin"}), 403)
    expect_problem(D.call("POST", "/v1/accounts", ADMIN, {"email": "pas-une-adresse", "role": "admin"}), 400, "/email")
    expect_problem(D.call("POST", "/v1/accounts", ADMIN, {"email": "r@example.org", "role": "referent"}), 400,
                   "/departements", "required")
    expect_problem(D.call("POST", "/v1/accounts", ADMIN, {"email": "marie.referente@example.org", "role": "admin"}), 409)


@test
def an_operator_creates_an_account_with_a_password_on_stdin():
    import subprocess
    pw = "Mot-de-passe-du-demo-34"
    harness.SECRETS.add(pw)

    def create(email, password, *extra):
        p = subprocess.run([harness.BIN, "account", "create", "--email", email, *extra], input=password + "\n",
                           env=D.env(), capture_output=True, text=True, timeout=60)
        harness.scan_for_sanitizer(p.stderr, "siaod account create")
        return p
    p = create("demo-cli@example.org", pw, "--role", "referent", "--departement", "34", "--name", "Démo")
    assert p.returncode == 0, p.stderr
    assert pw not in p.stdout + p.stderr
    s = H.login(D, "demo-cli@example.org", pw)
    me = expect(s.call("GET", "/v1/me"), 200).json
    assert me["role"] == "referent" and me["departements"] == ["34"] and me["display_name"] == "Démo", me
    p = create("demo-cli2@example.org", "azertyuiop123", "--role", "admin")
    assert p.returncode != 0 and "courants" in p.stderr, p.stderr
    p = create("demo-cli3@example.org", pw, "--role", "referent")
    assert p.returncode != 0 and "département" in p.stderr, p.stderr


run_all(setup)
