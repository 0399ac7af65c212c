"""The page language: French or English, from the visitor's choice (a cookie) or their browser."""

from flask import Blueprint, Flask, redirect, request, url_for
from flask_babel import Babel, get_locale, refresh

from eprescription.web.auth import safe_next

LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT_LANGUAGE = "fr"
COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("language", __name__)
babel = Babel()


def select_language() -> str:
    """The visitor's choice if they made one, else the best match for their browser, else French."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


@bp.before_app_request
def choose_afresh() -> None:
    """Each request chooses its language (Flask-Babel caches it on the app context, which
    requests share when one is already pushed, as in tests and CLI-driven clients)."""
    refresh()


@bp.app_context_processor
def inject_languages() -> dict:
    return {"page_lang": str(get_locale()), "languages": LANGUAGES}


@bp.route("/language/<code>", methods=["POST"])
def choose(code: str):
    """Remember the chosen language and go back to the page the visitor was on."""
    response = redirect(safe_next(request.form.get("next")) or url_for("home.index"))
    if code in LANGUAGES:
        response.set_cookie(
            COOKIE, code, max_age=ONE_YEAR, secure=request.is_secure, httponly=True, samesite="Lax"
        )
    return response


def init_app(app: Flask) -> None:
    """Pages in the chosen language; times in DISPLAY_TIME_ZONE (Babel's user time zone)."""
    babel.init_app(
        app,
        locale_selector=select_language,
        default_translation_directories="translations",
        default_timezone=app.config["DISPLAY_TIME_ZONE"],
    )
    app.register_blueprint(bp)
