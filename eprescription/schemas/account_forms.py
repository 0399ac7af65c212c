"""What the account pages send: an administrator's act on an account, one's own new password."""

from marshmallow import Schema, fields, validate

TEXT_MAX = 256
PASSWORD_MAX = 1024  # services.accounts.PASSWORD_MAX_LENGTH: the service checks the rules


class AccountActSchema(Schema):
    """An administrator's act (the act itself is in the path): a new password, a revocation's
    reason, and the search to come back to; only bounded here, the services check them."""

    q = fields.String(load_default="", validate=validate.Length(max=TEXT_MAX))
    password = fields.String(load_default="", validate=validate.Length(max=PASSWORD_MAX))
    reason = fields.String(load_default="", validate=validate.Length(max=TEXT_MAX))


class PasswordChangeSchema(Schema):
    """The current password, then the new one twice."""

    current = fields.String(load_default="", validate=validate.Length(max=PASSWORD_MAX))
    new = fields.String(load_default="", validate=validate.Length(max=PASSWORD_MAX))
    repeat = fields.String(load_default="", validate=validate.Length(max=PASSWORD_MAX))
