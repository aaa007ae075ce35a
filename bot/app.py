"""The composition root: build the Application and everything it needs, in one place."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.handlers import entry
from bot.handlers.common import CONTEXT_TYPES, App
from bot.handlers.scope import ScopedApplication, SettleFirst
from bot.jobs import outbox_waker, schedule_jobs
from bot.logs import keep_out_of_logs, protect_logs
from bot.services.deps import Deps
from bot.services.statistics.catalogue import build_catalogue
from bot.settings import Settings
from bot.update_order import ChatOrderedProcessor
from storage.crypto import AuditKey, BlindIndex, FieldCipher, KeyRing
from storage.engine import make_engine, make_sessions

log = logging.getLogger("bot.app")

STUDENT_COMMANDS = (
    BotCommand("start", "Begin or carry on your information sheet"),
    BotCommand("book", "Book an appointment with an adviser"),
    BotCommand("appointments", "Your appointments, to move or cancel one"),
    BotCommand("mysheet", "See what you told us and your consent choices"),
    BotCommand("consent", "See or change what your adviser may do for you"),
    BotCommand("mydata", "What we hold about you; ask for a copy or deletion"),
    BotCommand("privacy", "How we protect your information"),
    BotCommand("cancel", "Discard an unfinished information sheet"),
    BotCommand("help", "What I can do"),
)

# A syntactically valid token for the local transport, which never checks it.
LOCAL_TOKEN = "1000000001:LOCAL-transport-token-not-secret"  # noqa: S105


def build_deps(
    settings: Settings,
    *,
    clock: Clock,
    keys: KeyRing,
    index: BlindIndex,
    engine: AsyncEngine,
    audit_key: AuditKey | None = None,
) -> Deps:
    return Deps(
        make_sessions(engine),
        FieldCipher(keys),
        index,
        clock,
        settings,
        audit_key or settings.audit_chain_key(),
    )


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    keys: KeyRing | None = None,
    index: BlindIndex | None = None,
    audit_key: AuditKey | None = None,
    engine: AsyncEngine | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    token: str | None = None,
) -> App:
    """Wire settings, crypto, storage and handlers into a ready Application.

    Pass `request` (the local transport) to run without Telegram, with a placeholder token
    unless `token` is given; otherwise the token and optional Bot API base URL come from
    settings. The engine is disposed on shutdown only if this function created it.
    """
    protect_logs()
    keep_out_of_logs(settings.secret_values())
    # The statistics published: refused now, not at the first report, if two series of one
    # kind of event could be played against each other.
    build_catalogue(settings)
    owns_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    deps = build_deps(
        settings,
        clock=clock or SystemClock(),
        keys=keys or settings.key_ring(),
        index=index or settings.blind_index(),
        audit_key=audit_key or settings.audit_chain_key(),
        engine=engine,
    )

    async def post_init(app: App) -> None:
        await app.bot.set_my_commands(STUDENT_COMMANDS)

    async def post_shutdown(app: App) -> None:
        if owns_engine:
            await engine.dispose()

    builder: Any = (
        ApplicationBuilder()
        .context_types(CONTEXT_TYPES)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                protect_content=True,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .application_class(ScopedApplication)
        .concurrent_updates(ChatOrderedProcessor(settings.updates_at_once()))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if request is not None:
        builder = builder.token(token or LOCAL_TOKEN).request(request)
        builder = builder.get_updates_request(updates_request or request)
        builder = builder.rate_limiter(SettleFirst())
    else:
        builder = builder.token(settings.token())
        builder = builder.rate_limiter(SettleFirst(AIORateLimiter(max_retries=3)))
        if settings.bot_api_base_url:
            base = settings.bot_api_base_url.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    app: App = builder.build()
    app.bot_data.deps = deps
    entry.register(app)
    schedule_jobs(app)
    deps.wake_outbox = outbox_waker(app)
    return app
