#!/usr/bin/python3
"""
The plain client of tests/bench/run_digest_bench.sh: sends the messages a
run of siaod delivered (FIRST..LAST of the sink's directory: the same bytes,
the same envelopes) to the same SMTP server with smtplib, one connection,
one message after the other, and prints "MESSAGES SECONDS".

    smtp_resend.py --port P --dir DIR --first 1 --last 1000
"""
import argparse
import os
import smtplib
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--last", type=int, required=True)
    a = ap.parse_args()
    msgs = []
    for n in range(a.first, a.last + 1):
        base = os.path.join(a.dir, "%06d" % n)
        with open(base + ".env") as f:
            sender, rcpts = f.read().split("\n")[:2]
        with open(base + ".eml", "rb") as f:
            msgs.append((sender, rcpts.split(","), f.read()))
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", a.port) as s:
        for sender, rcpts, raw in msgs:
            s.sendmail(sender, rcpts, raw)
    print("%d %.3f" % (len(msgs), time.monotonic() - t0))


if __name__ == "__main__":
    main()
