"""What the command line does, as plain async functions over settings."""

from __future__ import annotations

import sys

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_deps
from bot.clock import SystemClock
from bot.services import audit as audit_service
from bot.services import outbox, staff
from bot.services.deps import Deps
from bot.services.errors import AlreadyStaff
from bot.services.term_import import import_weekly_csv
from bot.settings import Settings, SettingsError
from bot.vocabulary import AuditAction, Role
from storage import audit
from storage import migrate as migrations
from storage.engine import make_engine
from storage.rotation import rotate_all


def _deps(settings: Settings, engine: AsyncEngine) -> Deps:
    return build_deps(
        settings,
        clock=SystemClock(),
        keys=settings.key_ring(),
        index=settings.blind_index(),
        engine=engine,
    )


async def migrate(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    keys = settings.key_ring() if settings.data_keys is not None else None
    try:
        try:
            await migrations.upgrade(engine, keys=keys)
        except migrations.KeysNeeded as problem:
            print(f"Not migrated: {problem}.", file=sys.stderr)
            return 1
        print(f"Database is at revision {await migrations.current_revision(engine)}.")
    finally:
        await engine.dispose()
    return 0


async def require_current_schema(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        current = await migrations.current_revision(engine)
    finally:
        await engine.dispose()
    head = migrations.head_revision()
    if current != head:
        raise SettingsError(
            f"the database at USS_DATABASE_URL is at revision {current or 'none'}, "
            f"the code needs {head}. How to fix: run `python -m bot migrate`"
        )


async def add_staff(settings: Settings, *, role: str, telegram_id: int, name: str) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            try:
                member = await staff.add_staff(
                    uow,
                    deps,
                    telegram_user_id=telegram_id,
                    name=name,
                    role=Role(role),
                    actor=audit_service.COMMAND_LINE,
                )
            except AlreadyStaff:
                print("That Telegram account is already registered as staff.", file=sys.stderr)
                return 1
            except ValueError as problem:
                print(f"Not added: {problem}.", file=sys.stderr)
                return 1
            await uow.commit()
        print(
            f"Added {role} (staff id {member.id}). Ask them to open the bot and send /start: "
            "they must acknowledge the confidentiality policy before staff commands work."
        )
    finally:
        await engine.dispose()
    return 0


async def list_staff(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            members = await staff.all_staff(uow, deps)
        if not members:
            print("No staff yet. Add the first coordinator with `python -m bot staff add`.")
        for m in members:
            state = "active" if m.active else "deactivated"
            policy = (
                "policy acknowledged"
                if m.acknowledged_current_policy
                else "policy NOT acknowledged"
            )
            print(f"{m.staff_id}  {m.role.value:<11} {state:<11} {policy:<24} {m.name}")
    finally:
        await engine.dispose()
    return 0


async def verify_audit(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            report = await audit.verify(uow.session)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"Audit chain intact: {report.checked} entries verified.")
        return 0
    print(
        f"Audit chain BROKEN at entry {report.broken_at}: {report.reason} "
        f"({report.checked} entries before it verified).",
        file=sys.stderr,
    )
    return 1


async def import_availability(settings: Settings, text: str) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            report = await import_weekly_csv(uow, deps, text)
    finally:
        await engine.dispose()
    print(f"Accepted {report.accepted} row(s); rejected {len(report.rejected)}.")
    for line, reason in report.rejected:
        print(f"  line {line}: {reason}")
    return 0 if not report.rejected else 1


async def list_notices(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            pending = await outbox.pending_summary(uow)
        now = deps.clock.now()
    finally:
        await engine.dispose()
    if not pending:
        print("No messages are waiting: everything queued has been delivered.")
        return 0
    print(f"{len(pending)} message(s) waiting:")
    print(f"{'ref':<8}{'kind':<22}{'attempts':>9}  {'waiting':>8}  last error")
    for ref, kind, attempts, error, created in pending:
        minutes = int((now - created).total_seconds() // 60)
        print(f"{ref:<8}{kind:<22}{attempts:>9}  {minutes:>6} m  {error or '-'}")
    return 0


async def rotate_keys(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            report = await rotate_all(uow.session, deps.cipher)
            await audit_service.record(
                uow,
                deps,
                AuditAction.KEYS_ROTATED,
                audit_service.COMMAND_LINE,
                key=deps.cipher.keys.current_key_id,
                rotated=report.rotated,
            )
            await uow.commit()
        print(
            f"Re-encrypted {report.rotated} of {report.examined} fields under key "
            f"{deps.cipher.keys.current_key_id}. Older keys can be removed from USS_DATA_KEYS."
        )
    finally:
        await engine.dispose()
    return 0
