"""The access rule walked on the real app: every kind of actor × every kind of object × every
action, over the JSON API and FHIR (DESIGN §5), on both engines, against one scene per engine."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from stdnum import luhn

from eprescription import qr
from eprescription.db import get_session
from eprescription.domain import prescription_codes as codes
from eprescription.models import Person, Prescriber, Presentation, Product, Representative, Role
from eprescription.services import accounts, pki
from eprescription.services.accounts import PersonDetails
from tests.conftest import _delete_non_catalog_rows
from tests.integration.people import PASSWORD, add_account, operator
from tests.integration.test_dispensing_api import add_pharmacist
from tests.integration.test_prescriptions_api import (
    ACKNOWLEDGED,
    PATIENT_NIR,
    PIN,
    bearer,
    make_nir,
    make_rpps,
)

# The table asks each refusal once per cell, hundreds from one client: not a guessing attack.
pytestmark = pytest.mark.usefixtures("unthrottled")

FHIR_JSON = "application/fhir+json"
LEA_NIR = make_nir("2950675056123")  # represents the patient today
MARC_NIR = make_nir("1760475056201")  # represented the patient until yesterday
NINA_NIR = make_nir("2820575056202")  # represented the patient until the patient revoked it
ZOE_NIR = make_nir("2990675056203")  # another patient, nothing to do with this one
UNKNOWN_REQUEST = 999_999


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None = None  # the problem's (or OperationOutcome's) stable code
    listed: bool | None = None  # for a list: whether the object is in it

    @property
    def succeeds(self) -> bool:
        return self.status < 300


CELLS = {
    "ok": Outcome(200),
    "new": Outcome(201),
    "--": Outcome(404, "not_found"),  # exactly the answer of an object that does not exist
    "nm": Outcome(404, "prescription_not_found"),  # the same, at the counter
    "role": Outcome(403, "permission_denied"),  # the endpoint is not for this role
    "told": Outcome(403, "permission_denied"),  # sees it, may not do this
    "anon": Outcome(401, "authentication_required"),
    "pick": Outcome(403, "pickup_refused"),
    "othr": Outcome(403, "dispensation_of_another_pharmacy"),
    "in": Outcome(200, listed=True),
    "out": Outcome(200, listed=False),
}


@dataclass(frozen=True)
class Actor:
    account: str | None  # whose token (None: no token at all)
    presents: str = "code"  # at the counter: code, wrong_code, card_patient, card_…


# pr: the prescriber who wrote it; opr: another prescriber; pt: its patient; rep: a
# representative of the patient today; exp: a representative whose end date passed; rev: a
# revoked representative; opt: another patient; code: a pharmacist holding the access code;
# cpt, crep, cany: that pharmacist by card (number + the patient's NIR) with the patient at the
# counter, an active representative, or nobody's identity checked; dph: a pharmacist of the
# pharmacy that dispensed it (with a wrong code at the counter); oph: a pharmacist of another
# pharmacy (with a wrong code); adm: an administrator; anon: no token.
ACTORS = {
    "pr": Actor("doctor"),
    "opr": Actor("other_doctor"),
    "pt": Actor("patient"),
    "rep": Actor("lea"),
    "exp": Actor("marc"),
    "rev": Actor("nina"),
    "opt": Actor("zoe"),
    "code": Actor("pharmacist_b"),
    "cpt": Actor("pharmacist_b", "card_patient"),
    "crep": Actor("pharmacist_b", "card_representative"),
    "cany": Actor("pharmacist_b", "card_anyone"),
    "dph": Actor("pharmacist_a", "wrong_code"),
    "oph": Actor("pharmacist_b", "wrong_code"),
    "adm": Actor("admin"),
    "anon": Actor(None),
}

# Unindented lines name the object, indented ones an action on it and its outcome per actor.
TABLE = """
                     pr   opr  pt   rep  exp  rev  opt  code cpt  crep cany dph  oph  adm  anon
prescription
  read               ok   --   ok   ok   --   --   --   role role role role role role role anon
  read_health_space  role role ok   ok   --   --   --   role role role role role role role anon
  list_prescriber    in   out  role role role role role role role role role role role role anon
  list_health_space  role role in   in   out  out  out  role role role role role role role anon
  cancel             ok   --   role role role role role role role role role role role role anon
  change_pickup_mode role role ok   told --   --   --   role role role role role role role anon
  request_renewal    role role new  new  --   --   --   role role role role role role role anon
  scan               role role role role role role role ok   ok   ok   ok   nm   nm   role anon
  dispense           role role role role role role role new  new  new  new  nm   nm   role anon
qr_code
  view               ok   --   ok   --   --   --   --   role role role role role role role anon
  view_health_space  role role ok   ok   --   --   --   role role role role role role role anon
private_prescription
  scan               role role role role role role role ok   ok   pick pick nm   nm   role anon
  dispense           role role role role role role role new  new  pick pick nm   nm   role anon
authorised_prescription
  scan               role role role role role role role ok   ok   ok   pick nm   nm   role anon
  dispense           role role role role role role role new  new  new  pick nm   nm   role anon
dispensation
  read               role role role role role role role --   --   --   --   ok   --   role anon
  reverse            role role role role role role role othr othr othr othr ok   othr role anon
renewal_request
  list_prescriber    in   out  role role role role role role role role role role role role anon
  list_health_space  role role in   in   out  out  out  role role role role role role role anon
  decline            ok   --   role role role role role role role role role role role role anon
  renew              new  --   role role role role role role role role role role role role anon
fhir_medication_request
  read               ok   --   ok   ok   --   --   --   role role role role role role role anon
  search             ok   --   ok   ok   --   --   --   role role role role role role role anon
fhir_medication_dispense
  search             ok   --   ok   ok   --   --   --   --   --   --   --   ok   --   role anon
"""


def rows_of(table: str) -> list[tuple[str, str, str, str]]:
    """(actor, object, action, cell) for every cell of the table."""
    lines = [line for line in table.splitlines() if line.strip()]
    actors = lines[0].split()
    assert actors == list(ACTORS)
    rows, kind = [], ""
    for line in lines[1:]:
        if not line.startswith(" "):
            kind = line.strip()
            continue
        action, *cells = line.split()
        assert len(cells) == len(actors), line
        rows.extend((actor, kind, action, cell) for actor, cell in zip(actors, cells, strict=True))
    return rows


ROWS = rows_of(TABLE)
HIDDEN = [row for row in ROWS if CELLS[row[3]].status == 404]


def row_id(row) -> str:
    return "-".join(row[1:3] + row[:1])


# -- the scene: built once per engine -------------------------------------------------------------


@dataclass
class Scene:
    client: FlaskClient
    headers: dict[str, dict]
    cis: str  # a real prescribable product
    cip13: str  # one of its priced packs
    objects: dict[str, dict]  # each with its "id" (for a prescription: number and QR text too)

    def call(self, method: str, path: str, actor: Actor, **kwargs):
        headers = self.headers[actor.account] if actor.account else {}
        return getattr(self.client, method)(path, headers=headers, **kwargs)

    def issue(self, **fields) -> dict:
        """A prescription of the patient by the prescriber, as issued (number, QR text)."""
        response = self.client.post(
            "/api/v1/prescriptions", json=self.prescribing(**fields), headers=self.headers["doctor"]
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def prescribing(self, **fields) -> dict:
        item = {"cis": self.cis, "dosage_text": "1 comprimé 3 fois par jour", "quantity": 1}
        return {"patient_nir": PATIENT_NIR, "pin": PIN, "items": [item], **ACKNOWLEDGED, **fields}

    def renewable(self) -> dict:
        """A long-term treatment in its last days of validity: its patient may ask to renew."""
        ending = (date.today() + timedelta(days=20)).isoformat()
        return self.issue(renewals=1, valid_until=ending)

    def renewal_request(self) -> dict:
        number = self.renewable()["id"]
        response = self.client.post(
            f"/api/v1/me/prescriptions/{number}/renewal-request",
            json={},
            headers=self.headers["patient"],
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def dispensation(self) -> dict:
        """One line of a new prescription dispensed by the first pharmacy: the receipt."""
        issued = self.issue()
        response = self.client.post(
            f"/api/v1/prescriptions/{issued['id']}/dispensations",
            json={"code": issued["qr_text"], "lines": self.lines(), "collected_by": PATIENT},
            headers=self.headers["pharmacist_a"],
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def lines(self) -> list[dict]:
        expiry = (date.today() + timedelta(days=400)).isoformat()
        return [{"line": 1, "cip13": self.cip13, "quantity": 1, "batch": "B1", "expiry": expiry}]


PATIENT = {"kind": "patient"}


def _people(session) -> dict[str, dict]:
    """Every account of the table, as bearer headers."""
    with operator(session) as uow:
        pki.init_ca(uow)
    made = {
        "doctor": add_account(session, Role.PRESCRIBER),
        "patient": add_account(session, Role.PATIENT),
        "admin": add_account(session, Role.ADMIN),
    }
    with operator(session) as uow:
        made["other_doctor"] = accounts.create_account(
            uow,
            username="dr.petit",
            password=PASSWORD,
            role=Role.PRESCRIBER,
            person=PersonDetails(make_nir("1800175056123"), "Paul", "Petit", date(1980, 1, 1)),
            rpps=make_rpps("1000999999"),
        )
        for username, nir, given, family, born in (
            ("lea", LEA_NIR, "Léa", "Roux", date(1995, 6, 1)),
            ("marc", MARC_NIR, "Marc", "Lefèvre", date(1976, 4, 2)),
            ("nina", NINA_NIR, "Nina", "Morel", date(1982, 5, 3)),
            ("zoe", ZOE_NIR, "Zoé", "Blanc", date(1999, 6, 4)),
        ):
            made[username] = accounts.create_account(
                uow,
                username=username,
                password=PASSWORD,
                role=Role.PATIENT,
                person=PersonDetails(nir, given, family, born),
            )
    for name in ("doctor", "other_doctor"):
        person_id = made[name].person_id
        prescriber = session.scalar(select(Prescriber).where(Prescriber.person_id == person_id))
        with operator(session) as uow:
            pki.enroll_prescriber(uow, prescriber, PIN)
    headers = {name: bearer(session, account) for name, account in made.items()}
    headers["pharmacist_a"] = add_pharmacist(session, "ph.bernard")
    headers["pharmacist_b"] = add_pharmacist(
        session, "ph.garnier", "75000012" + luhn.calc_check_digit("75000012"), "2880233063123"
    )
    return headers


def _representatives(scene: Scene, session) -> None:
    """Léa represents the patient; Marc did until yesterday; Nina did until revoked."""
    named = {}
    for nir, family, until in (
        (LEA_NIR, "Roux", None),
        (MARC_NIR, "Lefèvre", date.today().isoformat()),
        (NINA_NIR, "Morel", None),
    ):
        response = scene.client.post(
            "/api/v1/me/representatives",
            json={"nir": nir, "family_name": family, "valid_until": until},
            headers=scene.headers["patient"],
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        named[nir] = response.get_json()["id"]
    revoked = scene.client.post(
        f"/api/v1/me/representatives/{named[NINA_NIR]}/revoke", headers=scene.headers["patient"]
    )
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    marc = select(Person.id).where(Person.national_id == MARC_NIR).scalar_subquery()
    session.execute(
        update(Representative)
        .where(Representative.representative_person_id == marc)
        .values(valid_until=date.today() - timedelta(days=1))
    )
    session.commit()


def _product(session) -> tuple[str, str]:
    """A prescribable Doliprane 1000 mg tablet and its first priced pack in the BDPM."""
    products = session.scalars(
        select(Product)
        .where(Product.name.like("DOLIPRANE 1000 mg, comprimé%"))
        .order_by(Product.cis)
    ).all()
    product = next(p for p in products if p.is_prescribable)
    pack = session.scalars(
        select(Presentation)
        .where(Presentation.cis == product.cis, Presentation.price_cents.is_not(None))
        .where(Presentation.removed_from_bdpm_at.is_(None))
        .order_by(Presentation.cip13)
    ).first()
    return product.cis, pack.cip13


@pytest.fixture(scope="module")
def scene(app, catalog):
    """The people and objects of the table, once per engine; everything but the catalog is
    deleted after the module."""
    with app.app_context():
        session = get_session()
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        cis, cip13 = _product(session)
        scene = Scene(client, _people(session), cis, cip13, {})
        _representatives(scene, session)
        dispensation = scene.dispensation()
        scene.objects = {
            "prescription": scene.issue(),
            "qr_code": scene.issue(),
            "private_prescription": scene.issue(pickup_mode="private"),
            "authorised_prescription": scene.issue(pickup_mode="authorised"),
            "dispensation": dispensation,
            "renewal_request": scene.renewal_request(),
            "fhir_medication_request": scene.issue(),
            "fhir_medication_dispense": {"id": dispensation["prescription"]["number"]},
        }
        yield scene
    _delete_non_catalog_rows(app)


# -- asking for each action over HTTP -------------------------------------------------------------


def _counter(scene: Scene, actor: Actor, target: dict) -> dict:
    """What the pharmacist presents for the prescription, and who collects it."""
    card = {"number": target["id"], "patient_nir": PATIENT_NIR}
    presented = {
        "code": {"code": target.get("qr_text"), "identity_confirmed": True},
        "wrong_code": {"code": qr.encode(target["id"], codes.new_access_code())},
        "card_patient": {**card, "identity_confirmed": True},
        "card_representative": {**card, "identity_confirmed": True, "presenter_nir": LEA_NIR},
        "card_anyone": card,
    }[actor.presents]
    collector = PATIENT
    if actor.presents == "card_representative":
        collector = {"kind": "representative", "national_id": LEA_NIR}
    return {**presented, "collected_by": collector}


def _scan(scene, actor, target):
    body = _counter(scene, actor, target)
    del body["collected_by"]
    return scene.call("post", "/api/v1/pharmacy/scan", actor, json=body)


def _dispense(scene, actor, target):
    body = {**_counter(scene, actor, target), "lines": scene.lines()}
    url = f"/api/v1/prescriptions/{target['id']}/dispensations"
    return scene.call("post", url, actor, json=body)


def _get(path: str, **query) -> Callable:
    return lambda scene, actor, target: scene.call(
        "get",
        path.format(**target),
        actor,
        query_string={key: value.format(**target) for key, value in query.items()},
    )


def _send(method: str, path: str, body: dict) -> Callable:
    return lambda scene, actor, target: scene.call(method, path.format(**target), actor, json=body)


def _renew(scene, actor, target):
    body = scene.prescribing(renewal_request=target["id"])
    return scene.call("post", "/api/v1/prescriptions", actor, json=body)


PRESCRIPTION = "/api/v1/prescriptions/{id}"
MINE = "/api/v1/me/prescriptions/{id}"
AT_THE_COUNTER = {"scan": _scan, "dispense": _dispense}
CALLS: dict[tuple[str, str], Callable] = {
    ("prescription", "read"): _get(PRESCRIPTION),
    ("prescription", "read_health_space"): _get(MINE),
    ("prescription", "list_prescriber"): _get("/api/v1/prescriptions", page_size="100"),
    ("prescription", "list_health_space"): _get(
        "/api/v1/me/prescriptions", status="active", page_size="100"
    ),
    ("prescription", "cancel"): _send(
        "post", PRESCRIPTION + "/cancel", {"pin": PIN, "reason": "not needed"}
    ),
    ("prescription", "change_pickup_mode"): _send(
        "put", MINE + "/pickup-mode", {"pickup_mode": "public"}
    ),
    ("prescription", "request_renewal"): _send("post", MINE + "/renewal-request", {}),
    **{
        (kind, action): call
        for kind in ("prescription", "private_prescription", "authorised_prescription")
        for action, call in AT_THE_COUNTER.items()
    },
    ("qr_code", "view"): _get(PRESCRIPTION + "/qr.svg"),
    ("qr_code", "view_health_space"): _get(MINE + "/qr.svg"),
    ("dispensation", "read"): _get("/api/v1/dispensations/{id}"),
    ("dispensation", "reverse"): _send(
        "post", "/api/v1/dispensations/{id}/reversal", {"reason": "wrong box"}
    ),
    ("renewal_request", "list_prescriber"): _get("/api/v1/renewal-requests", status="pending"),
    ("renewal_request", "list_health_space"): _get("/api/v1/me/renewal-requests"),
    ("renewal_request", "decline"): _send(
        "post", "/api/v1/renewal-requests/{id}/decline", {"message": "Come and see me first."}
    ),
    ("renewal_request", "renew"): _renew,
    ("fhir_medication_request", "read"): _get("/fhir/r4/MedicationRequest/{id}"),
    ("fhir_medication_request", "search"): _get(
        "/fhir/r4/MedicationRequest", **{"group-identifier": "{id}"}
    ),
    ("fhir_medication_dispense", "search"): _get(
        "/fhir/r4/MedicationDispense", prescription="{id}"
    ),
}
MODES = {"private_prescription": "private", "authorised_prescription": "authorised"}


def _fresh(scene: Scene, kind: str, action: str) -> dict | None:
    """A new object for an action that changes what it acts on, so the scene stays as it is."""
    if action == "dispense":
        return scene.issue(pickup_mode=MODES.get(kind, "public"))
    makers = {
        ("prescription", "cancel"): scene.issue,
        ("prescription", "request_renewal"): scene.renewable,
        ("dispensation", "reverse"): scene.dispensation,
        ("renewal_request", "decline"): scene.renewal_request,
        ("renewal_request", "renew"): scene.renewal_request,
    }
    maker = makers.get((kind, action))
    return maker() if maker else None


def _missing(kind: str) -> dict:
    """An object of this kind that does not exist."""
    if kind == "dispensation":
        return {"id": "0" * 32}
    if kind == "renewal_request":
        return {"id": UNKNOWN_REQUEST}
    number = codes.new_number()
    return {"id": number, "qr_text": qr.encode(number, codes.new_access_code())}


def _code(response) -> str | None:
    body = response.get_json(silent=True) or {}
    if response.mimetype == FHIR_JSON and body.get("resourceType") == "OperationOutcome":
        return body["issue"][0]["details"]["coding"][0]["code"]
    return body.get("code")


def _without_instance(response) -> dict:
    return {key: value for key, value in response.get_json().items() if key != "instance"}


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_each_actor_gets_the_tables_answer_for_each_action_on_each_object(scene, row):
    name, kind, action, cell = row
    expected, actor = CELLS[cell], ACTORS[name]
    target = scene.objects[kind]
    if expected.succeeds:
        target = _fresh(scene, kind, action) or target

    response = CALLS[(kind, action)](scene, actor, target)

    assert response.status_code == expected.status, response.get_data(as_text=True)
    if expected.code is not None:
        assert _code(response) == expected.code
    if expected.listed is not None:
        listed = [item["id"] for item in response.get_json()["items"]]
        assert (target["id"] in listed) is expected.listed


@pytest.mark.parametrize("row", HIDDEN, ids=row_id)
def test_an_object_someone_may_not_see_answers_exactly_like_one_that_does_not_exist(scene, row):
    name, kind, action, _ = row
    call, actor = CALLS[(kind, action)], ACTORS[name]

    unseen = call(scene, actor, scene.objects[kind])
    missing = call(scene, actor, _missing(kind))

    assert unseen.status_code == missing.status_code == 404
    assert unseen.mimetype == missing.mimetype
    assert _without_instance(unseen) == _without_instance(missing)
