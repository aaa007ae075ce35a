"""The real Application on the local transport, and people to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application
from bot.clock import FixedClock
from bot.handlers.common import App
from bot.services.cases import cases
from bot.services.deps import Deps
from bot.services.staff import second_factor as second_factors
from bot.services.staff import staff
from bot.services.staff.policy import current_policy
from bot.settings import Settings
from bot.transport import LocalBotApi, LocalChat, LocalRequest, LocalUser, UpdateFactory
from bot.vocabulary import ADVISING_ROLES, Role
from storage.crypto import AuditKey, BlindIndex, KeyRing
from storage.models import StaffSecondFactor

STUDENT = LocalUser(1001, "Sam", "Jones")
COORDINATOR = LocalUser(3001, "Casey", "Coordinator")
ADVISER = LocalUser(2001, "Alex", "Adviser")
SECURITY = LocalUser(4001, "Sid", "Security")

GOOD_TEXT = {
    "Question 1 ": "Sam Jones",
    "Question 2 ": "210012345",
    "Question 3 ": "sam.jones@city.ac.uk",
    "Question 4 ": "07700 900123",
    "Question 5 ": "BSc Nursing",
    "Question 8 ": "I was marked absent for a placement I attended and now face a fail.",
    "Question 9 ": "15/12/2026",
    "Question 11 ": "Step-free access, please",
}
GOOD_BUTTON = {
    "Question 6 ": "Year 2",
    "Question 7 ": "Academic appeal",
    "Question 10 ": "No",
    "Question 12 ": "In person",
}


@dataclass
class Bot:
    """One running application and its local Telegram."""

    app: App
    api: LocalBotApi
    factory: UpdateFactory
    deps: Deps

    def chat(self, user: LocalUser) -> LocalChat:
        return LocalChat(self.app, self.api, self.factory, user)


BotMaker = Callable[[], Awaitable[Bot]]


@pytest.fixture
def local_apis() -> list[LocalBotApi]:
    """Every local Telegram a test started, for the checks that run after it."""
    return []


@pytest.fixture(autouse=True)
def no_call_is_refused(
    request: pytest.FixtureRequest, local_apis: list[LocalBotApi]
) -> Iterator[None]:
    """Fail any test in which the bot made a call Telegram would refuse.

    A test that provokes a refusal on purpose (a blocked chat) names what it expects with
    `@pytest.mark.telegram_refuses("substring of the description")`; anything else still fails.
    """
    yield
    expected = [m.args[0] for m in request.node.iter_markers("telegram_refuses")]
    refused = [
        f"{call.method}: {call.error}"
        for api in local_apis
        for call in api.refused
        if not any(e in (call.error or "") for e in expected)
    ]
    assert not refused, f"Telegram would have refused: {refused}"


@pytest.fixture
async def make_bot(
    settings: Settings,
    clock: FixedClock,
    keys: KeyRing,
    index: BlindIndex,
    audit_key: AuditKey,
    engine: AsyncEngine,
    local_apis: list[LocalBotApi],
) -> AsyncIterator[BotMaker]:
    """Start applications on the shared database; each call is a fresh process, as after a restart."""
    started: list[App] = []
    api = LocalBotApi()
    local_apis.append(api)
    factory = UpdateFactory(api)

    async def start() -> Bot:
        transport = api
        app = build_application(
            settings,
            clock=clock,
            keys=keys,
            index=index,
            audit_key=audit_key,
            engine=engine,
            request=LocalRequest(transport),
        )
        await app.initialize()
        started.append(app)
        return Bot(app, transport, factory, app.bot_data.deps)

    yield start
    for app in started:
        await app.shutdown()


@pytest.fixture
async def bot(make_bot: BotMaker) -> Bot:
    return await make_bot()


@pytest.fixture
def student(bot: Bot) -> LocalChat:
    return bot.chat(STUDENT)


async def add_staff(
    bot: Bot,
    user: LocalUser,
    role: Role,
    *,
    acknowledged: bool = True,
    second_factor: bool = True,
    unlocked: bool = True,
) -> str | None:
    """Register staff. An adviser or coordinator who acknowledged the policy has, unless told
    otherwise, a confirmed second factor and a session open for the whole test; its secret
    is returned, for tests that make codes."""
    deps = bot.deps
    async with deps.uow() as uow:
        await staff.add_staff(
            uow,
            deps,
            telegram_user_id=user.id,
            name=f"{user.first_name} {user.last_name}",
            role=role,
            actor="test",
        )
        await uow.commit()
    if acknowledged:
        async with deps.uow() as uow:
            shown = (await current_policy(uow)).short_digest  # as the button under it says
            await staff.acknowledge_policy(uow, deps, user.id, shown)
    if acknowledged and second_factor and role in ADVISING_ROLES:
        return await give_second_factor(deps, user.id, unlocked=unlocked)
    return None


async def give_second_factor(deps: Deps, telegram_user_id: int, *, unlocked: bool = True) -> str:
    """Set up a staff member's second factor through the service, confirmed with the code an
    app would show now; its session stays open whatever the test does to the clock, or, not
    `unlocked`, is locked. The secret, for tests that make codes."""
    async with deps.uow() as uow:
        setup = await second_factors.begin_setup(uow, deps, telegram_user_id)
    code = second_factors.code_for(setup.secret, second_factors.step_at(deps.clock.now()))
    async with deps.uow() as uow:
        await second_factors.present_code(uow, deps, telegram_user_id, code)
    async with deps.uow() as uow:
        member = await staff.find_staff(uow, deps, telegram_user_id)
        assert member is not None
        until = deps.clock.now() + timedelta(days=3650) if unlocked else None
        await uow.session.execute(
            update(StaffSecondFactor)
            .where(StaffSecondFactor.staff_id == member.id)
            .values(unlocked_until=until)
        )
        await uow.commit()
    return setup.secret


def key_shown(chat: LocalChat) -> str:
    """The secret the latest set-up showed in this chat (its `<code>` line)."""
    for message in reversed(chat.api.messages(chat.user.id)):
        if message.text and "<code>" in message.text:
            return message.text.split("<code>", 1)[1].split("</code>", 1)[0]
    raise AssertionError("no set-up key in this chat")


def code_now(bot: Bot, secret: str, *, steps: int = 0) -> str:
    """The code an authenticator app shows now (or `steps` time steps away)."""
    return second_factors.code_for(secret, second_factors.step_at(bot.deps.clock.now()) + steps)


async def answer_current(chat: LocalChat, buttons: dict[str, str] = GOOD_BUTTON) -> None:
    """Give the good answer to whichever question the latest message asks."""
    text = chat.last_text
    for prefix, answer in GOOD_TEXT.items():
        if text.startswith(prefix):
            await chat.send(answer)
            return
    for prefix, label in buttons.items():
        if text.startswith(prefix):
            await chat.press(label)
            return
    raise AssertionError(f"not at a question: {text[:80]!r}")


async def fill_to_review(chat: LocalChat, *, removed: bool = False) -> None:
    """Answer every question; `removed` says yes to having been removed from the course."""
    buttons = {**GOOD_BUTTON, "Question 10 ": "Yes"} if removed else GOOD_BUTTON
    await chat.send("/start")
    await chat.press("Continue")
    while chat.last_text.startswith("Question "):
        await answer_current(chat, buttons)
    assert chat.last_text.startswith("Please check your answers")


async def submit_sheet(chat: LocalChat, *, consent: bool = True, removed: bool = False) -> None:
    await fill_to_review(chat, removed=removed)
    await chat.press("Everything is correct")
    while chat.last_text.startswith(("Consent ", "Last step")):
        await chat.press("Yes" if consent else "No")
    assert chat.last_text.startswith("Thank you.")


async def case_reference(bot: Bot, student_id: str) -> str:
    """The reference staff see for the student's current case."""
    async with bot.deps.uow() as uow:
        return await cases.reference_for_student(uow, student_id)
