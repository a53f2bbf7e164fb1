"""
Outgoing mail against a real SMTP server (python3-aiosmtpd, smtp_server.py)
that the tests read:

  - an invitation mailed: French, text + HTML (multipart/alternative), the
    Message-ID of the outbox row, the link in it works;
  - a password reset by the emailed link: single use, the old password stops
    working, an unknown address gets the same answer and no mail;
  - a temporary refusal (451) is retried with the same Message-ID;
  - a permanent refusal (550) stops the retries and shows on the account;
  - SIGKILL between the send and its record: the mail comes again, with the
    same Message-ID.
"""
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, expect, expect_problem, eventually, run_all, test  # noqa: E402
import accounts_helpers as H  # noqa: E402
from smtp_server import SmtpServer, parts  # noqa: E402

DB = Database("mail")
SMTP = None
D = None
ADMIN = None


def setup():
    global SMTP, D, ADMIN
    SMTP = SmtpServer()
    D = Daemon(DB, env=H.daemon_env({"SIAOD_SMTP_URL": SMTP.url,
                                     "SIAOD_SMTP_FROM": "siaod <siaod@siao34.example.org>",
                                     "SIAOD_MAIL_RETRY_SCHEDULE": "1s,1s,1s",
                                     "SIAOD_MAIL_TIMEOUT_SECONDS": "3"}), name="mail", start=False)
    D.extra_env.update(H.public_env(D.port))
    D.start()
    ADMIN = D.token("admin")


def link_in(text, fragment):
    m = re.search(r"(http://127\.0\.0\.1:\d+/ui/#%s=([A-Za-z0-9_-]{43}))" % fragment, text)
    assert m, "no %s link in %r" % (fragment, text)
    harness.SECRETS.add(m.group(2))
    return m.group(1), m.group(2)


@test
def an_invitation_is_mailed_in_french_text_and_html():
    r = expect(D.call("POST", "/v1/accounts", ADMIN, {"email": "Lea.Martin@example.org", "role": "referent",
                                                       "departements": ["34"], "display_name": "Léa Martin"}), 201)
    assert r.json["invitation_mailed"] is True
    shown = H.link_token(r.json["invitation_url"])
    msg = SMTP.wait_for("lea.martin@example.org")[0]
    assert msg["Subject"] == "Votre compte siaod", msg["Subject"]
    assert msg["From"] == "siaod <siaod@siao34.example.org>"
    assert msg.get_content_type() == "multipart/alternative" or any(
        p.get_content_type() == "multipart/alternative" for p in msg.walk()), msg.get_content_type()
    text, html = parts(msg)
    assert text and html, (text, html)
    assert "Bonjour Léa Martin" in text and "valable 7 jours" in text, text
    assert "<a href=" in html and "Activer mon compte" in html, html
    url, tok = link_in(text, "invitation")
    assert tok == shown, "the mail and the admin's answer carry the same link"
    mid = DB.sql("SELECT message_id FROM mail_outbox WHERE to_addr = 'lea.martin@example.org'")
    assert mid == [msg["Message-ID"]], (mid, msg["Message-ID"])
    eventually(lambda: DB.sql("SELECT sent_at IS NOT NULL, body_text = '' FROM mail_outbox "
                              "WHERE to_addr = 'lea.martin@example.org'") == ["t|t"], msg="sent recorded, body dropped")
    s = H.accept(D, tok, "Un-long-chemin-vers-Sete")
    expect(s.call("GET", "/v1/me"), 200)


@test
def password_reset_by_the_emailed_link():
    acc, s = H.person(D, ADMIN, "oubli@example.org", "porteur",
                      porteur=expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "P", "departement": "34"}), 201).json["id"])
    old = H.PASSWORD % acc["id"]
    before = len(SMTP.wait_for("oubli@example.org", 1))     # the invitation
    origin = {"Origin": "http://127.0.0.1:%d" % D.port}
    r = expect(D.call("POST", "/auth/reset-request", None, {"email": "OUBLI@example.org"}, headers=origin), 202)
    same = expect(D.call("POST", "/auth/reset-request", None, {"email": "nobody@example.org"}, headers=origin), 202)
    assert r.json == same.json, "the answer does not tell whether an account exists"
    msg = SMTP.wait_for("oubli@example.org", before + 1)[-1]
    assert msg["Subject"] == "Réinitialisation de votre mot de passe siaod", msg["Subject"]
    text, html = parts(msg)
    url, tok = link_in(text, "reinitialisation")
    assert "valable 60 minutes" in text
    new = "Nouveau-chemin-vers-Agde"
    harness.SECRETS.add(new)
    # an invitation link is not a reset link and the other way round
    expect_problem(D.call("POST", "/auth/invitation", None, {"token": tok, "password": new}, headers=origin), 404)
    r = expect(D.call("POST", "/auth/reset", None, {"token": tok, "password": new}, headers=origin), 200)
    H.cookie_of(r)
    expect_problem(D.call("POST", "/auth/reset", None, {"token": tok, "password": new + "2"}, headers=origin), 404)
    # the sessions opened with the old password ended; the old password is refused
    expect_problem(s.call("GET", "/v1/me"), 401)
    H.login(D, "oubli@example.org", old, expect_status=401)
    H.login(D, "oubli@example.org", new)
    time.sleep(1.5)
    assert SMTP.to("nobody@example.org") == []


@test
def a_temporary_refusal_is_retried_with_the_same_message_id():
    SMTP.tempfail["plus-tard@example.org"] = 2
    H.invite(D, ADMIN, "plus-tard@example.org", "admin")
    msg = SMTP.wait_for("plus-tard@example.org", timeout=15)[0]
    row = DB.sql("SELECT message_id, attempts FROM mail_outbox WHERE to_addr = 'plus-tard@example.org'")
    assert row == ["%s|3" % msg["Message-ID"]], (row, msg["Message-ID"])


@test
def a_permanent_refusal_stops_and_shows_on_the_account():
    SMTP.refuse.add("inconnue@example.org")
    acc, _ = H.invite(D, ADMIN, "inconnue@example.org", "admin")
    eventually(lambda: DB.sql("SELECT failed_at IS NOT NULL FROM mail_outbox WHERE to_addr = 'inconnue@example.org'")
               == ["t"], timeout=10, msg="failed recorded")
    assert DB.sql("SELECT attempts FROM mail_outbox WHERE to_addr = 'inconnue@example.org'") == ["1"]
    a = expect(D.call("GET", "/v1/accounts/%d" % acc["id"], ADMIN), 200).json
    assert a["mail_error"] and a["mail_error"].startswith("550"), a
    time.sleep(2.5)      # beyond the 1 s retry schedule: nothing more
    assert DB.sql("SELECT attempts FROM mail_outbox WHERE to_addr = 'inconnue@example.org'") == ["1"]
    assert SMTP.to("inconnue@example.org") == []


@test
def sigkill_between_send_and_record_repeats_the_same_message_id():
    SMTP.slow.add("crash@example.org")
    SMTP.slow_seconds = 4
    H.invite(D, ADMIN, "crash@example.org", "admin")
    first = SMTP.wait_for("crash@example.org")[0]
    D.kill()                      # the server holds its 250: not recorded
    assert DB.sql("SELECT sent_at IS NULL FROM mail_outbox WHERE to_addr = 'crash@example.org'") == ["t"]
    SMTP.slow.discard("crash@example.org")
    D.start()
    got = SMTP.wait_for("crash@example.org", 2, timeout=20)
    assert got[1]["Message-ID"] == first["Message-ID"], (first["Message-ID"], got[1]["Message-ID"])
    assert parts(got[1]) == parts(first)
    eventually(lambda: DB.sql("SELECT sent_at IS NOT NULL FROM mail_outbox WHERE to_addr = 'crash@example.org'")
               == ["t"], timeout=10, msg="sent recorded after the restart")
    time.sleep(1.0)
    assert len(SMTP.to("crash@example.org")) == 2, "repeated once, not more"


run_all(setup)
