"""Deduplicate on (topic, X-Shopify-Event-Id) too; X-Shopify-API-Version becomes optional.

One event can reach the app through two subscriptions: two deliveries, two webhook ids, one event id
(Shopify's docs tell apps to deduplicate on the event id). A unique index on (event_id, topic) decides,
as the webhook id's unique constraint does; NULL event ids never collide (SQLite and PostgreSQL alike).
It replaces the plain index on event_id, whose lookups it serves too.

Rows recorded before this revision may hold the same event twice (that is the fault being fixed). The
earliest row of each (topic, event id) keeps its event id; the later copies' event id becomes NULL (their
webhook ids, payloads and jobs stay), or the unique index could not be built.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute("UPDATE webhook_events SET event_id = NULL WHERE event_id IS NOT NULL AND id NOT IN "
               "(SELECT MIN(id) FROM webhook_events WHERE event_id IS NOT NULL GROUP BY topic, event_id)")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.alter_column("api_version", existing_type=sa.String(length=20), nullable=True)
        batch_op.drop_index("ix_webhook_events_event_id")
        batch_op.create_index("uq_webhook_events_event_id_topic", ["event_id", "topic"], unique=True)


def downgrade() -> None:
    op.execute("UPDATE webhook_events SET api_version = '' WHERE api_version IS NULL")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("uq_webhook_events_event_id_topic")
        batch_op.create_index("ix_webhook_events_event_id", ["event_id"], unique=False)
        batch_op.alter_column("api_version", existing_type=sa.String(length=20), nullable=False)
