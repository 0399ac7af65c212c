"""The supply chain: every range in pyproject.toml is bounded, the locks pin a version inside
each range with hashes, and what runs the tests is exactly what the dev lock pins."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._\[\],-]*)==(?P<version>[^\s;\\]+)(?P<rest>[^\n]*)"
)


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(*, dev: bool) -> list[Requirement]:
    config = project()
    lines = list(config["project"]["dependencies"]) + list(config["build-system"]["requires"])
    if dev:
        lines += config["project"]["optional-dependencies"]["dev"]
    return [Requirement(line) for line in lines]


def pins(lock: str) -> dict[str, tuple[str, str | None, bool]]:
    """name → (version, marker, hashed) for each pin of a lock file."""
    text = (ROOT / lock).read_text()
    found = {}
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match:
            marker = match["rest"].split(";", 1)[1].strip(" \\") if ";" in match["rest"] else None
            name = canonicalize_name(match["name"].split("[")[0])
            found[name] = (match["version"], marker, "--hash=sha256:" in block)
    return found


def test_every_dependency_range_has_an_upper_bound():
    unbounded = [
        str(req)
        for req in requirements(dev=True)
        if not any(spec.operator in ("<", "<=", "==", "~=") for spec in req.specifier)
    ]
    assert unbounded == []


def test_each_lock_pins_every_dependency_inside_its_range_with_hashes():
    for lock, dev in (("requirements.lock", False), ("requirements-dev.lock", True)):
        locked = pins(lock)
        assert locked and all(hashed for _, _, hashed in locked.values()), lock
        for req in requirements(dev=dev):
            name = canonicalize_name(req.name)
            assert name in locked, f"{lock} lacks {req} (run `make lock`)"
            assert req.specifier.contains(locked[name][0], prereleases=True), (lock, str(req))


def test_the_two_locks_agree_on_every_version_they_share():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: runtime[name][0] for name in runtime} == {name: dev[name][0] for name in runtime}


def test_what_runs_the_tests_is_what_the_dev_lock_pins():
    """`make test` installs from the dev lock: a version here that differs means the lock is
    stale (run `make lock`) or the environment was installed another way."""
    differ = {}
    for name, (version, marker, _) in pins("requirements-dev.lock").items():
        if marker is not None and not Marker(marker).evaluate():
            continue
        if name == "setuptools":  # only builds the project; pip's own venv copy may differ
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ[name] = (installed, version)
    assert differ == {}
