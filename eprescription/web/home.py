"""The start page and each role's landing page, with `current_account` for every template."""

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext

from eprescription.models import Role
from eprescription.services import accounts
from eprescription.use_cases import unit_of_work
from eprescription.web import prescriber as prescriber_pages
from eprescription.web.auth import current_account, landing_url, login_required

bp = Blueprint("home", __name__)


@bp.app_context_processor
def inject_current_account() -> dict:
    return {"current_account": current_account()}


@bp.route("/")
def index():
    account = current_account()
    return redirect(landing_url(account) if account else url_for("auth.login"))


def _landing(title: str):
    with unit_of_work(current_account()) as uow:
        profile = accounts.profile(uow)
    return render_template("home/landing.html", title=title, profile=profile)


@bp.route("/prescriber/")
@login_required(Role.PRESCRIBER)
def prescriber():
    return prescriber_pages.home()


@bp.route("/pharmacy/")
@login_required(Role.PHARMACIST)
def pharmacy():
    return _landing(gettext("Pharmacy"))


@bp.route("/admin/")
@login_required(Role.ADMIN)
def admin():
    return _landing(gettext("Administration"))
