"""
Helpers for tests with people's accounts (tests/api/test_accounts*.py and the
role x route matrix with cookie sessions): invite through the admin API, take
the link from the answer (or from a real mail), set a password, and call the
API with the session cookie and its CSRF token, as the browser does.
Every secret met here (links, cookies, passwords) joins harness.SECRETS, so
the final checks fail if one reaches a daemon's log.
"""
import re

import harness
from harness import expect

PASSWORD = "Parcours-Logement-%d"


def daemon_env(extra=None):
    """What these tests give the daemon: plain-HTTP cookies, cheap Argon2."""
    env = {"SIAOD_SESSION_COOKIE_SECURE": "false",
           "SIAOD_ARGON2_M_COST_KIB": "1024", "SIAOD_ARGON2_T_COST": "1"}
    env.update(extra or {})
    return env


def public_env(port):
    return {"SIAOD_PUBLIC_URL": "http://127.0.0.1:%d" % port}


def link_token(url, fragment="invitation"):
    m = re.search(r"#%s=([A-Za-z0-9_-]{43})$" % fragment, url)
    assert m, "no %s token in %r" % (fragment, url)
    harness.SECRETS.add(m.group(1))
    return m.group(1)


def invite(d, admin, email, role, departements=None, porteur=None, name="Camille Test"):
    body = {"email": email, "role": role, "display_name": name}
    if departements:
        body["departements"] = list(departements)
    if porteur:
        body["porteur_id"] = porteur
    r = expect(d.call("POST", "/v1/accounts", admin, body), 201)
    assert r.json["email"] == email.lower(), r
    return r.json, link_token(r.json["invitation_url"])


def cookie_of(resp):
    sc = resp.headers.get("Set-Cookie") or ""
    m = re.match(r"siaod_session=([A-Za-z0-9_-]{43});", sc)
    assert m, "no session cookie in %r" % sc
    harness.SECRETS.add(m.group(1))
    return m.group(1)


class Session:
    """A signed-in browser: its cookie and CSRF token."""

    def __init__(self, d, cookie, csrf, account_id=None):
        self.d, self.cookie, self.csrf, self.account_id = d, cookie, csrf, account_id

    def headers(self, csrf=True, origin=True, extra=None):
        h = {"Cookie": "siaod_session=" + self.cookie, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        if origin:
            h["Origin"] = "http://127.0.0.1:%d" % self.d.port
        h.update(extra or {})
        return h

    def call(self, method, path, body=None, csrf=True, origin=True, headers=None, d=None):
        return (d or self.d).call(method, path, None, body, headers=self.headers(csrf, origin, headers))


def accept(d, token, password):
    harness.SECRETS.add(password)
    r = expect(d.call("POST", "/auth/invitation", None, {"token": token, "password": password},
                      headers={"Origin": "http://127.0.0.1:%d" % d.port,
                               "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}), 200)
    return Session(d, cookie_of(r), r.json["csrf_token"], r.json["account_id"])


def login(d, email, password, expect_status=200):
    r = d.call("POST", "/auth/password", None, {"email": email, "password": password},
               headers={"Origin": "http://127.0.0.1:%d" % d.port,
                        "User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36"})
    expect(r, expect_status)
    if expect_status != 200:
        return r
    return Session(d, cookie_of(r), r.json["csrf_token"], r.json["account_id"])


def person(d, admin, email, role, departements=None, porteur=None, password=None):
    """An invited account that set its password: (account, Session)."""
    acc, tok = invite(d, admin, email, role, departements, porteur)
    pw = password or PASSWORD % acc["id"]
    return acc, accept(d, tok, pw)
