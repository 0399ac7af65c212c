"""A pharmacy-software client of the e-prescription API (HTTP only): an OAuth 2.0 token for the
pharmacist through the registered software, scan a QR text, dispense every line with a
retry-safe Idempotency-Key, read the signed receipt and verify its JWS on our own (ES256,
x5c, chained to the service CA of the published trust list).

Usage (the demo pharmacist through the demo pharmacy software):

    python examples/pharmacy_client.py --base-url http://127.0.0.1:5000 \
        --client-id demo-pharmacy-software --client-secret demo-pharmacy-software-2026 \
        --username demo-pharmacist --password demo-pharmacist-2026 \
        --qr-text EP1.K7QMXW9PL4D8.ABCDEFGHIJKLMNOPQRSTUVWXYZ \
        --pack 1=3400935955838:LOT42:2028-11 \
        --pack "2=(01)03400930117163(17)281130(10)B1(21)S1"

One pack per line to dispense (CIP13:BATCH:EXPIRY, or the GS1 DataMatrix text); each line
gets what its current period leaves. Prints each line dispensed as the verified receipt
says. Any refusal: the problem's `code` on stderr and exit status 1. Needs `cryptography`
(for the signature check), nothing from the service.
"""

import argparse
import base64
import json
import sys
import uuid
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from practice_client import Api, ApiError, add_login_options  # the HTTP helper (examples/)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_receipt(jws: str, trust_list: dict) -> dict:
    """The receipt's signed content, once its ES256 signature verifies with the key of
    x5c[0], that certificate was issued by a CA of the service (kind "ca") and both were
    valid when the receipt was signed; ApiError receipt_unverified otherwise."""
    try:
        header_b64, payload_b64, signature_b64 = jws.split(".")
        header = json.loads(b64url_decode(header_b64))
        leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        signature = b64url_decode(signature_b64)
    except (ValueError, KeyError, IndexError) as error:
        raise ApiError(0, "receipt_unverified", f"not a JWS with x5c: {error}") from None
    if header.get("alg") != "ES256" or len(signature) != 64:
        raise ApiError(0, "receipt_unverified", f"unexpected alg {header.get('alg')}")
    public_key = leaf.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ApiError(0, "receipt_unverified", "the certificate's key is not an EC key")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ApiError(0, "receipt_unverified", "the signature does not verify") from None
    cas = [
        x509.load_pem_x509_certificate(authority["pem"].encode())
        for authority in trust_list["authorities"]
        if authority["kind"] == "ca"
    ]
    for ca in cas:
        try:
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        signed = json.loads(b64url_decode(payload_b64))
        at = datetime.fromisoformat(signed["issued_at"])
        for certificate in (leaf, ca):
            if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
                raise ApiError(0, "receipt_unverified", f"a certificate was not valid at {at}")
        signer, authority = leaf.subject.rfc4514_string(), ca.subject.rfc4514_string()
        print(f"verified receipt: ES256 by {signer}, CA {authority}")
        return signed
    raise ApiError(0, "receipt_unverified", "the certificate is not issued by the service's CA")


def pack_of(text: str) -> dict:
    """A pack as the API takes it: `CIP13:BATCH:EXPIRY` (typed from the box; expiry
    YYYY-MM-DD, MM/YYYY or YYYY-MM) or the GS1 DataMatrix text as scanned."""
    cip13, _, rest = text.partition(":")
    if cip13.isdigit() and len(cip13) == 13:
        batch, _, expiry = rest.partition(":")
        return {"cip13": cip13, "batch": batch, "expiry": expiry}
    return {"gs1": text}


def left(line: dict) -> int:
    """Packs the line's current period leaves (0 for a line cancelled or given in full)."""
    return line["period"]["remaining"] if line["status"] == "active" else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_login_options(parser)
    parser.add_argument("--qr-text", required=True, help="the QR code's text (EP1.…)")
    parser.add_argument(
        "--pack", action="append", default=[], help="LINE=CIP13:BATCH:EXPIRY or LINE=GS1 text"
    )
    args = parser.parse_args(argv)
    packs = {}
    for given in args.pack:
        line, _, text = given.partition("=")
        if not line.isdigit() or not text:
            parser.error(f"--pack {given!r}: LINE=CIP13:BATCH:EXPIRY or LINE=GS1 text")
        packs[int(line)] = text
    api = Api(args.base_url)
    try:
        api.login(args.client_id, args.client_secret, args.username, args.password)
        seen = api.json("POST", "/api/v1/pharmacy/scan", {"code": args.qr_text})
        if not seen["signature"]["valid"]:
            raise ApiError(409, "prescription_signature_invalid", "the scan did not verify")
        print(f"prescription {seen['number']} ({seen['status']}), signature valid")
        lines = [
            {**pack_of(packs[line["line"]]), "line": line["line"], "quantity": left(line)}
            for line in seen["items"]
            if line["line"] in packs and left(line) > 0
        ]
        if not lines:
            raise ApiError(409, "nothing_to_dispense", "no --pack for a line with something left")
        body = {"code": args.qr_text, "lines": lines, "collected_by": {"kind": "patient"}}
        headers = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": f'"{seen["version"]}"'}
        path = f"/api/v1/prescriptions/{seen['id']}/dispensations"
        status, first = api.call("POST", path, body, headers)
        if api.call("POST", path, body, headers) != (status, first):
            raise ApiError(status, "retry_differs", "the retry did not replay the answer")
        print(f"retry with the same Idempotency-Key: the same answer ({status})")
        receipt = api.json("GET", f"/api/v1/dispensations/{json.loads(first)['id']}")
        trust_list = api.json("GET", "/api/v1/trust/certificates")
        signed = verify_receipt(receipt["jws"], trust_list)
    except ApiError as error:
        print(f"error {error.code} ({error.status}): {error.detail}", file=sys.stderr)
        return 1
    print(f"receipt {receipt['id']} for {signed['prescription']['number']}")
    for line in signed["lines"]:
        pack = f"{line['quantity']} x {line['cip13']} {line['product']}"
        print(f"dispensed line {line['line']}: {pack} (batch {line['batch']}, {line['expiry']})")
    print(f"prescription status {receipt['prescription_status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
