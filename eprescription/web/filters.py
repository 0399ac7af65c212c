"""The template filters and globals that pages of several blueprints use, registered once."""

from typing import Any

from flask import Flask

from eprescription.web import patient_words


def euros(cents: int | None) -> str:
    """Cents as the counter and the health space show them: 4.71 €."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d} €"


def field_errors(errors: dict, *path) -> list[str]:
    """The messages at `path` of a (nested) errors dict; [] when there are none."""
    node: Any = errors  # nested dicts, then a message or a list of them
    for key in path:
        if not isinstance(node, dict):
            return []
        node = node.get(key, node.get(str(key))) if isinstance(key, int) else node.get(key)
        if node is None:
            return []
    if isinstance(node, dict):  # messages about the parts: shown next to them
        return []
    return [node] if isinstance(node, str) else list(node)


def init_app(app: Flask) -> None:
    """Make them available to every template; the words in the page language stay with the
    health space's (patient_words), whose translations test_languages checks."""
    app.add_template_filter(euros)
    app.add_template_filter(patient_words.message)
    app.add_template_filter(patient_words.role_label)
    app.add_template_global(field_errors)
