"""
People's notifications against a real SMTP server (python3-aiosmtpd,
smtp_server.py) that the tests read, and the test clock moved by days and by
hours (test_clock_offset_days, _hours, _minutes; SIGHUP):

  - who hears what (the scope matrix): each event reaches exactly its people
    (the following referent or, for rows without one, every referent of the
    département; whoever proposed; the porteur's people) and no one else;
    a reassigned referent takes over; what a porteur's mail says never names
    the file, and no mail says anything of health or situation;
  - preferences (immediately / digest / off) and the one-click unsubscribe
    (RFC 8058 headers, a POST without session or CSRF token, signed token);
  - the daily digest at digest_hour, local time: nothing before, one per
    person per day even with two instances, urgent items first;
  - proposal reminders after proposal_reminder_days and on the day before
    the hold runs out;
  - erasing a young person removes their notifications and unsent mails;
  - an SMTP outage delays mail without losing it; SIGKILL mid-send repeats
    at most once, with the same Message-ID;
  - the in-app centre: unread count, marked read when opened.
"""
import datetime
import os
import re
import signal
import sys
import time
import urllib.parse
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Database, expect, expect_problem, eventually, run_all, test  # noqa: E402
import accounts_helpers as H  # noqa: E402
from smtp_server import SmtpServer, parts  # noqa: E402

SETE = "34301"
DB = Database("notify")
SMTP = None
D = D2 = None
CONF = CONF2 = None
ADMIN = None
P = {}          # people: name -> (account, Session)
PORTEUR = {}    # name -> porteur id
OFFER = {}      # name -> offer id
TODAY0 = None   # the daemon's first "today" (local date at 06:00)
CLOCK = {"days": 0, "hours": 0}
BASE_MINUTES = 0  # the offset that puts the daemon's clock at 06:00 at setup:
                  # the suite then has an hour before 07:00 whatever the real minute
SEQ = [0]
REFS = {}       # youth id -> ref


def env():
    return H.daemon_env({"SIAOD_SMTP_URL": SMTP.url,
                         "SIAOD_SMTP_FROM": "siaod <siaod@siao34.example.org>",
                         "SIAOD_MAIL_RETRY_SCHEDULE": "1s,1s,2s,2s,2s,2s,2s,2s,2s,2s",
                         "SIAOD_MAIL_TIMEOUT_SECONDS": "3",
                         "SIAOD_RECONFIRM_DAYS": "3650"})


def write_conf(path):
    with open(path, "w") as f:
        f.write("# written by test_notifications.py\ndigest_hour = 8\nproposal_reminder_days = 3\n"
                "test_clock_offset_days = %d\ntest_clock_offset_hours = %d\ntest_clock_offset_minutes = %d\n"
                % (CLOCK["days"], CLOCK["hours"], BASE_MINUTES))


def set_clock(days, hours):
    """Moves the daemons' clock to TODAY0 + days, at 06:xx + hours (SIGHUP
    also runs the hold expiry, the alert scan and the proposal reminders)."""
    CLOCK.update(days=days, hours=hours)
    for d, conf in ((D, CONF), (D2, CONF2)):
        if d is not None and d.running():
            write_conf(conf)
            d.reload()


def day(n=0):
    return (TODAY0 + datetime.timedelta(days=CLOCK["days"] + n)).isoformat()


def setup():
    global SMTP, D, CONF, ADMIN, TODAY0, BASE_MINUTES
    SMTP = SmtpServer()
    now = datetime.datetime.now(ZoneInfo("Europe/Paris"))
    BASE_MINUTES = 6 * 60 - (now.hour * 60 + now.minute)   # 06:00 local, the same date
    TODAY0 = now.date()
    D = Daemon(DB, env=env(), name="notify", start=False)
    D.extra_env.update(H.public_env(D.port))
    CONF = os.path.join(D.dir, "siaod.conf")
    write_conf(CONF)
    D.args = ["--config", CONF]
    D.start()
    ADMIN = D.token("admin")
    for name in ("P1", "P2"):
        PORTEUR[name] = expect(D.call("POST", "/v1/porteurs", ADMIN, {"name": "Porteur " + name,
                                                                       "departement": "34"}), 201).json["id"]
    for name, porteur in (("O1", "P1"), ("O2", "P2")):
        OFFER[name] = expect(D.call("POST", "/v1/offers", ADMIN, {
            "porteur_id": PORTEUR[porteur], "kind": "shared_flat", "label": "Colocation %s" % name,
            "commune_insee": SETE, "capacity": 12, "max_stay_days": 90}), 201).json["id"]
    people = [("ref_a", "referent", ["34"], None), ("ref_b", "referent", ["34"], None),
              ("ref_c", "referent", ["31"], None), ("adm", "admin", None, None),
              ("pa1", "porteur", None, PORTEUR["P1"]), ("pa2", "porteur", None, PORTEUR["P1"]),
              ("pb", "porteur", None, PORTEUR["P2"])]
    for name, role, deps, porteur in people:
        P[name] = H.person(D, ADMIN, "%s@example.org" % name.replace("_", "-"), role, deps, porteur)
    # the invitations went out; from here on every mail is a notification
    for name in P:
        SMTP.wait_for(addr(name))
    SMTP.messages.clear()


# ---------------------------------------------------------------- helpers

def addr(name):
    return "%s@example.org" % name.replace("_", "-")


def acc(name):
    return P[name][0]["id"]


def sess(name):
    return P[name][1]


def scall(name, method, path, body=None, status=200):
    r = sess(name).call(method, path, body)
    return expect(r, status).json


def youth(by=None, dep="34"):
    """A young person registered by person `by` (a session) or by the admin token."""
    SEQ[0] += 1
    body = {"ref": "NT-DOSSIER-%04d" % SEQ[0], "departement": dep, "birth_date": "%d-03-15" % (TODAY0.year - 20),
            "gender": "female", "situation": "street", "needs": ["mental_health"], "commune_insee": SETE}
    y = scall(by, "POST", "/v1/youth", body, 201) if by else expect(D.call("POST", "/v1/youth", ADMIN, body), 201).json
    REFS[y["id"]] = y["ref"]
    return y


def propose(y, offer, by=None, days=30):
    body = {"youth_id": y["id"], "offer_id": OFFER[offer], "start_date": day(), "planned_end_date": day(days)}
    return scall(by, "POST", "/v1/placements", body, 201) if by else \
        expect(D.call("POST", "/v1/placements", ADMIN, body), 201).json


def act(p, who, action, body=None):
    return scall(who, "POST", "/v1/placements/%d/%s" % (p["id"], action), body or {})


def stay(y, offer, porteur_person, by, days):
    """An active stay ending in `days` days: proposed by `by`, accepted and entered."""
    p = propose(y, offer, by, days)
    act(p, porteur_person, "accept")
    act(p, porteur_person, "enter")
    return p


def heard(placement_id=None, youth_id=None, kind=None):
    """{(person, kind)} of the notifications written, by person name."""
    names = {acc(n): n for n in P}
    cond = []
    if placement_id:
        cond.append("placement_id = %d" % placement_id)
    if youth_id:
        cond.append("youth_id = %d" % youth_id)
    if kind:
        cond.append("kind = '%s'" % kind)
    rows = DB.sql("SELECT account_id, kind FROM notifications WHERE %s" % " AND ".join(cond))
    out = set()
    for row in rows:
        a, k = row.split("|")
        out.add((names.get(int(a), "account %s" % a), k))
    return out


def mails_about(name, needle):
    return [m for m in SMTP.to(addr(name)) if needle in (parts(m)[0] or "")]


def no_personal_leak(msg, ref=None, porteur=False):
    text, html = parts(msg)
    for body in (text, html):
        assert body, msg
        for word in ("street", "rue", "mental", "santé", "situation", "Situation", str(TODAY0.year - 20) + "-03-15"):
            assert word not in body, (word, body)
        if porteur:
            assert "NT-DOSSIER" not in body, body
            assert "jeune de 18-21 ans" in body or "jeune de 22-25 ans" in body, body
        elif ref:
            assert ref in body, (ref, body)


# ---------------------------------------------------------------- who hears what

@test
def each_event_reaches_exactly_its_people():
    y1 = youth("ref_a")                       # followed by ref_a (who registered)
    assert y1["referent_account_id"] == acc("ref_a"), y1
    y0 = youth()                              # by a token of no account: the département's referents
    assert y0["referent_account_id"] is None, y0
    # a new proposal: the porteur's people
    p1 = propose(y1, "O1", "ref_a", days=10)
    assert p1["proposed_by"] == acc("ref_a"), p1
    assert heard(p1["id"]) == {("pa1", "proposal_new"), ("pa2", "proposal_new")}, heard(p1["id"])
    # accepted: whoever proposed
    act(p1, "pa1", "accept")
    assert heard(p1["id"], kind="proposal_answered") == {("ref_a", "proposal_answered")}
    # the stay ends in 10 days (threshold 14): the following referent and the porteur's people,
    # immediately by default
    act(p1, "pa1", "enter")
    eventually(lambda: heard(p1["id"], kind="stay_ending") == {
        ("ref_a", "stay_ending"), ("pa1", "stay_ending"), ("pa2", "stay_ending")},
        msg="stay_ending to ref_a, pa1, pa2")
    for name in ("ref_a", "pa1", "pa2"):
        m = SMTP.wait_for(addr(name))[0]
        assert m["Subject"] == "siaod : Fin de séjour dans 10 jours", m["Subject"]
        no_personal_leak(m, ref=y1["ref"], porteur=name != "ref_a")
        text, html = parts(m)
        assert "Colocation O1" in text and "/ui/#/stays" in text, text
        assert m["List-Unsubscribe"] and m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", m.items()
    # a proposal by a token of no account, refused: the département's referents (fallback)
    p0 = propose(y0, "O2")
    assert p0["proposed_by"] is None
    assert heard(p0["id"]) == {("pb", "proposal_new")}, heard(p0["id"])
    act(p0, "pb", "refuse", {"reason": "place_unavailable", "by": "porteur"})
    assert heard(p0["id"], kind="proposal_answered") == {("ref_a", "proposal_answered"),
                                                          ("ref_b", "proposal_answered")}
    # the place freed: the following referents of the best waiting candidates
    eventually(lambda: DB.sql("SELECT count(*) FROM outbox WHERE type = 'offer.capacity_available' AND ready "
                              "AND data->>'offer_id' = '%d'" % OFFER["O2"]) != ["0"], timeout=10,
               msg="capacity event ready")
    cands = DB.sql("SELECT c->>'youth_id' FROM outbox, jsonb_array_elements(data->'candidates') WITH ORDINALITY "
                   "AS t(c, n) WHERE type = 'offer.capacity_available' AND ready AND n <= 3 "
                   "AND data->>'offer_id' = '%d'" % OFFER["O2"])
    assert str(y0["id"]) in cands, cands
    got = heard(kind="capacity_available")
    assert got == {("ref_a", "capacity_available"), ("ref_b", "capacity_available")}, got
    # more capacity on that offer: the same candidates are not told again while it is unread
    q = ("SELECT count(*) FILTER (WHERE ready), count(*) FILTER (WHERE NOT ready) FROM outbox "
         "WHERE type = 'offer.capacity_available' AND data->>'offer_id' = '%d'" % OFFER["O2"])
    eventually(lambda: DB.sql(q)[0].endswith("|0"), timeout=10, msg="every capacity event ready")
    ready = int(DB.sql(q)[0].split("|")[0])
    n_cap = DB.sql("SELECT count(*) FROM notifications WHERE kind = 'capacity_available'")
    o2 = expect(D.call("GET", "/v1/offers/%d" % OFFER["O2"], ADMIN), 200)
    expect(D.call("PATCH", "/v1/offers/%d" % OFFER["O2"], ADMIN, {"capacity": 13},
                  headers={"Content-Type": "application/merge-patch+json", "If-Match": o2.headers["ETag"]}), 200)
    eventually(lambda: DB.sql(q) == ["%d|0" % (ready + 1)], timeout=10, msg="the new capacity event ready")
    assert str(y0["id"]) in DB.sql("SELECT c->>'youth_id' FROM outbox, jsonb_array_elements(data->'candidates') c "
                                   "WHERE id = (SELECT max(id) FROM outbox WHERE type = 'offer.capacity_available')")
    assert DB.sql("SELECT count(*) FROM notifications WHERE kind = 'capacity_available'") == n_cap
    # ref_c (another département), the admin's account and the other porteur heard nothing
    for name in ("ref_c", "adm"):
        assert DB.sql("SELECT count(*) FROM notifications WHERE account_id = %d" % acc(name)) == ["0"], name
    assert DB.sql("SELECT count(*) FROM notifications WHERE account_id = %d AND placement_id = %d"
                  % (acc("pb"), p1["id"])) == ["0"]
    assert DB.sql("SELECT count(*) FROM notifications WHERE account_id IN (%d, %d) AND placement_id = %d"
                  % (acc("pa1"), acc("pa2"), p0["id"])) == ["0"]
    time.sleep(1.5)
    for name in ("ref_b", "ref_c", "adm", "pb"):
        assert SMTP.to(addr(name)) == [], (name, [m["Subject"] for m in SMTP.to(addr(name))])


@test
def a_reassigned_referent_takes_over():
    y = youth()
    # only a referent of the département or an admin, to an enabled referent of it
    expect_problem(sess("pa1").call("PATCH", "/v1/youth/%d" % y["id"], {"referent_account_id": acc("ref_b")}), 403)
    expect_problem(sess("ref_a").call("PATCH", "/v1/youth/%d" % y["id"], {"referent_account_id": acc("ref_c")}),
                   422, "/referent_account_id")
    expect_problem(sess("ref_a").call("PATCH", "/v1/youth/%d" % y["id"], {"referent_account_id": acc("pa1")}),
                   422, "/referent_account_id")
    r = scall("ref_a", "PATCH", "/v1/youth/%d" % y["id"], {"referent_account_id": acc("ref_b")})
    assert r["referent_account_id"] == acc("ref_b"), r
    p = propose(y, "O2")                       # no account: falls back to the following referent
    act(p, "pb", "accept")
    assert heard(p["id"], kind="proposal_answered") == {("ref_b", "proposal_answered")}, heard(p["id"])
    act(p, "pb", "cancel")


# ---------------------------------------------------------------- preferences and unsubscribe

@test
def preferences_choose_immediate_digest_or_off():
    prefs = scall("pa2", "GET", "/v1/me/notification-preferences")
    modes = {i["kind"]: i["mode"] for i in prefs["items"]}
    assert modes == {"stay_ending": "immediate", "stay_overdue": "immediate", "proposal_new": "digest",
                     "proposal_answered": "digest", "proposal_reminder": "digest",
                     "capacity_available": "digest"}, modes
    assert prefs["digest_hour"] == 8, prefs
    scall("pa2", "POST", "/v1/me/notification-preferences", {"items": [{"kind": "stay_ending", "mode": "off"}]})
    scall("ref_b", "POST", "/v1/me/notification-preferences", {"items": [{"kind": "stay_ending", "mode": "digest"}]})
    expect_problem(sess("pa2").call("POST", "/v1/me/notification-preferences",
                                    {"items": [{"kind": "stay_ending", "mode": "sometimes"}]}), 400, "/items/0/mode")
    expect_problem(D.call("GET", "/v1/me/notification-preferences", ADMIN), 404)    # a token of no account
    before = {n: len(SMTP.to(addr(n))) for n in ("ref_b", "pa1", "pa2")}
    y2 = youth("ref_b")
    p2 = stay(y2, "O1", "pa1", "ref_b", days=5)
    eventually(lambda: len(heard(p2["id"], kind="stay_ending")) == 3, msg="three stay_ending")
    SMTP.wait_for(addr("pa1"), before["pa1"] + 1)
    time.sleep(1.5)
    assert len(SMTP.to(addr("pa2"))) == before["pa2"], "pa2 chose off"
    assert len(SMTP.to(addr("ref_b"))) == before["ref_b"], "ref_b chose the digest"
    rows = DB.sql("SELECT a.email, n.delivery FROM notifications n JOIN accounts a ON a.id = n.account_id "
                  "WHERE n.placement_id = %d AND n.kind = 'stay_ending' ORDER BY 1" % p2["id"])
    assert rows == ["pa1@example.org|immediate", "pa2@example.org|off", "ref-b@example.org|digest"], rows
    # off still shows in the centre
    items = scall("pa2", "GET", "/v1/notifications")["items"]
    assert any(i["placement_id"] == p2["id"] and i["kind"] == "stay_ending" for i in items), items


@test
def one_click_unsubscribe_without_session():
    m = mails_about("pa1", "Colocation O1")[-1]
    target = m["List-Unsubscribe"].strip()
    assert target.startswith("<http://127.0.0.1:%d/unsubscribe?token=" % D.port) and target.endswith(">"), target
    url = urllib.parse.urlsplit(target[1:-1])
    token = urllib.parse.parse_qs(url.query)["token"][0]
    harness.SECRETS.add(token.split(".")[-1])
    # the page of the link changes nothing; a tampered or another kind's token is refused
    page = D.call("GET", "/unsubscribe?" + url.query, None)
    assert page.status == 200 and "Me désabonner" in page.text, page
    assert {i["kind"]: i["mode"] for i in scall("pa1", "GET", "/v1/me/notification-preferences")["items"]}[
        "stay_ending"] == "immediate"
    bad = token.split(".")
    for forged in ("%s.%s.%s" % (bad[0], "proposal_new", bad[2]), "%d.%s.%s" % (acc("pa2"), bad[1], bad[2]),
                   "%s.%s.%s" % (bad[0], bad[1], bad[2][:-1] + ("A" if bad[2][-1] != "A" else "B"))):
        expect_problem(D.call("POST", "/unsubscribe?token=" + forged, None,
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              raw=b"List-Unsubscribe=One-Click"), 404)
    # RFC 8058: a POST of the form body, no cookie, no CSRF token, no Origin
    r = D.call("POST", "/unsubscribe?" + url.query, None, headers={"Content-Type": "application/x-www-form-urlencoded"},
               raw=b"List-Unsubscribe=One-Click")
    assert r.status == 200, r
    modes = {i["kind"]: i["mode"] for i in scall("pa1", "GET", "/v1/me/notification-preferences")["items"]}
    assert modes["stay_ending"] == "off" and modes["stay_overdue"] == "immediate", modes
    # and no more such mails
    before = len(SMTP.to(addr("pa1")))
    y = youth("ref_a")
    p = stay(y, "O1", "pa1", "ref_a", days=9)
    eventually(lambda: ("pa1", "stay_ending") in heard(p["id"]), msg="pa1 still notified in the centre")
    eventually(lambda: len(mails_about("ref_a", y["ref"])) == 1, timeout=10, msg="ref_a's mail")
    time.sleep(1.5)
    assert len(SMTP.to(addr("pa1"))) == before


# ---------------------------------------------------------------- the centre

@test
def the_centre_counts_unread_and_marks_read():
    lst = scall("ref_a", "GET", "/v1/notifications?limit=2")
    total = int(DB.sql("SELECT count(*) FROM notifications WHERE account_id = %d AND read_at IS NULL" % acc("ref_a"))[0])
    assert lst["unread"] == total and total >= 3, (lst["unread"], total)
    assert len(lst["items"]) == 2 and lst["next_cursor"], lst
    first = lst["items"][0]
    assert first["title"] and first["text"] and first["link"].startswith("#/"), first
    r = scall("ref_a", "POST", "/v1/notifications/%d/read" % first["id"])
    assert r["read_at"], r
    assert scall("ref_a", "GET", "/v1/notifications")["unread"] == total - 1
    # another person's is not found
    expect_problem(sess("ref_b").call("POST", "/v1/notifications/%d/read" % first["id"]), 404)
    unread = scall("ref_a", "GET", "/v1/notifications?unread=true&limit=200")["items"]
    assert all(i["read_at"] is None for i in unread) and first["id"] not in [i["id"] for i in unread]


# ---------------------------------------------------------------- digests

def digests_to(name):
    return [m for m in SMTP.to(addr(name)) if "récapitulatif" in m["Subject"]]


@test
def one_digest_per_person_per_day_at_digest_hour_urgent_first():
    global D2, CONF2
    # a second instance on the same database
    D2 = Daemon(DB, env=env(), name="notify2", start=False)
    D2.extra_env.update(H.public_env(D.port))
    CONF2 = os.path.join(D2.dir, "siaod.conf")
    write_conf(CONF2)
    D2.args = ["--config", CONF2]
    D2.start()
    time.sleep(2)
    # 06:xx: nothing yet
    assert DB.sql("SELECT count(*) FROM notification_digests") == ["0"]
    assert all(digests_to(n) == [] for n in P)
    set_clock(0, 1)                           # 07:xx
    time.sleep(2)
    assert DB.sql("SELECT count(*) FROM notification_digests") == ["0"]
    waiting = DB.sql("SELECT DISTINCT a.email FROM notifications n JOIN accounts a ON a.id = n.account_id "
                     "WHERE n.delivery = 'digest' AND n.mailed_at IS NULL ORDER BY 1")
    assert "ref-b@example.org" in waiting and "pa1@example.org" in waiting, waiting
    set_clock(0, 2)                           # 08:xx: the digests go out, once
    for email in waiting:
        SMTP.wait_for(email, 1, timeout=15)
    time.sleep(3)
    for email in waiting:
        got = [m for m in SMTP.to(email) if "récapitulatif" in m["Subject"]]
        assert len(got) == 1, (email, [m["Subject"] for m in got])
    assert DB.sql("SELECT count(*) FROM notification_digests WHERE day = '%s'" % day()) == [str(len(waiting))]
    # ref_b: the stay ending in 5 days (urgent) before what can wait
    m = digests_to("ref_b")[0]
    text, html = parts(m)
    assert m["Subject"].startswith("siaod : votre récapitulatif du %s" % TODAY0.strftime("%d/%m/%Y")), m["Subject"]
    assert "Urgent : dans 7 jours ou moins (1)" in text and "À suivre" in text, text
    urgent, rest = text.split("À suivre", 1)
    assert "Fin de séjour dans 5 jours" in urgent and "Proposition refusée" in rest, text
    assert "<h2" in html and html.index("Urgent") < html.index("À suivre"), html
    assert m["List-Unsubscribe"] and "digest" in m["List-Unsubscribe"], m["List-Unsubscribe"]
    no_personal_leak(m)
    # a porteur's digest: the proposals, without the file reference
    pm = digests_to("pa1")[0]
    no_personal_leak(pm, porteur=True)
    assert "Nouvelle proposition à examiner" in parts(pm)[0], parts(pm)[0]
    # every digest item is marked mailed
    assert DB.sql("SELECT count(*) FROM notifications WHERE delivery = 'digest' AND mailed_at IS NULL") == ["0"]
    # the next day, what came meanwhile: one more digest
    y = youth()
    p = propose(y, "O2")
    act(p, "pb", "refuse", {"reason": "incomplete_file", "by": "porteur"})
    n_pb = len(digests_to("pb"))
    set_clock(1, 2)
    eventually(lambda: len(digests_to("pb")) == n_pb + 1, timeout=15, msg="pb's next digest")
    time.sleep(2)
    assert len(digests_to("pb")) == n_pb + 1
    D2.stop()


# ---------------------------------------------------------------- reminders

@test
def proposal_reminders_after_n_days_and_on_the_last_day():
    y = youth("ref_a")
    p = propose(y, "O1", "ref_a")
    hold = scall("ref_a", "GET", "/v1/placements/%d" % p["id"])["hold_until"]
    start = CLOCK["days"]
    set_clock(start + 2, 2)
    assert heard(p["id"], kind="proposal_reminder") == set()
    set_clock(start + 3, 2)                   # proposal_reminder_days = 3
    assert heard(p["id"], kind="proposal_reminder") == {("pa1", "proposal_reminder"), ("pa2", "proposal_reminder")}
    assert DB.sql("SELECT count(*) FROM notifications WHERE placement_id = %d AND event = 'proposal.last_day'"
                  % p["id"]) == ["0"]
    last = (datetime.date.fromisoformat(hold) - TODAY0).days - 1
    set_clock(last, 2)                        # the day before hold_until
    rows = DB.sql("SELECT a.email FROM notifications n JOIN accounts a ON a.id = n.account_id "
                  "WHERE n.placement_id = %d AND n.event = 'proposal.last_day' ORDER BY 1" % p["id"])
    assert rows == ["pa1@example.org", "pa2@example.org"], rows
    items = scall("pa2", "GET", "/v1/notifications?limit=200")["items"]
    mine = [i for i in items if i["placement_id"] == p["id"] and i["event"] == "proposal.last_day"]
    assert len(mine) == 1 and mine[0]["urgent"] and "expire demain" in mine[0]["text"], mine
    assert "NT-DOSSIER" not in mine[0]["text"]
    set_clock(last, 2)                        # once only
    assert len(heard(p["id"], kind="proposal_reminder")) == 2
    act(p, "pa1", "refuse", {"reason": "other", "by": "porteur"})


# ---------------------------------------------------------------- erasure, outage, crash

@test
def erasing_a_young_person_removes_notifications_and_unsent_mail():
    SMTP.tempfail[addr("ref_a")] = 1000       # ref_a's mail waits in the outbox
    try:
        y = youth("ref_a")
        p = stay(y, "O1", "pa1", "ref_a", days=8)
        # the stay's mail, and maybe today's digest if y is among a freed place's candidates
        eventually(lambda: DB.sql("SELECT count(*) FROM mail_outbox WHERE %d = ANY (youth_ids) AND attempts > 0 "
                                  "AND subject LIKE 'siaod : Fin de séjour%%' AND sent_at IS NULL "
                                  "AND failed_at IS NULL" % y["id"]) == ["1"], timeout=10, msg="the mail waits")
        others = DB.sql("SELECT count(*) FROM mail_outbox m WHERE %d = ANY (m.youth_ids) AND cardinality(m.youth_ids) > 1"
                        % y["id"])
        assert heard(p["id"]) != set()
        expect(sess("ref_a").call("DELETE", "/v1/youth/%d" % y["id"]), 200)
        assert DB.sql("SELECT count(*) FROM notifications WHERE youth_id = %d" % y["id"]) == ["0"]
        assert DB.sql("SELECT count(*) FROM mail_outbox WHERE %d = ANY (youth_ids)" % y["id"]) == ["0"]
        # a digest that named them went; its other items wait for the next build, the day's key released
        assert DB.sql("SELECT count(*) FROM notification_digests g WHERE NOT EXISTS "
                      "(SELECT 1 FROM mail_outbox m WHERE m.message_id = g.message_id)") == ["0"]
    finally:
        SMTP.tempfail.pop(addr("ref_a"))
    if others != ["0"]:
        eventually(lambda: DB.sql("SELECT count(*) FROM notification_digests WHERE account_id = %d AND day = '%s'"
                                  % (acc("ref_a"), day())) == ["1"], timeout=15, msg="ref_a's digest rebuilt")
    # whatever was still queued for ref_a goes out (a loaded machine may take a while), and
    # none of it names the erased young person
    eventually(lambda: DB.sql("SELECT count(*) FROM mail_outbox WHERE account_id = %d AND sent_at IS NULL"
                              % acc("ref_a")) == ["0"], timeout=20, msg="ref_a's queue emptied")
    assert mails_about("ref_a", y["ref"]) == []


def stay_mails(name, y):
    """The mails about y's stay ending to person `name` (not a digest that may
    name y too, for the proposal: a person's first digest of the test day goes
    out whenever their first digest item comes)."""
    return [m for m in mails_about(name, y["ref"]) if m["Subject"].startswith("siaod : Fin de séjour")]


STAY_ROW = ("FROM mail_outbox WHERE %d = ANY (youth_ids) AND account_id = %d "
            "AND subject LIKE 'siaod : Fin de séjour%%'")


@test
def an_smtp_outage_delays_mail_without_losing_it():
    SMTP.stop()
    try:
        y = youth("ref_a")
        stay(y, "O1", "pa1", "ref_a", days=11)
        # ref_a's mail (the porteur's people may get their own about the same stay)
        eventually(lambda: DB.sql("SELECT attempts > 0 AND sent_at IS NULL AND failed_at IS NULL "
                                  + STAY_ROW % (y["id"], acc("ref_a"))) == ["t"],
                   timeout=20, msg="an attempt failed")
        time.sleep(2)
    finally:
        SMTP.restart()
    eventually(lambda: len(stay_mails("ref_a", y)) == 1, timeout=20, msg="the mail after the outage")
    time.sleep(1)
    mine = stay_mails("ref_a", y)
    assert len(mine) == 1, len(mine)
    row = DB.sql("SELECT message_id, attempts > 1, sent_at IS NOT NULL " + STAY_ROW % (y["id"], acc("ref_a")))
    assert row == ["%s|t|t" % mine[0]["Message-ID"]], (row, mine[0]["Message-ID"])


@test
def sigkill_mid_send_repeats_at_most_once_with_the_same_message_id():
    SMTP.slow.add(addr("ref_a"))
    SMTP.slow_seconds = 4
    y = youth("ref_a")
    stay(y, "O1", "pa1", "ref_a", days=12)
    eventually(lambda: len(stay_mails("ref_a", y)) == 1, timeout=15, msg="the first copy")
    D.kill()                                  # the server holds its 250: not recorded
    SMTP.slow.discard(addr("ref_a"))
    assert DB.sql("SELECT sent_at IS NULL " + STAY_ROW % (y["id"], acc("ref_a"))) == ["t"]
    D.start()
    eventually(lambda: DB.sql("SELECT sent_at IS NOT NULL " + STAY_ROW % (y["id"], acc("ref_a"))) == ["t"],
               timeout=25, msg="sent after the restart")
    time.sleep(2)
    copies = stay_mails("ref_a", y)
    assert 1 <= len(copies) <= 2, len(copies)
    assert len({m["Message-ID"] for m in copies}) == 1, [m["Message-ID"] for m in copies]
    # the notification was mailed once: one outbox row
    assert DB.sql("SELECT count(*) " + STAY_ROW % (y["id"], acc("ref_a"))) == ["1"]


run_all(setup)
