"""The command line: run, demo, migrate, keygen, staff, audit, policy, purge, keys."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.env_file import KeysAlreadyThere, put_keys
from bot.logs import configure_logging, keep_out_of_logs
from bot.settings import Settings, load_settings
from storage.audit import Head

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="USS Intake Bot: confidential intake, consent and booking for the "
        "Union Support Service. Settings come from the environment and .env "
        "(see .env.example).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run",
        help="run the bot against Telegram (long polling)",
        description="Run the bot with the token in USS_BOT_TOKEN (long polling).",
    )
    demo = sub.add_parser(
        "demo",
        help="try the bot in this terminal, no token needed",
        description="Run the real bot against a local Telegram stand-in, in this terminal. "
        "Data goes to a demo database under ./var/demo/ with keys generated there.",
    )
    demo.add_argument("--reset", action="store_true", help="delete the demo database first")
    demo.add_argument("--dir", default="var/demo", help="where the demo keeps its files")
    sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Apply every Alembic migration to USS_DATABASE_URL.",
    )
    keygen = sub.add_parser(
        "keygen",
        help="make fresh data, index and audit keys for .env",
        description="Make new USS_DATA_KEYS, USS_INDEX_KEY and USS_AUDIT_KEY values: print "
        "them, or with --write put them into a settings file only its owner can read.",
    )
    keygen.add_argument(
        "--write",
        metavar="FILE",
        help="put the keys into FILE (e.g. .env) instead of printing them: a new file is "
        "created with mode 0600; an existing one has its empty USS_DATA_KEYS=, "
        "USS_INDEX_KEY= and USS_AUDIT_KEY= lines filled in (missing ones added) and is "
        "made 0600. Keys already there are never replaced.",
    )

    staff = sub.add_parser(
        "staff", help="add or list staff, reset a second factor", description="Manage staff."
    )
    staff_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    add = staff_sub.add_parser(
        "add",
        help="register a staff member (the first coordinator, typically)",
        description="Register a staff member by Telegram user id. They must still "
        "acknowledge the policy in the bot (and advisers and coordinators set up a second "
        "factor) before staff commands work.",
    )
    add.add_argument("--role", required=True, choices=["coordinator", "adviser", "security"])
    add.add_argument(
        "--telegram-id", required=True, type=int, help="their numeric Telegram user id"
    )
    add.add_argument("--name", required=True, help="their name as colleagues should see it")
    staff_sub.add_parser("list", help="list staff", description="List every staff member.")
    reset = staff_sub.add_parser(
        "reset-2fa",
        help="reset someone's second factor (a lost phone, a lock-out)",
        description="Clear a staff member's second factor, its lock and their session "
        "(audited). At their next staff command the bot sets up a new one with them. For "
        "the day the only coordinator loses their phone; otherwise a coordinator can do it "
        "from /staff in the bot.",
    )
    reset.add_argument(
        "--telegram-id", required=True, type=int, help="their numeric Telegram user id"
    )

    audit = sub.add_parser("audit", help="check the audit log", description="Audit log tools.")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="verify the keyed chain (against a published head with --head)",
        description="Walk the audit chain with USS_AUDIT_KEY and report the first broken "
        "link. With --head, also prove the log still holds every entry up to that head "
        "(catches removal of the newest entries and rewrites).",
    )
    verify.add_argument(
        "--head",
        type=_head,
        metavar="SEQ:MAC",
        help="a head published earlier (by `audit head` or the daily message), e.g. 42:ab12…",
    )
    audit_sub.add_parser(
        "head",
        help="print the current head, to keep outside this server",
        description="Verify the chain, then print its head (SEQ:MAC) for the Union to keep; "
        "`audit verify --head` checks the log against it later.",
    )

    availability = sub.add_parser(
        "availability", help="set up advisers' availability", description="Availability tools."
    )
    availability_sub = availability.add_subparsers(
        dest="availability_command", metavar="ACTION", required=True
    )
    importing = availability_sub.add_parser(
        "import",
        help="add weekly times from a CSV file",
        description="Add weekly availability from a CSV file with the header "
        "adviser_telegram_id,weekday,start,end,mode (e.g. 123456789,Tue,10:00,12:30,in person). "
        "Valid rows are added; each rejected row is reported with its line and reason.",
    )
    importing.add_argument("file", help="the CSV file")

    policy = sub.add_parser(
        "policy",
        help="publish a policy version; the signature register",
        description="The confidentiality statement staff acknowledge.",
    )
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    publish = policy_sub.add_parser(
        "publish",
        help="publish a new version approved by the Board of Trustees",
        description="Make the statement in FILE (plain text, UTF-8, .txt) the current policy, "
        "with the date the Board of Trustees approved it. Every active staff member is told in "
        "the bot and must acknowledge it before their next staff command.",
    )
    publish.add_argument("file", metavar="FILE", help="the statement, a UTF-8 .txt file")
    publish.add_argument(
        "--approved",
        required=True,
        metavar="YYYY-MM-DD",
        help="the date the Board of Trustees approved this version (not in the future)",
    )
    publish.add_argument(
        "--version",
        metavar="V",
        help="the version's name (default: the approval year and the next number, e.g. 2026.2)",
    )
    signatures = policy_sub.add_parser(
        "signatures",
        help="who acknowledged which version, when, and the digest of the text",
        description="List the signature register, and who has not yet signed the current "
        "version; with --csv, the Students' Union office copy: one row per signature, UTF-8 "
        "with a byte order mark (Excel opens names in any script), times in UTC and in the "
        "service's time zone.",
    )
    signatures.add_argument(
        "--csv", action="store_true", help="write CSV (to standard output unless --output)"
    )
    signatures.add_argument(
        "--output", metavar="FILE", help="write the CSV to FILE (created mode 0600)"
    )

    sub.add_parser(
        "notices",
        help="list messages waiting to be delivered",
        description="List pending and undelivered outbox messages: reference, kind, attempts, "
        "last error and age. Never the recipient or the text.",
    )

    purge = sub.add_parser(
        "purge",
        help="delete records past the retention period now",
        description="Delete every case whose last activity is older than USS_RETENTION_YEARS "
        "(5 at most), with its notes, documents, disclosures and sheet, and each student "
        "with nothing left on file. The bot does this itself every hour; this runs it now, "
        "with a progress bar. Counts only are printed.",
    )
    purge.add_argument(
        "--dry-run",
        action="store_true",
        help="change nothing: list how many cases, notes, documents and students would go, "
        "by month of last activity",
    )

    keys = sub.add_parser("keys", help="key rotation, data keys", description="Key management.")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_sub.add_parser(
        "rotate",
        help="re-encrypt all data under the newest key",
        description="Re-encrypt every sealed field under the first key in USS_DATA_KEYS. "
        "Keep the old keys listed until this has run.",
    )
    keys_sub.add_parser(
        "split",
        help="move older data to each case's and student's own key",
        description="Re-encrypt the fields written before cases and students had data keys "
        "of their own under those keys, batch by batch with a progress bar, so that deleting "
        "a case or a student (retention, an erasure request) makes every copy of them, in a "
        "backup too, unreadable. `migrate` does this too; run it again to finish an "
        "interrupted run: what is done is not done twice.",
    )
    return parser


def _head(text: str) -> Head:
    try:
        return Head.parse(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(f"{problem}, as `audit head` prints") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings: Settings | None = None
    try:
        if args.command == "keygen":
            return _keygen(args.write)
        if args.command == "demo":
            from bot.demo import run_demo

            return int(run_demo(reset=args.reset, directory=args.dir))
        settings = load_settings()
        configure_logging(settings.log_level)
        keep_out_of_logs(settings.secret_values())
        if args.command == "run":
            return _run(settings)
        from bot import admin

        if args.command == "migrate":
            return asyncio.run(admin.migrate(settings))
        # Name a missing or malformed key before looking at the database.
        settings.key_ring()
        settings.blind_index()
        asyncio.run(admin.require_current_schema(settings))
        if args.command == "staff" and args.staff_command == "add":
            return asyncio.run(
                admin.add_staff(
                    settings, role=args.role, telegram_id=args.telegram_id, name=args.name
                )
            )
        if args.command == "staff" and args.staff_command == "list":
            return asyncio.run(admin.list_staff(settings))
        if args.command == "staff" and args.staff_command == "reset-2fa":
            return asyncio.run(admin.reset_second_factor(settings, telegram_id=args.telegram_id))
        if args.command == "audit" and args.audit_command == "head":
            return asyncio.run(admin.audit_head(settings))
        if args.command == "audit":
            return asyncio.run(admin.verify_audit(settings, args.head))
        if args.command == "availability":
            try:
                text = Path(args.file).read_text(encoding="utf-8-sig")
            except OSError as problem:
                print(f"Cannot read {args.file}: {problem.strerror}.", file=sys.stderr)
                return 1
            return asyncio.run(admin.import_availability(settings, text))
        if args.command == "policy" and args.policy_command == "publish":
            try:
                data = Path(args.file).read_bytes()
            except OSError as problem:
                print(f"Cannot read {args.file}: {problem.strerror}.", file=sys.stderr)
                return 1
            return asyncio.run(
                admin.publish_policy(
                    settings,
                    name=Path(args.file).name,
                    data=data,
                    approved=args.approved,
                    version=args.version,
                )
            )
        if args.command == "policy":
            return asyncio.run(
                admin.policy_signatures(settings, as_csv=args.csv, output=args.output)
            )
        if args.command == "notices":
            return asyncio.run(admin.list_notices(settings))
        if args.command == "purge":
            return asyncio.run(admin.purge(settings, dry_run=args.dry_run))
        if args.command == "keys" and args.keys_command == "split":
            return asyncio.run(admin.split_keys(settings))
        if args.command == "keys":
            return asyncio.run(admin.rotate_keys(settings))
    except Exception as problem:
        return _report(problem, settings)
    return 1


def _report(problem: Exception, settings: Settings | None) -> int:
    """The one error boundary: a known failure says what is wrong and how to fix it."""
    from bot import failures

    try:
        message = failures.explain(problem, settings)
    except Exception:  # explaining must never hide the failure behind a new one
        message = None
    if message is not None:
        print(message, file=sys.stderr)
        return 2
    print(failures.unexpected(problem, "E-" + secrets.token_hex(4)), file=sys.stderr)
    return 1


def _keygen(write: str | None) -> int:
    from storage.crypto import new_key_id, new_key_material

    keys = {
        "USS_DATA_KEYS": f"{new_key_id()}:{new_key_material()}",
        "USS_INDEX_KEY": new_key_material(),
        "USS_AUDIT_KEY": new_key_material(),
    }
    if write is None:
        print(
            "# Paste into .env. Keep these secret, and back them up: without them the data is lost."
        )
        for name, value in keys.items():
            print(f"{name}={value}")
        return 0
    try:
        created = put_keys(Path(write), keys)
    except KeysAlreadyThere as present:
        print(
            f"Not written: {write} already holds {present.name}. New keys would make the data "
            "written with the old ones unreadable; to change keys, see "
            "`python -m bot keys rotate --help`.",
            file=sys.stderr,
        )
        return 1
    except OSError as problem:
        print(f"Not written: cannot write {write} ({problem.strerror}).", file=sys.stderr)
        return 1
    verb = "Created" if created else "Filled in the keys of"
    print(
        f"{verb} {write} (mode 0600: only you can read it). Back up its USS_DATA_KEYS, "
        "USS_INDEX_KEY and USS_AUDIT_KEY somewhere safe: without them the data cannot be read."
    )
    return 0


def _run(settings: Settings) -> int:
    from telegram import Update

    from bot import admin
    from bot.app import build_application

    settings.token()  # fail early, naming the variable, before anything else
    settings.key_ring()
    settings.blind_index()
    asyncio.run(admin.require_current_schema(settings))
    asyncio.run(admin.backfill_statistics(settings))
    app = build_application(settings)
    # Check the token (getMe) before polling starts, so a rejected one is reported once, by
    # the error boundary, rather than by python-telegram-bot's retry loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(app.initialize())
    except BaseException:
        loop.close()
        raise
    log.info("starting; press Ctrl+C to stop")
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
