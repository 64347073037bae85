"""The catalog: licenses, artifacts, tenants, agreements, the operator and runners."""
