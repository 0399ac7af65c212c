"""tools/verify_audit_proof.py, the outsiders' checker: it accepts the proofs and signed tree
heads the service makes and refuses tampered ones (its HTTP is replaced by a dict here)."""

import base64
import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from eprescription.signing import certificates, jws, merkle

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_proof.py"
BASE_URL = "https://audit.example.test"
SIGNED_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TIMESTAMP = "2026-12-01T10:00:00Z"
LEAVES = [f"access {i}".encode() for i in range(40)]


def load_script():
    spec = importlib.util.spec_from_file_location("verify_audit_proof", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


script = load_script()


def test_the_script_imports_only_the_standard_library_and_cryptography():
    imported = {
        line.split()[1].split(".")[0]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


class Tree:
    """A tree built with the service's merkle module, its nodes in a dict."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(leaves), 7):
            batch = [merkle.leaf_hash(d) for d in leaves[start : start + 7]]
            for level, index, digest in merkle.new_nodes(start, batch, self.lookup):
                self.nodes[(level, index)] = digest

    def lookup(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.lookup)


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree(LEAVES)


def flipped(digest: bytes) -> bytes:
    return digest[:-1] + bytes([digest[-1] ^ 1])


def test_the_scripts_hashes_are_the_services():
    assert script.leaf_hash(b"entry") == merkle.leaf_hash(b"entry")
    assert script.node_hash(b"a" * 32, b"b" * 32) == merkle.node_hash(b"a" * 32, b"b" * 32)


def test_the_script_accepts_every_inclusion_proof_and_refuses_tampered_ones(tree):
    for size in range(1, len(LEAVES) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, tree.lookup)
            leaf = merkle.leaf_hash(LEAVES[index])
            assert script.verify_inclusion(leaf, index, size, proof, root)
            assert not script.verify_inclusion(
                merkle.leaf_hash(b"forged"), index, size, proof, root
            )
            assert not script.verify_inclusion(leaf, index, size, proof, flipped(root))
            assert not script.verify_inclusion(leaf, index + 1, size, proof, root)
            assert not script.verify_inclusion(leaf, index, size, [*proof, root], root)
            if proof:
                assert not script.verify_inclusion(leaf, index, size, proof[:-1], root)
            for position in range(len(proof)):
                tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
                assert not script.verify_inclusion(leaf, index, size, tampered, root)
    assert not script.verify_inclusion(b"short", 0, 1, [], b"short")
    assert not script.verify_inclusion(b"x" * 32, 0, 2, ["text" * 8], b"x" * 32)


def test_the_script_accepts_every_consistency_proof_and_refuses_tampered_ones(tree):
    for new_size in range(1, len(LEAVES) + 1):
        new_root = tree.root(new_size)
        for old_size in range(new_size + 1):
            old_root = tree.root(old_size)
            proof = merkle.consistency_proof(old_size, new_size, tree.lookup)
            assert script.verify_consistency(old_size, new_size, old_root, new_root, proof)
            assert not script.verify_consistency(
                old_size, new_size, flipped(old_root), new_root, proof
            )
            if old_size:  # (the empty tree is consistent with any tree)
                assert not script.verify_consistency(
                    old_size, new_size, old_root, flipped(new_root), proof
                )
            assert not script.verify_consistency(
                old_size, new_size, old_root, new_root, [*proof, new_root]
            )
            if proof:
                assert not script.verify_consistency(
                    old_size, new_size, old_root, new_root, proof[:-1]
                )
            for position in range(len(proof)):
                tampered = [*proof[:position], flipped(proof[position]), *proof[position + 1 :]]
                assert not script.verify_consistency(
                    old_size, new_size, old_root, new_root, tampered
                )
    assert not script.verify_consistency(3, 2, tree.root(3), tree.root(2), [])
    assert not script.verify_consistency(1, 2, b"short", tree.root(2), [b"x" * 32])


# Signed tree heads (checkpoints), in the format the service publishes.


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate(subject, key, issuer=None, issuer_key=None, *, ca=False, days=365):
    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(SIGNED_AT - timedelta(days=1))
        .not_valid_after(SIGNED_AT + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def payload_for(size: int, root: bytes, timestamp: str = TIMESTAMP) -> bytes:
    return json.dumps(
        {
            "type": "eprescription.audit_checkpoint",
            "version": 1,
            "tree_size": size,
            "root_hash": b64(root),
            "timestamp": timestamp,
        }
    ).encode()


def signed_head(size: int, root: bytes, key, chain, **payload_changes) -> dict:
    """A checkpoint signed with the service's own JWS code."""
    payload = json.loads(payload_for(size, root))
    payload.update(payload_changes)
    token = jws.sign_compact(json.dumps(payload).encode(), key, chain)
    return {"tree_size": size, "root_hash": b64(root), "timestamp": TIMESTAMP, "jws": token}


@pytest.fixture(scope="module")
def self_signed():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, certificate("audit log (self-signed)", key)


@pytest.fixture(scope="module")
def issued():
    """(key, leaf certificate, CA certificate in PEM, another CA in PEM)."""
    ca_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    ca = certificate("Audit CA", ca_key, ca=True)
    other_ca = certificate("Audit CA", other_key, ca=True)  # same name, another key
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate("audit log signer", key, "Audit CA", ca_key)
    pem = [c.public_bytes(serialization.Encoding.PEM) for c in (ca, other_ca)]
    return key, leaf, ca, *pem


def test_a_head_signed_with_a_fresh_self_signed_key_is_accepted_with_a_warning(self_signed, tree):
    key, cert = self_signed
    head = signed_head(12, tree.root(12), key, [cert])
    checked = script.verify_signed_head(head)
    assert (checked.tree_size, checked.root_hash, checked.timestamp) == (
        12,
        tree.root(12),
        TIMESTAMP,
    )
    assert any("WARNING" in note for note in checked.notes)
    assert script.verify_signed_head(json.dumps(head)).root_hash == tree.root(12)


def test_a_head_signed_as_the_brief_describes_without_the_services_code_is_accepted(
    self_signed, tree
):
    key, cert = self_signed
    header = {"alg": "ES256", "x5c": [b64(cert.public_bytes(serialization.Encoding.DER))]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(payload_for(3, tree.root(3)))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    token = signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    head = {"tree_size": 3, "root_hash": b64(tree.root(3)), "timestamp": TIMESTAMP, "jws": token}
    assert script.verify_signed_head(head).tree_size == 3


def test_a_changed_payload_root_size_or_timestamp_is_refused(self_signed, tree):
    key, cert = self_signed
    head = signed_head(12, tree.root(12), key, [cert])
    header, _, signature = head["jws"].split(".")
    forged_payload = b64url(payload_for(12, tree.root(11)))
    changes = {
        "a changed payload": {"jws": f"{header}.{forged_payload}.{signature}"},
        "a changed root_hash": {"root_hash": b64(tree.root(11))},
        "a changed tree_size": {"tree_size": 11},
        "a changed timestamp": {"timestamp": "2026-12-01T10:00:01Z"},
        "a truncated signature": {"jws": head["jws"][:-4]},
        "no jws": {"jws": None},
        "a non-base64 root": {"root_hash": "not base64!"},
    }
    for what, change in changes.items():
        with pytest.raises(script.VerificationError):
            script.verify_signed_head({**head, **change})
            pytest.fail(f"{what} was accepted")


def test_a_head_signed_by_another_key_or_not_a_checkpoint_is_refused(self_signed, tree):
    key, cert = self_signed
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(script.VerificationError, match="signature"):
        script.verify_signed_head(signed_head(5, tree.root(5), other_key, [cert]))
    with pytest.raises(script.VerificationError, match="not an"):
        script.verify_signed_head(signed_head(5, tree.root(5), key, [cert], type="receipt"))
    with pytest.raises(script.VerificationError, match="version"):
        script.verify_signed_head(signed_head(5, tree.root(5), key, [cert], version=2))
    unsigned = signed_head(5, tree.root(5), key, [cert])
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    unsigned["jws"] = none_header + "." + unsigned["jws"].split(".", 1)[1]
    with pytest.raises(script.VerificationError, match="ES256"):
        script.verify_signed_head(unsigned)


def test_a_head_is_accepted_with_the_ca_that_issued_its_certificate_only(issued, tree):
    key, leaf, ca, ca_pem, other_ca_pem = issued
    for chain in ([leaf], [leaf, ca]):
        head = signed_head(7, tree.root(7), key, chain)
        checked = script.verify_signed_head(head, ca_pem)
        assert not any("WARNING" in note for note in checked.notes)
        assert script.verify_signed_head(head, ca_pem.decode()).tree_size == 7
        with pytest.raises(script.VerificationError, match="chain"):
            script.verify_signed_head(head, other_ca_pem)


def test_a_head_signed_by_the_services_own_kind_of_certificate_is_accepted_with_its_ca(tree):
    ca, ca_key = certificates.create_ca("Audit CA", SIGNED_AT - timedelta(days=30))
    key = certificates.generate_key()
    leaf = certificates.issue_service_certificate(
        ca, ca_key, key.public_key(), "eprescription audit log", SIGNED_AT - timedelta(days=1)
    )
    head = signed_head(9, tree.root(9), key, [leaf, ca])
    checked = script.verify_signed_head(head, certificates.to_pem(ca))
    assert "CN=eprescription audit log" in checked.signer


def test_a_head_signed_outside_its_certificates_validity_is_refused(issued, tree):
    key, leaf, _, ca_pem, _ = issued
    head = signed_head(7, tree.root(7), key, [leaf], timestamp="2030-01-01T00:00:00Z")
    head["timestamp"] = "2030-01-01T00:00:00Z"
    with pytest.raises(script.VerificationError, match="not valid"):
        script.verify_signed_head(head, ca_pem)


def test_a_ca_signed_leaf_chains_through_an_intermediate_in_x5c(tree):
    root_key, middle_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_ca = certificate("Root CA", root_key, ca=True)
    middle = certificate("Intermediate CA", middle_key, "Root CA", root_key, ca=True)
    leaf = certificate("audit log signer", key, "Intermediate CA", middle_key)
    root_pem = root_ca.public_bytes(serialization.Encoding.PEM)
    assert script.verify_signed_head(signed_head(4, tree.root(4), key, [leaf, middle]), root_pem)
    with pytest.raises(script.VerificationError, match="chain"):
        script.verify_signed_head(signed_head(4, tree.root(4), key, [leaf]), root_pem)
    # A certificate that is not a CA's cannot vouch for another one.
    not_ca = certificate("Intermediate CA", middle_key, "Root CA", root_key, ca=False)
    with pytest.raises(script.VerificationError, match="chain"):
        script.verify_signed_head(signed_head(4, tree.root(4), key, [leaf, not_ca]), root_pem)


def test_a_self_signed_certificate_that_is_no_ca_is_not_its_own_ca(self_signed, tree):
    key, cert = self_signed
    pem = cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(script.VerificationError, match="chain"):
        script.verify_signed_head(signed_head(4, tree.root(4), key, [cert]), pem)


# main(): the three commands, with the service's answers from a dict instead of HTTP.


@pytest.fixture
def service(monkeypatch, self_signed, tree):
    key, cert = self_signed
    answers = {f"{BASE_URL}/api/v1/audit/checkpoint": signed_head(40, tree.root(40), key, [cert])}
    for size in range(1, 41):
        answers[f"{BASE_URL}/api/v1/audit/checkpoints/{size}"] = signed_head(
            size, tree.root(size), key, [cert]
        )
    answers[f"{BASE_URL}/api/v1/audit/consistency?from=9&to=30"] = {
        "from": 9,
        "to": 30,
        "proof": [b64(h) for h in merkle.consistency_proof(9, 30, tree.lookup)],
    }

    def fetch_json(url):
        if url not in answers:
            raise script.VerificationError(f"could not fetch {url}: 404")
        return answers[url]

    monkeypatch.setattr(script, "fetch_json", fetch_json)
    return answers


def entry_file(tmp_path, tree, index=17, size=25, leaf=None):
    entry = {
        "leaf_index": index,
        "leaf_data": b64(LEAVES[index] if leaf is None else leaf),
        "inclusion_proof": {
            "tree_size": size,
            "hashes": [b64(h) for h in merkle.inclusion_proof(index, size, tree.lookup)],
        },
        "action": "prescription.read",
    }
    path = tmp_path / "entry.json"
    path.write_text(json.dumps(entry))
    return str(path)


def test_the_checkpoint_command_prints_what_it_checked(service, capsys):
    assert script.main(["checkpoint", BASE_URL + "/"]) == 0
    out = capsys.readouterr().out
    assert "size 40" in out and "ES256 signature valid" in out and "OK" in out


def test_the_inclusion_command_checks_an_entry_against_its_signed_head(service, tree, tmp_path):
    assert script.main(["inclusion", BASE_URL, "--entry", entry_file(tmp_path, tree)]) == 0
    forged = entry_file(tmp_path, tree, leaf=b"something else")
    assert script.main(["inclusion", BASE_URL, "--entry", forged]) == 1
    proof = ",".join(b64(h) for h in merkle.inclusion_proof(3, 8, tree.lookup))
    options = ["--leaf-data", b64(LEAVES[3]), "--index", "3", "--size", "8", "--proof", proof]
    assert script.main(["inclusion", BASE_URL, *options]) == 0
    options[3] = "4"
    assert script.main(["inclusion", BASE_URL, *options]) == 1


def test_the_consistency_command_checks_both_signed_heads_and_the_proof(service, tree, capsys):
    assert script.main(["consistency", BASE_URL, "--from", "9", "--to", "30"]) == 0
    assert "extends" in capsys.readouterr().out
    service[f"{BASE_URL}/api/v1/audit/consistency?from=9&to=30"]["proof"].pop()
    assert script.main(["consistency", BASE_URL, "--from", "9", "--to", "30"]) == 1
    assert "NOT proven" in capsys.readouterr().err
    assert script.main(["consistency", BASE_URL, "--from", "9", "--to", "31"]) == 1
