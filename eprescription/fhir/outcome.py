"""The OperationOutcome every error under /fhir answers with (eprescription.errors builds it)."""

from eprescription.fhir import systems


def operation_outcome(
    issue_code: str, code: str, title: str, detail: str, errors: dict | None = None
) -> dict:
    """One error issue naming our stable `code`, then one per field problem."""
    issues = [
        {
            "severity": "error",
            "code": issue_code,
            "details": {"coding": [{"system": systems.ERROR_CODE, "code": code}], "text": title},
            "diagnostics": f"{code}: {detail}",
        }
    ]
    for field, messages in (errors or {}).items():
        for message in _messages(messages):
            issues.append(
                {"severity": "error", "code": issue_code, "diagnostics": f"{field}: {message}"}
            )
    return {"resourceType": "OperationOutcome", "issue": issues}


def _messages(value) -> list[str]:
    """Field errors as flat messages (marshmallow nests them in lists and dicts)."""
    if isinstance(value, dict):
        return [f"{key}: {m}" for key, inner in value.items() for m in _messages(inner)]
    if isinstance(value, list | tuple):
        return [m for inner in value for m in _messages(inner)]
    return [str(value)]
