"""
Sign-in with OpenID Connect against a real provider: oidc-provider 8
(tests/oidc/provider.mjs, configured like ProConnect: code flow + PKCE S256,
scopes and claims email, given_name, usual_name, siret, a signed userinfo,
RP-initiated logout) behind a proxy that tampers with its answers.

  - discovery and the key set at start; /auth/config offers the button;
  - a full sign-in (start → provider → callback) binds (iss, sub) to the
    invited account with the same verified e-mail, opens a session like a
    password sign-in (method oidc, ID token kept), redirects to the UI;
    the token request carries the PKCE verifier and the client secret;
  - each refused, with no session: a tampered signature, a wrong aud, an
    expired token, an unknown kid (after exactly one re-fetch of the keys),
    alg none, HS256, a wrong nonce, a replayed state, a state from another
    browser, a tampered signed userinfo, an unverified e-mail;
  - positive controls: the same claims re-signed (RS256, ES256) with keys the
    set publishes pass, and so does a plain JSON userinfo — so each refusal
    above is for its own reason;
  - an unknown person gets a French page saying whom to ask and no account
    is created; a disabled account is refused;
  - sign-out of an oidc session answers the provider's logout URL with
    id_token_hint, which the provider accepts;
  - a provider that is down at start does not stop siaod; the button then
    answers a French page; discovery succeeds later once it is up;
  - end to end in headless Chromium (Debian chromium + chromedriver, driven
    by python3-selenium): the button, the provider's login form, back to
    the UI signed in, then sign-out through the provider.
"""
import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, expect, run_all, test  # noqa: E402
import accounts_helpers as H  # noqa: E402
from oidc_helpers import Browser, Provider, query_of, wait_until  # noqa: E402

DB = Database("oidc")
D = None
P = None
ADMIN = None
URL = None
FX = {}
FRENCH_SECURITY = "par sécurité"


def setup():
    global D, P, ADMIN, URL
    D = Daemon(DB, env=H.daemon_env(), name="oidc", start=False)
    URL = "http://127.0.0.1:%d" % D.port
    P = Provider(URL)
    D.extra_env.update(H.public_env(D.port))
    D.extra_env.update(P.env())
    D.start()
    ADMIN = D.token("admin")
    assert D.wait_log(r"event=oidc_keys_loaded keys=4 refetch=false", timeout=15), D.log_tail()
    FX["p34"] = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Habitat Sète", "departement": "34"}),
                       201).json["id"]


def invite(email, role="referent", deps=("34",)):
    acc, tok = H.invite(D, ADMIN, email, role, deps if role == "referent" else None,
                        FX["p34"] if role == "porteur" else None)
    return acc


def sessions_of(account_id):
    return int(DB.sql("SELECT count(*) FROM sessions WHERE account_id = %d" % account_id)[0])


def callback(b, url):
    """siaod's callback, as the browser follows the provider's redirect."""
    a = b.request("GET", url)
    for k in ("code", "state"):
        v = query_of(url).get(k)
        if v:
            harness.SECRETS.add(v)
    return a


def signed_in(a):
    """The callback's answer opened a session: its cookie, else None."""
    for sc in a.set_cookies():
        if sc.startswith("siaod_session=") and not sc.startswith("siaod_session=;"):
            v = sc.split(";")[0].split("=", 1)[1]
            harness.SECRETS.add(v)
            return v
    return None


def full_sign_in(email):
    b = Browser()
    start, cb = b.sign_in_at_provider(URL, email)
    assert cb, "no redirect back from the provider: %r" % start
    return b, start, cb, callback(b, cb)


def me(cookie):
    return D.call("GET", "/v1/me", headers={"Cookie": "siaod_session=" + cookie})


@test
def the_sign_in_page_offers_the_provider():
    cfg = expect(D.call("GET", "/auth/config"), 200).json
    assert cfg["oidc"] is True and cfg["oidc_label"] == "Se connecter avec ProConnect", cfg
    assert P.stats()["discovery"] == 1, P.stats()


@test
def full_sign_in_binds_the_invited_account_and_opens_an_oidc_session():
    acc = invite("camille.durand@example.org")
    before = P.stats()
    b, start, cb, a = full_sign_in("camille.durand@example.org")
    # the authorization request: code flow, PKCE S256, state and nonce of 256 bits
    q = query_of(start.header("Location"))
    assert start.header("Location").startswith(P.issuer + "/auth?"), start
    assert q["response_type"] == "code" and q["client_id"] == P.client_id, q
    assert q["redirect_uri"] == URL + "/auth/oidc/callback", q
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43, q
    assert len(q["state"]) == 43 and len(q["nonce"]) == 43 and q["state"] != q["nonce"], q
    assert q["scope"] == "openid email given_name usual_name siret", q
    sc = [c for c in start.set_cookies() if c.startswith("siaod_oidc=")]
    assert sc and "HttpOnly" in sc[0] and "SameSite=Lax" in sc[0] and "Path=/auth/oidc" in sc[0], start
    # only hashes are kept of the state
    assert DB.sql("SELECT count(*) FROM oidc_logins WHERE encode(state_hash, 'hex') = '%s'" % q["state"]) == ["0"]
    # back from the provider: signed in, sent to the UI
    assert a.status == 302 and a.header("Location") == URL + "/ui/", a
    cookie = signed_in(a)
    assert cookie, a
    who = expect(me(cookie), 200).json
    assert who["account_id"] == acc["id"] and who["role"] == "referent" and who["session"] is True, who
    row = DB.sql("SELECT oidc_issuer, oidc_sub IS NOT NULL, siret, display_name FROM accounts WHERE id = %d"
                 % acc["id"])[0].split("|")
    assert row == [P.issuer, "t", "13002526500013", "Camille Test"], row
    s = DB.sql("SELECT method, id_token IS NOT NULL FROM sessions WHERE account_id = %d" % acc["id"])
    assert s == ["oidc|t"], s
    after = P.stats()
    assert after["token"] == before["token"] + 1 and after["userinfo"] == before["userinfo"] + 1, after
    assert after["last_token_auth"] == "client_secret_post" and after["last_code_verifier"] is True, after
    assert DB.sql("SELECT count(*) FROM oidc_logins") == ["0"], "the state was not used up"
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'account.oidc_bind' AND account_id = %d"
                  % acc["id"]) == ["1"]
    # the sign-in state cookie is cleared
    assert any(c.startswith("siaod_oidc=;") for c in a.set_cookies()), a
    FX["camille"] = (acc, b, cb, cookie)


@test
def a_second_sign_in_uses_the_binding():
    acc = FX["camille"][0]
    _b, _s, _cb, a = full_sign_in("camille.durand@example.org")
    cookie = signed_in(a)
    assert a.status == 302 and cookie, a
    assert expect(me(cookie), 200).json["account_id"] == acc["id"]
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'account.oidc_bind' AND account_id = %d"
                  % acc["id"]) == ["1"], "bound twice"


@test
def a_replayed_state_is_refused():
    acc, b, cb, _cookie = FX["camille"]
    n = sessions_of(acc["id"])
    # the same callback again, with the browser's state cookie put back
    b.cookies(urllib.parse.urlsplit(URL).netloc)["siaod_oidc"] = query_of(cb)["state"]
    mark = len(D.log_text())
    a = callback(b, cb)
    assert a.status == 400 and "a expiré ou a déjà servi" in a.text, a
    assert a.header("Content-Type").startswith("text/html") and not signed_in(a), a
    assert D.wait_log(r"reason=state_unknown_used_or_expired", after=mark), D.log_tail()
    assert sessions_of(acc["id"]) == n


@test
def a_state_from_another_browser_is_refused():
    acc = FX["camille"][0]
    n = sessions_of(acc["id"])
    b = Browser()
    _start, cb = b.sign_in_at_provider(URL, "camille.durand@example.org")
    other = Browser()   # the link replayed in a browser that did not start the sign-in
    mark = len(D.log_text())
    a = callback(other, cb)
    assert a.status == 400 and not signed_in(a), a
    assert D.wait_log(r"reason=state_not_this_browser", after=mark), D.log_tail()
    # the state was not used up by the stranger: its own browser still signs in
    a = callback(b, cb)
    assert a.status == 302 and signed_in(a), a
    assert sessions_of(acc["id"]) == n + 1


def refused(mode_id_token="none", mode_userinfo="none", reason=None, email="camille.durand@example.org"):
    acc = FX["camille"][0]
    n = sessions_of(acc["id"])
    P.mode(mode_id_token, mode_userinfo)
    try:
        mark = len(D.log_text())
        _b, _s, _cb, a = full_sign_in(email)
    finally:
        P.mode()
    assert a.status == 502 and FRENCH_SECURITY in a.text, a
    assert a.header("Content-Type") == "text/html; charset=utf-8", a
    assert not signed_in(a), a
    m = D.wait_log(r"event=oidc_signin_refused reason=(\w+)", after=mark)
    assert m and m.group(1) == reason, "refused for %r, expected %r: %s" % (m and m.group(1), reason, D.log_tail())
    assert sessions_of(acc["id"]) == n, "a session was opened"
    return a


def accepted(mode_id_token="none", mode_userinfo="none"):
    P.mode(mode_id_token, mode_userinfo)
    try:
        _b, _s, _cb, a = full_sign_in("camille.durand@example.org")
    finally:
        P.mode()
    assert a.status == 302 and signed_in(a), "%s/%s refused: %r\n%s" % (mode_id_token, mode_userinfo, a,
                                                                        D.log_tail())


@test
def re_signed_tokens_with_published_keys_pass_rs256_and_es256():
    """Positive controls for the refusals below: the proxy's re-signing is sound."""
    accepted("resign_rsa")
    accepted("resign_ec")
    accepted("none", "json")          # a plain JSON userinfo is read too
    accepted("none", "resign_ec")     # a userinfo signed ES256


@test
def a_tampered_id_token_signature_is_refused():
    refused("bad_signature", reason="bad_signature")


@test
def a_wrong_audience_is_refused():
    refused("wrong_aud", reason="wrong_aud")


@test
def an_expired_id_token_is_refused():
    refused("expired", reason="expired")


@test
def a_wrong_nonce_is_refused():
    refused("wrong_nonce", reason="wrong_nonce")


@test
def alg_none_and_hs256_are_refused():
    refused("alg_none", reason="alg_refused")
    refused("hs256", reason="alg_refused")


@test
def an_unknown_kid_is_refused_after_one_refetch_of_the_keys():
    before = P.stats()["jwks"]
    refused("unknown_kid", reason="unknown_kid")
    assert P.stats()["jwks"] == before + 1, "expected exactly one re-fetch: %r" % P.stats()
    # a second unknown kid right after does not hammer the provider
    refused("unknown_kid", reason="unknown_kid")
    assert P.stats()["jwks"] == before + 1, P.stats()


@test
def a_tampered_signed_userinfo_is_refused():
    refused("none", "bad_signature", reason="userinfo_bad_signature")


@test
def an_unverified_email_does_not_bind():
    acc = invite("nonverifie.lea@example.org")
    mark = len(D.log_text())
    _b, _s, _cb, a = full_sign_in("nonverifie.lea@example.org")
    assert a.status == 403 and "non vérifiée" in a.text and "nonverifie.lea@example.org" in a.text, a
    assert not signed_in(a)
    assert D.wait_log(r"reason=account_unverified", after=mark), D.log_tail()
    assert DB.sql("SELECT oidc_sub IS NULL FROM accounts WHERE id = %d" % acc["id"]) == ["t"]
    assert sessions_of(acc["id"]) == 0
    # the userinfo tampered to say unverified (re-signed): refused the same way
    acc2 = invite("lea.bernard@example.org")
    P.mode("none", "unverified")
    try:
        _b, _s, _cb, a = full_sign_in("lea.bernard@example.org")
    finally:
        P.mode()
    assert a.status == 403 and "non vérifiée" in a.text, a
    assert DB.sql("SELECT oidc_sub IS NULL FROM accounts WHERE id = %d" % acc2["id"]) == ["t"]


@test
def an_unknown_person_gets_a_french_page_and_nothing_is_created():
    before = DB.sql("SELECT count(*) FROM accounts")
    mark = len(D.log_text())
    _b, _s, _cb, a = full_sign_in("inconnu.paul@example.org")
    assert a.status == 403 and a.header("Content-Type") == "text/html; charset=utf-8", a
    assert '<html lang="fr">' in a.text and "Pas encore de compte siaod" in a.text, a
    assert "administrateur ou l'administratrice siaod de votre SIAO" in a.text, a
    assert "inconnu.paul@example.org" in a.text and not signed_in(a), a
    assert DB.sql("SELECT count(*) FROM accounts") == before
    assert DB.sql("SELECT count(*) FROM accounts WHERE email = 'inconnu.paul@example.org'") == ["0"]
    assert D.wait_log(r"reason=account_unknown", after=mark), D.log_tail()
    assert "inconnu.paul" not in D.log_text(), "an e-mail address reached the log"
    assert DB.sql("SELECT count(*) FROM audit WHERE action = 'session.oidc_refused' AND account_id IS NULL") >= ["1"]


@test
def a_disabled_account_is_refused():
    acc = invite("desactive.jean@example.org")
    expect(D.call("POST", "/v1/accounts/%d/disable" % acc["id"], ADMIN), 200)
    _b, _s, _cb, a = full_sign_in("desactive.jean@example.org")
    assert a.status == 403 and "désactivé" in a.text and not signed_in(a), a
    assert sessions_of(acc["id"]) == 0


@test
def cancelling_at_the_provider_returns_to_the_sign_in_page():
    b = Browser()
    start = b.request("GET", URL + "/auth/oidc/start")
    state = query_of(start.header("Location"))["state"]
    a = b.request("GET", URL + "/auth/oidc/callback?error=access_denied&state=" + state)
    assert a.status == 302 and a.header("Location") == URL + "/ui/" and not signed_in(a), a
    assert DB.sql("SELECT count(*) FROM oidc_logins") == ["0"]


@test
def sign_out_of_an_oidc_session_goes_through_the_provider():
    acc = FX["camille"][0]
    b, _s, _cb, a = full_sign_in("camille.durand@example.org")
    cookie = signed_in(a)
    sid = int(DB.sql("SELECT max(id) FROM sessions WHERE account_id = %d" % acc["id"])[0])
    id_token = DB.sql("SELECT id_token FROM sessions WHERE id = %d" % sid)[0]
    harness.SECRETS.add(id_token)
    r = expect(D.call("POST", "/auth/logout", headers={"Cookie": "siaod_session=" + cookie, "Origin": URL}), 200)
    assert r.json["ended"] is True, r
    url = r.json["logout_url"]
    assert url.startswith(P.issuer + "/session/end?"), url
    q = query_of(url)
    assert q["id_token_hint"] == id_token and q["post_logout_redirect_uri"] == URL + "/ui/", q
    assert q["client_id"] == P.client_id, q
    assert DB.sql("SELECT ended_at IS NOT NULL FROM sessions WHERE id = %d" % sid) == ["t"]
    expect(me(cookie), 401)
    # the provider takes the hint: its sign-out confirmation, not an error
    page = b.request("GET", url)
    assert page.status == 200 and "logout" in page.text.lower() and "error" not in page.text.lower(), page
    # a password session has no provider to leave
    pw = H.person(D, ADMIN, "mot.de.passe@example.org", "admin")[1]
    r = expect(pw.call("POST", "/auth/logout"), 200)
    assert "logout_url" not in r.json, r


@test
def a_provider_down_at_start_does_not_stop_siaod_and_is_found_later():
    dead_port = harness.free_port()
    d = Daemon(DB, env=H.daemon_env({"SIAOD_OIDC_ISSUER": "http://127.0.0.1:%d" % dead_port,
                                     "SIAOD_OIDC_CLIENT_ID": "siaod-test", "SIAOD_OIDC_CLIENT_SECRET": "x",
                                     "SIAOD_OIDC_RETRY_SECONDS": "1"}), name="provider-down", start=False)
    d.extra_env.update(H.public_env(d.port))
    d.start()
    try:
        assert d.wait_log(r"event=oidc_discovery_failed reason=unreachable", timeout=10), d.log_tail()
        expect(d.call("GET", "/readyz"), 200)
        a = Browser().request("GET", "http://127.0.0.1:%d/auth/oidc/start" % d.port)
        assert a.status == 503 and "ne répond pas" in a.text, a
        assert a.header("Content-Type") == "text/html; charset=utf-8", a
        # the provider comes up: siaod finds it on its own (oidc_retry_seconds)
        late = Provider("http://127.0.0.1:%d" % d.port, port=dead_port)
        try:
            assert d.wait_log(r"event=oidc_keys_loaded", timeout=15), d.log_tail()
            a = Browser().request("GET", "http://127.0.0.1:%d/auth/oidc/start" % d.port)
            assert a.status == 302 and a.header("Location").startswith(late.issuer + "/auth?"), a
        finally:
            late.stop()
    finally:
        d.stop()


@test
def without_a_provider_the_routes_say_so_in_french():
    d = Daemon(DB, env=H.daemon_env(), name="no-oidc")
    try:
        a = Browser().request("GET", "http://127.0.0.1:%d/auth/oidc/start" % d.port)
        assert a.status == 404 and "non activée" in a.text, a
        assert expect(d.call("GET", "/auth/config"), 200).json["oidc"] is False
    finally:
        d.stop()


@test
def end_to_end_in_headless_chromium():
    """The button, the provider's login form, back in the UI signed in, then sign-out."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    acc = invite("claire.petit@example.org", "porteur")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,900", "--lang=fr-FR"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.get(URL + "/ui/")
        button = wait_until(lambda: next(iter(driver.find_elements(By.CSS_SELECTOR, "a.proconnect")), None))
        assert button and button.text == "Se connecter avec ProConnect", driver.page_source[:2000]
        button.click()
        login = wait_until(lambda: next(iter(driver.find_elements(By.NAME, "login")), None))
        assert login and driver.current_url.startswith(P.issuer + "/interaction/"), driver.current_url
        login.send_keys("claire.petit@example.org")
        driver.find_element(By.NAME, "password").send_keys("peu importe")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()

        def back_signed_in():
            if not driver.current_url.startswith(URL + "/ui/"):
                return None
            b = driver.find_elements(By.ID, "signout")
            return b[0] if b and b[0].is_displayed() else None

        signout = wait_until(back_signed_in, timeout=20)
        assert signout, "not back in the UI signed in: %s\n%s" % (driver.current_url, driver.page_source[:1500])
        cookies = {c["name"]: c for c in driver.get_cookies()}
        assert "siaod_session" in cookies and cookies["siaod_session"]["httpOnly"], cookies
        harness.SECRETS.add(cookies["siaod_session"]["value"])
        assert expect(me(cookies["siaod_session"]["value"]), 200).json["account_id"] == acc["id"]
        assert DB.sql("SELECT method FROM sessions WHERE account_id = %d" % acc["id"]) == ["oidc"]
        signout.click()
        at_provider = wait_until(lambda: driver.current_url.startswith(P.issuer + "/session/end"), timeout=15)
        assert at_provider, driver.current_url
        assert "id_token_hint=" in driver.current_url, driver.current_url
        assert DB.sql("SELECT ended_at IS NOT NULL FROM sessions WHERE account_id = %d" % acc["id"]) == ["t"]
    finally:
        driver.quit()


def teardown_provider():
    if P:
        P.stop()


if __name__ == "__main__":
    import atexit
    atexit.register(teardown_provider)
    run_all(setup)
