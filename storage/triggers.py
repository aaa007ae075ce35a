"""Database triggers that make the audit log append-only on both engines."""

from __future__ import annotations

APPEND_ONLY_TABLE = "audit_log"


def append_only_triggers(dialect: str) -> list[str]:
    table = APPEND_ONLY_TABLE
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    ]


def drop_append_only_triggers(dialect: str) -> list[str]:
    table = APPEND_ONLY_TABLE
    if dialect == "sqlite":
        return [f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete"]
    return [
        f"DROP TRIGGER {table}_no_change ON {table}",
        f"DROP FUNCTION {table}_append_only()",
    ]
