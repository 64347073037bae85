"""Persistence of the gateway's identity data: OAuth clients, token signing keys and revoked
token ids. Pure SQLAlchemy tables; the OAuth logic that uses them lives in `gateway.oauth`."""
