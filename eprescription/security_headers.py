"""The security headers of every response, pages and JSON alike, set in one after-request hook."""

from flask import Flask, Response, request

# Scripts, styles, images and fetches come from this origin only: no inline code, no eval, no
# framing, forms post back here (docs/security.md, "Headers").
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
# /api/docs only: the vendored Swagger UI draws its icons as data: images from its stylesheet.
DOCS_PAGE = "/api/docs"
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "img-src 'self'", "img-src 'self' data:"
)
FIXED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# What anybody may fetch and keep: the vendored files, the trust list, the signed tree heads and
# their proofs, the API and FHIR descriptions. Everything else may carry health data or a QR text.
PUBLIC_PATHS = (
    "/static/",
    "/api/v1/trust/",
    "/api/v1/audit/checkpoint",
    "/api/v1/audit/consistency",
    "/api/openapi.json",
    "/fhir/r4/metadata",
)
NO_STORE = "no-store"


def init_app(app: Flask) -> None:
    """Add the headers to every response of `app`; HSTS when HSTS_MAX_AGE (seconds) is set."""
    fixed = dict(FIXED)
    if app.config.get("HSTS_MAX_AGE"):
        fixed["Strict-Transport-Security"] = (
            f"max-age={int(app.config['HSTS_MAX_AGE'])}; includeSubDomains"
        )

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.update(fixed)
        if request.path == DOCS_PAGE:
            response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        if not is_public(request.path):
            response.headers["Cache-Control"] = NO_STORE
        return response


def is_public(path: str) -> bool:
    """True for the paths whose answers carry nothing personal and may be kept by caches."""
    return path.startswith(PUBLIC_PATHS)
