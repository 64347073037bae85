"""The `/v1` and `/admin` routers: what tenants and operators call, mounted by `create_app`."""
