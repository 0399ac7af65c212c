"""Schemas of the audit log's public proofs: signed tree heads and consistency proofs."""

from marshmallow import Schema, fields, validate


class SignedHeadSchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "events in the log"})
    root_hash = fields.String(required=True, metadata={"description": "RFC 9162 root hash, base64"})
    timestamp = fields.String(required=True, metadata={"description": "when it was signed, UTC"})
    jws = fields.String(
        required=True,
        metadata={
            "description": "compact JWS (ES256, x5c: the service certificate and the CA) of "
            '{"type":"eprescription.audit_checkpoint","version":1,"tree_size","root_hash",'
            '"timestamp"}'
        },
    )


class ConsistencyArgsSchema(Schema):
    from_size = fields.Integer(
        data_key="from", required=True, validate=validate.Range(min=1, max=2**62)
    )
    to_size = fields.Integer(
        data_key="to", required=True, validate=validate.Range(min=1, max=2**62)
    )


class ConsistencyProofSchema(Schema):
    from_size = fields.Integer(data_key="from", required=True)
    to_size = fields.Integer(data_key="to", required=True)
    proof = fields.List(
        fields.String(), required=True, metadata={"description": "RFC 9162 hashes, base64"}
    )


class InclusionProofSchema(Schema):
    tree_size = fields.Integer(required=True, metadata={"description": "the signed head's size"})
    hashes = fields.List(fields.String(), required=True, metadata={"description": "base64"})
