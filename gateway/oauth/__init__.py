"""The OAuth 2.0 authorization server: client credentials, JWT access tokens (RFC 9068), key
rotation, revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414)."""
