"""A local Stripe for tests: the `localstripe` package behind a small HTTP proxy.

localstripe (a real, stateful fake server) handles PaymentIntents, PaymentMethods and refunds, and sends
its webhooks signed with our secret. It has no Checkout Sessions, honours no Idempotency-Key and cannot
filter lists by `created`, so the proxy in front of it adds exactly those, with Stripe's documented shapes:

- `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`, and a hosted "payment page"
  `GET/POST /pay/{id}` that a browser (or `pay()`) uses: paying creates and confirms a PaymentIntent in
  localstripe with the session's metadata, then sends `checkout.session.completed`, signed;
- `Idempotency-Key` on every POST: the same key returns the first answer;
- `created[gte]` on the payment-intent and refund lists;
- refund behaviour for tests: `refunds = "succeeded" | "pending" | "failed" | "error"`.

Everything else is passed to localstripe unchanged. The SDK talks to it through `STRIPE_API_BASE`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

API_KEY = "sk_test_buurtkas"
WEBHOOK_SECRET = "whsec_test_buurtkas_0123456789"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"


# localstripe keeps its whole store in /tmp/localstripe.pickle, rewritten on every change and read back at
# start. Each test session runs its own server from scratch and without that file, so parallel sessions
# never share (or corrupt) each other's state.
_RUN_LOCALSTRIPE = """
import sys
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None
sys.argv = ["localstripe", "--from-scratch", "--port", sys.argv[1]]
server.start()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header exactly as Stripe makes it (t=…,v1=HMAC-SHA256 of "t.payload")."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A Stripe event in the documented shape."""
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": kind,
            "data": {"object": obj},
        }
    ).encode()


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts (lists become dicts keyed "0", "1")."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


class StripeFake:
    def __init__(self) -> None:
        self.localstripe_port = free_port()
        self.localstripe = f"http://127.0.0.1:{self.localstripe_port}"
        self._process = subprocess.Popen(
            [sys.executable, "-c", _RUN_LOCALSTRIPE, str(self.localstripe_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(timeout=30, trust_env=False)
        self._wait_for_localstripe()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.synthetic_refunds: dict[str, dict[str, Any]] = {}
        self.pending_refunds: set[str] = set()
        self.refunds = "succeeded"
        self.requests: list[tuple[str, str]] = []
        self.webhook_url: str | None = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _wait_for_localstripe(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.http.get(f"{self.localstripe}/v1/customers", auth=(API_KEY, ""))
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("localstripe did not start")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._process.terminate()
        self._process.wait(10)
        self.http.close()

    def reset(self) -> None:
        self.http.delete(f"{self.localstripe}/_config/data")
        with self.lock:
            self.sessions.clear()
            self.idempotent.clear()
            self.synthetic_refunds.clear()
            self.pending_refunds.clear()
            self.requests.clear()
        self.refunds = "succeeded"
        self.webhook_url = None

    def send_webhooks_to(self, url: str) -> None:
        """localstripe sends its events (payment_intent.succeeded, …) to `url`; so does the Checkout fake."""
        self.webhook_url = url
        self.http.post(
            f"{self.localstripe}/_config/webhooks/buurtkas",
            data={"url": url, "secret": WEBHOOK_SECRET},
        ).raise_for_status()

    # ------------------------------------------------------------------------------------- the donor pays

    def _ls(self, method: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, f"{self.localstripe}{path}", data=data, auth=(API_KEY, ""))
        body: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise PaymentRefused(body)
        return body

    def pay(self, session_id: str, *, card: str = CARD_OK) -> dict[str, Any]:
        """Pay a Checkout Session as the donor would; returns the session. A declined card leaves it open."""
        session = self.sessions[session_id]
        method = self._ls(
            "POST",
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": card,
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "123",
            },
        )
        metadata = session["_payment_intent_metadata"]
        form = {
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "payment_method": method["id"],
            "confirm": "true",
            **{f"metadata[{k}]": v for k, v in metadata.items()},
        }
        try:
            intent = self._ls("POST", "/v1/payment_intents", form)
        except PaymentRefused:
            return session
        with self.lock:
            session.update(payment_intent=intent["id"], payment_status="paid", status="complete")
        if self.webhook_url:
            body = event_body("checkout.session.completed", self.public(session))
            self.http.post(self.webhook_url, content=body, headers={"Stripe-Signature": sign(body)})
        return session

    def public(self, session: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in session.items() if not k.startswith("_")}

    def payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        return self._ls("GET", f"/v1/payment_intents/{payment_intent_id}")

    def settle_refund(self, refund_id: str, status: str) -> dict[str, Any]:
        """A pending refund is now `status` (as Stripe would report later)."""
        with self.lock:
            self.pending_refunds.discard(refund_id)
            if status != "succeeded":
                refund = self._ls("GET", f"/v1/refunds/{refund_id}")
                refund.update(status=status, failure_reason="expired_or_canceled_card")
                self.synthetic_refunds[refund_id] = refund
        return self.refund(refund_id)

    def refund(self, refund_id: str) -> dict[str, Any]:
        if refund_id in self.synthetic_refunds:
            return self.synthetic_refunds[refund_id]
        refund = self._ls("GET", f"/v1/refunds/{refund_id}")
        if refund_id in self.pending_refunds:
            refund["status"] = "pending"
        return refund


class PaymentRefused(Exception):
    pass


def _handler(fake: StripeFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._reply(status, json.dumps(obj).encode())

        def _redirect(self, url: str) -> None:
            self.send_response(303)
            self.send_header("Location", url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.requests.append(("GET", parts.path))
            if parts.path.startswith("/v1/checkout/sessions/"):
                session = fake.sessions.get(parts.path.rsplit("/", 1)[1])
                if session is None:
                    self._json(
                        404, {"error": {"type": "invalid_request_error", "message": "No such session"}}
                    )
                else:
                    self._json(200, fake.public(session))
                return
            if parts.path.startswith("/pay/"):
                self._pay_page(parts.path.rsplit("/", 1)[1])
                return
            if parts.path.startswith("/v1/refunds/") and parts.path.count("/") == 3:
                self._json(200, fake.refund(parts.path.rsplit("/", 1)[1]))
                return
            query = parse_qsl(parts.query)
            since = next((int(v) for k, v in query if k == "created[gte]"), None)
            query = [(k, v) for k, v in query if not k.startswith("created")]
            response = fake.http.get(f"{fake.localstripe}{parts.path}", params=query, auth=(API_KEY, ""))
            if response.status_code == 200 and parts.path in ("/v1/payment_intents", "/v1/refunds"):
                page = response.json()
                if since is not None:
                    page["data"] = [item for item in page["data"] if item["created"] >= since]
                if parts.path == "/v1/refunds":
                    page["data"] = [fake.synthetic_refunds.get(r["id"], r) for r in page["data"]]
                    for r in page["data"]:
                        if r["id"] in fake.pending_refunds:
                            r["status"] = "pending"
                self._json(200, page)
                return
            self._reply(response.status_code, response.content)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self._body()
            fake.requests.append(("POST", parts.path))
            if parts.path.startswith("/pay/"):
                action = dict(parse_qsl(body.decode())).get("action", "pay")
                session = fake.sessions.get(parts.path.rsplit("/", 1)[1])
                if session is None:
                    self._reply(404, b"unknown session", "text/plain")
                    return
                if action == "pay":
                    fake.pay(session["id"])
                    self._redirect(session["success_url"])
                else:
                    self._redirect(session["cancel_url"])
                return
            key = self.headers.get("Idempotency-Key")
            if key:
                with fake.lock:
                    cached = fake.idempotent.get((parts.path, key))
                if cached is not None:
                    self._reply(*cached)
                    return
            status, answer = self._post(parts.path, body)
            if key and status < 500:
                with fake.lock:
                    fake.idempotent[(parts.path, key)] = (status, answer)
            self._reply(status, answer)

        def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
            form = _nested(parse_qsl(body.decode(), keep_blank_values=True))
            if path == "/v1/checkout/sessions":
                return 200, json.dumps(fake.public(self._new_session(form))).encode()
            if path == "/v1/refunds" and fake.refunds == "error":
                error = {"error": {"type": "invalid_request_error", "message": "Refunds are refused (test)"}}
                return 400, json.dumps(error).encode()
            response = fake.http.post(
                f"{fake.localstripe}{path}",
                content=body,
                headers={"Content-Type": self.headers["Content-Type"]},
                auth=(API_KEY, ""),
            )
            if path == "/v1/refunds" and response.status_code == 200:
                refund = response.json()
                if fake.refunds == "pending":
                    fake.pending_refunds.add(refund["id"])
                    refund["status"] = "pending"
                elif fake.refunds == "failed":
                    refund.update(status="failed", failure_reason="expired_or_canceled_card")
                    fake.synthetic_refunds[refund["id"]] = refund
                return 200, json.dumps(refund).encode()
            return response.status_code, response.content

        def _new_session(self, form: dict[str, Any]) -> dict[str, Any]:
            item = form["line_items"]["0"]
            session_id = f"cs_test_{secrets.token_hex(12)}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": int(item["price_data"]["unit_amount"]) * int(item["quantity"]),
                "amount_total": int(item["price_data"]["unit_amount"]) * int(item["quantity"]),
                "cancel_url": form.get("cancel_url"),
                "client_reference_id": form.get("client_reference_id"),
                "created": int(time.time()),
                "currency": item["price_data"]["currency"],
                "customer_email": form.get("customer_email"),
                "expires_at": int(form.get("expires_at") or time.time() + 86400),
                "livemode": False,
                "locale": form.get("locale"),
                "metadata": form.get("metadata", {}),
                "mode": form.get("mode"),
                "payment_intent": None,
                "payment_method_types": list(form.get("allowed_payment_method_types", {}).values()),
                "payment_status": "unpaid",
                "status": "open",
                "submit_type": form.get("submit_type"),
                "success_url": form.get("success_url"),
                "url": f"{fake.api_base}/pay/{session_id}",
                "_payment_intent_metadata": form.get("payment_intent_data", {}).get("metadata", {}),
                "_product": item["price_data"]["product_data"]["name"],
            }
            with fake.lock:
                fake.sessions[session_id] = session
            return session

        def _pay_page(self, session_id: str) -> None:
            session = fake.sessions.get(session_id)
            if session is None:
                self._reply(404, b"unknown session", "text/plain")
                return
            page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Stripe Checkout (test)</title></head>
<body><main><h1>{html.escape(session["_product"])}</h1><p>EUR {session["amount_total"] / 100:.2f}</p>
<form method="post"><button name="action" value="pay">Pay</button>
<button name="action" value="cancel">Back</button></form></main></body></html>"""
            self._reply(200, page.encode(), "text/html; charset=utf-8")

    return Handler


@contextmanager
def running_fake() -> Iterator[StripeFake]:
    fake = StripeFake()
    try:
        yield fake
    finally:
        fake.close()
