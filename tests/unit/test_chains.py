"""Paths of outside signers (signing/chains.py): root → intermediate(s) → card, built from x5c in
any order and checked; each accepted path is also accepted by cryptography's own verifier, each
bad one refused for its reason."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from eprescription.signing import chains

HOUR = timedelta(hours=1)
NOW = datetime.now(UTC).replace(microsecond=0)
CA_USAGE = dict(key_cert_sign=True, crl_sign=True)


def usage(**enabled) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: enabled.get(name, False) for name in names})


class Ca:
    def __init__(self, name, issuer=None, path_length=None, ca=True, key_usage=..., days=365):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer = issuer or self
        builder = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(signer.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - 24 * HOUR)
            .not_valid_after(NOW + days * 24 * HOUR)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
        )
        if key_usage is ...:
            key_usage = usage(**CA_USAGE)
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
        self.certificate = builder.sign(signer.key, hashes.SHA256())

    def card(self, key_usage=None, not_before=None, not_after=None) -> x509.Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Claire Martin")]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - HOUR)
            .not_valid_after(not_after or NOW + 24 * HOUR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage or usage(content_commitment=True), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )


def independently_verified(root: Ca, leaf, intermediates) -> list[x509.Certificate]:
    """cryptography's RFC 5280 path validation (its CA profile; no TLS rules on the card)."""
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([root.certificate]))
        .time(NOW)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    return verifier.verify(leaf, intermediates).chain


def refused(chain, anchors, kind, when=NOW) -> chains.PathRefused:
    with pytest.raises(chains.PathRefused) as caught:
        chains.check(chains.build(chain, anchors), when)
    assert caught.value.kind == kind, str(caught.value)
    return caught.value


def test_a_card_under_an_intermediate_chains_to_the_root():
    root = Ca("AC RACINE", path_length=1)
    issuing = Ca("AC FORTE PERSONNES", root, path_length=0)
    leaf = issuing.card()

    path = chains.build([leaf, issuing.certificate], [root.certificate])
    chains.check(path, NOW)

    assert path.certificates == (leaf, issuing.certificate, root.certificate)
    assert path.issued() == [(leaf, issuing.certificate), (issuing.certificate, root.certificate)]
    assert independently_verified(root, leaf, [issuing.certificate]) == list(path.certificates)


def test_x5c_in_any_order_with_the_root_sent_too_uses_the_imported_root():
    root = Ca("AC RACINE", path_length=2)
    upper = Ca("AC INTERMEDIAIRE", root, path_length=1)
    lower = Ca("AC FORTE PERSONNES", upper, path_length=0)
    leaf = lower.card()

    path = chains.build(
        [leaf, root.certificate, upper.certificate, lower.certificate], [root.certificate]
    )
    chains.check(path, NOW)

    assert path.certificates == (leaf, lower.certificate, upper.certificate, root.certificate)
    assert independently_verified(root, leaf, [upper.certificate, lower.certificate])


def test_a_missing_intermediate_does_not_chain():
    root = Ca("AC RACINE")
    issuing = Ca("AC FORTE PERSONNES", root)

    problem = refused([issuing.card()], [root.certificate], chains.UNTRUSTED)
    assert "does not chain" in str(problem)


def test_a_root_nobody_imported_does_not_chain():
    root, other = Ca("AC RACINE"), Ca("AC AUTRE")
    issuing = Ca("AC FORTE PERSONNES", root)

    refused(
        [issuing.card(), issuing.certificate, root.certificate],
        [other.certificate],
        chains.UNTRUSTED,
    )


def test_an_intermediate_that_is_no_ca_may_not_issue():
    root = Ca("AC RACINE")
    not_a_ca = Ca("FAUSSE AC", root, ca=False, key_usage=usage(digital_signature=True))

    problem = refused(
        [not_a_ca.card(), not_a_ca.certificate], [root.certificate], chains.CONSTRAINTS
    )
    assert problem.certificate == not_a_ca.certificate


def test_a_path_longer_than_the_roots_path_length_is_refused():
    root = Ca("AC RACINE", path_length=0)
    issuing = Ca("AC FORTE PERSONNES", root, path_length=0)

    problem = refused([issuing.card(), issuing.certificate], [root.certificate], chains.CONSTRAINTS)
    assert "pathLenConstraint" in str(problem) and problem.certificate == root.certificate
    with pytest.raises(verification.VerificationError):
        independently_verified(root, issuing.card(), [issuing.certificate])


@pytest.mark.parametrize("key_usage", [None, usage(digital_signature=True, crl_sign=True)])
def test_an_intermediate_without_key_cert_sign_may_not_issue(key_usage):
    root = Ca("AC RACINE")
    issuing = Ca("AC FORTE PERSONNES", root, key_usage=key_usage)

    problem = refused([issuing.card(), issuing.certificate], [root.certificate], chains.CONSTRAINTS)
    assert "keyCertSign" in str(problem)


def test_an_intermediate_expired_at_the_signing_time_is_named():
    root = Ca("AC RACINE")
    issuing = Ca("AC FORTE PERSONNES", root, days=1)
    leaf = issuing.card(not_after=NOW + 48 * HOUR)

    problem = refused(
        [leaf, issuing.certificate], [root.certificate], chains.EXPIRED, NOW + 30 * HOUR
    )
    assert problem.certificate == issuing.certificate
    assert str(problem).startswith("AC FORTE PERSONNES's certificate expired")


def test_a_card_not_yet_valid_at_the_signing_time():
    root = Ca("AC RACINE")

    refused([root.card(not_before=NOW + HOUR)], [root.certificate], chains.NOT_YET_VALID)


def test_a_card_not_for_signatures():
    root = Ca("AC RACINE")

    refused(
        [root.card(key_usage=usage(key_encipherment=True))], [root.certificate], chains.LEAF_USAGE
    )


def test_a_loop_of_certificates_ends():
    root = Ca("AC RACINE")
    issuing = Ca("AC FORTE PERSONNES", root)
    chain = [issuing.card(), *[issuing.certificate] * 4]

    refused(chain, [], chains.UNTRUSTED)
