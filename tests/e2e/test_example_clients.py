"""The example clients (examples/, HTTP only) end to end against the live server on loopback,
each as a software client registered with `flask software register`: the practice client
issues, the pharmacy client dispenses from the printed QR text, and the audit events of their
actions name the software; the practice client's webhook subscription is delivered, signed."""

import base64
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from eprescription.db import get_session
from eprescription.models import AuditEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A patient of these tests only (no other test of the shared live app knows them), and a
# pack of DOLIPRANE 1000 mg (CIS 60234100, CIP13 3400935955838) as its DataMatrix reads.
PATIENT = ("h11-example-patient", "291077505677792", "Inès", "Moreau", "1991-07-20")
DOLIPRANE_CIS = "60234100"
PRESCRIBER = ("--username", "demo-prescriber", "--password", "demo-prescriber-2026")
PHARMACIST = ("--username", "demo-pharmacist", "--password", "demo-pharmacist-2026")
DEMO_RPPS = "10001234565"
DEMO_PRACTICE = "Cabinet de la Gare (demo)"  # services/software_demo.py: the demo prescribers'
DEMO_PHARMACY_FINESS = "750001232"  # services/demo.py: the demo pharmacist's
TIMEOUT = 60


def cli(live_app, *args: str) -> str:
    """A `flask …` command on the live server's database, as the operator runs it."""
    with live_app.app_context():  # FlaskGroup gives the commands an app context
        result = live_app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def register(live_app, name: str, *where: str) -> dict:
    """A program registered for its organisation: its client options and its audit label."""
    output = cli(
        live_app,
        "software",
        "register",
        "--name",
        name,
        "--vendor",
        "examples/",
        "--version",
        "1.0",
        *where,
    )
    client_id, secret = printed(output, "client_id:"), printed(output, "client_secret:")
    return {
        "options": ("--client-id", client_id, "--client-secret", secret),
        "label": f"{name} 1.0 ({client_id})",
    }


@pytest.fixture(scope="module")
def software(live_app) -> dict:
    """A practice program (the demo prescribers' practice) and a pharmacy program (the demo
    pharmacy), registered as an administrator does (docs/software-clients.md)."""
    practices = cli(live_app, "practices", "list").splitlines()
    practice_id = next(line.split("\t")[0] for line in practices if DEMO_PRACTICE in line)
    return {
        "practice": register(
            live_app, "Example Cabinet", "--practice", practice_id, "--scopes", "issue,read,events"
        ),
        "pharmacy": register(
            live_app,
            "Example Officine",
            "--pharmacy",
            DEMO_PHARMACY_FINESS,
            "--scopes",
            "dispense,read",
        ),
    }


def audited(live_app, label: str) -> list[tuple[str, str, str]]:
    """(action, object type, outcome) of every audit event that names this software."""
    with live_app.app_context():
        query = select(AuditEvent.action, AuditEvent.object_type, AuditEvent.outcome).where(
            AuditEvent.software == label
        )
        return [tuple(row) for row in get_session().execute(query)]


def run(script: str, base_url: str, *args: str) -> subprocess.CompletedProcess:
    """One client run as the vendor would run it: the venv's python, nothing of ours imported."""
    command = [sys.executable, str(EXAMPLES / script), "--base-url", base_url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=EXAMPLES)


def printed(output: str, name: str) -> str:
    """The value of the line `name value` a client printed."""
    prefix = f"{name} "
    return next(line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix))


@pytest.fixture(scope="module")
def patient_nir(live_app) -> str:
    """A patient recorded with `flask users create`, so these prescriptions meet no other test."""
    username, nir, given_name, family_name, birth_date = PATIENT
    result = live_app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--role",
            "patient",
            "--username",
            username,
            "--nir",
            nir,
            "--given-name",
            given_name,
            "--family-name",
            family_name,
            "--birth-date",
            birth_date,
            "--password",
            "an example patient's password 2026",
        ]
    )
    assert result.exit_code == 0, result.output
    return nir


def dispensed_from(live_server: str, software: dict, qr_text: str, serial: str) -> str:
    """The pharmacy client's output, dispensing line 1 from a scanned GS1 DataMatrix."""
    pack = f"1=(01)03400935955838(17)281130(10)EXAMPLE(21){serial}"
    pharmacy = run(
        "pharmacy_client.py",
        live_server,
        *software["pharmacy"]["options"],
        *PHARMACIST,
        "--qr-text",
        qr_text,
        "--pack",
        pack,
    )
    assert pharmacy.returncode == 0, pharmacy.stderr
    client_id = software["pharmacy"]["options"][1]
    assert f"token for demo-pharmacist through {client_id}: scope dispense read" in pharmacy.stdout
    assert "retry with the same Idempotency-Key: the same answer (201)" in pharmacy.stdout
    assert "verified receipt: ES256 by O=eprescription,CN=eprescription service" in pharmacy.stdout
    assert "dispensed line 1: 1 x 3400935955838 DOLIPRANE 1000 mg, comprimé" in pharmacy.stdout
    assert "(batch EXAMPLE, 2028-11-30)" in pharmacy.stdout
    assert printed(pharmacy.stdout, "prescription status") == "completed"
    return pharmacy.stdout


@pytest.fixture(scope="module")
def issued_and_dispensed(live_server, patient_nir, software) -> tuple[str, str]:
    """The practice client's and then the pharmacy client's output: issued with the PIN,
    dispensed from the printed QR text."""
    practice = run(
        "practice_client.py",
        live_server,
        *software["practice"]["options"],
        *PRESCRIBER,
        "--pin",
        "1234",
        "--patient-nir",
        patient_nir,
        "--medication",
        "doliprane",
    )
    assert practice.returncode == 0, practice.stderr
    client_id = software["practice"]["options"][1]
    assert f"token for demo-prescriber through {client_id}: scope events issue read" in (
        practice.stdout
    )
    assert f"medication {DOLIPRANE_CIS} DOLIPRANE 1000 mg, comprimé" in practice.stdout
    assert "the same answer (201)" in practice.stdout
    number, qr_text = printed(practice.stdout, "number"), printed(practice.stdout, "qr_text")
    assert qr_text.startswith(f"EP1.{number.replace('-', '')}.")

    return practice.stdout, dispensed_from(live_server, software, qr_text, "EX0001")


def test_the_practice_client_issues_and_the_pharmacy_client_dispenses_it(issued_and_dispensed):
    practice, pharmacy = issued_and_dispensed
    number = printed(practice, "number").replace("-", "")
    assert f"prescription {printed(practice, 'number')} (active), signature valid" in pharmacy
    assert printed(pharmacy, "receipt").endswith(f" for {number}")


def test_the_receipt_check_refuses_a_changed_receipt_or_another_ca(
    live_server, issued_and_dispensed, software, monkeypatch
):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import pharmacy_client

    api = pharmacy_client.Api(live_server)
    api.login(*software["pharmacy"]["options"][1::2], *PHARMACIST[1::2])
    receipt_id = printed(issued_and_dispensed[1], "receipt").split()[0]
    jws = api.json("GET", f"/api/v1/dispensations/{receipt_id}")["jws"]
    trust_list = api.json("GET", "/api/v1/trust/certificates")
    assert pharmacy_client.verify_receipt(jws, trust_list)["lines"][0]["quantity"] == 1

    header, payload, signature = jws.split(".")
    changed = json.loads(pharmacy_client.b64url_decode(payload))
    changed["lines"][0]["quantity"] = 2
    forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    others = {"authorities": [a for a in trust_list["authorities"] if a["kind"] != "ca"]}
    for token, trusted in ((f"{header}.{forged}.{signature}", trust_list), (jws, others)):
        with pytest.raises(pharmacy_client.ApiError) as refused:
            pharmacy_client.verify_receipt(token, trusted)
        assert refused.value.code == "receipt_unverified"


def openssl(tmp_path: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def outside_ca(live_app, tmp_path_factory) -> Path:
    """A card-issuing CA made with openssl as docs/signing.md shows, trusted by the operator
    (`flask pki trust add`) with an empty CRL loaded (`flask pki crl load`)."""
    folder = tmp_path_factory.mktemp("outside-ca")
    openssl(
        folder,
        "req",
        "-x509",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "365",
        "-subj",
        "/C=FR/CN=AC TEST PRESCRIPTEURS (examples)",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    (folder / "index.txt").touch()
    (folder / "crlnumber").write_text("01\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
        "default_md=sha256\ndefault_crl_days=1\n"
    )
    openssl(
        folder,
        "ca",
        "-config",
        "ca.cnf",
        "-gencrl",
        "-keyfile",
        "ca.key",
        "-cert",
        "ca.pem",
        "-out",
        "ca.crl",
    )
    runner = live_app.test_cli_runner()
    for command in (["pki", "trust", "add", "ca.pem"], ["pki", "crl", "load", "ca.crl"]):
        with live_app.app_context():  # `flask pki trust …` gets it from FlaskGroup
            result = runner.invoke(args=[*command[:-1], str(folder / command[-1])])
        assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize(
    ("key_type", "alg"),
    [(("rsa:2048",), "PS256"), (("ec", "-pkeyopt", "ec_paramgen_curve:P-256"), "ES256")],
)
def test_the_practice_client_signs_with_the_doctors_own_key(
    live_server, patient_nir, outside_ca, software, key_type, alg
):
    folder = outside_ca
    key, csr, cert = f"doctor-{alg}.key", f"doctor-{alg}.csr", f"doctor-{alg}.pem"
    openssl(
        folder,
        "req",
        "-new",
        "-newkey",
        *key_type,
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        f"/C=FR/CN=Claire Martin/serialNumber={DEMO_RPPS}",
    )
    (folder / "leaf.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
    )
    openssl(
        folder,
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        "leaf.ext",
        "-out",
        cert,
    )

    practice = run(
        "practice_client.py",
        live_server,
        *software["practice"]["options"],
        *PRESCRIBER,
        "--patient-nir",
        patient_nir,
        "--medication",
        DOLIPRANE_CIS,
        "--external-key",
        str(folder / key),
        "--cert",
        str(folder / cert),
    )
    assert practice.returncode == 0, practice.stderr
    assert f"signed {alg} before" in practice.stdout
    assert "retry with the same Idempotency-Key: the same answer (201)" in practice.stdout
    dispensed_from(live_server, software, printed(practice.stdout, "qr_text"), f"EX{alg}")


def test_a_refusal_exits_non_zero_with_the_problem_code(live_server, software):
    pharmacy = software["pharmacy"]["options"]
    refused = run(
        "pharmacy_client.py", live_server, *pharmacy, *PHARMACIST, "--qr-text", "EP1.NOT-A-CODE"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error invalid_qr_code (422)"), refused.stderr

    def practice_run(*login: str) -> subprocess.CompletedProcess:
        return run(
            "practice_client.py",
            live_server,
            *login,
            "--pin",
            "0000",
            "--patient-nir",
            "291077505677792",
            "--medication",
            "doliprane",
        )

    practice = software["practice"]["options"]
    unknown = practice_run(*practice, "--username", "h11-nobody", "--password", "wrong")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error oauth_grant_refused (400)"), unknown.stderr
    wrong_secret = practice_run(*practice[:3], "not-its-secret", *PRESCRIBER)
    assert wrong_secret.returncode == 1
    assert wrong_secret.stderr.startswith("error client_authentication_failed (401)")
    # The pharmacy's program cannot log a prescriber in: not a professional of its pharmacy.
    elsewhere = practice_run(*pharmacy, *PRESCRIBER)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.startswith("error professional_not_of_client (400)"), elsewhere.stderr


def test_the_audit_events_of_their_actions_name_the_software(
    live_app, issued_and_dispensed, software
):
    practice, pharmacy = (software[side]["label"] for side in ("practice", "pharmacy"))
    number = printed(issued_and_dispensed[0], "number")
    with live_app.app_context():  # the prescription's audit events are keyed by its number
        on_it = (
            get_session()
            .execute(
                select(AuditEvent.action, AuditEvent.software).where(
                    AuditEvent.object_type == "prescription",
                    AuditEvent.object_id.in_((number, number.replace("-", ""))),
                )
            )
            .all()
        )
    assert sorted(tuple(row) for row in on_it) == sorted(
        [("dispense", pharmacy), ("issue", practice), ("scan", pharmacy)]
    )
    # Each program's token grant, and what else they did, is audited under their name too.
    assert {
        ("software_token", "software_client", "success"),
        ("review_warnings", "person", "success"),
    } <= set(audited(live_app, practice))
    assert {
        ("software_token", "software_client", "success"),
        ("read", "dispensation", "success"),
    } <= set(audited(live_app, pharmacy))


@pytest.fixture
def receiver():
    """A webhook receiver on loopback, started by the test: its URL and what it was posted
    (headers, raw body); it answers 204."""
    received: list = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", received
    server.shutdown()
    thread.join()
    server.server_close()


def test_the_practice_client_subscribes_and_checks_the_webhook_signature(
    live_app, live_server, patient_nir, software, receiver, monkeypatch
):
    url, received = receiver
    monkeypatch.setitem(live_app.config, "EVENT_WEBHOOK_PRIVATE_TARGETS", True)  # loopback
    practice = run(
        "practice_client.py",
        live_server,
        *software["practice"]["options"],
        *PRESCRIBER,
        "--pin",
        "1234",
        "--patient-nir",
        patient_nir,
        "--medication",
        "doliprane",
        "--webhook-url",
        url,
    )
    assert practice.returncode == 0, practice.stderr
    subscription = printed(practice.stdout, "subscription")
    secret = printed(practice.stdout, "webhook_secret")
    try:
        cli(live_app, "events", "deliver", "--once")  # the worker's round
    finally:
        cli(live_app, "events", "remove", subscription)

    number = printed(practice.stdout, "number")
    issued = [
        (headers, body)
        for headers, body in received
        if json.loads(body)["type"] == "prescription.issued"
        and json.loads(body)["data"]["prescription"] in (number, number.replace("-", ""))
    ]
    assert len(issued) == 1, received
    headers, body = issued[0]
    assert headers["Webhook-Id"] == json.loads(body)["id"]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import practice_client

    assert practice_client.webhook_verified(secret, headers, body)
    changed = body.replace(b'"active"', b'"cancelled"')
    assert changed != body
    assert not practice_client.webhook_verified(secret, headers, changed)
    another = "whsec_" + base64.b64encode(bytes(24)).decode()
    assert not practice_client.webhook_verified(another, headers, body)
    created = ("event_subscription_created", "event_subscription", "success")
    assert created in audited(live_app, software["practice"]["label"])
