"""The medicine catalog imported from the BDPM: products, presentations, substances, groups."""

from datetime import date, datetime

from sqlalchemy import Boolean, ColumnElement, Date, ForeignKey, Index, Integer, String, Text, and_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime

ACTIVE_AUTHORISATION = "Autorisation active"


class Product(Base):
    """A medicinal product (spécialité), identified by its CIS code."""

    __tablename__ = "medication_products"

    cis: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    form: Mapped[str] = mapped_column(String(256), default="")
    routes: Mapped[str] = mapped_column(String(256), default="")
    authorisation_status: Mapped[str] = mapped_column(String(64), default="")
    authorisation_procedure: Mapped[str] = mapped_column(String(128), default="")
    marketing_status: Mapped[str] = mapped_column(String(64), default="")
    authorisation_date: Mapped[date | None] = mapped_column(Date)
    bdm_status: Mapped[str] = mapped_column(String(64), default="")
    eu_authorisation_number: Mapped[str] = mapped_column(String(64), default="")
    holders: Mapped[str] = mapped_column(String(512), default="")
    reinforced_monitoring: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_from_bdpm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its CIS_CPD conditions classified (domain/prescribing_conditions.to_json), derived at
    # each import: read with the product, so checking a line's rules costs no statement.
    conditions: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")

    presentations: Mapped[list["Presentation"]] = relationship(
        back_populates="product", order_by="Presentation.cip13"
    )
    compositions: Mapped[list["CompositionLine"]] = relationship(
        back_populates="product", order_by="CompositionLine.id"
    )
    generic_memberships: Mapped[list["GenericGroupMember"]] = relationship(back_populates="product")

    @hybrid_property
    def is_prescribable(self) -> bool:
        """Whether a new prescription may name this product (authorised and still listed)."""
        return (
            self.authorisation_status == ACTIVE_AUTHORISATION and self.removed_from_bdpm_at is None
        )

    @is_prescribable.inplace.expression
    @classmethod
    def _is_prescribable_in_sql(cls) -> ColumnElement[bool]:
        return and_(
            cls.authorisation_status == ACTIVE_AUTHORISATION, cls.removed_from_bdpm_at.is_(None)
        )


class Presentation(Base):
    """A pack of a product (présentation), identified by its CIP13 code."""

    __tablename__ = "medication_presentations"

    cip13: Mapped[str] = mapped_column(String(13), primary_key=True)
    cis: Mapped[str] = mapped_column(ForeignKey("medication_products.cis"), index=True)
    cip7: Mapped[str] = mapped_column(String(7), default="")
    label: Mapped[str] = mapped_column(Text, default="")
    administrative_status: Mapped[str] = mapped_column(String(64), default="")
    marketing_status: Mapped[str] = mapped_column(String(128), default="")
    marketing_date: Mapped[date | None] = mapped_column(Date)
    collectivities_approved: Mapped[bool | None] = mapped_column(Boolean)
    reimbursement_rate: Mapped[int | None] = mapped_column(Integer)
    price_cents: Mapped[int | None] = mapped_column(Integer)
    price_with_fees_cents: Mapped[int | None] = mapped_column(Integer)
    dispensing_fees_cents: Mapped[int | None] = mapped_column(Integer)
    reimbursement_indications: Mapped[str] = mapped_column(Text, default="")
    removed_from_bdpm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    product: Mapped[Product] = relationship(back_populates="presentations")


class CompositionLine(Base):
    """One substance of a product, with its strength (a line of CIS_COMPO_bdpm)."""

    __tablename__ = "medication_compositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cis: Mapped[str] = mapped_column(ForeignKey("medication_products.cis"), index=True)
    element: Mapped[str] = mapped_column(String(256), default="")
    substance_code: Mapped[str] = mapped_column(String(16), index=True)
    substance_name: Mapped[str] = mapped_column(String(512))
    strength: Mapped[str] = mapped_column(String(256), default="")
    reference_quantity: Mapped[str] = mapped_column(String(256), default="")
    nature: Mapped[str] = mapped_column(String(2))
    link_number: Mapped[int | None] = mapped_column(Integer)

    product: Mapped[Product] = relationship(back_populates="compositions")


class GenericGroup(Base):
    """A generic group: products a pharmacist may substitute for one another."""

    __tablename__ = "medication_generic_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(Text)

    members: Mapped[list["GenericGroupMember"]] = relationship(back_populates="group")


class GenericGroupMember(Base):
    """A product's place in a generic group (0 princeps, 1 generic, 2 complementary, 4 subst.)."""

    __tablename__ = "medication_generic_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("medication_generic_groups.id"), primary_key=True
    )
    # Indexed on its own too: search results load their groups by product.
    cis: Mapped[str] = mapped_column(
        ForeignKey("medication_products.cis"), primary_key=True, index=True
    )
    generic_type: Mapped[int] = mapped_column(Integer)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[GenericGroup] = relationship(back_populates="members")
    product: Mapped[Product] = relationship(back_populates="generic_memberships")


class PrescribingCondition(Base):
    """A prescribing or dispensing condition of a product (CIS_CPD_bdpm)."""

    __tablename__ = "medication_prescribing_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cis: Mapped[str] = mapped_column(ForeignKey("medication_products.cis"), index=True)
    condition: Mapped[str] = mapped_column(Text)


class _TermColumns:
    """What both term tables hold: a normalised word (lowercase, no accents) and its kind."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Prefix search is a range on `term`: PostgreSQL must compare bytes, as SQLite does.
    term: Mapped[str] = mapped_column(
        String(128).with_variant(String(128, collation="C"), "postgresql")
    )
    kind: Mapped[str] = mapped_column(String(16))


class SearchTerm(_TermColumns, Base):
    """A word that leads a search to a product."""

    __tablename__ = "medication_search_terms"
    # Both cover every column a search reads, so a search never visits the table itself:
    # one finds the products of a word, the other checks a product for another word.
    __table_args__ = (
        Index("ix_medication_search_terms_term_covering", "term", "cis", "kind", "product_rank"),
        Index("ix_medication_search_terms_cis_term", "cis", "term", "kind"),
    )

    cis: Mapped[str] = mapped_column(ForeignKey("medication_products.cis"))
    # The product's place in the catalog order (marketed first, then by name), copied on
    # every term so that a search ranks its matches without reading the products.
    product_rank: Mapped[int] = mapped_column(Integer)


class SearchDocument(Base):
    """A product as a search hit shows it, as JSON: derived from the catalog at each import."""

    __tablename__ = "medication_search_documents"

    cis: Mapped[str] = mapped_column(ForeignKey("medication_products.cis"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)


class SubstanceLine(Base):
    """A substance at a strength in a form (a DCI line), as a search hit shows it, as JSON:
    derived at each import from the prescribable single-substance products on the market."""

    __tablename__ = "medication_substance_lines"

    # The line's place in the catalog order (most prescribed first), renewed at each import.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[str] = mapped_column(Text)


class SubstanceLineTerm(_TermColumns, Base):
    """A word or strength that leads a search to a substance line."""

    __tablename__ = "medication_substance_line_terms"
    # As for SearchTerm: one finds the lines of a word, the other checks a line for another.
    __table_args__ = (
        Index("ix_medication_substance_line_terms_term_covering", "term", "line_id", "kind"),
        Index("ix_medication_substance_line_terms_line_term", "line_id", "term", "kind"),
    )

    line_id: Mapped[int] = mapped_column(ForeignKey("medication_substance_lines.id"))


class CatalogImport(Base):
    """One run of the BDPM import, kept for the operator."""

    __tablename__ = "catalog_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(1024))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)
    lines_skipped: Mapped[int] = mapped_column(Integer, default=0)
