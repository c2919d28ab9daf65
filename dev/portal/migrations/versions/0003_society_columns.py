"""one name for a society: the ``tenant`` columns are ``society``

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

The bot and this portal now say "society" everywhere in code and schema (the API's
wire field stays ``tenant``, ``bot.domain.portal_contract.SOCIETY_FIELD``). Renamed:

- ``accounts.tenant``, ``unlock_tickets.tenant``, ``audit_events.tenant`` -> ``society``
  (``ALTER TABLE ... RENAME COLUMN``: PostgreSQL, and SQLite 3.25+, which rewrites the
  indexes and constraints that name the column, ``uq_unlock_tickets_one_open`` included);
- the index ``ix_unlock_tickets_tenant_status`` -> ``ix_unlock_tickets_society_status``;
- the unique constraint ``uq_accounts_tenant_user_id`` -> ``uq_accounts_society_user_id``
  on PostgreSQL. SQLite cannot rename a constraint without rebuilding ``accounts``, and a
  rebuild drops the old table, which under ``PRAGMA foreign_keys=ON`` deletes every
  login session and e-mail token (ON DELETE CASCADE): there the constraint keeps its old
  name, over the renamed column. Only the name differs; what it enforces is the same.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("accounts", "unlock_tickets", "audit_events")
OLD, NEW = "tenant", "society"
OLD_INDEX, NEW_INDEX = "ix_unlock_tickets_tenant_status", "ix_unlock_tickets_society_status"
OLD_UNIQUE, NEW_UNIQUE = "uq_accounts_tenant_user_id", "uq_accounts_society_user_id"


def _rename(old: str, new: str, old_index: str, new_index: str, old_unique: str, new_unique: str) -> None:
    op.drop_index(old_index, table_name="unlock_tickets")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    op.create_index(new_index, "unlock_tickets", [new, "status"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE accounts RENAME CONSTRAINT {old_unique} TO {new_unique}")


def upgrade() -> None:
    _rename(OLD, NEW, OLD_INDEX, NEW_INDEX, OLD_UNIQUE, NEW_UNIQUE)


def downgrade() -> None:
    _rename(NEW, OLD, NEW_INDEX, OLD_INDEX, NEW_UNIQUE, OLD_UNIQUE)
