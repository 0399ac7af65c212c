"""Pure cryptography, no database: canonical JSON, JWS, key wrapping, X.509 certificates, CRLs."""
