"""/api/v1/audit: the audit log's signed tree heads and consistency proofs (public, RFC 9162)."""

from eprescription.api.operations import ApiBlueprint
from eprescription.schemas.audit import (
    ConsistencyArgsSchema,
    ConsistencyProofSchema,
    SignedHeadSchema,
)
from eprescription.services import audit_seal
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_audit",
    "/api/v1/audit",
    "Signed tree heads of the audit log and proofs that link them (public).",
)


def _head(head: audit_seal.Head) -> dict:
    return {
        "tree_size": head.tree_size,
        "root_hash": audit_seal.b64(head.root_hash),
        "timestamp": head.timestamp,
        "jws": head.jws,
    }


@blp.operation("GET /checkpoint", response=SignedHeadSchema)
def checkpoint():
    """The newest signed tree head (404 until the sealer has run once)."""
    with unit_of_work() as uow:
        head = audit_seal.latest_head(uow)
    return _head(head)


@blp.operation("GET /checkpoints/<int:size>", response=SignedHeadSchema)
def checkpoint_at(size: int):
    """The signed tree head of the log when it held `size` events."""
    with unit_of_work() as uow:
        head = audit_seal.head_at(uow, size)
    return _head(head)


@blp.operation("GET /consistency", response=ConsistencyProofSchema)
@blp.arguments(ConsistencyArgsSchema, location="query")
def consistency(args: dict):
    """The RFC 9162 consistency proof that the log at `to` extends the log at `from`."""
    with unit_of_work() as uow:
        proof = audit_seal.consistency(uow, args["from_size"], args["to_size"])
    return {
        "from_size": args["from_size"],
        "to_size": args["to_size"],
        "proof": [audit_seal.b64(digest) for digest in proof],
    }
