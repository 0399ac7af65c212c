"""The example clients (examples/, HTTP only) end to end against the live server on loopback:
the practice client issues, the pharmacy client dispenses from the printed QR text."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A patient of these tests only (no other test of the shared live app knows them), and a
# pack of DOLIPRANE 1000 mg (CIS 60234100, CIP13 3400935955838) as its DataMatrix reads.
PATIENT = ("h11-example-patient", "291077505677792", "Inès", "Moreau", "1991-07-20")
DOLIPRANE_CIS = "60234100"
PRESCRIBER = ("--username", "demo-prescriber", "--password", "demo-prescriber-2026")
PHARMACIST = ("--username", "demo-pharmacist", "--password", "demo-pharmacist-2026")
DEMO_RPPS = "10001234565"
TIMEOUT = 60


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


def dispensed_from(live_server: str, qr_text: str, serial: str) -> str:
    """The pharmacy client's output, dispensing line 1 from a scanned GS1 DataMatrix."""
    pack = f"1=(01)03400935955838(17)281130(10)EXAMPLE(21){serial}"
    pharmacy = run(
        "pharmacy_client.py", live_server, *PHARMACIST, "--qr-text", qr_text, "--pack", pack
    )
    assert pharmacy.returncode == 0, pharmacy.stderr
    assert "retry with the same Idempotency-Key: the same answer (201)" in pharmacy.stdout
    assert "verified receipt: ES256 by O=eprescription,CN=eprescription service" in pharmacy.stdout
    assert "dispensed line 1: 1 x 3400935955838 DOLIPRANE 1000 mg, comprimé" in pharmacy.stdout
    assert "(batch EXAMPLE, 2028-11-30)" in pharmacy.stdout
    assert printed(pharmacy.stdout, "prescription status") == "completed"
    return pharmacy.stdout


@pytest.fixture(scope="module")
def issued_and_dispensed(live_server, patient_nir) -> tuple[str, str]:
    """The practice client's and then the pharmacy client's output: issued with the PIN,
    dispensed from the printed QR text."""
    practice = run(
        "practice_client.py",
        live_server,
        *PRESCRIBER,
        "--pin",
        "1234",
        "--patient-nir",
        patient_nir,
        "--medication",
        "doliprane",
    )
    assert practice.returncode == 0, practice.stderr
    assert f"medication {DOLIPRANE_CIS} DOLIPRANE 1000 mg, comprimé" in practice.stdout
    assert "the same answer (201)" in practice.stdout
    number, qr_text = printed(practice.stdout, "number"), printed(practice.stdout, "qr_text")
    assert qr_text.startswith(f"EP1.{number.replace('-', '')}.")

    return practice.stdout, dispensed_from(live_server, qr_text, "EX0001")


def test_the_practice_client_issues_and_the_pharmacy_client_dispenses_it(issued_and_dispensed):
    practice, pharmacy = issued_and_dispensed
    number = printed(practice, "number").replace("-", "")
    assert f"prescription {printed(practice, 'number')} (active), signature valid" in pharmacy
    assert printed(pharmacy, "receipt").endswith(f" for {number}")


def test_the_receipt_check_refuses_a_changed_receipt_or_another_ca(
    live_server, issued_and_dispensed, monkeypatch
):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import pharmacy_client

    api = pharmacy_client.Api(live_server)
    api.login(*PHARMACIST[1::2])
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
    live_server, patient_nir, outside_ca, key_type, alg
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
    dispensed_from(live_server, printed(practice.stdout, "qr_text"), f"EX{alg}")


def test_a_refusal_exits_non_zero_with_the_problem_code(live_server):
    refused = run("pharmacy_client.py", live_server, *PHARMACIST, "--qr-text", "EP1.NOT-A-CODE")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error invalid_qr_code (422)"), refused.stderr

    unknown = run(
        "practice_client.py",
        live_server,
        "--username",
        "h11-nobody",
        "--password",
        "wrong",
        "--pin",
        "0000",
        "--patient-nir",
        "291077505677792",
        "--medication",
        "doliprane",
    )
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error authentication_failed (401)"), unknown.stderr
