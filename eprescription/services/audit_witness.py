"""A witness of another service's audit log: fetch its signed head, check the signature, and
check by a consistency proof that it extends the head seen before (a fork is caught here)."""

import base64
import json
import urllib.error
import urllib.request

from cryptography import x509

from eprescription.signing import jws, merkle
from eprescription.signing.canonical import canonical_json

CHECKPOINT_TYPE = "eprescription.audit_checkpoint"
TIMEOUT_SECONDS = 10


class WitnessError(Exception):
    """The head could not be fetched, does not verify, or does not extend the one seen."""


def _get(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ValueError, OSError) as error:
        raise WitnessError(f"could not read {url}: {error}") from error


def _anchors(base: str, ca_pem: bytes | None) -> list[x509.Certificate]:
    if ca_pem is not None:
        return x509.load_pem_x509_certificates(ca_pem)
    published = _get(f"{base}/api/v1/trust/certificates")
    return [x509.load_pem_x509_certificate(a["pem"].encode()) for a in published["authorities"]]


def check_head(head: dict, anchors: list[x509.Certificate]) -> dict:
    """The head if its JWS verifies (chain to `anchors`) and signs exactly its fields."""
    try:
        expected = canonical_json(
            {
                "type": CHECKPOINT_TYPE,
                "version": 1,
                "tree_size": int(head["tree_size"]),
                "root_hash": str(head["root_hash"]),
                "timestamp": str(head["timestamp"]),
            }
        )
        report = jws.verify_compact(str(head["jws"]), trust_anchors=anchors)
    except (KeyError, TypeError, ValueError) as error:
        raise WitnessError(f"the head is not a signed tree head: {error}") from error
    if not report.valid:
        raise WitnessError("the head's signature does not verify against the service's CA")
    if report.payload != expected:
        raise WitnessError("the signature does not cover the head's size, root and time")
    return head


def observe(url: str, previous: dict | None, ca_pem: bytes | None = None) -> dict:
    """The service's newest head, checked, and checked to extend `previous` (if any)."""
    base = url.rstrip("/")
    anchors = _anchors(base, ca_pem)
    head = check_head(_get(f"{base}/api/v1/audit/checkpoint"), anchors)
    if previous is None:
        return head
    old_size, new_size = int(previous["tree_size"]), int(head["tree_size"])
    old_root = base64.b64decode(previous["root_hash"])
    new_root = base64.b64decode(head["root_hash"])
    if new_size < old_size:
        raise WitnessError(
            f"FORK: the service now shows a log of {new_size} events, shorter than the "
            f"{old_size} seen before"
        )
    if new_size == old_size:
        if new_root != old_root:
            raise WitnessError(f"FORK: two different signed roots for the size {new_size}")
        return head
    answer = _get(f"{base}/api/v1/audit/consistency?from={old_size}&to={new_size}")
    proof = [base64.b64decode(digest) for digest in answer.get("proof", [])]
    if not merkle.verify_consistency(old_size, new_size, old_root, new_root, proof):
        raise WitnessError(
            f"FORK: the log of {new_size} events does not extend the one of {old_size} seen "
            "before (the consistency proof fails)"
        )
    return head
