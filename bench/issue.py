"""Benchmark: prescriptions issued and signed per second through the HTTP API, and their cost.

Two measures on a fresh PostgreSQL database holding the demo catalog (a real BDPM subset):
1. throughput and latency of POST /api/v1/prescriptions on gunicorn (several client threads);
2. the cost of one issue in-process, split into signature, database and the rest.
Usage: .venv/bin/python bench/issue.py [--prescriptions N] [--clients N] [--workers N]
"""

import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from catalog_search import fresh_database
from sqlalchemy import event, select
from stdnum import luhn
from stdnum.fr import nir

from eprescription import create_app, migrate
from eprescription.catalog.importer import import_bdpm
from eprescription.db import get_session
from eprescription.models import Product, Role
from eprescription.services import accounts, audit, demo, pki
from eprescription.services.accounts import PersonDetails
from eprescription.use_cases import unit_of_work

REPO_ROOT = Path(__file__).resolve().parents[1]
PIN, PASSWORD, PORT = "2468", "bench-password-1234", 8765
PATIENTS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prescriptions", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8, help="one prescriber each")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--in-process", type=int, default=300, help="issues for the cost split")
    options = parser.parse_args()
    secret_key, key_encryption_key = secrets.token_hex(32), secrets.token_hex(32)
    with fresh_database("postgresql") as url:
        config = {
            "ENVIRONMENT": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": secret_key,
            "KEY_ENCRYPTION_KEY": key_encryption_key,
        }
        app, tokens, bodies = prepare(
            url, config, options.prescriptions + options.in_process, options.clients
        )
        cost_split(app, tokens[0], bodies[: options.in_process])
        app.extensions["db_engine"].dispose()
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY=secret_key,
            KEY_ENCRYPTION_KEY=key_encryption_key,
            EPRESCRIPTION_ENV="development",
            BIND=f"127.0.0.1:{PORT}",
            WEB_CONCURRENCY=str(options.workers),
        )
        throughput(env, tokens, bodies[options.in_process :], options.workers)


def prepare(url: str, config: dict, count: int, prescribers: int):
    """Schema, demo catalog, a CA, enrolled prescribers, patients; tokens and request bodies."""
    migrate.upgrade(url)
    app = create_app(config)
    with app.app_context():
        session = get_session()
        import_bdpm(session, demo.DEMO_BDPM_DIR)
        with unit_of_work(actor=audit.OPERATOR) as uow:
            pki.init_ca(uow)
        tokens = [enrolled_prescriber_token(session, index) for index in range(prescribers)]
        patients = create_patients(session, PATIENTS)
        cis = session.scalars(
            select(Product.cis).where(Product.name.like("DOLIPRANE 1000 mg, comprimé%"))
        ).first()
        nirs = [patient.national_id for patient in patients]
    bodies = [issue_body(nirs[index % len(nirs)], cis) for index in range(count)]
    return app, tokens, bodies


def enrolled_prescriber_token(session, index: int) -> str:
    """A prescriber with a signing key (PIN) and a day-long API token."""
    with unit_of_work(actor=audit.OPERATOR) as uow:  # on get_session(), the same session
        account = accounts.create_account(
            uow,
            username=f"bench.prescriber.{index}",
            password=PASSWORD,
            role=Role.PRESCRIBER,
            person=PersonDetails(
                make_nir(f"1721169{index + 1:03d}045"),
                "Claire",
                f"Martin{index}",
                date(1972, 11, 5),
            ),
            rpps=make_rpps(f"100012{index:04d}"),
            specialty="General practice",
            pharmacy_finess=None,
        )
        pki.enroll_prescriber(uow, pki.prescriber_for_username(uow, account.username), PIN)
        token, _expires = accounts.issue_token(uow, account, 24 * 3600)
    return token


def create_patients(session, count: int) -> list:
    """`count` recorded persons with valid NIRs, born in March 1985 as their NIRs say."""
    with unit_of_work(actor=audit.OPERATOR) as uow:  # on get_session(), the same session
        return [
            accounts.create_person(
                uow,
                details=PersonDetails(
                    make_nir(f"2850375{index + 1:03d}123"),
                    "Patient",
                    f"N{index}",
                    date(1985, 3, 1),
                ),
            )
            for index in range(count)
        ]


def make_rpps(body10: str) -> str:
    return body10 + luhn.calc_check_digit(body10)


def make_nir(body13: str) -> str:
    return body13 + nir.calc_check_digits(body13)


def issue_body(patient_nir: str, cis: str) -> dict:
    return {
        "patient_nir": patient_nir,
        "pin": PIN,
        "acknowledgement_reason": "Benchmark: the treatment is meant.",
        "renewals": 2,
        "items": [
            {
                "cis": cis,
                "dosage_text": "1 comprimé 3 fois par jour pendant 5 jours si douleur",
                "dose": "1",
                "dose_unit": "comprimé",
                "frequency_per_day": 3,
                "duration_days": 5,
                "quantity": 1,
            }
        ],
    }


def cost_split(app, token: str, bodies: list[dict]) -> None:
    """Issue in-process and attribute the time: signing, SQL statements, and the rest."""
    spent = {"signature": 0.0, "database": 0.0}
    original_sign = pki.sign_as_prescriber

    def timed_sign(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_sign(*args, **kwargs)
        finally:
            spent["signature"] += time.perf_counter() - started

    engine = app.extensions["db_engine"]

    @event.listens_for(engine, "before_cursor_execute")
    def _before(connection, *_args):
        connection.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(connection, *_args):
        spent["database"] += time.perf_counter() - connection.info.pop("started")

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pki.sign_as_prescriber = timed_sign  # measuring only: the real function runs
    try:
        for body in bodies[:20]:  # warm-up
            post(client, headers, body)
        spent.update(signature=0.0, database=0.0)
        started = time.perf_counter()
        for body in bodies[20:]:
            post(client, headers, body)
        total = time.perf_counter() - started
    finally:
        pki.sign_as_prescriber = original_sign
    count = len(bodies) - 20
    # The signature's own SQL (the PIN counter) is counted in "database", not twice.
    rest = total - spent["signature"] - spent["database"]
    print(
        f"in-process: {count} issues, {1000 * total / count:.2f} ms each: "
        f"signature {1000 * spent['signature'] / count:.2f} ms (incl. its SQL), "
        f"database {1000 * spent['database'] / count:.2f} ms, rest {1000 * rest / count:.2f} ms"
    )


def post(client, headers: dict, body: dict) -> None:
    response = client.post("/api/v1/prescriptions", json=body, headers=headers)
    if response.status_code != 201:
        sys.exit(f"issue refused: {response.status_code} {response.get_data(as_text=True)}")


def throughput(env: dict, tokens: list[str], bodies: list[dict], workers: int) -> None:
    """POST the bodies to gunicorn, one client thread per prescriber; print issues per second."""
    clients = len(tokens)
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-issue-gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until_serving()
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        chunks = [bodies[index::clients] for index in range(clients)]

        def run(chunk: list[dict], token: str) -> None:
            for body in chunk:
                started = time.perf_counter()
                status, text = http_post("/api/v1/prescriptions", body, token)
                with lock:
                    if status == 201:
                        latencies.append(1000 * (time.perf_counter() - started))
                    else:
                        failures.append(f"{status} {text[:300]}")

        threads = [
            threading.Thread(target=run, args=(chunk, token))
            for chunk, token in zip(chunks, tokens, strict=True)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    if failures:
        print(f"{len(failures)} issues failed, the first: {failures[0]}")
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"gunicorn ({workers} workers), {clients} clients: {len(latencies)} prescriptions in "
        f"{elapsed:.1f} s = {len(latencies) / elapsed:.0f}/s; latency p50 {quantiles[49]:.1f} ms "
        f"p95 {quantiles[94]:.1f} ms"
    )


def http_post(path: str, body: dict, token: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_until_serving() -> None:
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            connection.request("GET", "/api/openapi.json")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start: see bench-issue-gunicorn.log")


if __name__ == "__main__":
    main()
