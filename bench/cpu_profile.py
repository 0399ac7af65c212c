"""Where a request's CPU goes: cProfile over in-process requests of each operation of run.py,
on the same kind of population (bench/README.md, "cpu_profile.py").

Usage: .venv/bin/python bench/cpu_profile.py [--requests 100] [--operations scan,dispense]
"""

import argparse
import cProfile
import io
import logging
import pstats
import secrets
import sys
import time
from dataclasses import replace

import in_process
from catalog_search import fresh_database
from population import SMALL, build

from eprescription import create_app, migrate

OPERATIONS = ("issue", "scan", "dispense", "patient_read", "search")

log = logging.getLogger("bench.profile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="profiled, per operation")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--top", type=int, default=25, help="functions shown, per operation")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    operations = [name for name in options.operations.split(",") if name]
    key_encryption_key = secrets.token_hex(32)
    with fresh_database("postgresql") as url:
        migrate.upgrade(url)
        population = build(url, key_encryption_key, replace(SMALL, seed=20240901))
        app = create_app(
            {
                "ENVIRONMENT": "testing",
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_hex(16),
                "KEY_ENCRYPTION_KEY": key_encryption_key,
            }
        )
        try:
            for name in operations:
                profile(app, population, name, options)
        finally:
            app.extensions["db_engine"].dispose()


def profile(app, population, name: str, options) -> None:
    send = in_process.requests(
        app.test_client(), population, population.dispensable, population.prescriber_tokens
    )[name]
    send(0)  # warms the process up: caches, first connection
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for index in range(1, 1 + options.requests):
        response = send(index)
        if response.status_code >= 300:
            profiler.disable()
            sys.exit(f"{name}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    profiler.disable()
    elapsed = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(options.sort)
    stats.print_stats(options.top)
    each = 1000 * elapsed / options.requests
    print(f"\n=== {name}: {options.requests} requests, {each:.1f} ms each")
    print(out.getvalue().split("\n", 6)[-1])


if __name__ == "__main__":
    main()
