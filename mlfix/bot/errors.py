"""The one error type of the bot: printed as one line, exit 2."""

from __future__ import annotations


class BotError(Exception):
    """Something the bot cannot get past; the message is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def scrub(text: str, *secrets: str) -> str:
    """Blank every secret out of a text that may be printed or posted."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
