"""Pure cryptography, no database: canonical JSON, JWS ES256, key wrapping, X.509 certificates."""
