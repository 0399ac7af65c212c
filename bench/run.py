"""Benchmark: the service under gunicorn against a bare Flask + SQLAlchemy app, same machine,
same database, same gunicorn settings, on a realistic population; see bench/README.md.

1. a fresh PostgreSQL database, migrated, with the full BDPM and a population built in bulk
   (bench/population.py: patients, enrolled prescribers, pharmacies, signed prescriptions,
   dispensations, audit events);
2. the service (gunicorn wsgi:app, EPRESCRIPTION_ENV=production) and the bare app
   (bench/bare_app.py) on two loopback ports, each with --workers sync workers;
3. each operation at each concurrency from a separate process (bench/load.py);
4. a table (stdout) and a JSON file; progress on stderr. Every process it started is stopped
   and the database dropped at the end, on Ctrl-C or on error too.

Usage: .venv/bin/python bench/run.py [--small] [--seconds 8] [--clients 1,8,32] [--workers 5]
"""

import argparse
import http.client
import json
import logging
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import bare_app
import in_process
from catalog_search import fresh_database
from issue import PIN
from population import SMALL, Population, Sizes, build
from sqlalchemy import create_engine, event, text

from eprescription import create_app, migrate

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
GUNICORN_CONF = REPO_ROOT / "gunicorn.conf.py"
OPERATIONS = ("issue", "scan", "dispense", "patient_read", "search")
# The bare shape each operation is compared with.
SHAPES = {
    "issue": "bare_sign",
    "scan": "bare_select",
    "dispense": "bare_for_update",
    "patient_read": "bare_select",
    "search": "bare_select",
}
# Reads the service must audit also get a second floor: the bare select with its event insert
# and commit (an audited read is a durable write, whatever the code around it).
AUDITED_FLOORS = {"scan": "bare_audited_select", "patient_read": "bare_audited_select"}
BARE_SHAPES = (
    "bare_insert",
    "bare_select",
    "bare_audited_select",
    "bare_for_update",
    "bare_sign",
)
STATEMENT_SAMPLES = 3  # requests per operation for the in-process statement count
ERRORS_PRINTED = 3

log = logging.getLogger("bench.run")


def main() -> None:
    options = parse_options()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, _interrupt)  # stopped from outside: clean up as on Ctrl-C
    sizes = population_sizes(options)
    levels = [int(level) for level in options.clients.split(",")]
    operations = [name for name in options.operations.split(",") if name]
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        sys.exit(f"unknown operations {sorted(unknown)}: choose among {', '.join(OPERATIONS)}")
    busy_warning()
    started_at = datetime.now(UTC)
    key_encryption_key = secrets.token_hex(32)
    logs = Path(tempfile.mkdtemp(prefix="bench-run-"))
    report = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, *sys.argv],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "options": vars(options),
        "logs": str(logs),
    }
    try:
        with fresh_database("postgresql") as url:
            log.info("fresh database %s", url.rsplit("/", 1)[-1])
            report["machine"]["postgresql"] = server_version(url)
            migrate.upgrade(url)
            population = build(url, key_encryption_key, sizes)
            log.info(
                "population built in %.0f s: %s", population.timings["total"], population.counts
            )
            report["population"] = {
                "sizes": asdict(sizes),
                "counts": population.counts,
                "build_seconds": population.timings,
            }
            bare_rows = max(1000, sizes.prescriptions)
            bare_app.create_tables(url, bare_rows)
            reserved = population.dispensable[: STATEMENT_SAMPLES + 1]
            population.dispensable = population.dispensable[STATEMENT_SAMPLES + 1 :]
            statements = statement_counts(url, key_encryption_key, population, reserved)
            report["statements_per_request"] = statements
            results = serve_and_measure(
                url, key_encryption_key, population, options, levels, operations, bare_rows, logs
            )
            report.update(results)
    except KeyboardInterrupt:
        log.error("interrupted: the servers were stopped and the database dropped")
        sys.exit(130)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_table(report, operations, levels)
    path = Path(options.json) if options.json else default_json_path(started_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nJSON: {path}\ngunicorn logs: {logs}")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Sizes()
    parser.add_argument("--small", action="store_true", help="a quick try: 500 patients, 2,000 "
                        "prescriptions over 100 days (other sizes as given)")  # fmt: skip
    parser.add_argument("--patients", type=int, help=f"default {defaults.patients}")
    parser.add_argument("--prescribers", type=int, help=f"default {defaults.prescribers}")
    parser.add_argument("--pharmacies", type=int, help=f"default {defaults.pharmacies}")
    parser.add_argument("--prescriptions", type=int, help=f"default {defaults.prescriptions}")
    parser.add_argument(
        "--dispensed-fraction",
        type=float,
        help=f"of prescriptions older than two days; default {defaults.dispensed_fraction}",
    )
    parser.add_argument(
        "--history-days", type=int, help=f"issue dates span; default {defaults.history_days}"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers, each app")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured, per level")
    parser.add_argument("--warmup", type=float, default=1.0, help="not measured, per level")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per level")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--json", help="default bench/results/run-<timestamp>.json")
    return parser.parse_args()


def population_sizes(options: argparse.Namespace) -> Sizes:
    sizes = SMALL if options.small else Sizes()
    given = {
        name: getattr(options, name)
        for name in (
            "patients",
            "prescribers",
            "pharmacies",
            "prescriptions",
            "dispensed_fraction",
            "history_days",
        )
        if getattr(options, name) is not None
    }
    return replace(sizes, seed=options.seed, **given)


def busy_warning() -> None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cpus:
        log.warning(
            "the machine is busy (load average %.1f on %d CPUs): other processes compete with "
            "the servers and the database, so figures will be lower and noisier",
            load,
            cpus,
        )


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SHOW server_version"))
    finally:
        engine.dispose()


def default_json_path(started_at: datetime) -> Path:
    return BENCH / "results" / f"run-{started_at:%Y%m%d-%H%M%S}.json"


# -- SQL statements per request ------------------------------------------------------------------


def statement_counts(url: str, key_encryption_key: str, population: Population, reserved: list):
    """SQL statements the service runs per request, counted in-process (Flask test client) on
    a few requests of each operation; {operation: mean or None}. The served apps are not
    instrumented, so their figures are not touched."""
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(16),
            "KEY_ENCRYPTION_KEY": key_encryption_key,
        }
    )
    engine = app.extensions["db_engine"]
    count = [0]

    def counted(*_args) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    prescriber = population.prescriber_tokens[-1]
    requests = in_process.requests(app.test_client(), population, reserved, [prescriber])
    counts: dict[str, float | None] = {}
    try:
        for name, send in requests.items():
            counts[name] = None
            if name == "dispense" and len(reserved) < STATEMENT_SAMPLES + 1:
                continue
            seen = []
            for index in range(STATEMENT_SAMPLES + 1):  # the first one warms up
                count[0] = 0
                try:
                    response = send(index)
                except Exception as error:  # the testing app raises what production answers 500
                    log.warning("statement count: %s raised %r", name, error)
                    break
                if response.status_code >= 300:
                    log.warning(
                        "statement count: %s answered %s: %s",
                        name,
                        response.status_code,
                        response.get_data(as_text=True)[:300],
                    )
                    break
                if index:
                    seen.append(count[0])
            counts[name] = round(sum(seen) / len(seen), 1) if seen else None
    finally:
        engine.dispose()
    log.info("SQL statements per request (in-process): %s", counts)
    return counts


# -- servers and load ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A gunicorn in its own process group (log in `log_path`), stopped on exit."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict, port: int, ready: str):
        self.name, self.argv, self.cwd, self.env = name, argv, cwd, env
        self.port, self.ready = port, ready

    def start(self, log_path: Path) -> "Server":
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start: see {log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.ready)
                if connection.getresponse().status == 200:
                    connection.close()
                    log.info("%s serving on 127.0.0.1:%d (log %s)", self.name, self.port, log_path)
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not start within 90 s: see {log_path}")

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.log.close()


def serve_and_measure(url, key_encryption_key, population, options, levels, operations, bare_rows,
                      logs) -> dict:  # fmt: skip
    # gunicorn.conf.py's settings; no control socket, which both servers would share otherwise.
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--no-control-socket"]
    base_env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    service_port, bare_port = free_port(), free_port()
    service = Server(
        "service",
        [*gunicorn, "wsgi:app"],
        REPO_ROOT,
        {
            **base_env,
            "EPRESCRIPTION_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "KEY_ENCRYPTION_KEY": key_encryption_key,
            "DATABASE_URL": url,
            "BIND": f"127.0.0.1:{service_port}",
            "WEB_CONCURRENCY": str(options.workers),
        },
        service_port,
        "/api/openapi.json",
    )
    bare = Server(
        "bare app",
        [*gunicorn, "--chdir", str(BENCH), "bare_app:app"],
        BENCH,
        {
            **base_env,
            "BARE_DATABASE_URL": url,
            "BIND": f"127.0.0.1:{bare_port}",
            "WEB_CONCURRENCY": str(options.workers),
        },
        bare_port,
        "/health",
    )
    dispense_slices = split(population.dispensable, len(levels))
    rows, bare_results = [], []
    try:
        service.start(logs / "service.log")
        bare.start(logs / "bare.log")
        for level_index, clients in enumerate(levels):
            measured_bare: dict[str, dict] = {}
            for name in operations:
                data = operation_data(population, name, dispense_slices[level_index])
                result = run_load(options, service_port, name, clients, data)
                shape, floor = SHAPES[name], AUDITED_FLOORS.get(name)
                for needed in filter(None, (shape, floor)):
                    if needed not in measured_bare:
                        measured_bare[needed] = run_load(
                            options, bare_port, needed, clients, {"keys": bare_rows}
                        )
                rows.append(compare(result, measured_bare[shape], floor and measured_bare[floor]))
            for shape in BARE_SHAPES:
                if shape not in measured_bare:
                    measured_bare[shape] = run_load(
                        options, bare_port, shape, clients, {"keys": bare_rows}
                    )
            bare_results.extend(measured_bare[shape] for shape in BARE_SHAPES)
    finally:
        bare.stop()
        service.stop()
    return {"ports": {"service": service_port, "bare": bare_port}, "results": rows,
            "bare": bare_results}  # fmt: skip


def split(items: list, parts: int) -> list[list]:
    size = len(items) // max(1, parts)
    return [items[index * size : (index + 1) * size] for index in range(parts)]


def operation_data(population: Population, name: str, dispensable: list) -> dict:
    everyone = population.prescriber_tokens + population.pharmacist_tokens
    return {
        "issue": lambda: {
            "tokens": population.prescriber_tokens,
            "nirs": population.patient_nirs,
            "items": population.issue_items,
            "pin": PIN,
        },
        "scan": lambda: {"tokens": population.pharmacist_tokens, "codes": population.scan_codes},
        "dispense": lambda: {"tokens": population.pharmacist_tokens, "prescriptions": dispensable},
        "patient_read": lambda: {"tokens": population.patient_tokens},
        "search": lambda: {"tokens": everyone, "queries": population.queries},
    }[name]()


def run_load(options, port: int, name: str, clients: int, data: dict) -> dict:
    """One job in a separate process (bench/load.py); its result, errors printed."""
    job = {
        "port": port,
        "operation": name,
        "clients": clients,
        "seconds": options.seconds,
        "warmup": options.warmup,
        "max_requests": options.max_requests,
        "seed": options.seed + clients,
        "data": data,
    }
    timeout = options.seconds + options.warmup + 180
    load_before = os.getloadavg()[0]
    try:
        finished = subprocess.run(
            [sys.executable, str(BENCH / "load.py")],
            input=json.dumps(job),
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"load.py exited with {finished.returncode}")
        result = json.loads(finished.stdout)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        result = {
            "operation": name,
            "clients": clients,
            "ok": 0,
            "errors": 1,
            "error_samples": [f"the load process failed: {error}"],
            "throughput": 0.0,
        }
    result["loadavg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    say = (
        f"{name:16} {clients:3} clients: {result['throughput']:8.1f} req/s, "
        f"p50 {result.get('p50', float('nan')):7.1f} ms, p99 {result.get('p99', float('nan')):7.1f}"
        f" ms, {result['ok']} ok, {result['errors']} errors, load average {load_before:.1f}"
    )
    if result.get("exhausted"):
        say += " (ran out of untouched prescriptions: give more --prescriptions)"
    log.info(say)
    for sample in result.get("error_samples", [])[:ERRORS_PRINTED]:
        log.warning("  %s error: %s", name, sample)
    return result


def compare(service: dict, bare: dict, audited_floor: dict | None = None) -> dict:
    row = {"operation": service["operation"], "clients": service["clients"], "service": service}
    row["bare_shape"], row["bare"] = bare["operation"], bare
    row["throughput_ratio"] = _throughput_ratio(service, bare)
    if audited_floor is not None:
        row["audited_floor"] = audited_floor
        row["audited_floor_ratio"] = _throughput_ratio(service, audited_floor)
    row["p50_ratio"] = (
        round(service["p50"] / bare["p50"], 2) if service.get("p50") and bare.get("p50") else None
    )
    return row


def _throughput_ratio(service: dict, bare: dict) -> float | None:
    return round(service["throughput"] / bare["throughput"], 3) if bare["throughput"] else None


# -- output --------------------------------------------------------------------------------------


def print_table(report: dict, operations: list[str], levels: list[int]) -> None:
    population = report.get("population", {})
    counts = population.get("counts", {})
    build_seconds = population.get("build_seconds", {})
    statements = report.get("statements_per_request", {})
    print(
        f"\npopulation: {counts.get('patients')} patients, {counts.get('prescribers')} "
        f"prescribers, {counts.get('pharmacies')} pharmacies, {counts.get('prescriptions')} "
        f"prescriptions ({counts.get('dispensations')} dispensed, {counts.get('open_today')} "
        f"open today), {counts.get('audit_events')} audit events; built in "
        f"{build_seconds.get('total', 0):.0f} s"
    )
    workers = report["options"]["workers"]
    loads = [
        load
        for row in report.get("results", [])
        for result in (row["service"], row["bare"])
        for load in result.get("loadavg", [])
    ]
    print(
        f"{report['machine']['cpus']} CPUs, gunicorn {workers} sync workers per app, "
        f"{report['options']['seconds']:g} s per level; ratio = service / bare; audited = "
        "service / bare select + event insert + commit (the floor of an audited read)"
        + (f"; load average {min(loads):.1f} to {max(loads):.1f} during the run" if loads else "")
        + "\n"
    )
    header = (
        f"{'operation':13} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'SQL/req':>7} | {'bare shape':16} {'req/s':>8} "
        f"{'p50 ms':>7} | {'req/s':>6} {'p50':>6} | {'audited':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in report.get("results", []):
        service, bare = row["service"], row["bare"]
        sql = statements.get(row["operation"])
        print(
            f"{row['operation']:13} {row['clients']:>7} {service['throughput']:>8.1f} "
            f"{_ms(service, 'p50')} {_ms(service, 'p95')} {_ms(service, 'p99')} "
            f"{service['errors']:>7} {sql if sql is not None else '-':>7} | "
            f"{row['bare_shape']:16} {bare['throughput']:>8.1f} {_ms(bare, 'p50', 7)} | "
            f"{_ratio(row['throughput_ratio'], 6)} {_ratio(row['p50_ratio'], 6)} | "
            f"{_ratio(row.get('audited_floor_ratio'), 7)}"
        )
    print("\nbare app alone:")
    for result in report.get("bare", []):
        print(
            f"{result['operation']:16} {result['clients']:>3} clients {result['throughput']:>8.1f}"
            f" req/s  p50 {_ms(result, 'p50')}  p95 {_ms(result, 'p95')}  p99 "
            f"{_ms(result, 'p99')}  errors {result['errors']}"
        )
    failed = [
        (row["operation"], row["clients"], row["service"])
        for row in report.get("results", [])
        if row["service"]["errors"]
    ] + [(r["operation"], r["clients"], r) for r in report.get("bare", []) if r["errors"]]
    if failed:
        print("\nERRORS (first answer of each):")
        for name, clients, result in failed:
            samples = result.get("error_samples") or ["?"]
            print(
                f"  {name} x{clients}: {result['errors']} errors {result.get('error_statuses')};"
                f" {samples[0][:300]}"
            )


def _ms(result: dict, key: str, width: int = 8) -> str:
    value = result.get(key)
    return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"


def _ratio(value, width: int) -> str:
    return f"{value:>{width}.2f}" if value is not None else f"{'-':>{width}}"


if __name__ == "__main__":
    main()
