"""SQLAlchemy 2.0 typed tables of the service; import every model module here."""

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
)
from eprescription.models.people import (
    Account,
    ApiToken,
    Person,
    Pharmacist,
    Pharmacy,
    Prescriber,
    Role,
)

__all__ = [
    "Account",
    "ApiToken",
    "Base",
    "CatalogImport",
    "CompositionLine",
    "GenericGroup",
    "GenericGroupMember",
    "Person",
    "Pharmacist",
    "Pharmacy",
    "Prescriber",
    "PrescribingCondition",
    "Presentation",
    "Product",
    "Role",
    "SearchDocument",
    "SearchTerm",
]
