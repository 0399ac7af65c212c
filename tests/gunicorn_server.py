"""A real gunicorn (the project's gunicorn.conf.py) on loopback for one test: start, find its
worker, read its logs, stop."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_PATH = "/api/v1/trust/certificates"
WORKER_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """One gunicorn master with one sync worker: `call`, `worker_pid()`, `errors()`."""

    def __init__(self, process: subprocess.Popen, port: int, *logs: Path):
        self.process, self.port = process, port
        self.error_log, self.access_log, self.output = logs

    def call(self, method: str, path: str, body=None, headers=None, timeout: float = 30):
        """(status, body bytes) of one request on a new connection; a dropped connection
        raises (http.client.RemoteDisconnected, ConnectionResetError)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            sent = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers={**sent, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace")

    def logs(self) -> str:
        """Everything the server wrote: its error and access logs, and its stdout and stderr
        (where the app's own log and any logging configuration an operator adds end)."""
        files = (self.error_log, self.access_log, self.output)
        return "".join(path.read_text(errors="replace") for path in files)

    def worker_pid(self) -> int:
        """The pid of the worker booted last."""
        return int(WORKER_BOOTED.findall(self.errors())[-1])

    def wait_ready(self, after_pid: int | None = None, timeout: float = 30) -> None:
        """Until a worker (other than `after_pid`) answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.errors()}")
            booted = WORKER_BOOTED.findall(self.errors())
            if booted and int(booted[-1]) != after_pid:
                try:
                    if self.call("GET", READY_PATH, timeout=5)[0] == 200:
                        return
                except OSError:  # refused, reset: not listening yet
                    pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn never answered:\n{self.errors()}")


@contextmanager
def gunicorn(
    tmp_path: Path, database_url: str, app: str = "wsgi:app", *, timeout: int = 30, args=()
):
    """Serve `app` on a free loopback port, logging at DEBUG, until the block ends."""
    port = free_port()
    error_log, access_log = tmp_path / "gunicorn-error.log", tmp_path / "gunicorn-access.log"
    output = tmp_path / "gunicorn-output.log"
    env = {
        **os.environ,
        "EPRESCRIPTION_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_TIMEOUT": str(timeout),
        "GUNICORN_LOGLEVEL": "debug",
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py")]
    command += ["--error-logfile", str(error_log), "--access-logfile", str(access_log)]
    error_log.touch()
    access_log.touch()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *args, app], cwd=REPO_ROOT, env=env, stdout=sink, stderr=sink
        )
    server = Gunicorn(process, port, error_log, access_log, output)
    try:
        server.wait_ready()
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
