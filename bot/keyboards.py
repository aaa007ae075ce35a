"""Inline keyboards, built from texts and the callback codec."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callbacks import ANY_MODE, REF_LENGTH, Action, Press, encode
from bot.services.booking.adviser_day import AgendaItem
from bot.services.booking.availability import Slot
from bot.services.booking.booking import epoch_minute
from bot.services.booking.reassign import Candidate, Handover
from bot.services.staff.staff import StaffSummary
from bot.vocabulary import AppointmentMode, AppointmentStatus, ConsentScope, SheetField


def _button(label: str, press: Press) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(press))


def rows(*buttons: InlineKeyboardButton, per_row: int = 1) -> InlineKeyboardMarkup:
    grid = [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(grid)


def privacy() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_CONTINUE, Press(Action.PRIVACY_CONTINUE)),
        _button(texts.BTN_NOT_NOW, Press(Action.PRIVACY_NOT_NOW)),
        per_row=2,
    )


def resume() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_RESUME, Press(Action.RESUME)),
        _button(texts.BTN_START_OVER, Press(Action.START_OVER)),
    )


def start_over_confirm() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_START_OVER_CONFIRM, Press(Action.START_OVER_CONFIRMED)),
        _button(texts.BTN_KEEP_GOING, Press(Action.RESUME)),
    )


def choices(field: SheetField, values: Sequence[str], *, skippable: bool) -> InlineKeyboardMarkup:
    buttons = [
        _button(texts.choice_label(field, value), Press(Action.CHOOSE, field=field, index=i))
        for i, value in enumerate(values)
    ]
    per_row = 2 if len(buttons) > 3 else 1
    grid = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    if skippable:
        grid.append([_button(texts.BTN_SKIP, Press(Action.SKIP, field=field))])
    return InlineKeyboardMarkup(grid)


def skip(field: SheetField) -> InlineKeyboardMarkup:
    return rows(_button(texts.BTN_SKIP, Press(Action.SKIP, field=field)))


def review(fields: Sequence[SheetField]) -> InlineKeyboardMarkup:
    edit = [_button(texts.btn_change(f), Press(Action.EDIT, field=f)) for f in fields]
    grid = [edit[i : i + 2] for i in range(0, len(edit), 2)]
    grid.append([_button(texts.BTN_REVIEW_OK, Press(Action.REVIEW_OK))])
    return InlineKeyboardMarkup(grid)


def sheet_consent(scope: ConsentScope) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_YES, Press(Action.SHEET_CONSENT, scope=scope, granted=True)),
        _button(texts.BTN_NO, Press(Action.SHEET_CONSENT, scope=scope, granted=False)),
        per_row=2,
    )


def consent_overview(scopes: Sequence[ConsentScope]) -> InlineKeyboardMarkup:
    buttons = [
        _button(texts.btn_consent_change(s), Press(Action.CONSENT_OPEN, scope=s)) for s in scopes
    ]
    buttons.append(_button(texts.BTN_DONE, Press(Action.CONSENT_CLOSE)))
    return rows(*buttons)


def consent_change(scope: ConsentScope) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_YES, Press(Action.CONSENT_SET, scope=scope, granted=True)),
        _button(texts.BTN_NO, Press(Action.CONSENT_SET, scope=scope, granted=False)),
        per_row=2,
    )


def discard_confirm() -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_DISCARD, Press(Action.DISCARD_CONFIRMED)),
        _button(texts.BTN_KEEP, Press(Action.DISCARD_KEEP)),
        per_row=2,
    )


def policy_ack(short_digest: str) -> InlineKeyboardMarkup:
    """The acknowledgement of one version: the button names the digest of the text it came with."""
    return rows(_button(texts.BTN_ACK_POLICY, Press(Action.POLICY_ACK, ref=short_digest)))


def staff_list(
    members: Sequence[StaffSummary], own_id: str, resettable: Collection[str] = ()
) -> InlineKeyboardMarkup | None:
    """Deactivate anyone else; reset the second factor of those in `resettable`."""
    buttons = []
    for m in members:
        if not m.active or m.staff_id == own_id:
            continue
        buttons.append(
            _button(
                texts.btn_deactivate(m.name)[:60],
                Press(Action.DEACTIVATE_ASK, staff_id=m.staff_id),
            )
        )
        if m.staff_id in resettable:
            buttons.append(
                _button(
                    texts.btn_reset_second_factor(m.name)[:60],
                    Press(Action.SECOND_FACTOR_RESET_ASK, staff_id=m.staff_id),
                )
            )
    if not buttons:
        return None
    buttons.append(_button(texts.BTN_DONE, Press(Action.CLOSE)))
    return rows(*buttons)


def deactivate_confirm(staff_id: str) -> InlineKeyboardMarkup:
    return rows(
        _button(texts.BTN_DEACTIVATE, Press(Action.DEACTIVATE_CONFIRMED, staff_id=staff_id)),
        _button(texts.BTN_CANCEL, Press(Action.CLOSE)),
        per_row=2,
    )


def reset_second_factor_confirm(staff_id: str) -> InlineKeyboardMarkup:
    return rows(
        _button(
            texts.BTN_RESET_SECOND_FACTOR, Press(Action.SECOND_FACTOR_RESET, staff_id=staff_id)
        ),
        _button(texts.BTN_CANCEL, Press(Action.CLOSE)),
        per_row=2,
    )


def book_start() -> InlineKeyboardMarkup:
    return rows(_button(texts.BTN_BOOK, Press(Action.BOOK_START)))


def book_modes(ref: str | None = None) -> InlineKeyboardMarkup:
    modes = [m.value for m in AppointmentMode]
    buttons = [
        _button(texts.MODE_LABELS[m], Press(Action.BOOK_MODE, mode=m, ref=ref)) for m in modes
    ]
    buttons.append(_button(texts.MODE_LABELS_ANY, Press(Action.BOOK_MODE, mode=ANY_MODE, ref=ref)))
    return rows(*buttons, per_row=2)


def book_days(mode: str, days: Sequence[date], ref: str | None = None) -> InlineKeyboardMarkup:
    buttons = [
        _button(f"{day:%a} {day.day} {day:%b}", Press(Action.BOOK_DAY, mode=mode, day=day, ref=ref))
        for day in days[:12]
    ]
    back = Press(Action.MOVE_START, ref=ref) if ref else Press(Action.BOOK_START)
    buttons.append(_button(texts.BTN_BACK, back))
    return rows(*buttons, per_row=3)


def book_times(
    mode: str, slots: Sequence[Slot], zone: ZoneInfo, ref: str | None = None
) -> InlineKeyboardMarkup:
    buttons = []
    for slot in slots[:24]:
        label = f"{slot.starts_at.astimezone(zone):%H:%M}"
        if mode == ANY_MODE:
            label += f" {texts.MODE_LABELS[slot.mode.value].lower()}"
        press = Press(
            Action.BOOK_TIME,
            mode=mode,
            staff_id=slot.staff_id,
            minute=epoch_minute(slot.starts_at),
            ref=ref,
        )
        buttons.append(_button(label, press))
    buttons.append(_button(texts.BTN_BACK, Press(Action.BOOK_MODE, mode=mode, ref=ref)))
    return rows(*buttons, per_row=3)


def book_confirm(
    staff_id: str, minute: int, mode: str, ref: str | None = None
) -> InlineKeyboardMarkup:
    return rows(
        _button(
            texts.BTN_CONFIRM_MOVE if ref else texts.BTN_CONFIRM_BOOKING,
            Press(Action.BOOK_CONFIRM, staff_id=staff_id, minute=minute, ref=ref),
        ),
        _button(texts.BTN_BACK, Press(Action.BOOK_MODE, mode=mode, ref=ref)),
        per_row=2,
    )


def my_appointments(items: Sequence[tuple[str, str, str]]) -> InlineKeyboardMarkup:
    """Move and cancel buttons per appointment: (move label, cancel label, appointment id)."""
    grid = [
        [
            _button(move, Press(Action.MOVE_START, ref=appointment_id[:REF_LENGTH])),
            _button(cancel, Press(Action.APPOINTMENT_CANCEL_ASK, appointment_id=appointment_id)),
        ]
        for move, cancel, appointment_id in items
    ]
    return InlineKeyboardMarkup(grid)


def cancel_appointment_confirm(appointment_id: str) -> InlineKeyboardMarkup:
    return rows(
        _button(
            texts.BTN_CANCEL_APPOINTMENT,
            Press(Action.APPOINTMENT_CANCEL_CONFIRMED, appointment_id=appointment_id),
        ),
        _button(texts.BTN_KEEP_APPOINTMENT, Press(Action.CLOSE)),
        per_row=2,
    )


def schedule(
    windows: Sequence[tuple[str, str]], *, can_manage_others: bool = False
) -> InlineKeyboardMarkup | None:
    """A remove button per weekly window: (label, window id); for a coordinator, one more to
    work on someone else's times."""
    grid = [
        [
            _button(label, Press(Action.WINDOW_REMOVE, window_id=wid))
            for label, wid in windows[i : i + 2]
        ]
        for i in range(0, len(windows), 2)
    ]
    if can_manage_others:
        grid.append([_button(texts.BTN_MANAGE_OTHER, Press(Action.MANAGE_PICK))])
    return InlineKeyboardMarkup(grid) if grid else None


def advisers(choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per adviser whose availability a coordinator can work on: (label, staff id)."""
    return rows(*[_button(label, Press(Action.MANAGE_SET, staff_id=sid)) for label, sid in choices])


def calendar(appointment_id: str, *, cancelled: bool = False) -> InlineKeyboardMarkup:
    label = texts.BTN_CALENDAR_CANCELLED if cancelled else texts.BTN_CALENDAR
    return rows(_button(label, Press(Action.CALENDAR, appointment_id=appointment_id)))


def agenda(items: Sequence[AgendaItem], zone: ZoneInfo) -> InlineKeyboardMarkup | None:
    """Attended and no-show once started; cancel while still booked."""
    grid = []
    for item in items:
        row = []
        if item.status is AppointmentStatus.BOOKED and item.started:
            row.append(
                _button(
                    texts.btn_attended(item.starts_at, zone),
                    Press(Action.MARK_ATTENDED, appointment_id=item.appointment_id),
                )
            )
            row.append(
                _button(
                    texts.btn_no_show(item.starts_at, zone),
                    Press(Action.MARK_NO_SHOW, appointment_id=item.appointment_id),
                )
            )
        if item.status is AppointmentStatus.BOOKED:
            row.append(
                _button(
                    texts.btn_service_cancel(item.starts_at, zone),
                    Press(Action.SERVICE_CANCEL_ASK, appointment_id=item.appointment_id),
                )
            )
        if row:
            grid.append(row)
    return InlineKeyboardMarkup(grid) if grid else None


def service_cancel_reasons(appointment_id: str) -> InlineKeyboardMarkup:
    buttons = [
        _button(label, Press(Action.SERVICE_CANCEL, appointment_id=appointment_id, reason=code))
        for code, label in texts.SERVICE_CANCEL_BUTTONS.items()
    ]
    buttons.append(_button(texts.BTN_CANCEL, Press(Action.CLOSE)))
    return rows(*buttons, per_row=2)


def cancel_time_off_bookings(change_id: str, count: int) -> InlineKeyboardMarkup:
    return rows(
        _button(
            texts.btn_cancel_bookings_in_time_off(count),
            Press(Action.CANCEL_TIME_OFF_BOOKINGS, window_id=change_id),
        )
    )


def handovers(items: Sequence[Handover], zone: ZoneInfo) -> InlineKeyboardMarkup:
    return rows(
        *[
            _button(
                texts.btn_reassign(h.starts_at, zone),
                Press(Action.REASSIGN_PICK, ref=h.appointment_id[:REF_LENGTH]),
            )
            for h in items
        ]
    )


def reassign_candidates(ref: str, candidates: Sequence[Candidate]) -> InlineKeyboardMarkup:
    buttons = [
        _button(
            texts.btn_candidate(c.name, c.in_their_times),
            Press(Action.REASSIGN_TO, staff_id=c.staff_id, ref=ref),
        )
        for c in candidates
    ]
    buttons.append(_button(texts.BTN_CANCEL, Press(Action.CLOSE)))
    return rows(*buttons)


def reassign_confirm(ref: str, staff_id: str) -> InlineKeyboardMarkup:
    return rows(
        _button(
            texts.BTN_REASSIGN_CONFIRM,
            Press(Action.REASSIGN_CONFIRMED, staff_id=staff_id, ref=ref),
        ),
        _button(texts.BTN_CANCEL, Press(Action.CLOSE)),
        per_row=2,
    )
