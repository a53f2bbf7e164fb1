"""
A real SMTP server for the tests (Debian python3-aiosmtpd), in a thread of
the test process, that keeps every message it accepted. Behaviours the tests
set per recipient address:

  refuse:   RCPT answered 550 (permanent)
  tempfail: the first DATA answered 451 (temporary), the next ones accepted
  slow:     the message is kept, then the 250 waits `slow_seconds` (a sender
            killed meanwhile has sent the mail without recording it)
"""
import asyncio
import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller

import harness


class _Handler:
    def __init__(self, box):
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.box.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpts = [a.lower() for a in envelope.rcpt_tos]
        for a in rcpts:
            if a in self.box.tempfail and self.box.tempfail[a] > 0:
                self.box.tempfail[a] -= 1
                return "451 4.3.0 Try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            self.box.messages.append((envelope.mail_from, rcpts, msg))
            self.box.arrived.set()
        if any(a in self.box.slow for a in rcpts):
            await asyncio.sleep(self.box.slow_seconds)
        return "250 OK"


class SmtpServer:
    def __init__(self):
        self.port = harness.free_port()
        self.messages = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.refuse = set()
        self.tempfail = {}
        self.slow = set()
        self.slow_seconds = 5
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def stop(self):
        self.controller.stop()

    def restart(self):
        """After stop(): listens again on the same port (an outage over)."""
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def to(self, address):
        with self.lock:
            return [m for _f, rcpts, m in self.messages if address.lower() in rcpts]

    def wait_for(self, address, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError("%d mail(s) to %s expected within %s s, got %d" % (
            count, address, timeout, len(self.to(address))))


def parts(msg):
    """(text, html) of a multipart/alternative message."""
    text = html = None
    for part in msg.walk():
        ct = part.get_content_type()
        if ct == "text/plain":
            text = part.get_content()
        elif ct == "text/html":
            html = part.get_content()
    return text, html
