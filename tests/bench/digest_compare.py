#!/usr/bin/python3
"""
Compares the digests two runs of tests/bench/run_digest_bench.sh delivered
to the SMTP sink (its first N files, OUT/NNNNNN.eml: siaod's, before
smtplib sent them again): per recipient, the subject and
the decoded text and HTML parts, which must be the same whatever build made
them. What differs by nature between two runs is left out: Message-ID,
Date and the MIME boundaries (the headers), nothing of the bodies. Prints
"SAME DIFFERENT ONLY_A ONLY_B" (recipients) and, for the first differences,
what differs, on stderr.

    digest_compare.py DIR_A DIR_B N
"""
import email
import email.policy
import glob
import os
import sys


def digests(d, n):
    out = {}
    for path in sorted(glob.glob(os.path.join(d, "*.eml")))[:n]:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html"):
                parts[ctype] = part.get_content()
        key = str(msg["To"])
        if key in out:
            raise SystemExit("%s: two messages to the same recipient" % d)
        out[key] = (str(msg["Subject"]), parts.get("text/plain"), parts.get("text/html"),
                    str(msg["List-Unsubscribe"]))
    return out


def main():
    n = int(sys.argv[3])
    a, b = digests(sys.argv[1], n), digests(sys.argv[2], n)
    same = different = 0
    shown = 0
    for key in sorted(set(a) & set(b)):
        if a[key] == b[key]:
            same += 1
            continue
        different += 1
        if shown < 3:
            shown += 1
            for name, x, y in zip(("subject", "text", "html", "unsubscribe"), a[key], b[key]):
                if x != y:
                    print("differs for %s: %s\n  A: %r\n  B: %r" % (key, name, (x or "")[:300], (y or "")[:300]),
                          file=sys.stderr)
    print(same, different, len(set(a) - set(b)), len(set(b) - set(a)))


if __name__ == "__main__":
    main()
