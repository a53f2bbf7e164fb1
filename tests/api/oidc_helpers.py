"""
Helpers for the OpenID Connect tests (tests/api/test_oidc.py): the real
OpenID Provider of tests/oidc/provider.mjs (oidc-provider 8, configured like
ProConnect, behind a proxy that can tamper with its answers), and a minimal
cookie-keeping HTTP client that walks the sign-in as a browser does, stopping
before siaod's callback so tests can replay or alter it.
"""
import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
OIDC_DIR = os.path.normpath(os.path.join(HERE, "..", "oidc"))


class Provider:
    """node tests/oidc/provider.mjs on a free port; the issuer is the proxy's URL."""

    def __init__(self, redirect_base, port=None, client_id="siaod-test"):
        if not os.path.isdir(os.path.join(OIDC_DIR, "node_modules", "oidc-provider")):
            raise AssertionError("tests/oidc/node_modules is missing: run `scripts/dev test` "
                                 "(it runs npm ci there) or `npm ci` in tests/oidc")
        self.port = port or harness.free_port()
        self.log_path = os.path.join(harness.WORKDIR, "provider-%d.log" % self.port)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["node", os.path.join(OIDC_DIR, "provider.mjs"), "--port", str(self.port),
             "--redirect-base", redirect_base, "--client-id", client_id],
            cwd=OIDC_DIR, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.strip():
            self.proc.wait(5)
            raise AssertionError("the provider did not start:\n" + open(self.log_path).read())
        info = json.loads(line)
        self.issuer = info["issuer"]
        self.client_id = info["client_id"]
        self.client_secret = info["client_secret"]
        harness.SECRETS.add(self.client_secret)

    def env(self):
        return {"SIAOD_OIDC_ISSUER": self.issuer, "SIAOD_OIDC_CLIENT_ID": self.client_id,
                "SIAOD_OIDC_CLIENT_SECRET": self.client_secret}

    def _call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                      headers={"Content-Type": "application/json"})
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def mode(self, id_token="none", userinfo="none"):
        return self._call("POST", "/__test/mode", {"id_token": id_token, "userinfo": userinfo})

    def stats(self):
        return self._call("GET", "/__test/stats")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def __repr__(self):
        return "%d %r %s" % (self.status, self.headers, self.text[:600])


class Browser:
    """Cookies per host:port, redirects followed by hand."""

    def __init__(self):
        self.jar = {}

    def cookies(self, netloc):
        return self.jar.setdefault(netloc, {})

    def request(self, method, url, form=None, headers=None):
        u = urllib.parse.urlsplit(url)
        h = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}
        jar = self.cookies(u.netloc)
        if jar:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
        try:
            c.request(method, u.path + ("?" + u.query if u.query else ""), body=data, headers=h)
            r = c.getresponse()
            a = Answer(r.status, r.getheaders(), r.read())
        finally:
            c.close()
        for sc in a.set_cookies():
            name, _, rest = sc.partition("=")
            value = rest.split(";")[0]
            if "max-age=0" in sc.lower() or "expires=thu, 01 jan 1970" in sc.lower() or value == "":
                jar.pop(name.strip(), None)
            else:
                jar[name.strip()] = value
        return a

    def sign_in_at_provider(self, daemon_url, login, password="n'importe"):
        """From siaod's start to the provider's redirect back: returns (start answer, callback URL)."""
        start = self.request("GET", daemon_url + "/auth/oidc/start")
        if start.status != 302:
            return start, None
        return start, self.through_provider(start.header("Location"), daemon_url, login, password)

    def through_provider(self, url, daemon_url, login, password="n'importe"):
        """From the authorization URL to the redirect back to siaod's callback (returned)."""
        for _ in range(12):
            if url.startswith(daemon_url + "/auth/oidc/callback"):
                return url
            a = self.request("GET", url)
            if a.status in (302, 303):
                url = urllib.parse.urljoin(url, a.header("Location"))
                continue
            m = re.search(r'<form[^>]*action="([^"]+)"', a.text)
            assert a.status == 200 and m, "unexpected page at the provider: %r" % a
            action = urllib.parse.urljoin(url, m.group(1))
            fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', a.text))
            if 'name="login"' in a.text:
                fields.update({"login": login, "password": password})
            a = self.request("POST", action, form=fields)
            assert a.status in (302, 303), "the provider's form answered %r" % a
            url = urllib.parse.urljoin(action, a.header("Location"))
        raise AssertionError("no redirect back to siaod (last URL %s)" % url)


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def wait_until(fn, timeout=10, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)
