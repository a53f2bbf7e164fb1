#!/usr/bin/python3
"""
An SMTP server for tests/bench/run_digest_bench.sh (Debian python3-aiosmtpd):
accepts every message and writes it, as received (DATA's bytes), to
OUT/NNNNNN.eml in arrival order, with its envelope in OUT/NNNNNN.env
("from\\nto\\npeer": the client's address and port, one per connection). Runs until SIGTERM.

    smtp_sink.py --port P --out DIR
"""
import argparse
import asyncio
import os
import signal
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.out, "%06d" % n)
        with open(base + ".env", "w") as f:
            f.write("%s\n%s\n%s:%s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos), *session.peer[:2]))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    c = Controller(Sink(a.out), hostname="127.0.0.1", port=a.port)
    c.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("listening", flush=True)
    done.wait()
    c.stop()


if __name__ == "__main__":
    main()
