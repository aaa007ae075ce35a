"""The words of case records (cases, notes, documents, consent recorded by staff,
disclosures): the texts catalogue's second module, kept apart so each stays one idea.

Like bot/texts.py, HTML is escaped here, where messages are built, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from bot.vocabulary import BreakGlassReason


def case_assigned_to_you(reference: str) -> str:
    """To an adviser given a case: its reference, and nothing about the student."""
    return (
        f"The coordinator has given you case <b>{escape(reference)}</b>. "
        f"Open it with /case {escape(reference)}."
    )


DRAFT_DROPPED = "Cancelled. Nothing you were typing was saved."


# ---------------------------------------------------------------- access
BREAK_GLASS_LABELS: Mapping[BreakGlassReason, str] = {
    BreakGlassReason.COVERING: "Covering for the adviser",
    BreakGlassReason.STUDENT_CONTACTED_ME: "The student contacted me",
    BreakGlassReason.URGENT_DEADLINE: "An urgent deadline",
    BreakGlassReason.SUPERVISION: "Supervision or review",
    BreakGlassReason.OTHER: "Other (type it)",
}


def break_glass_reported(reference: str, adviser: str, reason: str) -> str:
    """To the coordinator: who opened which case that was not theirs, and the kind of reason."""
    return (
        f"{escape(adviser)} opened case <b>{escape(reference)}</b>, which is not assigned to "
        f"them. Reason given: {escape(reason)}."
    )


# ---------------------------------------------------------------- reading a case

# ---------------------------------------------------------------- notes and documents

# ---------------------------------------------------------------- consent by staff, disclosures
