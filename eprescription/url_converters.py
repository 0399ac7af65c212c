"""URL converters shared by the pages and the API: `<row_id:…>` for database row ids."""

from flask import Flask
from werkzeug.routing import IntegerConverter

from eprescription.models.base import ROW_ID_MAX


class RowIdConverter(IntegerConverter):
    """A positive integer that fits an INTEGER primary key: anything larger is simply not found
    (404), instead of overflowing the database driver."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=ROW_ID_MAX)


def init_app(app: Flask) -> None:
    app.url_map.converters["row_id"] = RowIdConverter
