"""DESIGN §2: the unit of work is the only place under services/ that commits or rolls back."""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "eprescription" / "services"
TRANSACTION_ENDS = {"commit", "rollback"}


def _transaction_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.name}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_ENDS
    ]


def test_no_service_module_but_the_unit_of_work_commits_or_rolls_back():
    modules = [path for path in SERVICES.glob("*.py") if path.name != "uow.py"]
    assert modules, f"no service modules found under {SERVICES}"

    offenders = [call for path in sorted(modules) for call in _transaction_calls(path)]

    assert offenders == []


def test_the_unit_of_work_itself_commits(tmp_path):
    # The scan finds what it looks for: the unit of work's own commit is seen.
    assert any(".commit()" in call for call in _transaction_calls(SERVICES / "uow.py"))
