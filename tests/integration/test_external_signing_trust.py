"""Trust for external signing on both engines: cards under intermediate CAs (root → intermediate
→ card, as IGC-Santé issues them), OCSP where the operator set it (a real responder on
loopback), and removing a trusted CA (`flask pki trust remove`)."""

import pytest
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509 import verification
from sqlalchemy import select

from eprescription.models import AuditEvent
from eprescription.signing import jws, ocsp
from tests.integration import test_external_signing as signing
from tests.integration.test_external_signing import (
    OutsideCa,
    _usage,
    now,
    people,
    pharmacist,
    prescriptions,
    products,
    refused,
    sign,
    signed_by,
    submit,
    x5c,
)
from tests.unit.test_ocsp import Responder

__all__ = ["people", "pharmacist", "products"]  # fixtures used here

ROOT = "AC TEST RACINE IGC-SANTE"


def cli(runner, *args: str, expect: int = 0):
    result = runner.invoke(args=list(args))
    assert result.exit_code == expect, result.output
    return result


def trust(runner, tmp_path, ca: OutsideCa, *options: str):
    path = tmp_path / f"ca-{ca.serial}.pem"
    path.write_bytes(ca.pem())
    return cli(runner, "pki", "trust", "add", str(path), *options)


def load_crl(runner, tmp_path, ca: OutsideCa, revoked=()):
    path = tmp_path / f"crl-{ca.serial}.pem"
    path.write_bytes(ca.crl(revoked=revoked))
    return cli(runner, "pki", "crl", "load", str(path))


def fingerprint(ca: OutsideCa) -> str:
    return jws.fingerprint(ca.certificate).hex()


def accepted(client, people, products, key, chain: list[str]) -> dict:
    prepared = signing.prepare(client, people, products)
    response = submit(
        client, people, products, sign(prepared["payload"].encode(), key, chain, "ES256")
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def tree(runner, tmp_path, people):
    """A root the operator trusts and an intermediate it issued, imported for its CRL; both
    CRLs loaded (the root's lists revoked intermediates)."""
    root = OutsideCa(ROOT, path_length=1)
    issuing = root.intermediate()
    trust(runner, tmp_path, root)
    trust(runner, tmp_path, issuing, "--intermediate")
    load_crl(runner, tmp_path, root)
    load_crl(runner, tmp_path, issuing)
    return root, issuing


@pytest.fixture
def responder(people):
    """An OCSP responder on loopback, for what `ca` (set by the test) issued."""
    running: list[Responder] = []

    def start(ca: OutsideCa) -> Responder:
        running.append(Responder(ca.certificate, ca.key))
        return running[-1]

    yield start
    for one in running:
        one.close()


# -- intermediate CAs -------------------------------------------------------------------------


def test_a_card_under_an_intermediate_is_issued_and_verifies_on_every_face(
    client, runner, people, products, pharmacist, tree
):
    root, issuing = tree
    key, card = issuing.card()

    issued = accepted(client, people, products, key, x5c(card, issuing.certificate))

    read = client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])
    assert read.get_json()["verified"] is True
    # cryptography's own path validation, from the published root, agrees.
    listed = client.get("/api/v1/trust/certificates").get_json()["authorities"]
    (published,) = [a for a in listed if a["kind"] == "prescriber_ca"]
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([x509.load_pem_x509_certificate(published["pem"].encode())]))
        .time(now())
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    assert verifier.verify(card, [issuing.certificate]).chain[-1] == root.certificate
    scan = client.post(
        signing.dispensing.SCAN, json={"code": issued["qr_text"]}, headers=pharmacist
    )
    assert scan.status_code == 200 and scan.get_json()["signature"]["valid"] is True
    assert "ok   binding" in cli(runner, "verify", issued["id"]).output


def test_the_trust_list_publishes_the_intermediate_apart_from_the_anchors(client, tree):
    root, issuing = tree

    listed = client.get("/api/v1/trust/certificates").get_json()["authorities"]

    outside = {a["fingerprint"]: a for a in listed if a["kind"].startswith("prescriber_")}
    assert outside[fingerprint(root)]["kind"] == "prescriber_ca"
    assert outside[fingerprint(issuing)]["kind"] == "prescriber_intermediate_ca"
    assert {a["status"] for a in outside.values()} == {"trusted"}


def test_an_intermediate_of_the_same_name_under_another_root_is_refused(
    client, db_session, people, products, tree
):
    _, issuing = tree
    key, card = issuing.card()
    other_root = OutsideCa("AC AUTRE RACINE", path_length=1)
    rogue = OutsideCa(issuing.name.rfc4514_string(), issuer=other_root)  # same name, other key
    rogue_key, rogue_card = rogue.card()

    refused(
        client,
        db_session,
        people,
        products,
        signed_by(
            client,
            people,
            products,
            rogue_key,
            rogue_card,
            chain=x5c(rogue_card, rogue.certificate),
        ),
        "signer_certificate_untrusted",
    )
    assert accepted(client, people, products, key, x5c(card, issuing.certificate))


def test_the_intermediate_must_travel_in_x5c(client, db_session, people, products, tree):
    """Imported for its CRL, the intermediate is no anchor: a chain must reach the root."""
    _, issuing = tree
    key, card = issuing.card()

    token = signed_by(client, people, products, key, card)

    refused(client, db_session, people, products, token, "signer_certificate_untrusted")


def test_a_card_the_intermediates_crl_lists_is_refused(
    client, db_session, runner, tmp_path, people, products, tree
):
    _, issuing = tree
    key, card = issuing.card()
    load_crl(runner, tmp_path, issuing, revoked=[card])

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_certificate_revoked")
    assert "AC TEST IGC-SANTE FORTE PERSONNES lists certificate" in problem["detail"]


def test_an_intermediate_the_roots_crl_lists_is_refused(
    client, db_session, runner, tmp_path, people, products, tree
):
    root, issuing = tree
    key, card = issuing.card()
    load_crl(runner, tmp_path, root, revoked=[issuing.certificate])

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_certificate_revoked")
    assert f"the CRL of {ROOT} lists" in problem["detail"]


def test_every_face_reads_the_intermediates_crl_afterwards(
    client, runner, tmp_path, people, products, tree
):
    """A card revoked (listed dated before the signing) in the intermediate's CRL after its
    prescription was issued: the read no longer verifies it."""
    _, issuing = tree
    key, card = issuing.card()
    issued = accepted(client, people, products, key, x5c(card, issuing.certificate))
    load_crl(runner, tmp_path, issuing, revoked=[card])

    read = client.get(f"/api/v1/prescriptions/{issued['id']}", headers=people["doctor"])

    problem = signing.assert_problem(read, 409, "prescription_signature_invalid")
    assert "revocation: revoked on" in problem["detail"]


def test_an_intermediate_nobody_imported_cannot_be_checked_for_revocation(
    client, db_session, runner, tmp_path, people, products
):
    root = OutsideCa(ROOT, path_length=1)
    issuing = root.intermediate()
    trust(runner, tmp_path, root)
    load_crl(runner, tmp_path, root)
    key, card = issuing.card()

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_revocation_unknown")
    assert "no CRL of AC TEST IGC-SANTE FORTE PERSONNES is loaded" in problem["detail"]
    assert "--intermediate" in problem["detail"]


@pytest.mark.parametrize(
    ("root_path_length", "options", "why"),
    [
        (
            1,
            {"ca": False, "path_length": None, "usage": _usage(digital_signature=True)},
            "not a CA",
        ),
        (1, {"usage": _usage(digital_signature=True)}, "keyCertSign"),
        (0, {}, "pathLenConstraint"),
    ],
)
def test_an_intermediate_that_may_not_issue_is_refused(
    client, db_session, runner, tmp_path, people, products, root_path_length, options, why
):
    root = OutsideCa(ROOT, path_length=root_path_length)
    issuing = root.intermediate(**options)
    trust(runner, tmp_path, root)
    load_crl(runner, tmp_path, root)
    key, card = issuing.card()

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_chain_invalid")
    assert why in problem["detail"]


def test_an_intermediate_expired_at_the_signing_time_is_refused(
    client, db_session, runner, tmp_path, people, products
):
    root = OutsideCa(ROOT, path_length=1)
    issuing = root.intermediate(not_after=now() - signing.HOUR)
    trust(runner, tmp_path, root)
    load_crl(runner, tmp_path, root)
    key, card = issuing.card(not_before=now() - 2 * signing.HOUR)

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_certificate_expired")
    assert problem["detail"].startswith("AC TEST IGC-SANTE FORTE PERSONNES's certificate expired")


def test_an_intermediate_no_trusted_ca_issued_cannot_be_imported(runner, tmp_path, people):
    stray = OutsideCa(ROOT, path_length=1).intermediate()

    path = tmp_path / "stray.pem"
    path.write_bytes(stray.pem())
    result = cli(runner, "pki", "trust", "add", str(path), "--intermediate", expect=1)

    assert "no CA trusted for prescribers issued this intermediate CA" in result.output


# -- OCSP -------------------------------------------------------------------------------------


def ocsp_ca(runner, tmp_path, responder, setting: str | None = None):
    ca = OutsideCa(ROOT)
    running = responder(ca)
    trust(runner, tmp_path, ca, "--ocsp", setting or running.url)
    return ca, running


def test_a_good_ocsp_answer_is_enough_without_a_crl(
    client, db_session, runner, tmp_path, people, products, responder
):
    ca, running = ocsp_ca(runner, tmp_path, responder)
    key, card = ca.card()

    accepted(client, people, products, key, x5c(card))

    assert running.requests == 1


def test_ocsp_from_the_certificates_own_responder(
    client, runner, tmp_path, people, products, responder
):
    ca = OutsideCa(ROOT)
    running = responder(ca)
    trust(runner, tmp_path, ca, "--ocsp", "aia")
    key, card = ca.card(ocsp_url=running.url)

    accepted(client, people, products, key, x5c(card))

    assert running.requests == 1


def test_a_revoked_ocsp_answer_is_refused(
    client, db_session, runner, tmp_path, people, products, responder
):
    ca, running = ocsp_ca(runner, tmp_path, responder)
    key, card = ca.card()
    running.statuses[card.serial_number] = x509_ocsp.OCSPCertStatus.REVOKED

    token = signed_by(client, people, products, key, card)

    problem = refused(client, db_session, people, products, token, "signer_certificate_revoked")
    assert "OCSP responder" in problem["detail"] and "keyCompromise" in problem["detail"]


@pytest.mark.parametrize(
    ("mode", "status", "why"),
    [
        ("answer", x509_ocsp.OCSPCertStatus.UNKNOWN, "does not know this certificate"),
        ("slow", None, "did not answer within"),
        ("error", None, "answered HTTP 500"),
        ("garbage", None, "cannot be read"),
    ],
)
def test_when_the_responder_cannot_tell_it_is_refused_and_says_so(
    client,
    db_session,
    runner,
    tmp_path,
    people,
    products,
    responder,
    monkeypatch,
    mode,
    status,
    why,
):
    monkeypatch.setattr(ocsp, "TIMEOUT_SECONDS", 0.5)
    ca, running = ocsp_ca(runner, tmp_path, responder)
    key, card = ca.card()
    running.mode = mode
    if status is not None:
        running.statuses[card.serial_number] = status

    token = signed_by(client, people, products, key, card)

    problem = refused(client, db_session, people, products, token, "signer_ocsp_unavailable")
    assert why in problem["detail"] and "cannot be told" in problem["detail"]


def test_a_current_crl_answers_when_the_responder_cannot(
    client, runner, tmp_path, people, products, responder
):
    ca, running = ocsp_ca(runner, tmp_path, responder)
    load_crl(runner, tmp_path, ca)
    running.mode = "error"
    key, card = ca.card()

    accepted(client, people, products, key, x5c(card))


def test_a_roots_ocsp_setting_covers_the_whole_tree_under_it(
    client, db_session, runner, tmp_path, people, products, responder
):
    """`--ocsp aia` on the root: the card is asked about at the responder it names, and so
    would the intermediate be; this one names none, and no CRL of the root is loaded."""
    root = OutsideCa(ROOT, path_length=1)
    issuing = root.intermediate()
    issuing_responder = responder(issuing)
    trust(runner, tmp_path, root, "--ocsp", "aia")
    key, card = issuing.card(ocsp_url=issuing_responder.url)

    token = signed_by(client, people, products, key, card, chain=x5c(card, issuing.certificate))

    problem = refused(client, db_session, people, products, token, "signer_ocsp_unavailable")
    assert issuing_responder.requests == 1  # the card: good
    assert (
        "AC TEST IGC-SANTE FORTE PERSONNES's certificate names no OCSP responder"
        in (problem["detail"])
    )
    assert f"no CRL of {ROOT} is loaded" in problem["detail"]


def test_the_operator_sets_and_clears_ocsp(runner, tmp_path, people):
    ca = OutsideCa(ROOT)
    trust(runner, tmp_path, ca)

    set_it = trust(runner, tmp_path, ca, "--ocsp", "http://127.0.0.1:9/ocsp")
    listed = cli(runner, "pki", "trust", "list").output
    cleared = trust(runner, tmp_path, ca, "--ocsp", "none")
    wrong = cli(
        runner,
        "pki",
        "trust",
        "add",
        str(tmp_path / f"ca-{ca.serial}.pem"),
        "--ocsp",
        "ldap://x",
        expect=1,
    )

    assert (
        "OCSP http://127.0.0.1:9/ocsp" in set_it.output and "OCSP http://127.0.0.1:9/ocsp" in listed
    )
    assert "OCSP" not in cleared.output
    assert "--ocsp takes an http(s) URL" in wrong.output


# -- removing a trusted CA --------------------------------------------------------------------


def test_a_removed_ca_is_gone_from_the_trust_list_and_its_signatures_are_refused(
    client, db_session, runner, tmp_path, people, products, tree
):
    root, issuing = tree
    key, card = issuing.card()
    chain = x5c(card, issuing.certificate)
    earlier = accepted(client, people, products, key, chain)

    removed = cli(runner, "pki", "trust", "remove", fingerprint(root)[:16])

    assert f"Removed {root.name.rfc4514_string()}" in removed.output
    assert "FORTE PERSONNES" in removed.output  # its intermediate goes with it
    listed = client.get("/api/v1/trust/certificates").get_json()["authorities"]
    assert not [a for a in listed if a["kind"].startswith("prescriber_")]
    assert "CRL" not in cli(runner, "pki", "crl", "list").output
    actions = db_session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == "distrust_prescriber_ca")
    )
    assert sorted(actions) == sorted([fingerprint(root), fingerprint(issuing)])
    before = prescriptions(db_session)
    token = signed_by(client, people, products, key, card, chain=chain)
    problem = signing.assert_problem(
        submit(client, people, products, token), 422, "signer_certificate_untrusted"
    )
    assert "does not chain" in problem["detail"] and prescriptions(db_session) == before
    # What it signed no longer verifies either.
    read = client.get(f"/api/v1/prescriptions/{earlier['id']}", headers=people["doctor"])
    problem = signing.assert_problem(read, 409, "prescription_signature_invalid")
    assert "does not chain to a trusted CA" in problem["detail"]


def test_removing_needs_a_fingerprint_that_names_one_ca(runner, tmp_path, tree):
    short = cli(runner, "pki", "trust", "remove", "abcd", expect=1)
    unknown = cli(runner, "pki", "trust", "remove", "0" * 64, expect=1)

    assert "at least 16 hex digits" in short.output
    assert "no trusted prescriber CA has this fingerprint" in unknown.output


def test_the_crl_list_shows_each_cas_crl(runner, tmp_path, tree):
    listed = cli(runner, "pki", "crl", "list").output

    assert listed.count("CRL of") == 2 and ROOT in listed and "OUT OF DATE" not in listed
