"""Groups the bot was added to: it says once a day that it works only in private chats."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from bot.services.deps import Deps
from storage.models import GroupNotice
from storage.uow import UnitOfWork


async def first_notice_today(uow: UnitOfWork, deps: Deps, chat_id: int) -> bool:
    """True (and recorded) if this group has not yet been told today, in the service's zone.

    A conditional update, then an insert that loses cleanly to a concurrent one, so two
    instances never both say it.
    """
    key = deps.group_chat_key(chat_id)
    today = deps.clock.now().astimezone(deps.settings.zone).date()
    moved = await uow.session.execute(
        update(GroupNotice)
        .where(GroupNotice.chat_index == key, GroupNotice.said_on != today)
        .values(said_on=today)
    )
    if getattr(moved, "rowcount", 0):
        await uow.commit()
        return True
    if await uow.session.get(GroupNotice, key) is not None:
        return False
    uow.session.add(GroupNotice(chat_index=key, said_on=today))
    try:
        await uow.commit()
    except IntegrityError:
        return False
    return True
