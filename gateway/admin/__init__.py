"""The admin API (`admin` scope): catalog entries, tenants, agreements, runners, the operator and
OAuth clients, each change audited with its actor and before/after values."""
