"""The template filters and globals that pages of several blueprints use, registered once."""

from typing import Any

from flask import Flask

from eprescription.web import formats, messages, patient_filters, script_words


def field_errors(errors: dict, *path) -> list[str]:
    """The messages at `path` of a (nested) errors dict, in the page language; [] when none."""
    node: Any = errors  # nested dicts, then a message or a list of them
    for key in path:
        if not isinstance(node, dict):
            return []
        node = node.get(key, node.get(str(key))) if isinstance(key, int) else node.get(key)
        if node is None:
            return []
    if isinstance(node, dict):  # messages about the parts: shown next to them
        return []
    return [messages.message(item) for item in ([node] if isinstance(node, str) else node)]


def init_app(app: Flask) -> None:
    """Make them available to every template: dates, times and money (formats), the domain's
    messages by code (messages), the scripts' words (script_words), the actor's role."""
    app.add_template_filter(formats.day)
    app.add_template_filter(formats.when)
    app.add_template_filter(formats.money)
    app.add_template_filter(messages.message)
    app.add_template_filter(messages.error_title)
    app.add_template_filter(messages.check_label)
    app.add_template_filter(patient_filters.role_label)
    app.add_template_global(field_errors)
    app.context_processor(script_words.inject)
