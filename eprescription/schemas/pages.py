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
    """A page of a list (`items`: by page_of or a subclass): how many in all, which page, size."""

    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


def list_of(schema: type[Schema]) -> type[Schema]:
    """The list of `schema` an answer gives under `items`: XListSchema for XSchema."""
    return _items(schema, Schema, "List")


def page_of(schema: type[Schema], name: str | None = None) -> type[Schema]:
    """A page (PageSchema) of `schema` under `items`: XPageSchema for XSchema, or `name` (the
    name the OpenAPI document has always given it)."""
    return _items(schema, PageSchema, "Page", name)


def _items(
    schema: type[Schema], base: type[Schema], kind: str, name: str | None = None
) -> type[Schema]:
    name = name or schema.__name__.removesuffix("Schema") + kind + "Schema"
    return base.from_dict({"items": fields.List(fields.Nested(schema), required=True)}, name=name)
