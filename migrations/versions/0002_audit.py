"""audit log: hash-chained events, signed checkpoints, retention anchors; append-only triggers.

Revision ID: 0002_audit
Revises: 0001_catalog
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None

SEQUENCE_NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints", "audit_anchors")

# PostgreSQL. Rows of audit_events may be deleted only by audit_purge_through(), which sets the
# transaction-local clearance.audit_purge_through; it is SECURITY DEFINER so the application role
# needs no DELETE privilege (see docs/audit.md for the role set-up).
POSTGRES_UPGRADE = [
    """
    CREATE FUNCTION audit_reject_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events' THEN
            IF OLD.seq <= coalesce(
                nullif(current_setting('clearance.audit_purge_through', true), '')::bigint, 0
            ) THEN
                RETURN OLD;
            END IF;
        END IF;
        RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE FUNCTION audit_reject_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: TRUNCATE rejected', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE FUNCTION audit_purge_through(through_seq bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        purged bigint;
    BEGIN
        PERFORM set_config('clearance.audit_purge_through', through_seq::text, true);
        DELETE FROM audit_events WHERE seq <= through_seq;
        GET DIAGNOSTICS purged = ROW_COUNT;
        PERFORM set_config('clearance.audit_purge_through', '', true);
        RETURN purged;
    END $$
    """,
    "REVOKE ALL ON FUNCTION audit_purge_through(bigint) FROM PUBLIC",
    *(
        statement
        for table in APPEND_ONLY_TABLES
        for statement in (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_reject_row_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_truncate()",
        )
    ),
]

POSTGRES_DOWNGRADE = [
    "DROP FUNCTION IF EXISTS audit_purge_through(bigint)",
    "DROP FUNCTION IF EXISTS audit_reject_truncate() CASCADE",
    "DROP FUNCTION IF EXISTS audit_reject_row_change() CASCADE",
]

# SQLite. A delete passes only while the purge transaction holds a row in audit_purge_clearances.
PURGE_CLEARANCE_CONDITION = (
    "WHEN NOT EXISTS (SELECT 1 FROM audit_purge_clearances WHERE through_seq >= OLD.seq) "
)
SQLITE_UPGRADE = [
    statement
    for table in APPEND_ONLY_TABLES
    for statement in (
        f"CREATE TRIGGER {table}_reject_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE rejected'); END",
        f"CREATE TRIGGER {table}_reject_delete BEFORE DELETE ON {table} "
        f"{PURGE_CLEARANCE_CONDITION if table == 'audit_events' else ''}"
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE rejected'); END",
    )
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQUENCE_NUMBER, autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor_subject", sa.String(length=255), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("tenant", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=255), nullable=True),
        sa.Column("decision_id", sa.String(length=255), nullable=True),
        sa.Column("job_id", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_recorded_at", "audit_events", ["recorded_at"], unique=False)
    op.create_index("ix_audit_events_tenant_seq", "audit_events", ["tenant", "seq"], unique=False)
    op.create_index("ix_audit_events_kind_seq", "audit_events", ["kind", "seq"], unique=False)
    op.create_index("ix_audit_events_job_id", "audit_events", ["job_id"], unique=False)
    op.create_index("ix_audit_events_decision_id", "audit_events", ["decision_id"], unique=False)
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"], unique=False)
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(op.f("ix_audit_checkpoints_seq"), "audit_checkpoints", ["seq"], unique=False)
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("purged_before", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    op.create_table(
        "audit_purge_clearances",
        sa.Column("through_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("through_seq", name=op.f("pk_audit_purge_clearances")),
    )
    statements = POSTGRES_UPGRADE if op.get_bind().dialect.name == "postgresql" else SQLITE_UPGRADE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWNGRADE:
            op.execute(statement)
    op.drop_table("audit_purge_clearances")
    op.drop_table("audit_anchors")
    op.drop_index(op.f("ix_audit_checkpoints_seq"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_events_request_id", table_name="audit_events")
    op.drop_index("ix_audit_events_decision_id", table_name="audit_events")
    op.drop_index("ix_audit_events_job_id", table_name="audit_events")
    op.drop_index("ix_audit_events_kind_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_tenant_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_recorded_at", table_name="audit_events")
    op.drop_table("audit_events")
