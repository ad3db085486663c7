"""Validation of reducer arguments: every bound in one place.

Lengths count characters (Unicode code points: Python's `len(str)`, Rust's
`s.chars().count()`), never bytes. A check that fails raises `ReducerError` with the message
from `errors`.

| value | rule |
|---|---|
| username | 3-32 characters of `a-z 0-9 _ . -`; unique |
| display_name | at most 64 characters, not blank, no forbidden character; `""` clears it |
| avatar_url, icon_url | `http://` or `https://` + at least one character, no whitespace, at |
|   | most 512 characters in all; `""` clears it |
| bio | at most 512 characters; `""` clears it |
| status_text | at most 128 characters; `""` clears it |
| server name | 1-100 characters, not blank, no forbidden character |
| server description, channel topic | at most 1024 characters; `""` clears it |
| channel name | 1-64 characters of `a-z 0-9 _ -`; unique within its server |
| message content, Text | 1-4000 characters |
| message content, AgentEvent | a JSON object (RFC 8259: no NaN/Infinity), <= 16384 characters |
| thread name | 1-100 characters, not blank, no forbidden character |
| emoji | 1-32 characters, not blank, no forbidden character |
| direct message content | 1-4000 characters |
| task title | 1-200 characters, not only whitespace |
| task body, task result | at most 8000 characters |
| claim or lease ttl_secs | 1-86400 |
| lease project | 1-200 characters, not only whitespace |
| lease pattern | see `spacesd.engine.patterns` |
| lease reason | at most 200 characters; `""` is none |
| vote choice | 1-32 characters, not only whitespace |

"Whitespace" is what Python's `str.isspace` calls whitespace (Rust: `char::is_whitespace`
plus U+001C..U+001F). **Blank** text is non-empty and holds only whitespace and invisible
characters (`INVISIBLE`: zero-width spaces and joiners, fillers, variation selectors, tags,
the soft hyphen, the braille blank ...), so a name of zero-width spaces is blank. A
**forbidden** character (`FORBIDDEN`) is a control (C0, DEL, C1), a bidirectional control
(marks, embeddings, overrides, isolates) or a line/paragraph separator: names and emoji
refuse them anywhere, since they reorder or hide what a person reads next to the name.
Message contents, topics, bios and the like keep every character.
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


#: Characters no name or emoji may hold: C0 controls, DEL and C1 controls, the bidirectional
#: controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI) and the line and paragraph separators.
FORBIDDEN_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x061C, 0x061C), (0x200E, 0x200F),
    (0x2028, 0x202E), (0x2066, 0x2069),
)
#: Characters that show nothing: text of only these and whitespace is blank.
INVISIBLE_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200D), (0x2060, 0x2064), (0x206A, 0x206F),
    (0x2800, 0x2800), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0x1D173, 0x1D17A), (0xE0000, 0xE007F), (0xE0100, 0xE01EF),
)


def _in(ranges: tuple[tuple[int, int], ...], c: str) -> bool:
    code = ord(c)
    return any(low <= code <= high for low, high in ranges)


def is_blank(value: str) -> bool:
    """Non-empty, and only whitespace and invisible characters."""
    return value != "" and all(c.isspace() or _in(INVISIBLE_RANGES, c) for c in value)


def has_forbidden(value: str) -> bool:
    return any(_in(FORBIDDEN_RANGES, c) for c in value)


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


def _named(value: str, maximum: int, message: str, characters: str) -> str:
    """A name: its length and not blank (`message`), then no forbidden character."""
    if not 1 <= len(value) <= maximum or is_blank(value):
        raise _fail(message)
    if has_forbidden(value):
        raise _fail(characters)
    return value


def server_name(value: str) -> str:
    return _named(value, SERVER_NAME_MAX, errors.SERVER_NAME_INVALID,
                  errors.SERVER_NAME_CHARACTERS)


def thread_name(value: str) -> str:
    return _named(value, THREAD_NAME_MAX, errors.THREAD_NAME_INVALID,
                  errors.THREAD_NAME_CHARACTERS)


def _optional_text(value: str | None, maximum: int, message: str) -> str | None:
    """An optional text field as stored: None stays None, "" becomes None (cleared)."""
    if value is None or value == "":
        return None
    if len(value) > maximum:
        raise _fail(message)
    return value


def display_name(value: str | None) -> str | None:
    checked = _optional_text(value, DISPLAY_NAME_MAX, errors.DISPLAY_NAME_TOO_LONG)
    if checked is not None:
        _named(checked, DISPLAY_NAME_MAX, errors.DISPLAY_NAME_BLANK,
               errors.DISPLAY_NAME_CHARACTERS)
    return checked


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
    return _named(value, EMOJI_MAX, errors.EMOJI_INVALID, errors.EMOJI_CHARACTERS)


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


def _bounded(value: str, maximum: int, message: str) -> str:
    """1-`maximum` characters and not blank (the task, lease and vote texts)."""
    if not 1 <= len(value) <= maximum or is_blank(value):
        raise _fail(message)
    return value


def task_title(value: str) -> str:
    return _bounded(value, TASK_TITLE_MAX, errors.TASK_TITLE_INVALID)


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
    return _bounded(value, LEASE_PROJECT_MAX, errors.LEASE_PROJECT_INVALID)


def lease_reason(value: str | None) -> str | None:
    return _optional_text(value, LEASE_REASON_MAX, errors.LEASE_REASON_TOO_LONG)


def vote_choice(value: str) -> str:
    return _bounded(value, VOTE_CHOICE_MAX, errors.VOTE_CHOICE_INVALID)
