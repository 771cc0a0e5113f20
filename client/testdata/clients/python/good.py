#!/usr/bin/env python3
"""A Ticket API client in Python 3 with the standard library only, for `authzcheck client`.

It follows the contract of DerbySoft's AuthZ: HTTP Basic on the token endpoint, the token kept
for the expires_in it came with (number or string) and replaced at 80% of it, one fetch shared by
all workers, `Authorization: Bearer <token>` on the Ticket APIs with a fresh echo-token per
request, one retry with a new token after a 401, backoff that honours Retry-After, no redirects
followed from the token endpoint, and the CA in AUTHZ_CA_FILE trusted for TLS.

Environment: AUTHZ_TOKEN_URL, AUTHZ_API_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, AUTHZ_CA_FILE
(optional). Runs until SIGTERM or SIGINT, then exits 0.

    python3 good.py [--workers 4] [--pause 0.05]
"""

import argparse
import base64
import email.utils
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

CALLS = [
    ("GET", "/products", None),
    ("POST", "/shopping", {"productId": "PRD-1001", "durationDays": 1, "affiliation": "WEB",
                           "dateRange": {"startDate": "2026-12-01", "endDate": "2026-12-02"}}),
    ("POST", "/livecheck", {"products": [{"productId": "PRD-1001", "quantity": 2}], "date": "2026-12-01"}),
    ("POST", "/reservations", {"products": [{"productId": "PRD-1001", "quantity": 2}], "date": "2026-12-01"}),
]

stop = threading.Event()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A token endpoint has no business redirecting: urllib would resend the Basic credential."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx is raised as an HTTPError instead


def retry_after(headers):
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date), or 0."""
    v = (headers.get("Retry-After") or "").strip() if headers else ""
    if v.isdigit():
        return int(v)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(v).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0


class Tokens:
    """One token for every worker, fetched again at 80% of its lifetime or after a 401."""

    def __init__(self, url, client_id, secret, opener):
        self.url, self.opener = url, opener
        # The seed's form: base64(client_id:client_secret).
        self.basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self.lock = threading.Lock()  # held across a fetch: concurrent callers share it
        self.token, self.renew, self.expires = None, 0.0, 0.0
        self.not_before, self.delay, self.last_fetch = 0.0, 0.0, float("-inf")

    def get(self):
        with self.lock:
            now = time.monotonic()
            if self.token and now < self.renew:
                return self.token
            valid = self.token and now < self.expires
            if now < self.not_before:
                if valid:
                    return self.token
                raise RuntimeError("token endpoint failing; waiting before the next attempt")
            # Never two fetches within 0.3 s: when the API rejects every token, workers whose calls
            # overlap would each reject the token another just fetched, at the pace of the calls.
            gap = self.last_fetch + 0.3 - time.monotonic()
            if gap > 0:
                time.sleep(gap)
            try:
                token, lifetime = self.fetch()
            except Exception as e:
                self.last_fetch = time.monotonic()
                self.delay = min(max(2 * self.delay, 0.25), 5.0)
                # Retry-After counts from the answer, not from the ask.
                self.not_before = self.last_fetch + max(self.delay, getattr(e, "retry_after", 0))
                if valid:
                    return self.token
                raise
            self.last_fetch = time.monotonic()
            self.delay = 0.0
            self.token, self.expires, self.renew = token, now + lifetime, now + 0.8 * lifetime
            return token

    def invalidate(self, token):
        with self.lock:
            if self.token == token:
                self.token = None

    def fetch(self):
        req = urllib.request.Request(self.url, data=b"grant_type=client_credentials", method="POST", headers={
            "Authorization": self.basic,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        })
        try:
            with self.opener.open(req, timeout=10) as resp:
                body = json.loads(resp.read(65536))
        except urllib.error.HTTPError as e:
            err = RuntimeError(f"token endpoint answered {e.code}")  # never the body: it may echo us
            err.retry_after = retry_after(e.headers)
            raise err from None
        # expires_in is a number in the seed's example and a string in its schema: take both.
        lifetime = float(body["expires_in"])
        if not body.get("access_token") or lifetime <= 0:
            raise RuntimeError("token answer without access_token or a positive expires_in")
        return body["access_token"], lifetime


class Gate:
    """The workers' shared backoff after a failed call: one call per round, not one per worker."""

    def __init__(self):
        self.lock, self.until, self.delay = threading.Lock(), 0.0, 0.0

    def wait(self):
        with self.lock:
            d = self.until - time.monotonic()
        return not stop.wait(d) if d > 0 else True

    def fail(self, server_wait=0):
        with self.lock:
            now = time.monotonic()
            if now < self.until:
                return
            self.delay = min(max(2 * self.delay, 0.25), 2.0)
            self.until = now + max(self.delay, server_wait)

    def ok(self):
        with self.lock:
            self.delay = 0.0


def worker(n, api, distributor, tokens, opener, gate, pause):
    i = n
    while not stop.is_set():
        if not gate.wait():
            return
        method, path, body = CALLS[i % len(CALLS)]
        i += 1
        try:
            call(api + path, method, body, distributor, tokens, opener)
            gate.ok()
        except Exception as e:
            if stop.is_set():
                return
            print(f"worker {n}: {method} {path}: {e}", file=sys.stderr, flush=True)
            gate.fail(getattr(e, "retry_after", 0))
        stop.wait(pause)


def call(url, method, body, distributor, tokens, opener):
    data = json.dumps(body).encode() if body is not None else None
    for attempt in (1, 2):
        token = tokens.get()
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json",
                   "echo-token": uuid.uuid4().hex, "distributor-id": distributor}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with opener.open(req, timeout=10) as resp:
                resp.read(1 << 20)
                return
        except urllib.error.HTTPError as e:
            e.read(1 << 16)
            if e.code != 401 or attempt == 2:
                # A second 401 means every token is refused: back off, do not fetch again.
                err = RuntimeError(f"{e.code} {e.reason}")
                err.retry_after = retry_after(e.headers)
                raise err from None
            tokens.invalidate(token)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--pause", type=float, default=0.05, help="seconds between one worker's calls")
    args = p.parse_args()
    env = {}
    for k in ("AUTHZ_TOKEN_URL", "AUTHZ_API_URL", "AUTHZ_CLIENT_ID", "AUTHZ_CLIENT_SECRET"):
        env[k] = os.environ.get(k, "")
        if not env[k]:
            print(f"{k} is not set: run me under `authzcheck client`", file=sys.stderr)
            return 2
    ctx = ssl.create_default_context()
    if os.environ.get("AUTHZ_CA_FILE"):
        ctx.load_verify_locations(cafile=os.environ["AUTHZ_CA_FILE"])
    https = urllib.request.HTTPSHandler(context=ctx)
    token_opener = urllib.request.build_opener(https, NoRedirect)
    api_opener = urllib.request.build_opener(https)
    tokens = Tokens(env["AUTHZ_TOKEN_URL"], env["AUTHZ_CLIENT_ID"], env["AUTHZ_CLIENT_SECRET"], token_opener)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    gate = Gate()
    threads = [threading.Thread(target=worker, daemon=True, args=(
        n, env["AUTHZ_API_URL"].rstrip("/"), env["AUTHZ_CLIENT_ID"], tokens, api_opener, gate, args.pause))
        for n in range(args.workers)]
    for t in threads:
        t.start()
    while not stop.wait(1):  # the main thread must stay free to run the signal handlers
        pass
    for t in threads:
        t.join(timeout=11)
    return 0


if __name__ == "__main__":
    sys.exit(main())
