"""
Browser tests of the web UI (tests/browser/ui.test.mjs), run by ctest (label
`browser`): this wrapper starts what the API tests start (a fresh database on
the cluster of SIAOD_TEST_DATABASE_URL, the real siaod with SIAOD_UI_DIR set to
clients/web, tokens from `siaod token create`), then runs the Node test, which
drives Debian's Chromium through playwright-core (tests/browser/node_modules,
installed by `npm ci` in `scripts/dev test`).

Screenshots go to tests/browser/artifacts/ (git-ignored).
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

from harness import Daemon, Database, SECRETS, expect, run_all, test  # noqa: E402

CHROMIUM = os.environ.get("SIAOD_CHROMIUM", "/usr/bin/chromium")
# SIAOD_NODE runs the tests under another Node.js (e.g. Debian 12's 18, unpacked
# somewhere, to check that nothing needs a newer one); playwright-core is pinned
# to a version whose `engines` and start-up check accept Node.js 18.
NODE = os.environ.get("SIAOD_NODE") or shutil.which("node") or "node"

ctx = {}


def prerequisites():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("%s (Debian package chromium)" % CHROMIUM)
    if not (os.path.exists(NODE) or shutil.which(NODE)):
        missing.append("node (Debian package nodejs)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules/playwright-core (run `npm ci` in tests/browser;"
                       " `scripts/dev test` does)")
    if missing:
        raise AssertionError("browser tests need: " + "; ".join(missing))


def setup():
    prerequisites()
    db = Database("browser")
    d = Daemon(db, env={"SIAOD_UI_DIR": os.path.join(ROOT, "clients", "web"),
                        "SIAOD_SESSION_COOKIE_SECURE": "false",
                        "SIAOD_ARGON2_M_COST_KIB": "1024", "SIAOD_ARGON2_T_COST": "1"},
               name="siaod-browser", start=False)
    d.extra_env["SIAOD_PUBLIC_URL"] = "http://127.0.0.1:%d" % d.port
    d.start()
    admin = d.token("admin", label="browser admin")
    porteurs = {}
    for key, name in (("montpellier", "Foyer d'essai de Montpellier"), ("sete", "Association d'essai de Sète")):
        r = expect(d.call("POST", "/v1/porteurs", admin, {"name": name, "departement": "34", "target_youth": 20}), 201)
        porteurs[key] = r.json["id"]
    # a person with a password (invited, then the link used, as in the UI)
    sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
    import accounts_helpers
    acc, _session = accounts_helpers.person(d, admin, "referente.navigateur@example.org", "referent", ["34"])
    ctx["daemon"] = d
    ctx["fixture"] = {
        "porteurs": porteurs,
        "person": {"email": "referente.navigateur@example.org", "password": accounts_helpers.PASSWORD % acc["id"]},
        "tokens": {
            "admin": admin,
            "referent": d.token("referent", departements=["34"], label="browser referent 34"),
            "porteur_montpellier": d.token("porteur", porteur=porteurs["montpellier"], label="browser porteur 1"),
            "porteur_sete": d.token("porteur", porteur=porteurs["sete"], label="browser porteur 2"),
        },
    }


@test
def ui_in_headless_chromium():
    d = ctx["daemon"]
    env = dict(os.environ)
    env["SIAOD_UI_URL"] = "http://127.0.0.1:%d" % d.port
    env["SIAOD_UI_FIXTURE"] = json.dumps(ctx["fixture"])
    env["SIAOD_CHROMIUM"] = CHROMIUM
    version = subprocess.run([NODE, "--version"], stdout=subprocess.PIPE, text=True, timeout=30).stdout.strip()
    print("      node %s (%s), playwright-core %s" % (version, NODE, json.load(open(os.path.join(
        HERE, "node_modules", "playwright-core", "package.json")))["version"]), flush=True)
    p = subprocess.run([NODE, "--test-reporter=spec", os.path.join(HERE, "ui.test.mjs")],
                       cwd=HERE, env=env, timeout=240, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    out = p.stdout
    for s in SECRETS:  # the test prints no token, but make sure
        out = out.replace(s, "<token>")
    print(out, flush=True)
    assert p.returncode == 0, "the browser tests failed (exit %d); screenshots in %s" % (
        p.returncode, os.path.join(HERE, "artifacts"))


run_all(setup)
