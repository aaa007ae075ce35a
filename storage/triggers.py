"""Database triggers that make the audit log append-only on both engines.

Since revision 0008 there is one sanctioned update: a key rotation re-encrypts the sealed
content of entries while a row of `audit_rekey` exists, which it does only inside that
rotation's own transaction (so no other transaction ever sees it), and even then seq, time
and MAC cannot change. Every other update, and every delete, is refused.
"""

from __future__ import annotations

APPEND_ONLY_TABLE = "audit_log"
REKEY_PERMIT_TABLE = "audit_rekey"
# The columns in the clear, which nothing may change (the sealed content may be re-encrypted).
CLEAR_COLUMNS = ("seq", "at", "mac")


def append_only_triggers(dialect: str, *, allow_rekey: bool = False) -> list[str]:
    """The triggers; `allow_rekey` (from 0008 on) lets a rotation re-encrypt `sealed`."""
    table = APPEND_ONLY_TABLE
    if dialect == "sqlite":
        when = ""
        if allow_rekey:
            changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CLEAR_COLUMNS)
            when = f"WHEN NOT EXISTS (SELECT 1 FROM {REKEY_PERMIT_TABLE}) OR {changed} "  # noqa: S608
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {when}"
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    sanctioned = ""
    if allow_rekey:
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in CLEAR_COLUMNS)
        sanctioned = (
            f"IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM {REKEY_PERMIT_TABLE}) "  # noqa: S608
            f"AND {same} THEN RETURN NEW; END IF; "
        )
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {sanctioned}RAISE EXCEPTION '{table} is append-only'; END $$",
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


# Case records kept as written: a correction is a new row. A key rotation may re-encrypt their
# sealed columns (under the same permit as the audit log's), and a retention purge may delete
# them while its own permit row exists; nothing else may change or remove them.
PURGE_PERMIT_TABLE = "purge_permit"
KEPT_AS_WRITTEN: dict[str, tuple[str, ...]] = {
    "case_notes": (
        "id",
        "case_id",
        "position",
        "kind",
        "author_staff_id",
        "created_at",
        "corrects_note_id",
    ),
    "disclosures": ("id", "case_id", "staff_id", "made_at"),
}


def kept_as_written_triggers(dialect: str, table: str) -> list[str]:
    """Triggers refusing UPDATE (but a rotation's re-encryption) and DELETE (but a purge)."""
    clear = KEPT_AS_WRITTEN[table]
    rekey = f"EXISTS (SELECT 1 FROM {REKEY_PERMIT_TABLE})"  # noqa: S608
    purge = f"EXISTS (SELECT 1 FROM {PURGE_PERMIT_TABLE})"  # noqa: S608
    message = f"{table} are kept as written"
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in clear)
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"WHEN NOT {rekey} OR {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {purge} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        ]
    same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in clear)
    return [
        f"CREATE FUNCTION {table}_kept_as_written() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND {rekey} AND {same} THEN RETURN NEW; END IF; "
        f"IF TG_OP = 'DELETE' AND {purge} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '{message}'; END $$",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_kept_as_written()",
    ]


def drop_kept_as_written_triggers(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete"]
    return [
        f"DROP TRIGGER {table}_no_change ON {table}",
        f"DROP FUNCTION {table}_kept_as_written()",
    ]
