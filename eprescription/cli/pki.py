"""`flask pki …`: the certificate authority and prescribers' signing keys."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from eprescription.cli.operator import operator_work
from eprescription.services import pki, prescriber_trust

PRODUCTION = "production"
pem_file = click.Path(exists=True, dir_okay=False, path_type=Path)


pki_group = AppGroup("pki", help="The prescriber certificate authority and signing keys.")


INIT_HELP = (
    "Create a development CA (ECDSA P-256), or import an external CA with --ca-cert and "
    "--ca-key (PEM; the only way in production)."
)


@pki_group.command("init", help=INIT_HELP)
@click.option("--ca-cert", type=pem_file, help="PEM certificate of an external CA to import.")
@click.option("--ca-key", type=pem_file, help="PEM private key (unencrypted) of that CA.")
@click.option("--common-name", default=pki.DEVELOPMENT_CA_NAME, show_default=True)
def init(ca_cert: Path | None, ca_key: Path | None, common_name: str) -> None:
    with operator_work() as uow:
        authority = pki.init_ca(
            uow,
            common_name=common_name,
            import_cert_pem=ca_cert.read_bytes() if ca_cert else None,
            import_key_pem=ca_key.read_bytes() if ca_key else None,
            production=current_app.config["ENVIRONMENT"] == PRODUCTION,
        )
    kind = "Imported the external" if authority.is_external else "Created the development"
    click.echo(
        f"{kind} CA {authority.common_name} (serial {authority.serial}), "
        f"valid until {authority.not_valid_after:%Y-%m-%d}."
    )


@pki_group.command("enroll", help="Give a prescriber a signing key and certificate.")
@click.option("--username", required=True, help="The prescriber's account.")
@click.option(
    "--pin",
    prompt="Signing PIN (4 to 8 digits)",
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)
def enroll(username: str, pin: str) -> None:
    with operator_work() as uow:
        prescriber = pki.prescriber_for_username(uow, username)
        credential = pki.enroll_prescriber(uow, prescriber, pin)
    click.echo(
        f"Enrolled {username}: certificate {credential.serial}, valid until "
        f"{credential.not_valid_after:%Y-%m-%d}."
    )


@pki_group.command("unblock", help="Lift the block after three wrong PINs.")
@click.argument("username")
def unblock(username: str) -> None:
    with operator_work() as uow:
        pki.unblock(uow, pki.prescriber_for_username(uow, username))
    click.echo(f"Unblocked the signing key of {username}.")


@pki_group.command("revoke", help="Revoke a prescriber's certificate: it signs no more.")
@click.argument("username")
@click.option("--reason", required=True, help="Why (kept and published with the revocation).")
@click.option(
    "--key-compromise",
    is_flag=True,
    help="The key may be in other hands: distrust every signature it made, even earlier ones.",
)
def revoke(username: str, reason: str, key_compromise: bool) -> None:
    with operator_work() as uow:
        prescriber = pki.prescriber_for_username(uow, username)
        credential = pki.revoke(uow, prescriber, reason, key_compromise=key_compromise)
    click.echo(f"Revoked certificate {credential.serial} of {username}.")


trust_group = click.Group("trust", help="Outside CAs trusted for prescribers' own signatures.")
pki_group.add_command(trust_group)


@trust_group.command(
    "add",
    help="Trust this CA certificate (PEM) for prescriptions signed by prescribers' own keys "
    "(health professional cards, HSMs). Load its CRL too, or set OCSP: without either, nothing "
    "it issued is accepted. Adding it again changes only its OCSP setting.",
)
@click.argument("certificate", type=pem_file)
@click.option(
    "--intermediate",
    is_flag=True,
    help="An intermediate CA issued by a trusted one: never trusted by itself, kept for its "
    "CRL and OCSP setting (signers still send it in x5c).",
)
@click.option(
    "--ocsp",
    metavar="URL|aia|none",
    help="Ask this OCSP responder about the certificates the CA issues (for a trusted root: "
    "the whole tree under it), or the one each certificate names (aia); none: no more OCSP.",
)
def trust_add(certificate: Path, intermediate: bool, ocsp: str | None) -> None:
    with operator_work() as uow:
        row = prescriber_trust.add(
            uow, certificate.read_bytes(), intermediate=intermediate, ocsp=ocsp
        )
    kind = "Imported the intermediate CA" if row.anchor_id is not None else "Trusted"
    ocsp_state = f", OCSP {row.ocsp}" if row.ocsp else ""
    click.echo(
        f"{kind} {row.subject} (serial {row.serial}, SHA-256 {row.fingerprint}{ocsp_state})."
    )


@trust_group.command(
    "remove",
    help="Trust this outside CA no more (its SHA-256 fingerprint, or 16 or more of its first "
    "hex digits): it goes with its CRL and the intermediates imported under it; prescriptions "
    "signed under it are refused from now on, and no longer verify.",
)
@click.argument("fingerprint")
def trust_remove(fingerprint: str) -> None:
    with operator_work() as uow:
        removed = [
            (row.subject, row.fingerprint) for row in prescriber_trust.remove(uow, fingerprint)
        ]
    for subject, found in removed:
        click.echo(f"Removed {subject} (SHA-256 {found}).")


@trust_group.command(
    "list", help="The outside prescriber CAs, their OCSP setting and the state of their CRLs."
)
def trust_list() -> None:
    with operator_work() as uow:
        found = prescriber_trust.trusted(uow)
        now = uow.now
    for authority, kept in found:
        kind = "  intermediate" if authority.anchor_id is not None else ""
        ocsp = f"  OCSP {authority.ocsp}" if authority.ocsp else ""
        click.echo(
            f"{authority.subject}{kind}  serial {authority.serial}  SHA-256 "
            f"{authority.fingerprint}{ocsp}  {_crl_state(kept, now)}"
        )


def _crl_state(kept, now) -> str:
    if kept is None:
        return "no CRL loaded"
    stale = " (OUT OF DATE)" if kept.next_update < now else ""
    return (
        f"CRL of {kept.this_update:%Y-%m-%d %H:%M}, next {kept.next_update:%Y-%m-%d %H:%M}{stale}"
    )


crl_group = click.Group("crl", help="Revocation lists of the outside prescriber CAs.")
pki_group.add_command(crl_group)


@crl_group.command(
    "load",
    help="Load a CRL (PEM or DER) of a trusted prescriber CA or of an intermediate CA "
    "imported under one (`pki trust add --intermediate`).",
)
@click.argument("file", type=pem_file)
def crl_load(file: Path) -> None:
    with operator_work() as uow:
        kept = prescriber_trust.load_crl(uow, file.read_bytes())
        subject = kept.authority.subject
    click.echo(
        f"Loaded the CRL of {subject} ({kept.this_update:%Y-%m-%d %H:%M}, next update "
        f"{kept.next_update:%Y-%m-%d %H:%M} UTC)."
    )


@crl_group.command("list", help="The CRL kept for each outside prescriber CA, and its dates.")
def crl_list() -> None:
    with operator_work() as uow:
        found = prescriber_trust.trusted(uow)
        now = uow.now
    for authority, kept in found:
        click.echo(f"{authority.subject}  {_crl_state(kept, now)}")
