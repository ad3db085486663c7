"""The redaction gate: every write that leaves the machine passes `scrub_args` first.

`Backend.call` (spacesd/daemon/backend.py) runs it on the arguments of every reducer call, on
both backends, before they are encoded: session summaries, `send`, `call`, outbox replays, and
whatever the daemon writes next. Which arguments carry text comes from the data model
(`ReducerDef.text_params`: the String and Option<String> parameters), not from a list here.

A text is scrubbed in three passes, each replacing what it finds with `[REDACTED]`:

1. `spacesd.redact.redact`: the rules that read text as people and shells write it (names
   that say secret, assignments after any prefix, password options of known programs,
   continued lines, pipes into --password-stdin, URL credentials, connection strings, private
   key blocks, JWTs, provider key shapes). Standard library only: the Stop hook runs the same
   rules before it posts, as a first line; this gate is where correctness lives.
2. The regex detectors of detect-secrets (Yelp): the provider formats it knows (AWS, Azure
   storage, Slack, Stripe, Twilio, SendGrid, Mailchimp, Discord, Telegram, PyPI, ...). Its
   keyword, entropy and public-IP detectors are not used: pass 1 and 3 do their work with
   the context of a whole text, and an IP address is no secret.
3. An entropy check on every remaining token of 20 or more key characters: a token that reads
   as random (high Shannon entropy, letter case and digits changing as often as in random
   text, not hex, not a UUID, not base64 of printable text, not part of a data URI, SRI hash or
   SSH public key, not longer than data blobs get) is a secret with no name or shape.

Nothing is ever added: only spans are replaced, so a text without a secret comes out
byte for byte the same.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from spacesd.model import REDUCER_BY_NAME
from spacesd.redact import MARK, is_secret_field, redact, runs

__all__ = ["scrub", "scrub_args", "warm"]

# -- pass 2: detect-secrets' regex detectors ------------------------------------------------

_SKIPPED_PLUGINS = frozenset({"IPPublicDetector", "KeywordDetector", "JwtTokenDetector"})
_EDGE = " \t\r\n=:\"'`,;()[]{}<>"


# Probes per plugin: cheap regexes that find, in the lower-cased text, something near every
# match of the plugin's own patterns; a plugin runs only in windows around its probes' hits.
# Each probe begins with a literal: `re` scans for those fast (a few microseconds on 16 KB),
# while most of the library's own patterns begin with a lookbehind or a class and cost up to
# 2 ms each. A plugin's literals that share a first letter are one probe (`a(?:kc|p[0-9a-f])`
# scans once where two probes scan twice; measured faster for each plugin so joined, slower
# for IBM's and Slack's). The keyword plugins (Cloudant, IBM, SoftLayer) are probed by their
# vendor's name: their vendor-less forms (`key = <44 characters>`) are the assignment rules'
# and the entropy check's. A plugin not listed (a newer version's) runs on the whole text.
_KW = r"[_-]?(?:api)?[_-]?(?:key|pw|pass|token)"
_PROBES: dict[str, tuple[str, ...]] = {
    "ArtifactoryDetector": (r"a(?:kc|p[\da-f])",),
    "AWSKeyDetector": (r"a(?:3t|bia|cca|kia|sia|ws)",),
    "AzureStorageKeyDetector": ("accountkey=",),
    "BasicAuthDetector": (r"://[^/\s:@]{1,200}:[^/\s@]+@",),
    "CloudantDetector": ("cl(?:oudant|" + _KW + ")",),
    "DiscordBotTokenDetector": (r"\.[a-z\d_-]{6}\.",),
    "GitHubTokenDetector": (r"gh[pousr]_",),
    "GitLabTokenDetector": (r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-|gr1348941",),
    "IbmCloudIamDetector": ("ibm" + _KW, "iam" + _KW, "cloud" + _KW),
    "IbmCosHmacDetector": (r"secret[-_]?(?:access)?[-_]?key",),
    "MailchimpDetector": (r"-us\d",),
    "NpmDetector": ("_authtoken",),
    "OpenAIDetector": ("t3blbkfj",),
    "PrivateKeyDetector": ("p(?:rivate key|utty-user-key)",),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": (r"sg\.",),
    "SlackDetector": ("xox", r"hooks\.slack\.com"),
    "SoftlayerDetector": ("s(?:oftlayer|l" + _KW + ")",),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":[0-9a-z_-]{35}",),
}
_BEFORE, _AFTER = 160, 320  # how far around a probe's hit a plugin's match may lie
# ... or less before it, where the plugin's patterns say so: AWS's and GitHub's begin with
# the probed literal; IBM COS HMAC's name has at most `["ibm_cos_hmac_` before `secret`; a
# Telegram token's `:` follows 8 to 10 digits.
_REACH_BEFORE = {"AWSKeyDetector": 0, "GitHubTokenDetector": 0, "IbmCosHmacDetector": 16,
                 "TelegramBotTokenDetector": 10}
_Plugin = tuple[str, tuple[re.Pattern[str], ...] | None, int, tuple[re.Pattern[str], ...]]


@functools.lru_cache(maxsize=1)
def _library_plugins() -> tuple[_Plugin, ...]:
    """(name, probes, reach before a hit, denylist regexes) of detect-secrets' regex-based
    plugins (loaded once)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    plugins: list[_Plugin] = []
    cls: Any
    for cls in get_mapping_from_secret_type_to_class().values():
        if cls.__name__ in _SKIPPED_PLUGINS or not issubclass(cls, RegexBasedDetector):
            continue
        probes = _PROBES.get(cls.__name__)
        plugins.append((cls.__name__, tuple(re.compile(p) for p in probes) if probes else None,
                        _REACH_BEFORE.get(cls.__name__, _BEFORE), tuple(cls().denylist)))
    return tuple(plugins)



def _windows(probes: tuple[re.Pattern[str], ...] | None, text: str, lower: str | None,
             before: int = _BEFORE) -> list[tuple[int, int]]:
    """The stretches of `text` a plugin can match in: around each probe hit in `lower`
    (`text` lower-cased, None when that changed its length), merged."""
    if probes is None or lower is None:
        return [(0, len(text))]
    hits = sorted((m.start(), m.end()) for p in probes for m in p.finditer(lower))
    out: list[tuple[int, int]] = []
    for start, end in hits:
        lo, hi = max(0, start - before), min(len(text), end + _AFTER)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _plugin_spans(text: str, patterns: tuple[re.Pattern[str], ...],
                  windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where one plugin's patterns match in `windows` of `text`."""
    spans = []
    for lo, hi in windows:
        for rx in patterns:
            for m in rx.finditer(text, lo, hi):
                start, end = m.span(1) if rx.groups and m.group(1) is not None else m.span()
                while start < end and text[start] in _EDGE:  # the patterns' delimiters
                    start += 1
                while end > start and text[end - 1] in _EDGE:
                    end -= 1
                if end - start >= 8 and MARK not in text[start:end]:
                    spans.append((start, end))
    return spans


def _library_spans(text: str) -> list[tuple[int, int]]:
    lowered = text.lower()
    # a few non-ASCII letters lower-case to two characters: then no windows
    lower = lowered if len(lowered) == len(text) else None
    spans = []
    for _, probes, before, patterns in _library_plugins():
        spans += _plugin_spans(text, patterns, _windows(probes, text, lower, before))
    return spans


# -- pass 3: tokens that read as random ------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9+/_~-]{20,}={0,2}")  # found by `_tokens`, which is faster
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_~-"
_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/_~-]{20,}")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_~=-")
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_UPPER, _LOWER, _DIGIT = re.compile("[A-Z]"), re.compile("[a-z]"), re.compile("[0-9]")
_DATA_BEFORE = re.compile(
    r"(?:base64,|(?i:sha\d*|md5):|ssh-[a-z0-9]+ |ecdsa-[a-z0-9-]+ )\Z")
_DATA_PREFIX = re.compile(r"sha(?:1|256|384|512)-")  # subresource integrity hashes
MAX_TOKEN = 400  # longer runs are data (images, archives), not credentials
MIN_ENTROPY = 3.3  # bits per character
MIN_CHANGES_NO_DIGIT = 0.45  # ... for a token without a digit
MIN_CHANGES = 0.3  # share of adjacent alphanumerics whose class (upper/lower/digit) differs


def _entropy(token: str) -> float:
    n = len(token)
    return -sum(k / n * math.log2(k / n) for k in Counter(token).values())


_ALNUM_RUNS = re.compile(r"[A-Za-z0-9]+")
_CLASS_RUNS = re.compile(r"[A-Z]+|[a-z]+|[0-9]+")


def _class_changes(token: str) -> float:
    """How often the class (upper, lower, digit) changes between adjacent alphanumerics:
    over each run of alphanumerics, (class runs - 1) / (characters - 1), summed."""
    runs = _ALNUM_RUNS.findall(token)
    pairs = sum(len(r) for r in runs) - len(runs)
    changes = len(_CLASS_RUNS.findall(token)) - len(runs)
    return changes / pairs if pairs > 0 else 0.0


def _printable_base64(token: str) -> bool:
    """`token` is base64 of printable text (encoded data someone shows, not a key)."""
    body = token.rstrip("=")
    if len(body) < 16:
        return False
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if ("-" in body or "_" in body) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in raw)
    return printable >= 0.95 * len(raw)


def looks_random(token: str) -> bool:
    """A run of key characters that reads as a random credential (see the module doc)."""
    core = token.strip("=-_/+~")
    if len(core) < 20 or len(core) > MAX_TOKEN or MARK[1:-1] in core:
        return False
    upper = _UPPER.search(core) is not None
    digit = _DIGIT.search(core) is not None
    if not (upper or digit):  # paths, words, identifiers
        return False
    if _HEXISH.fullmatch(core):  # hashes, UUIDs, hex ids: never a secret by shape alone
        return False
    lower = _LOWER.search(core) is not None
    if upper + lower + digit < 2:
        return False
    changes = _class_changes(core)
    if changes < (MIN_CHANGES if digit else MIN_CHANGES_NO_DIGIT):
        return False  # words: CamelCaseNames change class only where a word begins
    if _entropy(core) < MIN_ENTROPY:
        return False
    return not _printable_base64(core)


def _tokens(text: str) -> list[tuple[int, int]]:
    """Where `_TOKEN` matches: runs of 20 or more key characters, with up to two `=`."""
    out = []
    n = len(text)
    for start, end in runs(text, _TOKEN_CHARS, 20, _TOKEN_RUN):
        stop = min(end + 2, n)
        while end < stop and text[end] == "=":
            end += 1
        out.append((start, end))
    return out


def _entropy_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for start, end in _tokens(text):
        if start and text[start - 1] in _KEY_CHARS and text[start - 1] != "=":
            continue
        if not looks_random(text[start:end]):
            continue
        if _DATA_BEFORE.search(text, max(0, start - 24), start) or _DATA_PREFIX.match(
                text, start):
            continue
        spans.append((start, end))
    return spans


# -- the gate --------------------------------------------------------------------------------


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out = []
    pos = 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(text[pos:start])
        out.append(MARK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _scrub_text(text: str) -> str:
    text = redact(text)
    text = _replace(text, _library_spans(text))
    return _replace(text, _entropy_spans(text))


_SEP = "\n\x1e\n"  # between the strings of a JSON document, scrubbed as one text


def _strings(obj: Any, out: list[str], marks: list[bool]) -> None:
    """Every string value in `obj`, in order; `marks[i]`: it is the value of a field whose
    name says secret (`is_secret_field`)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str):
                out.append(value)
                marks.append(is_secret_field(key, value))
            else:
                _strings(value, out, marks)
    elif isinstance(obj, list):
        for value in obj:
            if isinstance(value, str):
                out.append(value)
                marks.append(False)
            else:
                _strings(value, out, marks)


def _rebuild(obj: Any, new: list[str]) -> Any:
    """`obj` with its string values (in `_strings` order) taken from the reversed `new`."""
    if isinstance(obj, dict):
        return {k: new.pop() if isinstance(v, str) else _rebuild(v, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [new.pop() if isinstance(v, str) else _rebuild(v, new) for v in obj]
    return obj


def _compact(text: str, obj: Any) -> bool:
    """The document is written without spaces after `,` and `:` (as summaries are)."""
    if isinstance(obj, dict) and obj and text.startswith('{"'):
        end = text.find('":')  # the first key's end: a key holds no unescaped quote
        if end > 0:
            return text[end + 2:end + 3] != " "
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) == text


def _scrub_json(text: str, obj: Any) -> str:
    """A JSON document (a session summary): its strings scrubbed as one text (one pass, the
    strings kept apart by `_SEP`), a secret-named field's value replaced whole; re-encoded
    in the document's own layout only when something changed."""
    values: list[str] = []
    marks: list[bool] = []
    _strings(obj, values, marks)
    joined = _SEP.join(values)
    parts = _scrub_text(joined).split(_SEP) if joined.count("\x1e") == len(values) - 1 else []
    if len(parts) != len(values):  # a rule reached across strings: one at a time instead
        parts = [_scrub_text(v) for v in values]
    parts = [MARK if mark else part for part, mark in zip(parts, marks, strict=True)]
    if parts == values:
        return text
    compact = _compact(text, obj)
    parts.reverse()
    new = _rebuild(obj, parts)
    if compact:
        return json.dumps(new, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(new, ensure_ascii=False)


def scrub(text: str) -> str:
    """`text` with every secret the gate recognises replaced by `[REDACTED]`. A JSON object
    or array (a session summary) stays valid JSON: its strings are scrubbed, not its syntax."""
    if not text:
        return text
    if text[0] in "{[" and text[-1] in "}]":
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, (dict, list)):
            return _scrub_json(text, obj)
    return _scrub_text(text)


def _scrub_value(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


@functools.cache
def _text_positions(reducer: str) -> tuple[int, ...]:
    rdef = REDUCER_BY_NAME.get(reducer)
    return rdef.text_params if rdef is not None else ()


def scrub_args(reducer: str, args: list[Any],
               scrubber: Callable[[Any], Any] = _scrub_value) -> list[Any]:
    """`args` with the reducer's text arguments scrubbed (a copy; the others as they were).
    An unknown reducer's arguments pass unchanged: the backend refuses the call anyway."""
    positions = _text_positions(reducer)
    if not positions:
        return args
    out = list(args)
    for i in positions:
        if i < len(out):
            out[i] = scrubber(out[i])
    return out


def warm() -> None:
    """Load the library's detectors and compile the patterns now (~0.2 s, once per process),
    so that the first write a hook waits for does not pay for it."""
    _library_plugins()
    scrub("warm-up: DB_PASSWORD=x curl -u a:b https://u:p@h/ ghp_x eyJx.eyJy.z sk-x 7z mysql")
