"""
A webhook receiver for siaod's API tests: http.server on 127.0.0.1, in a
thread, on its own free port. Python 3 standard library only.

It checks every request's signature with its own implementation of the
Standard Webhooks specification (not siaod's code): the key is the
base64-decoded part of the secret after `whsec_`, the signature the base64
HMAC-SHA256 of "webhook-id.webhook-timestamp.body", sent as
`webhook-signature: v1,<base64>` (several space-separated signatures may be
sent; one valid is enough). It records webhook-id, webhook-timestamp, the
body and when each request arrived, and answers what the test told it to:

    r = Receiver()
    r.set_secret("/a", "whsec_...")            # once the subscription exists
    r.script("/a", status(500), status(500))    # the next two requests to /a
    r.answer("/a", status(204))                 # every later one (the default)
    r.answer("/b", hang(30))                    # sleep longer than the timeout
    r.script("/c", close())                     # close the connection, no answer
    r.script("/d", status(429, {"Retry-After": "2"}))
    ...
    r.wait_for(lambda recs: len(recs) >= 3, path="/a", timeout=10)
    r.stop()

Each path is one subscription's endpoint (url(path)), so one receiver can
serve several subscriptions, each with its own secret and behaviour.
"""
import base64
import hashlib
import hmac
import http.server
import json
import select
import socket
import threading
import time

TOLERANCE_SECONDS = 300   # how far webhook-timestamp may be from our clock


# ---------------------------------------------------------------- Standard Webhooks, our own

def secret_key(secret):
    """The HMAC key of a `whsec_` secret: the base64-decoded part after the prefix."""
    assert secret.startswith("whsec_"), "secret without whsec_: %r" % secret[:8]
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def sign(secret, msg_id, timestamp, body):
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; body is bytes."""
    signed = ("%s.%s." % (msg_id, timestamp)).encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret, msg_id, timestamp, body, header):
    """Whether one of the space-separated `v1,` signatures of header is body's."""
    if not (msg_id and timestamp and header):
        return False
    want = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for part in header.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return True
    return False


# The specification's published test vector: our verifier must reproduce it.
_VECTOR = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
           b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
assert sign(*_VECTOR[:4]) == _VECTOR[4], "our Standard Webhooks signer is wrong"


# ---------------------------------------------------------------- behaviours

def status(code, headers=None, delay=0.0, body=b""):
    """Answer code (after delay seconds) with these headers."""
    return ("status", code, dict(headers or {}), delay, body)


def hang(seconds):
    """Read the request, then answer nothing for `seconds` (or until stop())."""
    return ("hang", seconds)


def close():
    """Read the request, then close the connection without a word."""
    return ("close",)


class Record:
    """One request as received."""

    def __init__(self, path, headers, body, secret):
        self.path = path
        self.id = headers.get("webhook-id")
        self.timestamp = headers.get("webhook-timestamp")
        self.signature = headers.get("webhook-signature")
        self.content_type = headers.get("Content-Type")
        self.headers = dict(headers.items())
        self.body = body
        self.at = time.time()             # wall clock, to compare with webhook-timestamp
        self.mono = time.monotonic()      # for delays between attempts
        self.answer = None                # what we answered: code, "hang" or "close"
        self.secret = secret
        self.valid = verify(secret, self.id, self.timestamp, body, self.signature) if secret else None
        try:
            self.json = json.loads(body.decode("utf-8"))
        except ValueError:
            self.json = None

    @property
    def type(self):
        return self.json.get("type") if isinstance(self.json, dict) else None

    @property
    def data(self):
        return self.json.get("data") if isinstance(self.json, dict) else None

    def check(self):
        """Asserts what every delivery must be: signed with the subscription's secret, a
        fresh integer timestamp, an id, a JSON body {type, timestamp, data}."""
        assert self.secret, "no secret known for %s (set_secret before events fire)" % self.path
        if self.valid is None:
            self.valid = verify(self.secret, self.id, self.timestamp, self.body, self.signature)
        assert self.id, "no webhook-id: %r" % self.headers
        assert self.valid, "bad signature on %s: id=%r ts=%r sig=%r body=%r" % (
            self.path, self.id, self.timestamp, self.signature, self.body[:200])
        assert self.timestamp and self.timestamp.isdigit(), "webhook-timestamp %r" % self.timestamp
        assert abs(int(self.timestamp) - self.at) <= TOLERANCE_SECONDS, \
            "webhook-timestamp %s is %d s from our clock" % (self.timestamp, int(self.timestamp) - self.at)
        assert (self.content_type or "").startswith("application/json"), "Content-Type %r" % self.content_type
        assert isinstance(self.json, dict) and set(self.json) == {"type", "timestamp", "data"}, \
            "body is not {type, timestamp, data}: %r" % self.body[:300]
        assert isinstance(self.json["data"], dict), self.json
        return self

    def __repr__(self):
        return "<%s id=%s ts=%s %s %s>" % (self.path, self.id, self.timestamp, self.type, self.answer)


class Receiver:
    """The receiver. port: a given port (e.g. one a subscription already names), else a
    free one; start=False leaves it closed until start()."""

    def __init__(self, port=None, start=True):
        if port is None:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
        self.port = port
        self.lock = threading.Condition()
        self.records = []
        self.secrets = {}
        self.scripts = {}
        self.defaults = {}
        self.default = status(204)
        self.active = 0           # requests being handled now
        self.max_active = {}      # path -> most requests handled at once
        self._active_by_path = {}
        self._release = threading.Event()
        self._server = None
        self._thread = None
        if start:
            self.start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    # ------------------------------------------------------------ control

    def set_secret(self, path, secret):
        with self.lock:
            self.secrets[path] = secret
            for r in self.records:
                if r.path == path and r.secret is None:
                    r.secret = secret

    def script(self, path, *actions):
        """Queues actions for the next requests to path (then the default answer)."""
        with self.lock:
            self.scripts.setdefault(path, []).extend(actions)

    def answer(self, path, action):
        """What path answers once its script is used up."""
        with self.lock:
            self.defaults[path] = action

    def _next_action(self, path):
        with self.lock:
            queue = self.scripts.get(path)
            if queue:
                return queue.pop(0)
            return self.defaults.get(path, self.default)

    # ------------------------------------------------------------ server

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                receiver._handle(self, body)

            def do_GET(self):
                receiver._handle(self, b"")

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass   # a sender that hung up (e.g. after its timeout) is no news

        self._release.clear()
        server = Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening (hanging handlers are released)."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, h, body):
        path = h.path
        with self.lock:
            rec = Record(path, h.headers, body, self.secrets.get(path))
            self.records.append(rec)
            self._active_by_path[path] = self._active_by_path.get(path, 0) + 1
            self.max_active[path] = max(self.max_active.get(path, 0), self._active_by_path[path])
            self.lock.notify_all()
        action = self._next_action(path)
        try:
            if action[0] == "hang":
                rec.answer = "hang"
                self._hang(h.connection, action[1])
                h.close_connection = True
                return
            if action[0] == "close":
                rec.answer = "close"
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            _, code, headers, delay, payload = action
            if delay:
                self._release.wait(delay)
            rec.answer = code
            h.send_response(code)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if payload:
                h.wfile.write(payload)
        except OSError:
            pass   # the sender gave up (timeout): nothing to answer
        finally:
            with self.lock:
                self._active_by_path[path] -= 1

    def _hang(self, conn, seconds):
        """Sleeps until seconds pass, stop() is called or the sender hangs up (so that
        max_active counts only the requests the sender still waits for)."""
        deadline = time.monotonic() + seconds
        while not self._release.is_set() and time.monotonic() < deadline:
            r, _, _ = select.select([conn], [], [], 0.01)
            if r:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return
                except OSError:
                    return
                time.sleep(0.01)   # pipelined bytes: keep hanging

    # ------------------------------------------------------------ reading

    def received(self, path=None, type=None, where=None):
        """Records (in arrival order), filtered by path, event type and where(record)."""
        with self.lock:
            recs = list(self.records)
        return [r for r in recs if (path is None or r.path == path) and (type is None or r.type == type)
                and (where is None or where(r))]

    def wait_for(self, cond, path=None, type=None, where=None, timeout=10, msg="condition"):
        """Waits until cond(records) is true for the filtered records; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.received(path, type, where)
            if cond(recs):
                return recs
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("receiver: %s not met within %s s; got %d record(s): %r"
                                     % (msg, timeout, len(recs), recs[-10:]))
            with self.lock:
                self.lock.wait(min(left, 0.1))

    def quiet(self, seconds, path=None, type=None, where=None):
        """Waits `seconds` and asserts nothing new arrived (filtered) meanwhile."""
        before = len(self.received(path, type, where))
        time.sleep(seconds)
        after = self.received(path, type, where)
        assert len(after) == before, "unexpected deliveries: %r" % after[before:]
