"""Benchmark: pharmacy scans and dispensations per second through the HTTP API, and the race.

On a fresh PostgreSQL database holding the demo catalog (a real BDPM subset), with real signed
prescriptions issued in-process beforehand, gunicorn serves and client threads measure:
1. POST /api/v1/pharmacy/scan: scans per second, p50/p95 latency;
2. POST /api/v1/prescriptions/{id}/dispensations, a different prescription each time, with an
   Idempotency-Key: dispensations per second, p50/p95 latency;
3. the contended case: --racers pharmacists (each in their own pharmacy) dispense the full
   quantity of the same prescription at once, over --rounds prescriptions: latency of the
   winner and of the 409 losers, and a check that exactly one wins each time (exit 1 if not).
Any unexpected answer is counted and printed, and makes the exit status 1.
Usage: .venv/bin/python bench/dispense.py [--scans N] [--dispensations N] [--rounds N]
       [--racers N] [--clients N] [--workers N]
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
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from catalog_search import fresh_database
from issue import create_patients, enrolled_prescriber_token, make_nir
from sqlalchemy import create_engine, func, select
from stdnum import luhn

from eprescription import create_app, migrate
from eprescription.catalog.importer import import_bdpm
from eprescription.db import get_session
from eprescription.models import (
    Dispensation,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
    Role,
)
from eprescription.services import accounts, audit, demo, pki
from eprescription.services.accounts import PersonDetails
from eprescription.use_cases import unit_of_work

REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWORD, PORT, QUANTITY = "bench-password-1234", 8766, 2
PATIENTS, PRESCRIBERS = 100, 4
LOG = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-dispense-gunicorn.log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--dispensations", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=30, help="contended prescriptions")
    parser.add_argument("--racers", type=int, default=16, help="pharmacists per contended one")
    parser.add_argument("--clients", type=int, default=8, help="threads for measures 1 and 2")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    options = parser.parse_args()
    secret_key, key_encryption_key = secrets.token_hex(32), secrets.token_hex(32)
    with fresh_database("postgresql") as url:
        config = {
            "ENVIRONMENT": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": secret_key,
            "KEY_ENCRYPTION_KEY": key_encryption_key,
        }
        started = time.perf_counter()
        app, tokens, issued, cip13 = prepare(
            url, config, options.dispensations + options.rounds, options.racers
        )
        app.extensions["db_engine"].dispose()
        print(
            f"setup: {len(issued)} prescriptions issued and {len(tokens)} pharmacists in "
            f"{time.perf_counter() - started:.1f} s; pack CIP13 {cip13}"
        )
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY=secret_key,
            KEY_ENCRYPTION_KEY=key_encryption_key,
            EPRESCRIPTION_ENV="development",
            BIND=f"127.0.0.1:{PORT}",
            WEB_CONCURRENCY=str(options.workers),
        )
        uncontended, contended = issued[: options.dispensations], issued[options.dispensations :]
        with gunicorn(env):
            print(f"gunicorn: {options.workers} workers (sync), {os.cpu_count()} CPUs, loopback")
            failures = measure_scans(tokens, uncontended, options.scans, options.clients)
            failures += measure_dispensations(tokens, uncontended, cip13, options.clients)
            failures += measure_race(tokens, contended, cip13, options.racers)
        failures += check_database(url, uncontended, contended)
    if failures:
        sys.exit(f"FAILED: {failures} unexpected answers or inconsistencies (see above)")
    print("OK: no unexpected answer, exactly one winner per contended prescription")


def prepare(url: str, config: dict, count: int, pharmacists: int):
    """Schema, demo catalog, CA, prescribers, patients, pharmacists; N prescriptions issued."""
    migrate.upgrade(url)
    app = create_app(config)
    with app.app_context():
        session = get_session()
        import_bdpm(session, demo.DEMO_BDPM_DIR)
        with unit_of_work(actor=audit.OPERATOR) as uow:
            pki.init_ca(uow)
        prescriber_tokens = [enrolled_prescriber_token(session, i) for i in range(PRESCRIBERS)]
        nirs = [patient.national_id for patient in create_patients(session, PATIENTS)]
        tokens = [pharmacist_token(session, index) for index in range(pharmacists)]
        cis = session.scalars(
            select(Product.cis).where(Product.name.like("DOLIPRANE 1000 mg, comprimé%"))
        ).first()
        cip13 = session.scalars(
            select(Presentation.cip13)
            .where(Presentation.cis == cis)
            .where(Presentation.removed_from_bdpm_at.is_(None))
            .where(Presentation.price_cents.is_not(None))
            .order_by(Presentation.cip13)
        ).first()
        if cip13 is None:
            sys.exit("the demo catalog should hold a priced DOLIPRANE 1000 mg pack")
    client = app.test_client()
    issued = []
    for index in range(count):
        response = client.post(
            "/api/v1/prescriptions",
            json=prescription_body(nirs[index % len(nirs)], cis),
            headers={"Authorization": f"Bearer {prescriber_tokens[index % PRESCRIBERS]}"},
        )
        if response.status_code != 201:
            sys.exit(f"issue refused: {response.status_code} {response.get_data(as_text=True)}")
        issued.append({key: response.get_json()[key] for key in ("id", "qr_text")})
    return app, tokens, issued, cip13


def pharmacist_token(session, index: int) -> str:
    """A pharmacist in their own pharmacy (many pharmacies on one prescription), a token."""
    finess = f"330{index:05d}"
    finess += luhn.calc_check_digit(finess)
    with unit_of_work(actor=audit.OPERATOR) as uow:  # on get_session(), the same session
        accounts.create_pharmacy(uow, finess=finess, name=f"Pharmacie {index}", address="")
        account = accounts.create_account(
            uow,
            username=f"bench.pharmacist.{index}",
            password=PASSWORD,
            role=Role.PHARMACIST,
            person=PersonDetails(
                make_nir(f"1900633{index + 1:03d}201"),
                "Julien",
                f"Bernard{index}",
                date(1990, 6, 18),
            ),
            pharmacy_finess=finess,
        )
        token, _expires = accounts.issue_token(uow, account, 24 * 3600)
    return token


def prescription_body(patient_nir: str, cis: str) -> dict:
    """No renewal: once the quantity is given the prescription is completed (a loser gets 409)."""
    return {
        "patient_nir": patient_nir,
        "pin": "2468",  # issue.enrolled_prescriber_token's PIN
        "acknowledgement_reason": "Benchmark: the treatment is meant.",
        "items": [
            {
                "cis": cis,
                "dosage_text": "1 comprimé 3 fois par jour pendant 5 jours si douleur",
                "quantity": QUANTITY,
            }
        ],
    }


def dispense_body(prescription: dict, cip13: str) -> dict:
    expiry = (date.today() + timedelta(days=400)).isoformat()
    return {
        "code": prescription["qr_text"],
        "lines": [
            {"line": 1, "cip13": cip13, "quantity": QUANTITY, "batch": "B1", "expiry": expiry}
        ],
        "collected_by": {"kind": "patient"},
    }


class gunicorn:
    """gunicorn in its own process group, stopped (SIGTERM) on exit."""

    def __init__(self, env: dict):
        self.env = env

    def __enter__(self) -> None:
        self.log = open(LOG, "w")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        try:
            wait_until_serving()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *_exc) -> None:
        os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(timeout=10)
        self.log.close()


class Results:
    """Latencies per outcome and unexpected answers, shared by client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.failures: list[str] = []

    def record(self, outcome: str, milliseconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(outcome, []).append(milliseconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)

    def report_failures(self, what: str) -> int:
        if self.failures:
            kinds = Counter(failure[:60] for failure in self.failures)
            print(f"  {what}: {len(self.failures)} UNEXPECTED answers: {dict(kinds)}")
            print(f"  the first: {self.failures[0]}")
        return len(self.failures)


def timed_post(path: str, body: dict, token: str, headers: dict | None = None):
    """(status, parsed JSON or text, milliseconds); status 0 when the connection failed."""
    started = time.perf_counter()
    try:
        status, text = http_post(path, body, token, headers)
    except (OSError, http.client.HTTPException) as error:
        return 0, f"{type(error).__name__}: {error}", 1000 * (time.perf_counter() - started)
    elapsed = 1000 * (time.perf_counter() - started)
    try:
        return status, json.loads(text), elapsed
    except ValueError:
        return status, text, elapsed


def in_threads(clients: int, jobs: list, run) -> float:
    """Run `run(job)` for every job, spread over `clients` threads; the seconds it took."""
    chunks = [jobs[index::clients] for index in range(clients)]

    def worker(chunk: list) -> None:
        for job in chunk:
            run(job)

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def summary(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return f"n={len(latencies)}" + (f" {latencies[0]:.1f} ms" if latencies else "")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms p95 {q[94]:.1f} ms max {max(latencies):.1f} ms"


def measure_scans(tokens: list[str], issued: list[dict], scans: int, clients: int) -> int:
    """1. Scans (signature verified, audited): each client thread is one pharmacist."""
    results = Results()
    jobs = [(tokens[index % len(tokens)], issued[index % len(issued)]) for index in range(scans)]

    def run(job) -> None:
        token, prescription = job
        status, answer, ms = timed_post(
            "/api/v1/pharmacy/scan", {"code": prescription["qr_text"]}, token
        )
        if (
            status == 200
            and isinstance(answer, dict)
            and answer["id"] == prescription["id"]
            and answer["signature"]["valid"] is True
        ):
            results.record("ok", ms)
        else:
            results.fail(f"{status} {str(answer)[:300]}")

    warm_up = [(tokens[0], issued[0])] * 20
    in_threads(1, warm_up, run)
    results = Results()
    elapsed = in_threads(clients, jobs, run)
    ok = results.latencies.get("ok", [])
    print(
        f"1. scan: {len(ok)} in {elapsed:.1f} s = {len(ok) / elapsed:.0f}/s with {clients} "
        f"clients; {summary(ok)}"
    )
    return results.report_failures("scan")


def measure_dispensations(tokens, issued: list[dict], cip13: str, clients: int) -> int:
    """2. Dispensations, each of a different prescription, with an Idempotency-Key."""
    results = Results()
    jobs = [(tokens[index % len(tokens)], p) for index, p in enumerate(issued)]

    def run(job) -> None:
        token, prescription = job
        status, answer, ms = timed_post(
            f"/api/v1/prescriptions/{prescription['id']}/dispensations",
            dispense_body(prescription, cip13),
            token,
            {"Idempotency-Key": str(uuid.uuid4())},
        )
        if status == 201:
            results.record("ok", ms)
        else:
            results.fail(f"{status} {str(answer)[:300]}")

    elapsed = in_threads(clients, jobs, run)
    ok = results.latencies.get("ok", [])
    print(
        f"2. dispense: {len(ok)} in {elapsed:.1f} s = {len(ok) / elapsed:.0f}/s with {clients} "
        f"clients; {summary(ok)}"
    )
    return results.report_failures("dispense")


def measure_race(tokens: list[str], issued: list[dict], cip13: str, racers: int) -> int:
    """3. `racers` pharmacists dispense the whole of one prescription at once, per round."""
    results = Results()
    bad_rounds: list[str] = []
    loser_codes: Counter = Counter()
    started = time.perf_counter()
    for prescription in issued:
        barrier = threading.Barrier(racers)
        statuses: list[int] = []
        lock = threading.Lock()

        def racer(
            token: str, prescription=prescription, barrier=barrier, statuses=statuses, lock=lock
        ):
            body = dispense_body(prescription, cip13)
            key = {"Idempotency-Key": str(uuid.uuid4())}
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                results.fail("barrier broken")
                return
            status, answer, ms = timed_post(
                f"/api/v1/prescriptions/{prescription['id']}/dispensations", body, token, key
            )
            with lock:
                statuses.append(status)
            if status == 201:
                results.record("winner", ms)
            elif status == 409 and isinstance(answer, dict):
                results.record("loser", ms)
                with lock:
                    loser_codes[answer.get("code")] += 1
            else:
                results.fail(f"{status} {str(answer)[:300]}")

        threads = [threading.Thread(target=racer, args=(token,)) for token in tokens[:racers]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if statuses.count(201) != 1 or statuses.count(409) != racers - 1:
            bad_rounds.append(f"{prescription['id']}: {sorted(Counter(statuses).items())}")
    elapsed = time.perf_counter() - started
    winners, losers = results.latencies.get("winner", []), results.latencies.get("loser", [])
    print(
        f"3. race: {len(issued)} prescriptions x {racers} pharmacists at once, {elapsed:.1f} s; "
        f"exactly one winner in {len(issued) - len(bad_rounds)}/{len(issued)} rounds"
    )
    print(f"   winner (201, n={len(winners)}): {summary(winners)}")
    print(f"   losers (409, n={len(losers)}): {summary(losers)}; codes {dict(loser_codes)}")
    for bad in bad_rounds:
        print(f"   NOT EXACTLY ONE WINNER: {bad}")
    return results.report_failures("race") + len(bad_rounds)


def check_database(url: str, uncontended: list[dict], contended: list[dict]) -> int:
    """What was recorded: one dispensation per prescription, quantities never above prescribed."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            dispensations = connection.scalar(select(func.count()).select_from(Dispensation))
            quantities = Counter(
                connection.scalars(
                    select(PrescriptionItem.dispensed_quantity).join(Prescription)
                ).all()
            )
    finally:
        engine.dispose()
    expected = len(uncontended) + len(contended)
    consistent = dispensations == expected and quantities == Counter({QUANTITY: expected})
    print(
        f"database: {dispensations} dispensations (expected {expected}); dispensed quantities "
        f"{dict(quantities)} (expected {{{QUANTITY}: {expected}}}): "
        f"{'consistent' if consistent else 'INCONSISTENT'}"
    )
    return 0 if consistent else 1


def http_post(path: str, body: dict, token: str, headers: dict | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_until_serving() -> None:
    for _ in range(150):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            connection.request("GET", "/api/openapi.json")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start: see {LOG}")


if __name__ == "__main__":
    main()
