"""A practice-software client of the e-prescription API (HTTP only): an OAuth 2.0 token for
the doctor through the registered software, medication search, review, issue with a retry-safe
Idempotency-Key, or sign with the doctor's own key; optionally subscribe to status events.

Usage (the demo prescriber through the demo practice software, the server-held key with its
PIN; an administrator registers other software with `flask software register`,
docs/software-clients.md):

    python examples/practice_client.py --base-url http://127.0.0.1:5000 \
        --client-id demo-practice-software --client-secret demo-practice-software-2026 \
        --username demo-prescriber --password demo-prescriber-2026 --pin 1234 \
        --patient-nir 285037505612306 --medication doliprane \
        --dosage "1 comprimé 3 fois par jour" --quantity 1

With the doctor's own key instead of the PIN (docs/signing.md, "External signing"):

    ... --external-key doctor.key --cert doctor.pem

With `--webhook-url https://lgo.example/hooks` it first subscribes the practice to the status
events (docs/events.md) and prints `subscription <id>` and `webhook_secret <secret>`;
`webhook_verified` checks a delivery's signature with that secret. Prints `number <number>`
and `qr_text <QR text>`. Any refusal: the problem's `code` on stderr and exit status 1.
Standard library only, plus `cryptography` for --external-key.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ApiError(Exception):
    """A problem+json answer (or no answer at all)."""

    def __init__(self, status: int, code: str, detail: str = ""):
        super().__init__(f"{code} ({status}): {detail}")
        self.status, self.code, self.detail = status, code, detail


class Api:
    """JSON over HTTP with a bearer token."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url, self.timeout, self.token = base_url.rstrip("/"), timeout, None

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Accept": "application/json"}
        if data is not None:
            sent["Content-Type"] = "application/json"
        return self.send(method, path, data, {**sent, **(headers or {})})

    def send(self, method: str, path: str, data: bytes | None, headers: dict) -> tuple[int, bytes]:
        """The raw exchange: a problem+json answer raises ApiError with its `code`."""
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent.update(headers)
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=sent, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {}
            code = problem.get("code", "http_error")
            raise ApiError(error.code, code, problem.get("detail", "")) from None
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(0, "connection_failed", str(error)) from None

    def json(self, method: str, path: str, body=None, headers=None):
        return json.loads(self.call(method, path, body, headers)[1])

    def login(self, client_id: str, client_secret: str, username: str, password: str) -> dict:
        """A token for the professional through the registered software: the OAuth 2.0 token
        endpoint, grant `password`, the software authenticated by HTTP Basic with its client
        credentials (client_secret_basic: each part form-urlencoded first, RFC 6749 §2.3.1)."""
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
        form = {"grant_type": "password", "username": username, "password": password}
        headers = {
            "Accept": "application/json",
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        data = urllib.parse.urlencode(form).encode()
        answer = json.loads(self.send("POST", "/api/v1/oauth/token", data, headers)[1])
        self.token = answer["access_token"]
        print(f"token for {username} through {client_id}: scope {answer['scope']}")
        return answer


def add_login_options(parser: argparse.ArgumentParser) -> None:
    """The software's client credentials and the professional's username and password."""
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True, help="the software's OAuth client_id")
    parser.add_argument("--client-secret", required=True, help="its client_secret")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)


def find_medication(api: Api, query: str) -> dict:
    """The first prescribable product the catalog search finds for `query`."""
    found = api.json("GET", "/api/v1/medications?" + urllib.parse.urlencode({"q": query}))
    for product in found["items"]:
        if product.get("prescribable", True):
            return product
    raise ApiError(404, "medication_not_found", f"nothing prescribable matches {query!r}")


def reviewed(api: Api, body: dict) -> dict:
    """The body with every warning the review raises acknowledged by its key (the API refuses
    422 warnings_not_acknowledged otherwise); the warnings are shown to the doctor first."""
    review = api.json("POST", "/api/v1/prescriptions/review", body)
    keys = []
    for warning in review["warnings"]:
        print(f"warning {warning['kind']} line {warning.get('line')}: {warning['message']}")
        if warning.get("needs_acknowledgement"):
            keys.append(warning["key"])
    return {**body, "acknowledged_warnings": keys} if keys else body


def issue_with_pin(api: Api, body: dict, pin: str) -> dict:
    """Issue and sign with the server-held key; the same call is retried with the same
    Idempotency-Key, as after a lost answer: it must come back byte for byte."""
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    signed = {**body, "pin": pin}
    status, first = api.call("POST", "/api/v1/prescriptions", signed, headers)
    status_again, again = api.call("POST", "/api/v1/prescriptions", signed, headers)
    if (status_again, again) != (status, first):
        raise ApiError(status_again, "retry_differs", "the retry did not replay the answer")
    print(f"retry with Idempotency-Key {key}: the same answer ({status})")
    return json.loads(first)


def subscribe(api: Api, url: str) -> dict:
    """The practice's subscription to every status event, posted to `url`; the answer's
    `secret` (shown this once) checks each delivery's signature."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    created = api.json("POST", "/api/v1/event-subscriptions", {"url": url}, headers)
    print(f"subscription {created['subscription']['id']}")
    print(f"webhook_secret {created['secret']}")
    return created


def webhook_verified(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """Whether a delivery is the service's (Standard Webhooks, docs/events.md): HMAC-SHA256
    keyed with the secret's bytes over `id.timestamp.raw body`, a timestamp within 5 minutes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = headers["Webhook-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = f"{headers['Webhook-Id']}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, value.removeprefix("v1,"))
        for value in headers["Webhook-Signature"].split()
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def issue_with_own_key(api: Api, body: dict, key_path: str, cert_path: str) -> dict:
    """Prepare, sign the signing input with the doctor's key (ES256 for an EC P-256 key,
    PS256 for RSA), submit the compact JWS; retried with the same Idempotency-Key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    with open(key_path, "rb") as file:
        private_key = serialization.load_pem_private_key(file.read(), password=None)
    with open(cert_path, "rb") as file:
        certificate = x509.load_pem_x509_certificate(file.read())
    x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    alg = "ES256" if isinstance(private_key, ec.EllipticCurvePrivateKey) else "PS256"
    prepared = api.json("POST", "/api/v1/prescriptions/prepare", {**body, "alg": alg, "x5c": [x5c]})
    signing_input = prepared["signing_input"].encode("ascii")
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants r || s
    elif isinstance(private_key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = private_key.sign(signing_input, pss, hashes.SHA256())
    else:
        raise ApiError(0, "unsupported_key", "an EC P-256 or an RSA key")
    print(f"prepared {prepared['number']}, signed {alg} before {prepared['sign_before']}")
    submitted = {**body, "jws": prepared["signing_input"] + "." + b64url(signature)}
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    status, first = api.call("POST", "/api/v1/prescriptions/signed", submitted, headers)
    status_again, again = api.call("POST", "/api/v1/prescriptions/signed", submitted, headers)
    if (status_again, again) != (status, first):
        raise ApiError(status_again, "retry_differs", "the retry did not replay the answer")
    print(f"retry with the same Idempotency-Key: the same answer ({status})")
    return json.loads(first)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_login_options(parser)
    parser.add_argument("--patient-nir", required=True)
    parser.add_argument("--medication", required=True, help="a name, substance, CIS or CIP13")
    parser.add_argument("--dosage", default="1 comprimé 3 fois par jour")
    parser.add_argument("--quantity", type=int, default=1)
    parser.add_argument("--pin", help="the signing PIN (the server-held key)")
    parser.add_argument("--external-key", help="the doctor's private key (PEM)")
    parser.add_argument("--cert", help="the doctor's certificate (PEM), with --external-key")
    parser.add_argument("--webhook-url", help="subscribe the practice's events to this URL first")
    args = parser.parse_args(argv)
    if not args.pin and not (args.external_key and args.cert):
        parser.error("give --pin, or --external-key and --cert")
    api = Api(args.base_url)
    try:
        api.login(args.client_id, args.client_secret, args.username, args.password)
        if args.webhook_url:
            subscribe(api, args.webhook_url)
        product = find_medication(api, args.medication)
        print(f"medication {product['cis']} {product['name']}")
        body = {
            "patient_nir": args.patient_nir,
            "items": [
                {"cis": product["cis"], "dosage_text": args.dosage, "quantity": args.quantity}
            ],
        }
        body = reviewed(api, body)
        if args.external_key:
            issued = issue_with_own_key(api, body, args.external_key, args.cert)
        else:
            issued = issue_with_pin(api, body, args.pin)
    except ApiError as error:
        print(f"error {error.code} ({error.status}): {error.detail}", file=sys.stderr)
        return 1
    print(f"number {issued['number']}")
    print(f"qr_text {issued['qr_text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
