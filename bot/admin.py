"""What the command line does, as plain async functions over settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from bot import failures
from bot.app import build_deps
from bot.clock import SystemClock
from bot.services import audit as audit_service
from bot.services.booking.term_import import import_weekly_csv
from bot.services.deps import Deps
from bot.services.errors import AlreadyStaff, UnknownStaff
from bot.services.intake import sheet_store
from bot.services.lifecycle import retention
from bot.services.notices import outbox
from bot.services.staff import policy_register, policy_versions, second_factor, staff
from bot.services.staff.policy_versions import (
    ApprovalDateRefused,
    PolicyTextRefused,
    VersionRefused,
)
from bot.services.statistics.backfill import backfill
from bot.settings import Settings
from bot.vocabulary import AuditAction, FactorState, Role
from storage import audit, key_split
from storage import migrate as migrations
from storage.engine import make_engine, sqlite_file
from storage.rotation import rotate_all


def _deps(settings: Settings, engine: AsyncEngine) -> Deps:
    return build_deps(
        settings,
        clock=SystemClock(),
        keys=settings.key_ring(),
        index=settings.blind_index(),
        engine=engine,
        audit_key=settings.audit_chain_key(),
    )


async def migrate(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    keys = settings.key_ring() if settings.data_keys is not None else None
    audit_key = settings.audit_chain_key() if settings.audit_key is not None else None
    try:
        try:
            await migrations.upgrade(engine, keys=keys, audit_key=audit_key)
        except (migrations.KeysNeeded, migrations.MigrationRefused) as problem:
            print(f"Not migrated: {problem}.", file=sys.stderr)
            return 1
        print(f"Database is at revision {await migrations.current_revision(engine)}.")
        if keys is not None and audit_key is not None and settings.index_key is not None:
            indexed = await _index_names(settings, engine)
            if indexed:
                print(f"Indexed the full names of {indexed} earlier sheets for /find.")
            if await backfill(_deps(settings, engine)):
                print("Counted the records already held into the anonymous statistics.")
            split = await _split(_deps(settings, engine))
            if split.rows:
                print(
                    f"Moved {split.fields} field(s) of {split.rows} earlier record(s) to their "
                    "cases' and students' own keys."
                )
    finally:
        await engine.dispose()
    return 0


async def _index_names(settings: Settings, engine: AsyncEngine) -> int:
    deps = _deps(settings, engine)
    async with deps.uow() as uow:
        indexed = await sheet_store.index_names(uow, deps)
        await uow.commit()
    return indexed


async def backfill_statistics(settings: Settings) -> None:
    """Before the bot counts anything itself, count what is already held (once)."""
    engine = make_engine(settings.database_url)
    try:
        await backfill(_deps(settings, engine))
    finally:
        await engine.dispose()


async def require_current_schema(settings: Settings) -> None:
    """Stop unless the database exists and is at the code's revision (never creating it)."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.is_file():
        raise failures.missing_file_problem(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        current = await migrations.current_revision(engine)
    finally:
        await engine.dispose()
    head = migrations.head_revision()
    if current != head:
        raise failures.not_migrated_problem(settings.database_url, current, head)


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
        then = (
            ", then set up a second factor (an authenticator app on their phone)"
            if Role(role) is not Role.SECURITY
            else ""
        )
        print(
            f"Added {role} (staff id {member.id}). Ask them to open the bot and send /start: "
            f"they must acknowledge the confidentiality policy{then} before staff commands "
            "work."
        )
    finally:
        await engine.dispose()
    return 0


async def reset_second_factor(settings: Settings, *, telegram_id: int) -> int:
    """Clear a staff member's second factor, its lock and session (audited): for the day the
    only coordinator loses their phone."""
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            try:
                name = await second_factor.reset_from_command_line(uow, deps, telegram_id)
            except UnknownStaff:
                print("No staff member has that Telegram id.", file=sys.stderr)
                return 1
        print(
            f"Reset the second factor of {name}. Their session has ended and any lock is "
            "lifted; at their next staff command in the bot they set up a new one."
        )
    finally:
        await engine.dispose()
    return 0


_FACTOR_WORDS = {
    FactorState.NOT_SET_UP: "2FA not set up",
    FactorState.AWAITING_CODE: "2FA setting up",
    FactorState.LOCKED_OUT: "2FA LOCKED",
    FactorState.SESSION_LOCKED: "2FA set up",
    FactorState.UNLOCKED: "2FA set up",
}


async def list_staff(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow(read_only=True) as uow:
            members = await staff.all_staff(uow, deps)
            factors = await second_factor.all_states(uow, deps)
        if not members:
            print("No staff yet. Add the first coordinator with `python -m bot staff add`.")
        for m in members:
            state = "active" if m.active else "deactivated"
            policy = (
                "policy acknowledged"
                if m.acknowledged_current_policy
                else "policy NOT acknowledged"
            )
            factor = _FACTOR_WORDS.get(factors[m.staff_id], "") if m.staff_id in factors else ""
            print(
                f"{m.staff_id}  {m.role.value:<11} {state:<11} {policy:<24} {factor:<15} {m.name}"
            )
    finally:
        await engine.dispose()
    return 0


async def verify_audit(settings: Settings, published: audit.Head | None = None) -> int:
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow(read_only=True) as uow:
            report = await audit.verify(
                uow.session, deps.cipher, deps.audit_key, published=published
            )
    finally:
        await engine.dispose()
    if not report.ok:
        print(
            f"Audit chain BROKEN at entry {report.broken_at}: {report.reason} "
            f"({report.checked} entries before it verified).",
            file=sys.stderr,
        )
        return 1
    print(f"Audit chain intact: {report.checked} entries verified (head {report.head}).")
    if published is None:
        print(
            f"Proven: entries 1 to {report.checked} chain under USS_AUDIT_KEY, so none of them "
            "was altered, removed, reordered or forged by anyone without that key.\n"
            f"Not proven: that nothing came after entry {report.checked}. Deleting the newest "
            "entries leaves an intact chain; so does a rewrite by someone holding the key. "
            "Check against a head published earlier (sent daily to the coordinators, or "
            "printed by `python -m bot audit head`): `python -m bot audit verify --head H`."
        )
    else:
        print(
            f"Proven: the log still holds every entry up to the published head "
            f"{published.seq}, unchanged (a rewrite or removal of any of them, even with the "
            f"key, would change the MAC of entry {published.seq}); entries after it chain "
            "under USS_AUDIT_KEY."
        )
    return 0


async def audit_head(settings: Settings) -> int:
    """Print the head, to be kept outside this server, once the chain verifies."""
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow(read_only=True) as uow:
            report = await audit.verify(uow.session, deps.cipher, deps.audit_key)
    finally:
        await engine.dispose()
    if not report.ok:
        print(
            f"Audit chain BROKEN at entry {report.broken_at}: {report.reason}. No head is "
            "printed: publishing it would vouch for the break.",
            file=sys.stderr,
        )
        return 1
    print(report.head)
    print(
        "Keep this head outside this server (the Union's records). Later, "
        f"`python -m bot audit verify --head {report.head}` proves the log still holds "
        "every entry up to it.",
        file=sys.stderr,
    )
    return 0


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
        async with deps.uow(read_only=True) as uow:
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


async def split_keys(settings: Settings) -> int:
    """Move the fields still under the key ring to their owners' data keys, with a progress
    bar; say how many, and audit it."""
    engine = make_engine(settings.database_url)
    try:
        report = await _split(_deps(settings, engine))
    finally:
        await engine.dispose()
    if report.rows:
        print(
            f"Moved {report.fields} field(s) of {report.rows} record(s) to their cases' and "
            "students' own keys."
        )
    else:
        print("Every case's and student's records are already under their own keys.")
    return 0


async def _split(deps: Deps) -> key_split.SplitReport:
    async with deps.uow() as uow:
        waiting = await key_split.count_waiting(uow.session)
    if not waiting:
        return key_split.SplitReport()
    with tqdm(total=waiting, unit="record", desc="Moving to data keys", file=sys.stderr) as bar:
        report = await key_split.split(deps.sessions, deps.cipher, progress=bar.update)
    async with deps.uow() as uow:
        await audit_service.record(
            uow,
            deps,
            AuditAction.KEYS_SPLIT,
            audit_service.COMMAND_LINE,
            records=report.rows,
            fields=report.fields,
        )
        await uow.commit()
    return report


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
                data_keys=report.data_keys_rewrapped,
            )
            await uow.commit()
        print(
            f"Under key {deps.cipher.keys.current_key_id}: rewrapped {report.data_keys_rewrapped} "
            f"of {report.data_keys_examined} data keys (cases' and students'), re-encrypted "
            f"{report.rotated} of {report.examined} fields sealed by the key ring itself, and "
            f"{report.audit_rotated} of {report.audit_examined} audit entries. Older keys can "
            "be removed from USS_DATA_KEYS."
        )
    finally:
        await engine.dispose()
    return 0


async def purge(settings: Settings, *, dry_run: bool) -> int:
    """Apply retention now (or, with dry_run, say what it would delete): counts only."""
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        if dry_run:
            return _print_preview(settings, await retention.preview(deps))
        due = await retention.due_now(deps)
        with tqdm(total=due, unit="record", desc="Deleting", file=sys.stderr) as bar:
            done = await retention.purge(
                deps, progress=lambda counts: bar.update(counts.cases + counts.students)
            )
    finally:
        await engine.dispose()
    print(
        f"Deleted {done.cases} case(s) with {done.notes} note(s), {done.documents} "
        f"document(s) and {done.disclosures} disclosure(s), and {done.students} student(s) "
        "with nothing left on file."
    )
    return 0


def _print_preview(settings: Settings, lines: list[retention.MonthDue]) -> int:
    years = settings.retention_years
    if not lines:
        print(f"Nothing is older than the retention period ({years} years): nothing would go.")
        return 0
    print(f"Would delete (last activity more than {years} years ago), by month of last activity:")
    print(f"{'month':<9}{'cases':>7}{'notes':>7}{'documents':>11}{'students':>10}")
    for line in lines:
        print(
            f"{line.month:<9}{line.cases:>7}{line.notes:>7}{line.documents:>11}{line.students:>10}"
        )
    total = [
        sum(getattr(line, name) for line in lines)
        for name in ("cases", "notes", "documents", "students")
    ]
    print(f"{'total':<9}{total[0]:>7}{total[1]:>7}{total[2]:>11}{total[3]:>10}")
    print("Nothing was changed (dry run).")
    return 0


# What the command line says when it refuses a statement to publish (the bot's words, in
# bot/policy_texts.py, speak of documents sent in the chat).
_TEXT_REFUSED = {
    "not_text_file": "it is not a .txt file",
    "too_large": f"it is over {policy_versions.MAX_BYTES // 1000} KB",
    "empty": "it is empty",
    "not_utf8": "it is not UTF-8 text (save it as plain text, encoding UTF-8)",
    "not_plain_text": "it holds control characters (is it a word processor file?)",
    "same_as_current": "its text is exactly the current version's; there is nothing new",
}
_DATE_REFUSED = {
    "format": "--approved takes a date such as 2026-11-30",
    "future": "--approved is in the future: give the date the Board of Trustees approved it",
}
_VERSION_REFUSED = {
    "format": "a version name has letters, digits, dots or dashes only, up to 32 characters",
    "taken": "that version name is already used",
}


async def publish_policy(
    settings: Settings, *, name: str, data: bytes, approved: str, version: str | None
) -> int:
    """Publish a statement the Board of Trustees approved; staff are told in the bot."""
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            try:
                policy_versions.check_file(name, len(data))
                text = policy_versions.read_text(data)
                day = policy_versions.approval_date(approved, policy_versions.service_today(deps))
                name = version or policy_versions.next_version(
                    await policy_versions.taken_versions(uow), day
                )
                published = await policy_versions.publish(
                    uow, deps, text=text, approved_on=day, version=name, publisher=None
                )
            except PolicyTextRefused as refused:
                print(f"Not published: {_TEXT_REFUSED[refused.problem.value]}.", file=sys.stderr)
                return 1
            except ApprovalDateRefused as refused:
                print(f"Not published: {_DATE_REFUSED[refused.problem.value]}.", file=sys.stderr)
                return 1
            except VersionRefused as refused:
                print(f"Not published: {_VERSION_REFUSED[refused.problem.value]}.", file=sys.stderr)
                return 1
            await uow.commit()
        print(
            f"Published version {published.version} (approved by the Board of Trustees on "
            f"{day.isoformat()}, SHA-256 {published.sha256}). It is now the current policy: "
            "every active staff member is told in the bot and must acknowledge it before "
            "their next staff command."
        )
    finally:
        await engine.dispose()
    return 0


async def policy_signatures(settings: Settings, *, as_csv: bool, output: str | None) -> int:
    """The signature register: a listing, or the CSV for the Students' Union office."""
    engine = make_engine(settings.database_url)
    try:
        deps = _deps(settings, engine)
        async with deps.uow() as uow:
            register = await policy_register.for_export(uow, deps)
    finally:
        await engine.dispose()
    zone = settings.zone
    if as_csv or output is not None:
        data = policy_register.as_csv(register.signatures, zone).encode("utf-8")
        if output is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return 0
        try:
            _write_private(Path(output), data)
        except OSError as problem:
            print(f"Not written: cannot write {output} ({problem.strerror}).", file=sys.stderr)
            return 1
        print(f"Wrote {len(register.signatures)} signature(s) to {output} (UTF-8 CSV, mode 0600).")
        return 0
    current = register.current
    print(f"Current version {current.version}, SHA-256 {current.sha256}")
    for s in register.signatures:
        moment = s.acknowledged_at.astimezone(zone).isoformat(timespec="seconds")
        print(f"{moment}  {s.version:<10} {s.sha256[:16]}  {s.role.value:<11} {s.name}")
    if not register.signatures:
        print("No signatures yet.")
    if register.unsigned:
        print(f"Not yet signed the current version ({len(register.unsigned)}):")
        for u in register.unsigned:
            print(f"  {u.role.value:<11} {u.name}")
    else:
        print("Every active staff member has signed the current version.")
    return 0


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file only its owner can read (it names staff)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode otherwise
