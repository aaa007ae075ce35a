"""The confidentiality policy staff must acknowledge, bundled with a version and digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

POLICY_VERSION = "2026.1"
POLICY_FILE = "uss-confidentiality-statement.txt"


@dataclass(frozen=True)
class PolicyDocument:
    version: str
    filename: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@cache
def current_policy() -> PolicyDocument:
    text = resources.files("bot.policy").joinpath(POLICY_FILE).read_text(encoding="utf-8")
    return PolicyDocument(POLICY_VERSION, POLICY_FILE, text)
