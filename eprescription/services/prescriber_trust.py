"""Outside CAs trusted for prescribers' own signatures: anchors, intermediates, OCSP, CRLs."""

from cryptography import x509
from sqlalchemy import select

from eprescription.domain.errors import TrustAnchorRefused
from eprescription.models import PrescriberCrl, TrustedPrescriberCa
from eprescription.models.external_signing import OCSP_FROM_AIA
from eprescription.services import verification
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, chains, crl, jws
from eprescription.signing import ocsp as ocsp_client

OBJECT_TYPE = "trusted_prescriber_ca"
OCSP_NONE = "none"
OCSP_URL_MAX = 2000
FINGERPRINT_PREFIX_MIN = 16
INTERMEDIATE_KIND = "prescriber_intermediate_ca"


def add(
    uow: UnitOfWork, pem: bytes, *, intermediate: bool = False, ocsp: str | None = None
) -> TrustedPrescriberCa:
    """Trust this CA certificate (PEM) for prescribers' signatures: it must be a CA, valid
    today, and not one of ours (which are trusted for everything already). `intermediate`:
    not trusted by itself but kept under the trusted CA that issued it, for its CRL and OCSP
    setting. `ocsp`: an OCSP responder's URL, "aia" (the one each certificate names) or
    "none". Adding it again changes nothing but the OCSP setting, when one is given."""
    try:
        certificate = certificates.certificate_from_pem(pem)
    except certificates.CertificateRefused as error:
        raise TrustAnchorRefused(str(error)) from error
    if not certificates.is_ca(certificate):
        raise TrustAnchorRefused("the certificate is not a CA (basicConstraints CA:TRUE)")
    if not certificate.not_valid_before_utc <= uow.now <= certificate.not_valid_after_utc:
        raise TrustAnchorRefused("the CA certificate is not valid today")
    fingerprint = jws.fingerprint(certificate)
    if any(jws.fingerprint(ours) == fingerprint for ours in verification.trust(uow).anchors):
        raise TrustAnchorRefused("this is the service's own CA, not an outside one")
    setting = _ocsp_setting(ocsp)
    found = uow.session.scalar(
        select(TrustedPrescriberCa).where(TrustedPrescriberCa.fingerprint == fingerprint.hex())
    )
    if found is not None:
        if ocsp is not None and found.ocsp != setting:
            found.ocsp = setting
            uow.audit("set_prescriber_ca_ocsp", OBJECT_TYPE, found.fingerprint[:64])
        return found
    row = TrustedPrescriberCa(
        fingerprint=fingerprint.hex(),
        subject=certificate.subject.rfc4514_string(),
        serial=certificates.serial_hex(certificate),
        certificate_pem=certificates.to_pem(certificate),
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
        added_at=uow.now,
        anchor_id=_anchor_of(uow, certificate).id if intermediate else None,
        ocsp=setting,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit("trust_prescriber_ca", OBJECT_TYPE, fingerprint.hex()[:64])
    return row


def _ocsp_setting(ocsp: str | None) -> str | None:
    """The OCSP setting as kept: a URL, OCSP_FROM_AIA, or None (none, or not given)."""
    if ocsp is None or ocsp.strip().lower() == OCSP_NONE:
        return None
    value = ocsp.strip()
    if value.lower() == OCSP_FROM_AIA:
        return OCSP_FROM_AIA
    if (
        not value.lower().startswith(ocsp_client.SCHEMES)
        or len(value) > OCSP_URL_MAX
        or any(character.isspace() for character in value)
    ):
        raise TrustAnchorRefused(
            f'--ocsp takes an http(s) URL, "{OCSP_FROM_AIA}" or "{OCSP_NONE}", not {value!r}'
        )
    return value


def _anchor_of(uow: UnitOfWork, certificate: x509.Certificate) -> TrustedPrescriberCa:
    """The trusted CA above an intermediate: the one, or the imported intermediate, that
    issued it (a CA allowed to issue CAs)."""
    for row in uow.session.scalars(select(TrustedPrescriberCa).order_by(TrustedPrescriberCa.id)):
        issuer = certificates.from_pem(row.certificate_pem)
        if chains.signed_by(certificate, issuer) and certificates.is_ca(issuer):
            if row.anchor_id is None:
                return row
            return uow.session.get_one(TrustedPrescriberCa, row.anchor_id)
    raise TrustAnchorRefused(
        "no CA trusted for prescribers issued this intermediate CA: "
        "`flask pki trust add ROOT.pem` first (an intermediate is never trusted by itself)"
    )


def remove(uow: UnitOfWork, fingerprint: str) -> list[TrustedPrescriberCa]:
    """Trust this CA (its SHA-256 fingerprint, or the first 16 or more hex digits of it) no
    more: it goes with its CRL and, for an anchor, the intermediates imported under it and
    theirs; each removal audited. Signatures under it are refused from now on."""
    wanted = fingerprint.strip().lower().replace(":", "")
    if len(wanted) < FINGERPRINT_PREFIX_MIN or any(c not in "0123456789abcdef" for c in wanted):
        raise TrustAnchorRefused(
            f"give the CA's SHA-256 fingerprint (at least {FINGERPRINT_PREFIX_MIN} hex digits, "
            "as `flask pki trust list` shows it)"
        )
    found = list(
        uow.session.scalars(
            select(TrustedPrescriberCa).where(TrustedPrescriberCa.fingerprint.startswith(wanted))
        )
    )
    if len(found) != 1:
        raise TrustAnchorRefused(
            "no trusted prescriber CA has this fingerprint"
            if not found
            else "several trusted prescriber CAs start with these digits: give more"
        )
    (authority,) = found
    below = (
        list(
            uow.session.scalars(
                select(TrustedPrescriberCa).where(TrustedPrescriberCa.anchor_id == authority.id)
            )
        )
        if authority.anchor_id is None
        else []
    )
    removed = [*below, authority]
    ids = [row.id for row in removed]
    for kept in uow.session.scalars(
        select(PrescriberCrl).where(PrescriberCrl.authority_id.in_(ids))
    ):
        uow.session.delete(kept)
    uow.session.flush()
    for row in removed:  # the intermediates first: they refer to their anchor
        uow.session.delete(row)
        uow.session.flush()
        uow.audit("distrust_prescriber_ca", OBJECT_TYPE, row.fingerprint[:64])
    return removed


def load_crl(uow: UnitOfWork, data: bytes) -> PrescriberCrl:
    """Keep this CRL (PEM or DER) as the current one of the trusted CA that signed it: it must
    be signed by that CA and not past its nextUpdate, and not older than the one kept."""
    try:
        revocation_list = crl.load(data)
    except certificates.CertificateRefused as error:
        raise TrustAnchorRefused(str(error)) from error
    problems = []
    for row in uow.session.scalars(select(TrustedPrescriberCa).order_by(TrustedPrescriberCa.id)):
        try:
            authority = certificates.from_pem(row.certificate_pem)
            crl.check_issued_by(revocation_list, authority, uow.now)
        except certificates.CertificateRefused as error:
            problems.append(f"{row.subject}: {error}")
            continue
        return _kept(uow, row, revocation_list)
    raise TrustAnchorRefused(
        "no CA trusted for prescribers signed this CRL ("
        + ("; ".join(problems) or "none is trusted: `flask pki trust add CERT.pem` first")
        + ")"
    )


def _kept(uow: UnitOfWork, authority: TrustedPrescriberCa, revocation_list) -> PrescriberCrl:
    current = uow.session.scalar(
        select(PrescriberCrl).where(PrescriberCrl.authority_id == authority.id)
    )
    this_update, next_update = revocation_list.last_update_utc, revocation_list.next_update_utc
    if current is not None and current.this_update > this_update:
        raise TrustAnchorRefused(
            f"the CRL kept for {authority.subject} is newer ({current.this_update.isoformat()})"
        )
    if current is None:
        current = PrescriberCrl(authority_id=authority.id)
        uow.session.add(current)
    current.crl_pem = crl.to_pem(revocation_list)
    current.this_update, current.next_update, current.loaded_at = this_update, next_update, uow.now
    uow.session.flush()
    uow.audit("load_crl", OBJECT_TYPE, authority.fingerprint[:64])
    return current


def trusted(uow: UnitOfWork) -> list[tuple[TrustedPrescriberCa, PrescriberCrl | None]]:
    """Every trusted prescriber CA with its CRL (None: none loaded), oldest first."""
    return [
        (authority, kept)
        for authority, kept in uow.session.execute(
            select(TrustedPrescriberCa, PrescriberCrl)
            .outerjoin(PrescriberCrl, PrescriberCrl.authority_id == TrustedPrescriberCa.id)
            .order_by(TrustedPrescriberCa.id)
        )
    ]


def published(uow: UnitOfWork) -> list[dict]:
    """The trusted prescriber CAs as the trust list publishes them: kind "prescriber_ca" (a
    trust anchor) or "prescriber_intermediate_ca" (imported under one, for its revocation
    data), each with its fingerprint, OCSP setting and CRL (PEM, its dates and whether it is
    out of date) when one is loaded; status "trusted" when something can tell revocation
    (a CRL, or OCSP set for it or its anchor), else "no_crl"."""
    found = []
    rows = trusted(uow)
    settings = {authority.id: authority.ocsp for authority, _ in rows}
    for authority, kept in rows:
        ocsp = authority.ocsp or (
            settings.get(authority.anchor_id) if authority.anchor_id is not None else None
        )
        entry = {
            "kind": "prescriber_ca" if authority.anchor_id is None else INTERMEDIATE_KIND,
            "subject": authority.subject,
            "serial": authority.serial,
            "fingerprint": authority.fingerprint,
            "not_valid_before": authority.not_valid_before,
            "not_valid_after": authority.not_valid_after,
            "pem": authority.certificate_pem,
            "ocsp": authority.ocsp,
            "status": "trusted" if kept is not None or ocsp else "no_crl",
        }
        if kept is not None:
            entry["crl"] = {
                "this_update": kept.this_update,
                "next_update": kept.next_update,
                "status": "current" if kept.next_update >= uow.now else "out_of_date",
                "pem": kept.crl_pem,
            }
        found.append(entry)
    return found
