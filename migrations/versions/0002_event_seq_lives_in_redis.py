"""Drop shops.event_seq: the per-shop job event sequence lives in Redis.

The sequence is assigned by the publishing Lua script (shopapp.events.publisher) together with the replay log
and the broadcast, so that seq order is publish order. After Redis lost its data it re-seeds from Redis'
clock, above every seq handed out before; a copy in the database was never needed for that.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("event_seq")


def downgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_seq", sa.BigInteger(), nullable=False, server_default="0"))
