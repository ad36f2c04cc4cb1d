"""Keep the request id of the HTTP request that created a job, so the worker's log lines for it carry it.

webhook_events.request_id is the X-Request-Id of the delivery; jobs.request_id is copied from it (or from
POST /api/jobs' request) when the job is created, and the runner binds it to every line it logs for the
job. Nullable: rows from before have none.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"


def upgrade() -> None:
    for table in ("webhook_events", "jobs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    for table in ("jobs", "webhook_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
