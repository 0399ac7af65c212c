"""The paging every list shares: its query arguments, and the page it answers with."""

from marshmallow import Schema, fields, validate

PAGE_MAX = 10_000  # no list is read that deep: a larger page number is a mistake


def page_argument() -> fields.Integer:
    """The `page` query argument: 1 (the default), 2, … up to PAGE_MAX."""
    return fields.Integer(load_default=1, validate=validate.Range(min=1, max=PAGE_MAX))


def page_size_argument(default: int, maximum: int) -> fields.Integer:
    """A page size query argument: `default` items a page, at most `maximum`."""
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=maximum))


class PageSchema(Schema):
    """A page of a list: a subclass names its `items`; how many in all, which page, its size."""

    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
