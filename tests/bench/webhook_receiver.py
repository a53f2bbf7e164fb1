#!/usr/bin/env python3
"""A webhook receiver that checks siaod's signatures (Standard Webhooks).

    webhook_receiver.py --port N --secret whsec_... --out FILE

Listens on 127.0.0.1:N; for each POST it checks, as a receiver following
https://www.standardwebhooks.com would:
  * the headers webhook-id, webhook-timestamp, webhook-signature are there;
  * webhook-timestamp is within 5 minutes of the receiver's clock;
  * one of the signatures ("v1,<base64>", space separated) is the base64
    HMAC-SHA256, keyed with the base64-decoded part of the secret after
    "whsec_", of "<webhook-id>.<webhook-timestamp>.<raw body>";
  * the body is JSON with type, timestamp and data;
and appends one line to FILE: "ok <webhook-id> <type>" or
"bad <webhook-id> <reason>". It answers 204 either way (a bad signature is
the benchmark's finding, not a reason to make siaod retry). Stops on SIGTERM.
Used by tests/bench/run_webhook_bench.sh on a sample of deliveries.
"""
import argparse
import base64
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret, headers, body, now=None):
    """None when the delivery is authentic, else the reason."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return "missing header"
    try:
        ts_i = int(ts)
    except ValueError:
        return "timestamp not an integer"
    now = time.time() if now is None else now
    if abs(now - ts_i) > 300:
        return f"timestamp {ts_i} too far from now ({int(now)})"
    key = base64.b64decode(secret[len("whsec_"):])
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    if not any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected) for s in sigs.split()):
        return "signature mismatch"
    try:
        doc = json.loads(body)
    except ValueError:
        return "body not JSON"
    if not isinstance(doc, dict) or not {"type", "timestamp", "data"} <= doc.keys():
        return "body without type, timestamp, data"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = open(a.out, "a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            why = verify(a.secret, self.headers, body)
            msg_id = self.headers.get("webhook-id", "-")
            if why is None:
                line = f"ok {msg_id} {json.loads(body)['type']}"
            else:
                line = f"bad {msg_id} {why}"
            with lock:
                out.write(line + "\n")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("ready", flush=True)
    srv.serve_forever()
    out.close()


if __name__ == "__main__":
    sys.exit(main())
