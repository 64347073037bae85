"""The audit log over HTTP: a tenant's own trail, and the operator's view, verify, export, usage."""
