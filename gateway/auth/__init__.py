"""Who is calling: bearer-token validation (our own tokens and trusted external issuers), the
`AuthContext` handed to handlers, and the one guard that checks a route's scope."""
