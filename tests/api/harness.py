"""
Harness for siaod's API tests: a private database, a real daemon, HTTP calls
and a tiny test runner. Python 3 standard library only.

Environment (set by tests/CMakeLists.txt, or by hand for development):
  SIAOD_BIN                 the siaod binary
  SIAOD_SOURCE_DIR          the source tree
  SIAOD_TEST_DATABASE_URL   libpq conninfo of a superuser on a scratch cluster;
                            each test file creates (and drops) its own database

Typical use:

    from harness import Database, Daemon, test, run_all, expect, expect_problem

    db = Database("foo")
    d = Daemon(db)
    admin = d.token("admin")

    @test
    def porteurs_can_be_created():
        r = d.call("POST", "/v1/porteurs", admin, {"name": "A", "departement": "34"})
        expect(r, 201)

    run_all()

ctest may run several files at once: every Database and Daemon is private
(its own database name, its own free port).
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("SIAOD_BIN", "")
SOURCE_DIR = os.environ.get("SIAOD_SOURCE_DIR", "")
BASE_URL = os.environ.get("SIAOD_TEST_DATABASE_URL", "")

# Every secret the tests were handed (tokens); none may ever reach a log.
SECRETS = set()
# Every daemon started in this process, for the final sanitizer and log checks.
DAEMONS = []
# Sanitizer reports found when a daemon (or a CLI run) exited.
SANITIZER_FINDINGS = []

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# One scratch directory for the whole file; kept when something failed.
WORKDIR = tempfile.mkdtemp(prefix="siaod-api-")


def _require_env():
    missing = [n for n, v in (("SIAOD_BIN", BIN), ("SIAOD_TEST_DATABASE_URL", BASE_URL)) if not v]
    if missing:
        sys.exit("harness: set " + " and ".join(missing) + " (see tests/api/harness.py)")


# ---------------------------------------------------------------- conninfo

_KV = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")


def parse_conninfo(conninfo):
    """libpq keyword/value conninfo -> dict (values unquoted)."""
    out = {}
    pos = 0
    while pos < len(conninfo):
        m = _KV.match(conninfo, pos)
        if not m:
            if conninfo[pos:].strip() == "":
                break
            raise ValueError("cannot parse conninfo near: " + conninfo[pos:])
        key, val = m.group(1), m.group(2)
        if val.startswith("'"):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out[key] = val
        pos = m.end()
    return out


def format_conninfo(params):
    def q(v):
        if v == "" or re.search(r"[\s'\\]", v):
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return v
    return " ".join("%s=%s" % (k, q(v)) for k, v in params.items())


def with_dbname(conninfo, dbname):
    """The same server and user, another database (keyword/value or URI form)."""
    if re.match(r"^postgres(ql)?://", conninfo):
        from urllib.parse import urlsplit, urlunsplit
        u = urlsplit(conninfo)
        return urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))
    params = parse_conninfo(conninfo)
    params["dbname"] = dbname
    return format_conninfo(params)


def psql(conninfo, query, check=True):
    """Runs one query with psql and returns its rows as a list of '|'-joined strings."""
    p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", query],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("psql failed (%d) on %r: %s" % (p.returncode, query, p.stderr.strip()))
    return [line for line in p.stdout.splitlines()]


def cluster_sql(query):
    """A query on the cluster's maintenance database (the one SIAOD_TEST_DATABASE_URL names)."""
    _require_env()
    return psql(BASE_URL, query)


# ---------------------------------------------------------------- database

class Database:
    """A fresh database siaod_t_<prefix>_<pid>, dropped when the process exits."""

    def __init__(self, name_prefix):
        _require_env()
        prefix = re.sub(r"[^a-z0-9_]", "_", name_prefix.lower())
        self.name = "siaod_t_%s_%d" % (prefix, os.getpid())
        self.url = with_dbname(BASE_URL, self.name)
        # A leftover of a crashed run with the same pid would be in the way.
        cluster_sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        cluster_sql('CREATE DATABASE "%s"' % self.name)
        atexit.register(self.drop)

    def sql(self, query):
        """Rows of stdout of psql -At on this database."""
        return psql(self.url, query)

    def drop(self):
        try:
            psql(BASE_URL, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name, check=False)
        except Exception:
            pass


# ---------------------------------------------------------------- http

class Headers:
    """Case-insensitive response headers."""

    def __init__(self, pairs):
        self._items = [(k, v) for k, v in pairs]

    def get(self, name, default=None):
        for k, v in self._items:
            if k.lower() == name.lower():
                return v
        return default

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name):
        return self.get(name) is not None

    def items(self):
        return list(self._items)

    def __repr__(self):
        return repr(dict(self._items))


class Response:
    def __init__(self, method, path, status, headers, data):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.data = data
        self.text = data.decode("utf-8", "replace")
        self.json = None
        if data:
            try:
                self.json = json.loads(self.text)
            except ValueError:
                pass

    def __repr__(self):
        body = self.text if len(self.text) < 800 else self.text[:800] + "..."
        return "%s %s -> %d %s" % (self.method, self.path, self.status, body)


def http_call(port, method, path, token=None, body=None, headers=None, raw=None, timeout=15):
    """One request on a fresh connection. body: JSON-encoded; raw: bytes sent as they are
    (Content-Type application/json unless headers says otherwise)."""
    h = {}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    data = None
    if raw is not None:
        data = raw
        h["Content-Type"] = "application/json"
    elif body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if headers:
        for k, v in headers.items():
            for existing in [x for x in h if x.lower() == k.lower()]:
                del h[existing]
            if v is not None:
                h[k] = v
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        return Response(method, path, resp.status, Headers(resp.getheaders()), payload)
    finally:
        conn.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- daemon

def _clean_env():
    """The caller's environment without any SIAOD_* setting that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAOD_")}
    return env


def scan_for_sanitizer(text, origin):
    """Records (and returns) sanitizer reports found in text."""
    found = [m for m in SANITIZER_MARKERS if m in text]
    if found:
        idx = min(text.find(m) for m in found)
        SANITIZER_FINDINGS.append("%s: %s\n%s" % (origin, ", ".join(found), text[max(0, idx - 200):idx + 3000]))
    return found


class Daemon:
    """The real siaod on db, listening on a free local port.

    env: extra SIAOD_* settings; args: extra command-line arguments (e.g.
    ["--config", path]). Starts at once and waits for /readyz."""

    def __init__(self, db, env=None, args=None, name="siaod", start=True):
        _require_env()
        self.db = db
        self.port = free_port()
        self.extra_env = dict(env or {})
        self.args = list(args or [])
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=WORKDIR)
        self.log_path = os.path.join(self.dir, "siaod.log")
        self.proc = None
        self.calls = []          # (request id, method, path, status) of every answer
        self._log = None
        self._starts = 0
        DAEMONS.append(self)
        if start:
            self.start()

    def env(self):
        env = _clean_env()
        env["SIAOD_DATABASE_URL"] = self.db.url
        env["SIAOD_LISTEN"] = "127.0.0.1:%d" % self.port
        # Tests hammer one token (races, bursts): no rate limit unless a
        # test asks for one.
        env["SIAOD_RATE_LIMIT_PER_SECOND"] = "0"
        env.update(self.extra_env)
        return env

    def start(self, timeout=20):
        assert self.proc is None, "already running"
        self._starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(b"# --- start %d ---\n" % self._starts)
        self._log.flush()
        self.proc = subprocess.Popen([BIN] + self.args, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._exited()
                raise AssertionError("%s exited with %d while starting:\n%s" % (self.name, code, self.log_tail()))
            try:
                r = http_call(self.port, "GET", "/readyz", timeout=2)
                last = r.status
                if r.status == 200:
                    return self
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("%s not ready after %d s (last: %s):\n%s" % (self.name, timeout, last, self.log_tail()))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout seconds."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._exited()
        return code

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig, waits; kills after timeout. Returns the exit code."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._exited()
                raise AssertionError("%s did not exit within %s s of signal %d:\n%s"
                                     % (self.name, timeout, sig, self.log_tail()))
        self._exited()
        return proc.returncode

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self._exited()

    def restart(self, **kw):
        code = self.stop(**kw)
        self.start()
        return code

    def _exited(self):
        if self.proc is None:
            return
        code = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.write(("# --- exited with %s ---\n" % code).encode())
            self._log.close()
            self._log = None
        scan_for_sanitizer(self.log_text(), "%s (log %s)" % (self.name, self.log_path))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=25):
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_log(self, pattern, timeout=5, after=0):
        """Waits until the log (from byte offset `after`) matches the regex; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log_text()[after:])
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def cli(self, *args, check=True, env=None):
        """Runs `siaod ARGS...` with this daemon's environment (plus env)."""
        p = subprocess.run([BIN] + list(args), env=dict(self.env(), **(env or {})),
                           capture_output=True, text=True, timeout=60)
        scan_for_sanitizer(p.stderr, "siaod " + " ".join(args))
        if check and p.returncode != 0:
            raise AssertionError("siaod %s exited with %d:\n%s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def reload(self, timeout=5):
        """Sends SIGHUP and waits for the reload to be logged as applied; returns the log
        offset from before the signal (for wait_log(after=...))."""
        mark = len(self.log_text())
        self.send_signal(signal.SIGHUP)
        m = self.wait_log(r"event=reload result=(\w+)", timeout=timeout, after=mark)
        assert m and m.group(1) == "ok", "reload not applied: %s" % self.log_tail()
        return mark

    def token(self, role, departements=(), porteur=None, label="t", expires_at=None):
        """A new token from `siaod token create` (the last line of its output)."""
        args = ["token", "create", "--role", role, "--label", label]
        for d in departements:
            args += ["--departement", d]
        if porteur is not None:
            args += ["--porteur", str(porteur)]
        if expires_at is not None:
            args += ["--expires-at", expires_at]
        p = self.cli(*args)
        tok = p.stdout.strip().splitlines()[-1]
        SECRETS.add(tok)
        return tok

    def call(self, method, path, token=None, body=None, headers=None, raw=None, timeout=15):
        r = http_call(self.port, method, path, token, body, headers, raw, timeout)
        rid = r.headers.get("X-Request-Id")
        self.calls.append((rid, method, path.split("?")[0], r.status))
        # A token created over HTTP is a secret too.
        if isinstance(r.json, dict) and isinstance(r.json.get("token"), str):
            SECRETS.add(r.json["token"])
        return r


class Client:
    """One keep-alive HTTP/1.1 connection to a daemon, for one thread at a time (threads
    that must each have their own connection each take a Client). Answers are recorded
    in the daemon's calls like Daemon.call's. No automatic retry: a dropped connection
    is an error for the caller to judge."""

    def __init__(self, daemon, timeout=30):
        self.daemon = daemon
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, token=None, body=None, headers=None):
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            payload = resp.read()
        except Exception:
            self.close()
            raise
        r = Response(method, path, resp.status, Headers(resp.getheaders()), payload)
        if resp.will_close:
            self.close()
        self.daemon.calls.append((r.headers.get("X-Request-Id"), method, path.split("?")[0], r.status))
        if isinstance(r.json, dict) and isinstance(r.json.get("token"), str):
            SECRETS.add(r.json["token"])
        return r

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- assertions

def expect(resp, status, msg=""):
    """Asserts the status; the message shows the whole exchange."""
    if resp.status != status:
        raise AssertionError("expected %d, got %r %s" % (status, resp, msg))
    return resp


def expect_problem(resp, status, pointer=None, code=None):
    """Asserts an RFC 9457 problem+json answer; with pointer/code, that errors[] holds
    an entry with them (and says which entries it holds otherwise)."""
    expect(resp, status)
    ct = resp.headers.get("Content-Type", "")
    assert ct.startswith("application/problem+json"), "Content-Type %r in %r" % (ct, resp)
    p = resp.json
    assert isinstance(p, dict), "problem body is not an object: %r" % resp
    for member in ("type", "title", "status", "detail"):
        assert member in p, "problem without %s: %r" % (member, resp)
    assert p["status"] == status, "problem status %r != %d" % (p["status"], status)
    assert p["type"].startswith("/problems/"), "type %r" % p["type"]
    if pointer is not None or code is not None:
        errors = p.get("errors")
        assert isinstance(errors, list) and errors, "no errors[] in %r" % resp
        for e in errors:
            assert set(("pointer", "code", "detail")) <= set(e), "error entry %r lacks pointer/code/detail" % e
        hits = [e for e in errors
                if (pointer is None or e["pointer"] == pointer) and (code is None or e["code"] == code)]
        assert hits, "no error with pointer=%r code=%r in %r" % (pointer, code, errors)
    return p


def eventually(fn, timeout=5, interval=0.1, msg="condition"):
    """Calls fn until it returns a truthy value; returns it, or fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except AssertionError as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %s s (last: %r)" % (msg, timeout, last))
        time.sleep(interval)


# ---------------------------------------------------------------- runner

_TESTS = []


def test(fn):
    """Registers fn; run_all() runs the registered functions in order."""
    _TESTS.append(fn)
    return fn


def _final_checks(reported):
    """Stops the daemons still running and looks for sanitizer reports (beyond the first
    `reported` ones, already blamed on a test) and leaked secrets."""
    problems = []
    for d in DAEMONS:
        if d.running():
            try:
                code = d.stop()
                if code != 0:
                    problems.append("%s exited with %s at the end:\n%s" % (d.name, code, d.log_tail()))
            except AssertionError as e:
                problems.append(str(e))
    for d in DAEMONS:
        text = d.log_text()
        leaked = [s for s in SECRETS if s in text]
        if leaked:
            problems.append("%s's log contains %d token(s), e.g. %s..." % (d.name, len(leaked), leaked[0][:12]))
    for f in SANITIZER_FINDINGS[reported:]:
        problems.append("sanitizer: " + f)
    return problems


def run_all(setup=None):
    """Runs setup() then every @test in order; exits 1 if anything failed."""
    failed = []
    started = time.monotonic()
    steps = ([("setup", setup)] if setup else []) + [(fn.__name__, fn) for fn in _TESTS]
    for name, fn in steps:
        t0 = time.monotonic()
        seen = len(SANITIZER_FINDINGS)
        try:
            fn()
            error = None
        except Exception:
            error = traceback.format_exc()
        # A daemon or CLI run of this test that tripped a sanitizer fails it.
        found = SANITIZER_FINDINGS[seen:]
        if found:
            error = (error or "") + "sanitizer report(s):\n" + "\n".join(found)
        took = time.monotonic() - t0
        if error is None:
            print("ok    %-58s %6.2f s" % (name, took), flush=True)
            continue
        failed.append(name)
        print("FAIL  %-58s %6.2f s" % (name, took), flush=True)
        print("      " + error.replace("\n", "\n      "), flush=True)
        for d in DAEMONS:
            if d.running() or d._starts:
                print("      --- tail of %s (%s) ---" % (d.name, d.log_path))
                print("      " + d.log_tail(12).replace("\n", "\n      "), flush=True)
        if name == "setup":
            break
    for p in _final_checks(len(SANITIZER_FINDINGS)):
        failed.append("final checks")
        print("FAIL  final checks: " + p.replace("\n", "\n      "), flush=True)
    print("%d test(s), %d failure(s), %.1f s" % (len(steps), len(failed), time.monotonic() - started))
    if failed:
        print("logs kept in " + WORKDIR)
        sys.exit(1)
    shutil.rmtree(WORKDIR, ignore_errors=True)
    sys.exit(0)


# ---------------------------------------------------------------- a private PostgreSQL

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def _pg_port_in_use(port):
    try:
        with open("/proc/net/unix") as f:
            if (".s.PGSQL.%d\n" % port) in f.read():
                return True
    except OSError:
        pass
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


class PrivateCluster:
    """A PostgreSQL cluster of the test's own, for tests that stop and restart the
    server (the shared cluster of SIAOD_TEST_DATABASE_URL must never be touched):
    initdb in a fresh directory under /tmp (as the `postgres` user when run as root:
    initdb refuses root), unix socket only, on a free port; stopped and removed when
    the process exits.

        pg = PrivateCluster("outage")
        db = pg.database("outage")        # .url, .name, .sql() as Database
        d = Daemon(db)
        pg.stop(); ...; pg.start()
    """

    def __init__(self, name="pg", conf=()):
        self.dir = tempfile.mkdtemp(prefix="siaod-pg-%s-" % re.sub(r"[^a-z0-9]", "", name.lower()), dir="/tmp")
        os.chmod(self.dir, 0o755)            # the socket must be reachable by its clients
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        port = free_port()
        while _pg_port_in_use(port):
            port = free_port()
        self.port = port
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], timeout=120)
        lines = ["", "# written by tests/api/harness.py (PrivateCluster)", "listen_addresses = ''",
                 "unix_socket_directories = '%s'" % self.dir, "port = %d" % self.port,
                 "fsync = off", "full_page_writes = off"] + list(conf)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")
        atexit.register(self.destroy)
        self.start()

    def _run(self, argv, timeout=60, check=True):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        p = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p

    def conninfo(self, dbname="postgres"):
        return "host=%s port=%d user=postgres dbname=%s" % (self.dir, self.port, dbname)

    def start(self, timeout=60):
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-w",
                   "-t", str(timeout), "start"], timeout=timeout + 10)

    def stop(self, mode="fast", timeout=60):
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                   "-t", str(timeout), "stop"], timeout=timeout + 10)

    def restart(self, mode="fast"):
        self.stop(mode)
        self.start()

    def running(self):
        return self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "status"], check=False).returncode == 0

    def sql(self, query, dbname="postgres"):
        return psql(self.conninfo(dbname), query)

    def database(self, name_prefix):
        return PrivateDatabase(self, name_prefix)

    def destroy(self):
        try:
            if self.running():
                self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateDatabase:
    """A database on a PrivateCluster, with Database's members (name, url, sql)."""

    def __init__(self, cluster, name_prefix):
        self.cluster = cluster
        self.name = "siaod_t_" + re.sub(r"[^a-z0-9_]", "_", name_prefix.lower())
        self.url = cluster.conninfo(self.name)
        cluster.sql('CREATE DATABASE "%s"' % self.name)

    def sql(self, query):
        return psql(self.url, query)

    def drop(self):
        pass    # the cluster goes as a whole
