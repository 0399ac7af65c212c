"""What the administrator's software page sends: a program to register, its organisation, its
scopes (one box each) and, optionally, its public key."""

from marshmallow import Schema, fields, post_load, validate

TEXT_MAX = 256
PEM_MAX = 8192  # an RSA 4096 public key is about 800 characters
PRACTICE_ID_MAX = 2**31 - 1  # an integer column on both engines
SCOPE_BOXES = ("issue", "read", "dispense", "events")  # services.software_clients.SCOPES


def _text(length: int = TEXT_MAX) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=length))


class NewSoftwareSchema(Schema):
    """A program (services.software_clients.register's fields): bounded here, the service
    checks the rest; the ticked boxes become `scopes`, a blank key or FINESS None."""

    name = _text()
    vendor = _text()
    version = _text()
    pharmacy_finess = _text()
    practice_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=PRACTICE_ID_MAX)
    )
    public_key = _text(PEM_MAX)
    issue = fields.Boolean(load_default=False)
    read = fields.Boolean(load_default=False)
    dispense = fields.Boolean(load_default=False)
    events = fields.Boolean(load_default=False)

    @post_load
    def _as_registered(self, data: dict, **kwargs) -> dict:
        data["scopes"] = [scope for scope in SCOPE_BOXES if data.pop(scope)]
        data["pharmacy_finess"] = data["pharmacy_finess"].strip() or None
        data["public_key_pem"] = data.pop("public_key").strip() or None
        return data
