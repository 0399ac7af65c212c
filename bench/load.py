"""The load generator of bench/run.py: one job (JSON on stdin), its measures (JSON on stdout).

It runs in its own process (standard library only, loopback only), so the client's work is
not done by the servers' processes. A job is one operation at one concurrency: `clients`
threads, each with its own http.client connection (kept alive when the server allows it;
gunicorn's sync workers close it after each answer, so each request then reconnects), send
requests back to back for `warmup` seconds (not counted) and then for `seconds`, or until
`max_requests` or the operation's data run out. Every answer but the expected status, and
every exception, is an error; the first few are kept.

  echo '{"port": 8000, "operation": "bare_select", "clients": 8, "seconds": 5, …}' | \
      python bench/load.py
"""

import http.client
import itertools
import json
import random
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import quote

ERROR_SAMPLES = 5
FILLER = "Prendre au cours du repas; ne pas dépasser la dose prescrite. " * 12


def json_request(method: str, path: str, body, token: str | None, expect: int, **headers):
    data = None if body is None else json.dumps(body).encode()
    headers = {**headers}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return method, path, data, headers, expect


class Exhausted(Exception):
    """The operation has no data left (each dispensation needs an untouched prescription)."""


def document(rng: random.Random) -> dict:
    """About 1 KB of JSON, shaped like a prescription's content."""
    return {
        "type": "bench.document",
        "number": uuid.uuid4().hex[:11].upper(),
        "patient": {"identifier": str(rng.randrange(10**14, 10**15)), "name": "Camille Martin"},
        "items": [
            {"line": 1, "medication": "DOLIPRANE 1000 mg, comprimé", "quantity": 2},
            {"line": 2, "medication": "AMOXICILLINE 1 g, comprimé", "quantity": 1},
        ],
        "note": FILLER[:800],
    }


def make_operation(name: str, data: dict):
    """A function (thread index, rng) → one request (method, path, body, headers, status)."""
    take_lock = threading.Lock()

    if name == "issue":
        tokens, nirs, item_pairs, pin = (
            data["tokens"],
            data["nirs"],
            data["items"],
            data["pin"],
        )

        def issue(thread, rng):
            body = {
                "patient_nir": rng.choice(nirs),
                "pin": pin,
                "items": rng.choice(item_pairs),
                # A random patient's duplicate-therapy warning: signed over, as the API requires.
                "acknowledgement_reason": "Benchmark: the treatment is meant.",
            }
            return json_request(
                "POST", "/api/v1/prescriptions", body, tokens[thread % len(tokens)], 201
            )

        return issue
    if name == "scan":
        tokens, scan_codes = data["tokens"], data["codes"]

        def scan(thread, rng):
            body = {"code": rng.choice(scan_codes)}
            return json_request(
                "POST", "/api/v1/pharmacy/scan", body, tokens[thread % len(tokens)], 200
            )

        return scan
    if name == "dispense":
        tokens, pending = data["tokens"], iter(data["prescriptions"])

        def dispense(thread, rng):
            with take_lock:
                prescription = next(pending, None)
            if prescription is None:
                raise Exhausted()
            return json_request(
                "POST",
                f"/api/v1/prescriptions/{prescription['id']}/dispensations",
                prescription["body"],
                tokens[thread % len(tokens)],
                201,
                **{"Idempotency-Key": str(uuid.uuid4())},
            )

        return dispense
    if name == "patient_read":
        tokens = data["tokens"]

        def patient_read(thread, rng):
            return json_request("GET", "/api/v1/me/prescriptions", None, rng.choice(tokens), 200)

        return patient_read
    if name == "search":
        tokens, queries = data["tokens"], data["queries"]

        def search(thread, rng):
            path = f"/api/v1/medications?q={quote(rng.choice(queries))}"
            return json_request("GET", path, None, tokens[thread % len(tokens)], 200)

        return search
    keys = data.get("keys", 1)
    if name == "bare_insert":
        return lambda thread, rng: json_request("POST", "/insert", document(rng), None, 201)
    if name == "bare_select":
        return lambda thread, rng: json_request(
            "GET", f"/select/k{rng.randrange(1, keys + 1)}", None, None, 200
        )
    if name == "bare_audited_select":
        return lambda thread, rng: json_request(
            "GET", f"/audited/k{rng.randrange(1, keys + 1)}", None, None, 200
        )
    if name == "bare_for_update":
        return lambda thread, rng: json_request(
            "POST", f"/for-update/k{rng.randrange(1, keys + 1)}", document(rng), None, 201
        )
    if name == "bare_sign":
        return lambda thread, rng: json_request("POST", "/sign", document(rng), None, 201)
    raise SystemExit(f"unknown operation {name!r}")


class Recorder:
    def __init__(self, max_requests: int):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors = 0
        self.samples: list[str] = []
        self.statuses: dict[str, int] = {}
        self.sent = itertools.count()
        self.max_requests = max_requests

    def ok(self, milliseconds: float) -> None:
        with self.lock:
            self.latencies.append(milliseconds)

    def error(self, what: str, sample: str) -> None:
        with self.lock:
            self.errors += 1
            self.statuses[what] = self.statuses.get(what, 0) + 1
            if len(self.samples) < ERROR_SAMPLES:
                self.samples.append(sample[:400])


def client(job: dict, operation, thread: int, phases: list, recorders: list, state: dict):
    """One client thread: its own connection, requests back to back through every phase."""
    rng = random.Random(job.get("seed", 1) * 1000 + thread)
    connection = http.client.HTTPConnection(job.get("host", "127.0.0.1"), job["port"], timeout=60)
    try:
        for (deadline_at, barrier), recorder in zip(phases, recorders, strict=True):
            barrier.wait()
            deadline = deadline_at()
            while time.perf_counter() < deadline and not state["exhausted"]:
                if recorder is not None and next(recorder.sent) >= recorder.max_requests:
                    break
                try:
                    method, path, body, headers, expect = operation(thread, rng)
                except Exhausted:
                    state["exhausted"] = True
                    break
                started = time.perf_counter()
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    if recorder is not None:
                        recorder.error(type(error).__name__, f"{method} {path}: {error!r}")
                    continue
                milliseconds = 1000 * (time.perf_counter() - started)
                if recorder is None:
                    continue
                if status == expect:
                    recorder.ok(milliseconds)
                else:
                    text = answer.decode("utf-8", "replace")
                    recorder.error(str(status), f"{method} {path} → {status}: {text}")
    finally:
        connection.close()


def run(job: dict) -> dict:
    operation = make_operation(job["operation"], job.get("data", {}))
    clients = job["clients"]
    state = {"exhausted": False}
    measured = Recorder(job.get("max_requests", 1_000_000))
    times: dict[str, float] = {}

    def phase(name: str, seconds: float):
        """A barrier that starts the phase's clock when every client is ready, and its end."""
        barrier = threading.Barrier(
            clients, action=lambda: times.__setitem__(name, time.perf_counter())
        )
        return (lambda: times[name] + seconds), barrier

    phases = [phase("warmup", job.get("warmup", 1.0)), phase("measure", job["seconds"])]
    threads = [
        threading.Thread(
            target=client, args=(job, operation, index, phases, [None, measured], state)
        )
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - times.get("measure", time.perf_counter())
    latencies = sorted(measured.latencies)
    result = {
        "operation": job["operation"],
        "clients": clients,
        "seconds": round(elapsed, 3),
        "ok": len(latencies),
        "errors": measured.errors,
        "error_statuses": measured.statuses,
        "error_samples": measured.samples,
        "exhausted": state["exhausted"],
        "throughput": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
    }
    if len(latencies) >= 2:
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        result.update(
            p50=round(q[49], 2),
            p95=round(q[94], 2),
            p99=round(q[98], 2),
            mean=round(statistics.fmean(latencies), 2),
            max=round(latencies[-1], 2),
        )
    elif latencies:
        result.update(p50=latencies[0], p95=latencies[0], p99=latencies[0], max=latencies[0])
    return result


def main() -> None:
    job = json.load(sys.stdin)
    try:
        result = run(job)
    except KeyboardInterrupt:
        sys.exit(130)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
