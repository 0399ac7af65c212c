"""The bare app: Flask + SQLAlchemy and nothing else, the floor bench/run.py compares with.

Five endpoints, each the shape of a service operation with none of its rules, on its own
tables in the benchmark's PostgreSQL database, with the service's engine options
(eprescription.db.make_engine) and served by gunicorn with the service's gunicorn.conf.py:

  POST /insert             store the ~1 KB JSON body as a new row, commit (201)
  GET  /select/<key>       read one row by its unique key (200, 404)
  POST /for-update/<key>   SELECT … FOR UPDATE the row, UPDATE it, INSERT an event row with
                           the body, one transaction (201): the shape of a dispensation
  POST /sign               sign the body with ES256 (compact JWS, cryptography), insert the
                           payload and the signature, commit (201): the shape of an issue
  GET  /audited/<key>      read one row by its unique key and insert an event row about it,
                           commit (200): the floor of any read the service must audit (a
                           scan, a patient's read), a durable write however small

  gunicorn -c gunicorn.conf.py --chdir bench bare_app:app   (BARE_DATABASE_URL=…)
"""

import base64
import json
import os
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask, abort, jsonify, request
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import sessionmaker

from eprescription.db import make_engine

metadata = MetaData()
documents = Table(
    "bench_bare_documents",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
)
events = Table(
    "bench_bare_events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("document_id", BigInteger, ForeignKey("bench_bare_documents.id"), index=True),
    Column("body", Text, nullable=False),
)
signed = Table(
    "bench_bare_signed",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Column("jws", Text, nullable=False),
)


def create_tables(url: str, rows: int) -> None:
    """The bare tables, with `rows` documents keyed k1 … kN of about 1 KB each."""
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO bench_bare_documents (key, body) "
                    "SELECT 'k' || n, json_build_object('n', n, 'text', repeat('x', 1000))::text "
                    "FROM generate_series(1, :rows) AS n"
                ),
                {"rows": rows},
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE bench_bare_documents"))
    finally:
        engine.dispose()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = make_engine(url or os.environ["BARE_DATABASE_URL"])
    sessions = sessionmaker(engine, expire_on_commit=False)
    key = ec.generate_private_key(ec.SECP256R1())
    header = b64url(json.dumps({"alg": "ES256", "typ": "JOSE"}, separators=(",", ":")).encode())

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    @app.post("/insert")
    def insert_document():
        body = json.dumps(request.get_json(), separators=(",", ":"))
        with sessions() as session, session.begin():
            row_id = session.scalar(
                insert(documents).values(key=uuid.uuid4().hex, body=body).returning(documents.c.id)
            )
        return jsonify(id=row_id), 201

    @app.get("/select/<key>")
    def select_document(key: str):
        with sessions() as session:
            row = session.execute(select(documents).where(documents.c.key == key)).first()
        if row is None:
            abort(404)
        return jsonify(id=row.id, key=row.key, version=row.version, body=json.loads(row.body))

    @app.get("/audited/<key>")
    def audited_select(key: str):
        with sessions() as session, session.begin():
            row = session.execute(select(documents).where(documents.c.key == key)).first()
            if row is None:
                abort(404)
            event = json.dumps({"action": "read", "document": row.id}, separators=(",", ":"))
            session.execute(insert(events).values(document_id=row.id, body=event))
        return jsonify(id=row.id, key=row.key, version=row.version, body=json.loads(row.body))

    @app.post("/for-update/<key>")
    def for_update(key: str):
        body = json.dumps(request.get_json(), separators=(",", ":"))
        with sessions() as session, session.begin():
            row = session.execute(
                select(documents.c.id, documents.c.version)
                .where(documents.c.key == key)
                .with_for_update()
            ).first()
            if row is None:
                abort(404)
            session.execute(
                update(documents)
                .where(documents.c.id == row.id)
                .values(version=documents.c.version + 1)
            )
            session.execute(insert(events).values(document_id=row.id, body=body))
        return jsonify(id=row.id, version=row.version + 1), 201

    @app.post("/sign")
    def sign():
        payload = json.dumps(request.get_json(), sort_keys=True, separators=(",", ":")).encode()
        signing_input = header + "." + b64url(payload)
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        token = signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        with sessions() as session, session.begin():
            row_id = session.scalar(
                insert(signed)
                .values(key=uuid.uuid4().hex, payload=payload, jws=token)
                .returning(signed.c.id)
            )
        return jsonify(id=row_id, jws=token), 201

    return app


if os.environ.get("BARE_DATABASE_URL"):
    app = create_app()
