"""The patient behind the acting account: the health space is for patients."""

from eprescription.domain.errors import (
    PermissionDenied,
)
from eprescription.models import (
    Account,
    Role,
)


def patient_person_id(account: Account | None) -> int:
    if account is None or account.role is not Role.PATIENT or account.person_id is None:
        raise PermissionDenied("The health space is for patients.")
    return account.person_id
