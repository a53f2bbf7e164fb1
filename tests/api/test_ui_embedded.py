"""
The web UI is compiled into siaod (daemon/assets.h): the binary of the build
tree serves clients/web without any ui_dir, byte for byte, and ui_dir, when
set, still serves a folder instead (scripts/dev up uses it to show edits).
Expected bytes are read from the source tree, not from siaod.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Database, Daemon, expect, expect_problem, run_all, test  # noqa: E402

WEB = os.path.join(harness.SOURCE_DIR, "clients", "web")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
S = {}


def setup():
    S["db"] = Database("ui_embedded")
    S["d"] = Daemon(S["db"], name="siaod-ui")    # no SIAOD_UI_DIR


def web_files():
    out = []
    for root, dirs, files in os.walk(WEB):
        dirs[:] = [x for x in dirs if not x.startswith(".") and x != "node_modules"]
        for f in files:
            if not f.startswith("."):
                out.append(os.path.relpath(os.path.join(root, f), WEB))
    return sorted(out)


@test
def every_ui_file_is_served_from_the_binary():
    d = S["d"]
    files = web_files()
    assert "index.html" in files and len(files) >= 5, files
    for rel in files:
        r = expect(d.call("GET", "/ui/" + rel), 200)
        with open(os.path.join(WEB, rel), "rb") as f:
            assert r.data == f.read(), "/ui/%s differs from clients/web/%s" % (rel, rel)
        ext = os.path.splitext(rel)[1]
        if ext in TYPES:
            assert r.headers["Content-Type"] == TYPES[ext], (rel, r.headers)
        assert r.headers["Cache-Control"] == "no-cache" and "frame-ancestors 'none'" in \
            r.headers["Content-Security-Policy"], r.headers


@test
def index_redirect_and_missing_files():
    d = S["d"]
    with open(os.path.join(WEB, "index.html"), "rb") as f:
        assert expect(d.call("GET", "/ui/"), 200).data == f.read()
    r = expect(d.call("GET", "/ui"), 301)
    assert r.headers["Location"] == "/ui/", r.headers
    expect_problem(d.call("GET", "/ui/nothing.js"), 404)
    expect_problem(d.call("GET", "/ui/js"), 404)          # a folder is not a file
    expect_problem(d.call("GET", "/ui/.hidden"), 404)


@test
def ui_dir_still_serves_a_folder():
    ui = tempfile.mkdtemp(prefix="ui-", dir=harness.WORKDIR)
    with open(os.path.join(ui, "index.html"), "w") as f:
        f.write("<!doctype html><title>from ui_dir</title>\n")
    d = Daemon(S["db"], env={"SIAOD_UI_DIR": ui}, name="siaod-ui-dir")
    r = expect(d.call("GET", "/ui/"), 200)
    assert b"from ui_dir" in r.data, r
    expect_problem(d.call("GET", "/ui/js/app.js"), 404)    # only that folder, not the embedded UI
    d.stop()


if __name__ == "__main__":
    run_all(setup)
