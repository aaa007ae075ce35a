"""The local Bot API transport used by the demo, the tests and the benchmarks."""

from bot.transport.html_check import HtmlError, check_html, utf16_length
from bot.transport.local import (
    ApiCall,
    FailureKind,
    LocalBotApi,
    LocalRequest,
    SentMessage,
)
from bot.transport.updates import LocalChat, LocalUser, UpdateFactory, to_update

__all__ = [
    "ApiCall",
    "FailureKind",
    "HtmlError",
    "LocalBotApi",
    "LocalChat",
    "LocalRequest",
    "LocalUser",
    "SentMessage",
    "UpdateFactory",
    "check_html",
    "to_update",
    "utf16_length",
]
