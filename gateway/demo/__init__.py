"""`clearance demo`: a gateway on SQLite with tiny local models under real licenses, two
tenants that show what the licenses decide, and the commands that prove it."""
