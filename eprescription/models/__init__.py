"""SQLAlchemy 2.0 typed tables of the service; import every model module here."""

from eprescription.models.allergies import Allergy
from eprescription.models.audit import (
    AuditChain,
    AuditCheckpoint,
    AuditEvent,
    AuditLogEntry,
    AuditTreeNode,
)
from eprescription.models.base import Base
from eprescription.models.catalog import (
    CatalogImport,
    CompositionLine,
    GenericGroup,
    GenericGroupMember,
    PrescribingCondition,
    Presentation,
    Product,
    SearchDocument,
    SearchTerm,
    SubstanceLine,
    SubstanceLineTerm,
)
from eprescription.models.dispensing import Dispensation, DispensationLine, IdempotencyKey
from eprescription.models.events import (
    EventDelivery,
    EventOutboxEntry,
    EventSubscription,
    ExpiryReminder,
)
from eprescription.models.external_signing import PrescriberCrl, TrustedPrescriberCa
from eprescription.models.health_space import Representative
from eprescription.models.login_throttle import LoginThrottle
from eprescription.models.people import (
    Account,
    ApiToken,
    Person,
    Pharmacist,
    Pharmacy,
    Practice,
    Prescriber,
    Role,
)
from eprescription.models.pki import CertificateAuthority, PrescriberCredential, ServiceKey
from eprescription.models.prescriptions import (
    Prescription,
    PrescriptionCancellation,
    PrescriptionItem,
)
from eprescription.models.renewals import RenewalRequest
from eprescription.models.software import ClientAssertionUse, SoftwareClient

__all__ = [
    "Account",
    "Allergy",
    "ApiToken",
    "AuditChain",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditLogEntry",
    "AuditTreeNode",
    "Base",
    "CatalogImport",
    "CertificateAuthority",
    "ClientAssertionUse",
    "CompositionLine",
    "Dispensation",
    "DispensationLine",
    "EventDelivery",
    "EventOutboxEntry",
    "EventSubscription",
    "ExpiryReminder",
    "GenericGroup",
    "GenericGroupMember",
    "IdempotencyKey",
    "LoginThrottle",
    "Person",
    "Pharmacist",
    "Pharmacy",
    "Practice",
    "Prescriber",
    "PrescriberCredential",
    "PrescriberCrl",
    "PrescribingCondition",
    "Prescription",
    "PrescriptionCancellation",
    "PrescriptionItem",
    "Presentation",
    "Product",
    "RenewalRequest",
    "Representative",
    "Role",
    "SearchDocument",
    "SearchTerm",
    "ServiceKey",
    "SoftwareClient",
    "SubstanceLine",
    "SubstanceLineTerm",
    "TrustedPrescriberCa",
]
