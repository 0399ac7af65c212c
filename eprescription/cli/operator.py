"""What the commands share: the operator's unit of work, whose domain refusals exit 1."""

from collections.abc import Iterator
from contextlib import contextmanager

import click

from eprescription.domain.errors import DomainError
from eprescription.services import audit
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work


class Refused(click.ClickException):
    """A domain refusal printed with every field's reason; exit code 1."""

    def __init__(self, error: DomainError):
        lines = [error.detail]
        for field, messages in error.errors.items():
            for message in [messages] if isinstance(messages, str) else messages:
                lines.append(f"  {field}: {message}")
        super().__init__("\n".join(lines))


@contextmanager
def operator_work() -> Iterator[UnitOfWork]:
    """One command's unit of work, acted by the operator at the command line: committed at
    the end, or rolled back by a domain refusal, which is printed (Refused) with exit code 1."""
    try:
        with unit_of_work(actor=audit.OPERATOR) as uow:
            yield uow
    except DomainError as error:
        raise Refused(error) from error
