"""/api/docs: the OpenAPI document, browsable (Swagger UI vendored under /static, no CDN)."""

from flask import Blueprint, render_template, url_for

blp = Blueprint("api_docs", __name__)


@blp.get("/api/docs")
def browse():
    """The page: a static initialiser loads /api/openapi.json into the vendored Swagger UI."""
    return render_template("api_docs.html", openapi_url=url_for("api-docs.openapi_json"))
