"""The packs handed over: read from their GS1 code or fields, and what the catalog says of them."""

from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import (
    BindParameter,
    Select,
    bindparam,
    select,
    union_all,
)
from sqlalchemy.orm import joinedload

from eprescription.domain import dispensing as rules
from eprescription.domain import gs1
from eprescription.domain.errors import (
    InvalidGs1Code,
    ProductExpired,
    SubstitutionRefused,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import Problems
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    CompositionLine,
    Presentation,
    Product,
)
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class PackLine:
    """One pack line as the pharmacist sends it: a CIP13 or a GS1 string, quantity, batch."""

    line: int
    quantity: int
    cip13: str | None = None
    gs1: str | None = None
    batch: str | None = None
    expiry: date | None = None
    serial: str | None = None
    unit_price_cents: int | None = None  # only for a pack the catalog has no price for


@dataclass
class HandedPack:
    """A request line resolved against the catalog."""

    index: int
    request: PackLine
    cip13: str
    batch: str
    expiry: date
    serial: str | None


def read_packs(problems: Problems, lines: list[PackLine]) -> list[HandedPack]:
    """CIP13, batch, expiry and serial of each line, from the GS1 string or the fields."""
    packs = []
    for index, line in enumerate(lines):
        path = ("lines", index)
        cip13, batch, expiry, serial = line.cip13, line.batch, line.expiry, line.serial
        if line.gs1:
            try:
                code = gs1.parse(line.gs1)
            except InvalidGs1Code as error:
                problems.add((*path, "gs1"), error.detail)
                continue
            for name, typed, scanned in (
                ("cip13", cip13, code.cip13),
                ("batch", batch, code.batch),
                ("expiry", expiry, code.expiry),
                ("serial", serial, code.serial),
            ):
                if typed is not None and scanned is not None and typed != scanned:
                    problems.add(
                        (*path, name),
                        Message("pack_differs", "differs from the box's scanned code"),
                    )
            cip13 = code.cip13
            batch = batch or code.batch
            expiry = expiry or code.expiry
            serial = serial or code.serial
        if not cip13:
            problems.add((*path, "cip13"), Message(*gs1.EMPTY))
        if not batch:
            problems.add(
                (*path, "batch"), Message("batch_required", "the batch number is required")
            )
        if expiry is None:
            problems.add(
                (*path, "expiry"),
                Message("expiry_required", "the box's expiry date is required"),
            )
        if cip13 and batch and expiry is not None:
            packs.append(HandedPack(index, line, cip13, batch, expiry, serial))
    return packs


@dataclass(frozen=True)
class Catalog:
    """What the catalog says of the packs handed over and of the products prescribed."""

    presentations: dict[str, Presentation]  # by CIP13
    products: dict[str, Product]  # by CIS: the packs' and the prescribed ones
    packs: dict[str, rules.Pack]  # by CIP13, as the substitution rules take them

    def groups(self, cis: str | None) -> frozenset[int]:
        """The generic groups (CIS_GENER) of a product."""
        product = self.products.get(cis or "")
        if product is None:
            return frozenset()
        return frozenset(member.group_id for member in product.generic_memberships)


@cache
def _catalog_statement() -> Select:
    """_catalog's statement, built once (its loader criteria take milliseconds to build)."""
    cip13s: BindParameter[list[str]] = bindparam("cip13s", expanding=True)
    wanted = union_all(
        select(Presentation.cis).where(Presentation.cip13.in_(cip13s)),
        select(Product.cis).where(Product.cis.in_(bindparam("prescribed", expanding=True))),
    ).subquery()
    return (
        select(Product)
        .where(Product.cis.in_(select(wanted.c.cis)))
        .options(
            joinedload(Product.presentations.and_(Presentation.cip13.in_(cip13s))),
            joinedload(Product.compositions.and_(CompositionLine.nature == "SA")),
            joinedload(Product.generic_memberships),
        )
    )


def catalog_of(uow: UnitOfWork, cip13s: set[str], prescribed: set[str]) -> Catalog:
    """The presentations `cip13s` and the products `prescribed` (CIS), each product with its
    active substances and generic groups: one statement, whatever the number of lines. The
    products' `presentations` and `compositions` hold only what is asked here (loader
    criteria), which nothing else in a dispensation reads."""
    products = (
        uow.session.scalars(
            _catalog_statement(), {"cip13s": sorted(cip13s), "prescribed": sorted(prescribed)}
        )
        .unique()
        .all()
    )
    by_cis = {product.cis: product for product in products}
    presentations = {
        presentation.cip13: presentation
        for product in products
        for presentation in product.presentations
    }
    catalog = Catalog(presentations, by_cis, {})
    for cip13, presentation in presentations.items():
        product = by_cis[presentation.cis]
        catalog.packs[cip13] = rules.Pack(
            cip13=cip13,
            cis=product.cis,
            form=product.form,
            substances=frozenset((c.substance_code, c.strength) for c in product.compositions),
            generic_groups=catalog.groups(product.cis),
        )
    return catalog


def catalog_price(presentation: Presentation) -> int | None:
    """What a pack costs at the counter: the price with the dispensing fee when the BDPM has it."""
    if presentation.price_with_fees_cents is not None:
        return presentation.price_with_fees_cents
    return presentation.price_cents


@dataclass(frozen=True)
class PricedPack:
    """A pack accepted for a prescription line: what was handed over, the catalog's
    presentation and product, whether it substitutes the prescribed one, and its price."""

    pack: HandedPack
    line: int
    presentation: Presentation
    product_name: str
    substituted: bool
    price: rules.LinePrice


def priced(
    uow: UnitOfWork, found: SignedPrescription, lines: list[PackLine], today: date
) -> list[PricedPack]:
    """Each pack line read, found in the catalog, checked against its signed line
    (substitution, expiry) and priced; every problem at once in one refusal, nothing given.
    A refused substitution or an expired pack names the refusal, else ValidationFailed."""
    problems = Problems()
    packs = read_packs(problems, lines)
    signed = {line.line: line for line in found.lines}
    kinds: set[type] = set()
    accepted = []
    prescribed_cis = {signed[pack.request.line].prescribed.cis for pack in packs}
    catalog = catalog_of(
        uow, {pack.cip13 for pack in packs}, {cis for cis in prescribed_cis if cis}
    )
    for pack in packs:
        path = ("lines", pack.index)
        line = signed[pack.request.line]
        prescribed = line.prescribed
        presentation = catalog.presentations.get(pack.cip13)
        if presentation is None:
            problems.add(
                (*path, "cip13"),
                Message(
                    "no_such_pack",
                    "no box has the CIP13 {cip13} in the catalog",
                    cip13=pack.cip13,
                ),
            )
            continue
        decision = rules.check_pack(
            prescribed, catalog.packs[pack.cip13], catalog.groups(prescribed.cis)
        )
        if not decision.accepted:
            problems.add((*path, "cip13"), decision.reason)
            kinds.add(SubstitutionRefused)
            continue
        expired = rules.pack_expiry_problem(pack.expiry, today)
        if expired:
            problems.add((*path, "expiry"), expired)
            kinds.add(ProductExpired)
            continue
        unit = catalog_price(presentation)
        if unit is None:
            unit = pack.request.unit_price_cents
        if unit is None:
            problems.add(
                (*path, "unit_price_cents"), "the catalog has no price for this pack: give it"
            )
            continue
        price = rules.price_line(
            unit, pack.request.quantity, presentation.reimbursement_rate, line.content["ald"]
        )
        accepted.append(
            PricedPack(
                pack,
                line.line,
                presentation,
                catalog.products[presentation.cis].name,
                decision.substituted,
                price,
            )
        )
    if problems:
        kind = next(
            (k for k in (SubstitutionRefused, ProductExpired) if k in kinds), ValidationFailed
        )
        raise kind(
            "Nothing was dispensed: " + _first_messages(problems.errors), errors=problems.errors
        )
    return accepted


def _first_messages(errors: dict) -> str:
    messages = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            messages.extend(str(m) for m in node)

    walk(errors)
    return "; ".join(messages[:3])
