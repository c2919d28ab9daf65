"""one open unlock ticket per user ID, and the member that opened it

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

- ``unlock_tickets.opened_by``: digest of the signed member id (X-Kosmo-Member)
  that opened the ticket; only that member is told its status. Tickets opened
  before this revision have none, so the helpdesk API tells their status to no one
  (staff still see them in the admin API and the CLI).
- ``uq_unlock_tickets_one_open``: a partial unique index on (tenant,
  claimed_user_id) over open tickets, which SQLite (3.8+) and PostgreSQL both
  enforce, so two concurrent requests cannot open two tickets for one user ID.
  Open duplicates already in the table are closed first with the resolution
  ``duplicate``: per user ID the oldest verified ticket stays open, else the oldest.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")

tickets = sa.table(
    "unlock_tickets",
    sa.column("id", sa.String),
    sa.column("tenant", sa.String),
    sa.column("claimed_user_id", sa.String),
    sa.column("identity_verified", sa.Boolean),
    sa.column("status", sa.String),
    sa.column("resolution", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("closed_at", sa.DateTime),
    sa.column("closed_by", sa.String),
)


def _close_open_duplicates() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            tickets.c.id, tickets.c.tenant, tickets.c.claimed_user_id,
            tickets.c.identity_verified,
        )
        .where(tickets.c.status == "open")
        .order_by(tickets.c.tenant, tickets.c.claimed_user_id, tickets.c.created_at, tickets.c.id)
    ).all()
    groups: dict[tuple[str, str], list[sa.engine.Row]] = {}
    for row in rows:
        groups.setdefault((row.tenant, row.claimed_user_id), []).append(row)
    # Naive UTC is what the model's UTCDateTime (dev.portal.db) writes into these plain
    # DateTime columns (0001: TIMESTAMP WITHOUT TIME ZONE on PostgreSQL, the same text form
    # on SQLite) and reads back as aware UTC; kept self-contained here so a later change to
    # the model's type cannot change what this revision writes. Tested in
    # tests/portal/test_unlock_tickets.py (read back through the model, with the local zone set to Tokyo).
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for group in groups.values():
        if len(group) < 2:
            continue
        verified = [r for r in group if r.identity_verified]
        keep = verified[0] if verified else group[0]
        for row in group:
            if row.id == keep.id:
                continue
            bind.execute(
                tickets.update()
                .where(tickets.c.id == row.id)
                .values(status="closed", resolution="duplicate", closed_at=now,
                        closed_by=f"migration 0002: duplicate of {keep.id}"[:64])
            )


def upgrade() -> None:
    with op.batch_alter_table("unlock_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_by", sa.String(length=64), nullable=True))
    _close_open_duplicates()
    op.create_index(
        "uq_unlock_tickets_one_open", "unlock_tickets", ["tenant", "claimed_user_id"], unique=True,
        sqlite_where=OPEN, postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_unlock_tickets_one_open", table_name="unlock_tickets")
    with op.batch_alter_table("unlock_tickets", schema=None) as batch_op:
        batch_op.drop_column("opened_by")
