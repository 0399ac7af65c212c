"""Benchmark: `flask audit verify` over a million audit events on PostgreSQL.

Builds a fresh database, writes --events audit events about --patients patients through the
unit of work (batches of --batch per transaction, the three statements each), seals them
into the Merkle log with `flask audit seal`, then times the two halves of `audit verify`:
walking every per-patient chain, and rebuilding the sealed tree against every signed head.
Usage: .venv/bin/python bench/audit_verify.py [--events N] [--patients N] [--batch N]
"""

import argparse
import random
import time

from catalog_search import fresh_database

from eprescription import create_app, migrate
from eprescription.services import audit, audit_seal
from eprescription.use_cases import unit_of_work

READER = audit.Actor(1, "pharmacist", "Pharmacie du Centre (FINESS 750000001)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    with fresh_database("postgresql") as url:
        migrate.upgrade(url)
        app = create_app({"ENVIRONMENT": "testing", "DATABASE_URL": url, "SECRET_KEY": "bench"})
        runner = app.test_cli_runner()
        assert runner.invoke(args=["pki", "init"]).exit_code == 0
        with app.app_context():
            run(app, args)
        app.extensions["db_engine"].dispose()


def run(app, args) -> None:
    rng = random.Random(9)
    started = time.perf_counter()
    for start in range(0, args.events, args.batch):
        with unit_of_work(actor=READER) as uow:
            for number in range(start, min(start + args.batch, args.events)):
                patient = rng.randrange(1, args.patients + 1)
                uow.audit("read", "prescription", f"RX{number:08d}", patient_person_id=patient)
    written = time.perf_counter() - started
    print(f"wrote {args.events:,} events in {written:.1f} s ({args.events / written:,.0f}/s)")

    started, heads = time.perf_counter(), 0
    while True:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            sealed = audit_seal.seal(uow)
        if sealed.head is None:
            break
        heads += 1
    print(f"sealed them in {time.perf_counter() - started:.1f} s ({heads} signed heads)")

    with unit_of_work(actor=audit.OPERATOR) as uow:
        started = time.perf_counter()
        chains = audit.verify_chains(uow.session)
        chains_seconds = time.perf_counter() - started
        started = time.perf_counter()
        log = audit_seal.verify_log(uow)
        log_seconds = time.perf_counter() - started
    print(
        f"verify, chains: {chains.events:,} events in {chains.chains:,} chains, "
        f"{'intact' if chains.ok else 'BROKEN'}, {chains_seconds:.1f} s"
    )
    print(
        f"verify, sealed log: {log.leaves:,} leaves, {log.heads} heads, "
        f"{'intact' if log.ok else 'BROKEN: ' + str(log.problem)}, {log_seconds:.1f} s"
    )
    print(f"verify, total: {chains_seconds + log_seconds:.1f} s")


if __name__ == "__main__":
    main()
