"""Validation of reducer arguments: every bound in one place.

Lengths count characters (Unicode code points: Python's `len(str)`, Rust's
`s.chars().count()`), never bytes. A check that fails raises `ReducerError` with the message
from `errors`.

| value | rule |
|---|---|
| username | 3-32 characters of `a-z 0-9 _ . -`; unique |
| display_name | at most 64 characters; `""` clears it |
| avatar_url, icon_url | `http://` or `https://` + at least one character, no whitespace, at |
|   | most 512 characters in all; `""` clears it |
| bio | at most 512 characters; `""` clears it |
| status_text | at most 128 characters; `""` clears it |
| server name | 1-100 characters, not only whitespace |
| server description, channel topic | at most 1024 characters; `""` clears it |
| channel name | 1-64 characters of `a-z 0-9 _ -`; unique within its server |
| message content, Text | 1-4000 characters |
| message content, AgentEvent | a JSON object (RFC 8259: no NaN/Infinity), <= 16384 characters |
| thread name | 1-100 characters, not only whitespace |
| emoji | 1-32 characters |
| direct message content | 1-4000 characters |
| task title | 1-200 characters, not only whitespace |
| task body, task result | at most 8000 characters |
| claim or lease ttl_secs | 1-86400 |
| lease project | 1-200 characters, not only whitespace |
| lease pattern | see `spacesd.engine.patterns` |
| lease reason | at most 200 characters; `""` is none |
| vote choice | 1-32 characters, not only whitespace |

"Whitespace" is what Python's `str.isspace` / Rust's `char::is_whitespace` call whitespace.
Update reducers take Option parameters: None leaves a field unchanged, `""` clears an optional
text field (a required one, such as a server or channel name, refuses `""` as invalid).

Mentions: in a Text message, `@` followed by a username makes a mention when the `@` is at the
start of the content or follows a character outside `A-Z a-z 0-9 _ . -`; the username is the
longest run of `a-z 0-9 _ . -` after the `@`, with trailing `.` removed (so a mention may end a
sentence).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from spacesd.engine import errors
from spacesd.engine.errors import ReducerError

USERNAME_MIN: Final = 3
USERNAME_MAX: Final = 32
DISPLAY_NAME_MAX: Final = 64
URL_MAX: Final = 512
BIO_MAX: Final = 512
STATUS_TEXT_MAX: Final = 128
SERVER_NAME_MAX: Final = 100
DESCRIPTION_MAX: Final = 1024
TOPIC_MAX: Final = 1024
CHANNEL_NAME_MAX: Final = 64
TEXT_CONTENT_MAX: Final = 4000
AGENT_EVENT_MAX: Final = 16384
THREAD_NAME_MAX: Final = 100
EMOJI_MAX: Final = 32
DM_CONTENT_MAX: Final = 4000
TASK_TITLE_MAX: Final = 200
TASK_TEXT_MAX: Final = 8000
TTL_MIN_SECS: Final = 1
TTL_MAX_SECS: Final = 86400
LEASE_PROJECT_MAX: Final = 200
LEASE_PATTERN_MAX: Final = 500
LEASE_REASON_MAX: Final = 200
VOTE_CHOICE_MAX: Final = 32

_USERNAME_RE: Final = re.compile(r"[a-z0-9_.\-]{3,32}")
_CHANNEL_NAME_RE: Final = re.compile(r"[a-z0-9_\-]{1,64}")
_MENTION_RE: Final = re.compile(r"(?<![A-Za-z0-9_.\-])@([a-z0-9_.\-]+)")


def _fail(message: str) -> ReducerError:
    return ReducerError(message)


def username(value: str) -> str:
    if _USERNAME_RE.fullmatch(value) is None:
        raise _fail(errors.USERNAME_INVALID)
    return value


def channel_name(value: str) -> str:
    if _CHANNEL_NAME_RE.fullmatch(value) is None:
        raise _fail(errors.CHANNEL_NAME_INVALID)
    return value


def _named(value: str, maximum: int, message: str) -> str:
    if not 1 <= len(value) <= maximum or value.isspace():
        raise _fail(message)
    return value


def server_name(value: str) -> str:
    return _named(value, SERVER_NAME_MAX, errors.SERVER_NAME_INVALID)


def thread_name(value: str) -> str:
    return _named(value, THREAD_NAME_MAX, errors.THREAD_NAME_INVALID)


def _optional_text(value: str | None, maximum: int, message: str) -> str | None:
    """An optional text field as stored: None stays None, "" becomes None (cleared)."""
    if value is None or value == "":
        return None
    if len(value) > maximum:
        raise _fail(message)
    return value


def display_name(value: str | None) -> str | None:
    return _optional_text(value, DISPLAY_NAME_MAX, errors.DISPLAY_NAME_TOO_LONG)


def bio(value: str | None) -> str | None:
    return _optional_text(value, BIO_MAX, errors.BIO_TOO_LONG)


def status_text(value: str | None) -> str | None:
    return _optional_text(value, STATUS_TEXT_MAX, errors.STATUS_TEXT_TOO_LONG)


def description(value: str | None) -> str | None:
    return _optional_text(value, DESCRIPTION_MAX, errors.DESCRIPTION_TOO_LONG)


def topic(value: str | None) -> str | None:
    return _optional_text(value, TOPIC_MAX, errors.TOPIC_TOO_LONG)


def _url(value: str | None, message: str) -> str | None:
    if value is None or value == "":
        return None
    lowered = value[:8].lower()
    scheme = 8 if lowered.startswith("https://") else 7 if lowered.startswith("http://") else 0
    if not scheme or len(value) <= scheme or len(value) > URL_MAX:
        raise _fail(message)
    if any(c.isspace() for c in value):
        raise _fail(message)
    return value


def avatar_url(value: str | None) -> str | None:
    return _url(value, errors.AVATAR_URL_INVALID)


def icon_url(value: str | None) -> str | None:
    return _url(value, errors.ICON_URL_INVALID)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def text_content(value: str) -> str:
    if not 1 <= len(value) <= TEXT_CONTENT_MAX:
        raise _fail(errors.TEXT_CONTENT_INVALID)
    return value


def agent_event_content(value: str) -> str:
    if len(value) > AGENT_EVENT_MAX:
        raise _fail(errors.AGENT_EVENT_INVALID)
    try:
        parsed = json.loads(value, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _fail(errors.AGENT_EVENT_INVALID) from None
    if not isinstance(parsed, dict):
        raise _fail(errors.AGENT_EVENT_INVALID)
    return value


def emoji(value: str) -> str:
    if not 1 <= len(value) <= EMOJI_MAX:
        raise _fail(errors.EMOJI_INVALID)
    return value


def dm_content(value: str) -> str:
    if not 1 <= len(value) <= DM_CONTENT_MAX:
        raise _fail(errors.DM_CONTENT_INVALID)
    return value


def mentions(content: str) -> list[str]:
    """The usernames `@`-mentioned in a text, in order of first appearance, without repeats."""
    found: list[str] = []
    for match in _MENTION_RE.finditer(content):
        name = match.group(1).rstrip(".")
        if name and name not in found:
            found.append(name)
    return found


def task_title(value: str) -> str:
    return _named(value, TASK_TITLE_MAX, errors.TASK_TITLE_INVALID)


def task_body(value: str) -> str:
    if len(value) > TASK_TEXT_MAX:
        raise _fail(errors.TASK_BODY_TOO_LONG)
    return value


def task_result(value: str) -> str:
    if len(value) > TASK_TEXT_MAX:
        raise _fail(errors.TASK_RESULT_TOO_LONG)
    return value


def ttl_secs(value: int) -> int:
    if not TTL_MIN_SECS <= value <= TTL_MAX_SECS:
        raise _fail(errors.TTL_INVALID)
    return value


def lease_project(value: str) -> str:
    return _named(value, LEASE_PROJECT_MAX, errors.LEASE_PROJECT_INVALID)


def lease_reason(value: str | None) -> str | None:
    return _optional_text(value, LEASE_REASON_MAX, errors.LEASE_REASON_TOO_LONG)


def vote_choice(value: str) -> str:
    return _named(value, VOTE_CHOICE_MAX, errors.VOTE_CHOICE_INVALID)
