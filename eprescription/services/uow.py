"""The unit of work of one use case: session, acting account, clock, settings, buffered audit
events; the only place that commits."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from sqlalchemy.orm import Session

from eprescription.domain.errors import AuthenticationRequired
from eprescription.models import Account
from eprescription.models.base import utcnow
from eprescription.services import audit as audit_log
from eprescription.signing.keyring import Keyring


@dataclass(frozen=True)
class Settings:
    """What services need from the configuration, read once by the caller."""

    country: str
    key_encryption_key: bytes  # the current one: wraps the CA, service and prescribers' keys,
    # seals access codes
    token_lifetime_seconds: int = 3600
    # A bearer token unused this long ends, as an idle session does (patients: the second).
    token_idle_minutes: int = 15
    token_idle_minutes_patient: int = 30
    # Every key-encryption key by id, key_encryption_key the current (None: a keyring of one).
    key_encryption_keys: Keyring | None = None
    # A renewal may be given this many days before its period opens (docs/rules.md).
    dispensing_early_days: int = 3
    # Webhooks of a practice's or pharmacy's subscription may go to private addresses
    # (loopback, RFC 1918, link-local): off but for tests and closed networks (docs/events.md).
    webhook_private_targets: bool = False

    @property
    def keyring(self) -> Keyring:
        """The key-encryption keys by id: the current one for new material, older ones to read."""
        if self.key_encryption_keys is None:
            return Keyring.of_one(self.key_encryption_key)
        return self.key_encryption_keys


class UnitOfWork:
    """One use case, one transaction: opened by a view, an API call, a CLI command or a test.

    On a clean exit the buffered audit events are written (one batch) and the transaction
    commits; on any exception everything is rolled back, and only what was recorded with
    `refuse` (a denied read, a wrong code, a wrong PIN) is then written and committed.
    """

    def __init__(
        self,
        session: Session,
        settings: Settings,
        account: Account | None = None,
        *,
        actor: audit_log.Actor | None = None,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.account = account
        self.now = now or utcnow()
        self._actor = actor
        self._kept: list[audit_log.Event] = []
        self._kept_work: list[Callable[[Session], None]] = []
        # What a use case reads once and reuses (the verifiers' trust list), by name.
        self.memo: dict[str, object] = {}

    def require_account(self) -> Account:
        """The acting account, where the use case is one only an account runs (its caller has
        checked the role); AuthenticationRequired without one."""
        if self.account is None:
            raise AuthenticationRequired()
        return self.account

    @property
    def actor(self) -> audit_log.Actor:
        """Who acts: the account with its role and organisation, or the operator."""
        if self._actor is None:
            self._actor = audit_log.actor_for(self.account)
        return self._actor

    def audit(
        self,
        action: str,
        object_type: str,
        object_id: str = "",
        *,
        patient_person_id: int | None = None,
        outcome: str = audit_log.SUCCESS,
        actor: audit_log.Actor | None = None,
    ) -> None:
        """Record an event in this transaction: written at commit, gone with a rollback."""
        audit_log.record(
            self.session,
            actor or self.actor,
            action,
            object_type,
            object_id,
            patient_person_id=patient_person_id,
            outcome=outcome,
            at=self.now,
        )

    def refuse(
        self,
        action: str,
        object_type: str,
        object_id: str = "",
        *,
        patient_person_id: int | None = None,
        outcome: str,
        actor: audit_log.Actor | None = None,
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Record a refusal that is kept whatever happens next (the caller usually raises);
        `also` is more work kept with it, such as counting a wrong PIN."""
        self._kept.append(
            audit_log.Event(
                actor or self.actor,
                action,
                object_type,
                str(object_id or "")[:64],
                patient_person_id,
                outcome[:48],
                self.now,
            )
        )
        if also is not None:
            self.keep(also)

    def keep(self, work: Callable[[Session], None]) -> None:
        """Run `work` at the end whatever happens: after a rollback, in a fresh transaction
        (for what a failure must leave behind, such as a wrong PIN counted)."""
        self._kept_work.append(work)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A SAVEPOINT inside this transaction: what fails in it (a unique index refusing a
        row) is undone alone, and the use case goes on.

        pysqlite begins its transaction only at the first write, and a SAVEPOINT outside one
        is a transaction of its own that its RELEASE commits; so on SQLite the real
        transaction is begun first (IMMEDIATE: the database's write lock, as a write would)."""
        connection = self.session.connection()
        if connection.dialect.name == "sqlite" and not connection.connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        with self.session.begin_nested():
            yield

    def commit(self) -> None:
        """Write the kept refusals and the buffered events, then commit."""
        audit_log.write(self.session, self._kept + audit_log.pending(self.session))
        audit_log.discard_pending(self.session)
        self._kept = []
        for work in self._kept_work:
            work(self.session)
        self._kept_work = []
        self.session.commit()

    def rollback(self) -> None:
        """Undo the use case; what `refuse` recorded is then written in its own transaction."""
        self.session.rollback()
        audit_log.discard_pending(self.session)
        if self._kept or self._kept_work:
            self.commit()

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.rollback()
            return
        try:
            self.commit()
        except BaseException:
            self.rollback()
            raise
