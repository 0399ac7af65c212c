#!/usr/bin/env python3
"""Check the e-prescription service's audit log from outside (RFC 9162 Merkle tree).

    verify_audit_proof.py checkpoint  BASE_URL [--ca CA.pem]
    verify_audit_proof.py inclusion   BASE_URL --entry ENTRY.json [--ca CA.pem]
    verify_audit_proof.py inclusion   BASE_URL --leaf-data B64 --index N --size N --proof B64,...
    verify_audit_proof.py consistency BASE_URL --from M --to N [--ca CA.pem]

It needs only the Python standard library and `cryptography`, and on purpose imports nothing
of the service: the few hashing and verification steps are written out here so that this file
can be read, and trusted, on its own. Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

CHECKPOINT_TYPE = "eprescription.audit_checkpoint"
HASH_SIZE = 32
MAX_RESPONSE = 10 * 1024 * 1024


class VerificationError(Exception):
    """A check failed; the message says which and why."""


# RFC 9162 2.1: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).
def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hashes_ok(*values: object) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def _size_ok(*values: object) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if not (_size_ok(index, size) and index < size and _hashes_ok(leaf, root, *proof)):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step; equal sizes (equal roots) and the empty old tree need
    an empty proof, as there is nothing to prove."""
    if not (_size_ok(old_size, new_size) and _hashes_ok(old_root, new_root, *proof)):
        return False
    if old_size >= new_size:
        return old_size == new_size and not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, hashlib.sha256(b"").digest())
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


def b64decode(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)  # type: ignore[arg-type]
    except (binascii.Error, TypeError, ValueError) as error:
        raise VerificationError(f"{what} is not base64") from error


def b64url_decode(text: str, what: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise VerificationError(f"{what} is not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SignedHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    signer: str
    notes: tuple[str, ...]


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)  # issuer name and signature
    except (ValueError, TypeError, InvalidSignature):
        return False
    return _is_ca(issuer)


def _certificate_path(chain: list[x509.Certificate], ca: x509.Certificate) -> list:
    """[leaf, …, ca]: from the signing certificate through x5c's others up to the given CA."""
    path, unused = [chain[0]], chain[1:]
    while not _issued_by(path[-1], ca):
        issuer = next((c for c in unused if _issued_by(path[-1], c)), None)
        if issuer is None:
            raise VerificationError("the signing certificate does not chain to the given CA")
        unused.remove(issuer)
        path.append(issuer)
    return [*path, ca]


def _parse_jws(token: str) -> tuple[dict, object, list[x509.Certificate]]:
    """(header, payload) of an ES256 JWS whose signature the x5c leaf's key verifies, and
    the x5c certificates, leaf first."""
    parts = token.split(".")
    if len(parts) != 3:
        raise VerificationError("the jws is not a compact JWS (three parts)")
    header_bytes, payload_bytes, signature = (b64url_decode(p, "a JWS part") for p in parts)
    try:
        header, payload = json.loads(header_bytes), json.loads(payload_bytes)
    except (UnicodeDecodeError, ValueError) as error:
        raise VerificationError("the JWS header or payload is not JSON") from error
    if not isinstance(header, dict) or header.get("alg") != "ES256" or "crit" in header:
        raise VerificationError("the JWS header must say alg ES256 (and nothing critical)")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise VerificationError("the JWS header has no x5c certificate chain")
    try:
        chain = [x509.load_der_x509_certificate(b64decode(c, "an x5c entry")) for c in x5c]
        key = chain[0].public_key()
    except (ValueError, UnsupportedAlgorithm) as error:
        raise VerificationError("an x5c entry is not a readable DER certificate") from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VerificationError("the signing certificate does not hold a P-256 key")
    if len(signature) != 64:  # ES256 signs r || s, 32 bytes each (RFC 7518 3.4)
        raise VerificationError("an ES256 signature is 64 bytes")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key.verify(
            encode_dss_signature(r, s),
            f"{parts[0]}.{parts[1]}".encode("ascii"),  # what JWS signs: header.payload as sent
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature as error:
        raise VerificationError("the ES256 signature does not match") from error
    return header, payload, chain


def verify_signed_head(
    head_json: dict | str | bytes, ca_pem: bytes | str | None = None
) -> SignedHead:
    """Check one signed tree head (a checkpoint); returns a SignedHead or raises."""
    try:
        head = json.loads(head_json) if isinstance(head_json, str | bytes) else head_json
    except ValueError as error:
        raise VerificationError("the checkpoint is not JSON") from error
    if not isinstance(head, dict) or not isinstance(head.get("jws"), str):
        raise VerificationError("the checkpoint is not a JSON object with a jws")
    size, timestamp = head.get("tree_size"), head.get("timestamp")
    root = b64decode(head.get("root_hash"), "root_hash")
    if not _size_ok(size) or len(root) != HASH_SIZE or not isinstance(timestamp, str):
        raise VerificationError("tree_size, root_hash or timestamp is malformed")
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError as error:
        raise VerificationError(f"the timestamp {timestamp!r} is not ISO 8601") from error
    if when.tzinfo is None:
        raise VerificationError("the timestamp has no time zone")
    _, payload, chain = _parse_jws(head["jws"])
    signer = chain[0].subject.rfc4514_string()
    notes = [f"ES256 signature valid, by {signer}"]
    if not isinstance(payload, dict) or payload.get("type") != CHECKPOINT_TYPE:
        raise VerificationError(f"the signed payload is not an {CHECKPOINT_TYPE}")
    if payload.get("version") != 1:
        raise VerificationError(f"unknown checkpoint version {payload.get('version')!r}")
    signed_size = payload.get("tree_size")
    signed_root = b64decode(payload.get("root_hash"), "the signed root_hash")
    if (
        not _size_ok(signed_size)
        or signed_size != size
        or not hmac.compare_digest(signed_root, root)
        or payload.get("timestamp") != timestamp
    ):
        raise VerificationError("the signed tree_size, root_hash or timestamp differ from the JSON")
    notes.append("the signed payload states the same tree_size, root_hash and timestamp")
    if ca_pem is None:
        path = chain[:1]
        notes.append("WARNING: no --ca given, so who holds the signing key was not checked")
    else:
        try:
            ca = x509.load_pem_x509_certificate(
                ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
            )
        except ValueError as error:
            raise VerificationError("the --ca file is not a PEM certificate") from error
        path = _certificate_path(chain, ca)
        notes.append(f"the certificate chains to the CA {ca.subject.rfc4514_string()}")
    for certificate in path:  # valid when it signed, the head's own timestamp
        if not certificate.not_valid_before_utc <= when <= certificate.not_valid_after_utc:
            subject = certificate.subject.rfc4514_string()
            raise VerificationError(f"{subject}'s certificate was not valid at {timestamp}")
    notes.append(f"{'the certificates were' if ca_pem else 'the certificate was'} valid then")
    return SignedHead(size, root, timestamp, signer, tuple(notes))


def fetch_json(url: str):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read(MAX_RESPONSE + 1)
    except (urllib.error.URLError, OSError) as error:
        raise VerificationError(f"could not fetch {url}: {error}") from error
    if len(body) > MAX_RESPONSE:
        raise VerificationError(f"the answer of {url} is too large")
    try:
        return json.loads(body)
    except ValueError as error:
        raise VerificationError(f"the answer of {url} is not JSON") from error


def fetch_head(base_url: str, size: int | None, ca_pem) -> SignedHead:
    path = "checkpoint" if size is None else f"checkpoints/{size}"
    head = verify_signed_head(fetch_json(f"{base_url}/api/v1/audit/{path}"), ca_pem)
    if size is not None and head.tree_size != size:
        raise VerificationError(f"asked for the tree head of size {size}, got {head.tree_size}")
    print(f"tree head: size {head.tree_size}, root {head.root_hash.hex()}, at {head.timestamp}")
    for note in head.notes:
        print(f"  {note}")
    return head


def _proof(hashes: object) -> list[bytes]:
    if not isinstance(hashes, list):
        raise VerificationError("the proof is not a list of hashes")
    return [b64decode(h, "a proof hash") for h in hashes]


def check_inclusion(base_url: str, entry: dict, ca_pem) -> None:
    try:
        index, data = entry["leaf_index"], b64decode(entry["leaf_data"], "leaf_data")
        size, hashes = entry["inclusion_proof"]["tree_size"], entry["inclusion_proof"]["hashes"]
    except (KeyError, TypeError) as error:
        raise VerificationError(f"the entry lacks {error}") from error
    if not _size_ok(index, size):
        raise VerificationError("leaf_index or tree_size is not a whole number")
    head = fetch_head(base_url, size, ca_pem)
    if not verify_inclusion(leaf_hash(data), index, size, _proof(hashes), head.root_hash):
        raise VerificationError(f"leaf {index} is NOT proven in the tree of size {size}")
    print(f"inclusion: leaf {index} (SHA-256 of 0x00 || data) is in the signed tree of {size}")


def check_consistency(base_url: str, old_size: int, new_size: int, ca_pem) -> None:
    old, new = fetch_head(base_url, old_size, ca_pem), fetch_head(base_url, new_size, ca_pem)
    answer = fetch_json(f"{base_url}/api/v1/audit/consistency?from={old_size}&to={new_size}")
    asked = (old_size, new_size)
    if not isinstance(answer, dict) or (answer.get("from"), answer.get("to")) != asked:
        raise VerificationError("the consistency answer is not for the sizes asked")
    proof = _proof(answer.get("proof"))
    if not verify_consistency(old_size, new_size, old.root_hash, new.root_hash, proof):
        raise VerificationError(f"the tree of {new_size} is NOT proven to extend {old_size}")
    print(f"consistency: the tree of {new_size} leaves extends the tree of {old_size}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("checkpoint", "inclusion", "consistency"):
        command = commands.add_parser(name)
        command.add_argument("base_url")
        command.add_argument("--ca", help="PEM certificate of the CA that must have signed")
    inclusion = commands.choices["inclusion"]
    inclusion.add_argument("--entry", help="one access-log entry, as JSON, from the service")
    inclusion.add_argument("--leaf-data", help="base64 of the exact leaf bytes")
    inclusion.add_argument("--index", type=int)
    inclusion.add_argument("--size", type=int)
    inclusion.add_argument("--proof", default="", help="base64 hashes, comma-separated")
    commands.choices["consistency"].add_argument("--from", dest="old", type=int, required=True)
    commands.choices["consistency"].add_argument("--to", dest="new", type=int, required=True)
    args = parser.parse_args(argv)
    base_url = args.base_url.rstrip("/")
    try:
        ca_pem = Path(args.ca).read_bytes() if args.ca else None
        if args.command == "checkpoint":
            fetch_head(base_url, None, ca_pem)
        elif args.command == "consistency":
            check_consistency(base_url, args.old, args.new, ca_pem)
        elif args.entry:
            check_inclusion(base_url, json.loads(Path(args.entry).read_text("utf-8")), ca_pem)
        elif None in (args.leaf_data, args.index, args.size):
            parser.error("inclusion needs --entry, or --leaf-data, --index and --size")
        else:
            proof = {"tree_size": args.size, "hashes": [h for h in args.proof.split(",") if h]}
            entry = {
                "leaf_index": args.index,
                "leaf_data": args.leaf_data,
                "inclusion_proof": proof,
            }
            check_inclusion(base_url, entry, ca_pem)
    except (VerificationError, OSError, ValueError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print("OK: every check passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
