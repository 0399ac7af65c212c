"""Benchmark: latency of 1,000 realistic medication searches through the HTTP API, per engine."""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from eprescription import create_app, migrate
from eprescription.catalog.importer import import_bdpm
from eprescription.db import get_session
from eprescription.models import CompositionLine, Presentation, Product, Role
from eprescription.services import accounts, audit
from eprescription.services.accounts import PersonDetails
from eprescription.use_cases import unit_of_work

REPO_ROOT = Path(__file__).resolve().parents[1]
BDPM_DIR = Path(os.environ.get("BDPM_DIR", REPO_ROOT.parent / "shared" / "data" / "bdpm"))
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
QUERIES, WARM_UP, SEED = 1000, 100, 20220601
USERNAME, PASSWORD = "bench.prescriber", "bench-password-1234"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    engines = parser.parse_args().engine
    for engine in ("sqlite", "postgresql") if engines == "both" else (engines,):
        with fresh_database(engine) as url:
            run(engine, url)


def run(engine: str, url: str) -> None:
    migrate.upgrade(url)
    app = create_app({"ENVIRONMENT": "testing", "DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = get_session()
        started = time.perf_counter()
        import_bdpm(session, BDPM_DIR)
        print(f"{engine}: imported the BDPM in {time.perf_counter() - started:.1f} s")
        with unit_of_work(actor=audit.OPERATOR) as uow:  # on get_session(), the same session
            accounts.create_account(
                uow,
                username=USERNAME,
                password=PASSWORD,
                role=Role.PRESCRIBER,
                person=PersonDetails("172116912304521", "Claire", "Martin", date(1972, 11, 5)),
                rpps="10001234565",
                specialty="General practice",
                pharmacy_finess=None,
            )
        queries = realistic_queries(session, random.Random(SEED))
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD}
    ).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    latencies = []
    for index, q in enumerate(queries[-WARM_UP:] + queries):
        started = time.perf_counter()
        response = client.get("/api/v1/medications", query_string={"q": q}, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            sys.exit(f"{engine}: {q!r} answered {response.status_code}: {response.get_data()}")
        if index >= WARM_UP:
            latencies.append(elapsed * 1000)
    app.extensions["db_engine"].dispose()
    p50, p95, p99 = (statistics.quantiles(latencies, n=100)[i - 1] for i in (50, 95, 99))
    print(
        f"{engine}: {len(latencies)} queries  p50 {p50:.2f} ms  p95 {p95:.2f} ms  "
        f"p99 {p99:.2f} ms  max {max(latencies):.2f} ms"
    )


def realistic_queries(session, rng: random.Random) -> list[str]:
    """What prescribers and pharmacists type: brands, substances, prefixes, strengths, codes."""
    names = session.scalars(select(Product.name)).all()
    substances = session.scalars(select(CompositionLine.substance_name).distinct()).all()
    cis_codes = session.scalars(select(Product.cis)).all()
    cip13_codes = session.scalars(select(Presentation.cip13)).all()

    def brand() -> str:
        return rng.choice(names).split(",")[0].split()[0]

    def substance() -> str:
        return " ".join(rng.choice(substances).split()[:2])

    def prefix() -> str:
        word = rng.choice([brand, substance])()
        return word[: rng.randint(3, 6)]

    def brand_and_strength() -> str:
        words = rng.choice(names).split(",")[0].split()
        numbers = [word for word in words[1:] if word[0].isdigit()]
        return f"{words[0]} {numbers[0]}" if numbers else words[0]

    kinds = [
        (brand, 25),
        (substance, 15),
        (prefix, 25),
        (brand_and_strength, 15),
        (lambda: rng.choice(cis_codes), 10),
        (lambda: rng.choice(cip13_codes), 10),
    ]
    makers = [maker for maker, weight in kinds for _ in range(weight)]
    return [rng.choice(makers)() for _ in range(QUERIES)]


class fresh_database:
    """An empty database of `engine`, dropped (PostgreSQL) or deleted (SQLite) afterwards."""

    def __init__(self, engine: str):
        self.engine = engine
        self.name = f"eprescription_bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str:
        if self.engine == "sqlite":
            self.directory = tempfile.TemporaryDirectory()
            return f"sqlite:///{self.directory.name}/{self.name}.sqlite3"
        self._admin(f'CREATE DATABASE "{self.name}"')
        return (
            make_url(POSTGRES_ADMIN_URL)
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def __exit__(self, *_exc) -> None:
        if self.engine == "sqlite":
            self.directory.cleanup()
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
        finally:
            admin.dispose()


if __name__ == "__main__":
    main()
