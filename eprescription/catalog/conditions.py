"""Each product's CIS_CPD conditions classified into rules at import, and their listing."""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from eprescription.domain.prescribing_conditions import Condition, Kind, classify, classify_all
from eprescription.domain.prescribing_conditions import to_json as conditions_json
from eprescription.models import PrescribingCondition, Product


def derive(session: Session) -> int:
    """Write every product's classified conditions (none for a product without any); the
    number of products that have some."""
    texts: dict[str, list[str]] = {}
    for cis, text in session.execute(
        select(PrescribingCondition.cis, PrescribingCondition.condition).order_by(
            PrescribingCondition.id
        )
    ):
        texts.setdefault(cis, []).append(text)
    stored = dict(session.execute(select(Product.cis, Product.conditions)).all())
    rows = []
    for cis, old in stored.items():
        new = conditions_json(classify_all(texts.get(cis, [])))
        if new != old:
            rows.append({"cis": cis, "conditions": new})
    if rows:
        session.execute(update(Product), rows, execution_options={"synchronize_session": False})
    return len(texts)


@dataclass(frozen=True)
class Listed:
    """One distinct condition text of the catalog: how it was read, and on how many products."""

    condition: Condition
    products: int


def listing(session: Session) -> list[Listed]:
    """Every distinct condition text, unknown ones first, then by kind and by products."""
    counts = Counter(
        dict(
            session.execute(
                select(
                    PrescribingCondition.condition,
                    func.count(PrescribingCondition.cis.distinct()),
                ).group_by(PrescribingCondition.condition)
            ).all()
        )
    )
    listed = [Listed(classify(text), count) for text, count in counts.items()]
    return sorted(
        listed,
        key=lambda item: (
            item.condition.kind is not Kind.UNKNOWN,
            item.condition.kind,
            -item.products,
            item.condition.text,
        ),
    )
