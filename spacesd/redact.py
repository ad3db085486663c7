"""Secrets never leave the machine: scrub them from every string before it is posted or queued.

Standard library only (the Stop hook imports it). `redact(text)` replaces what looks like a
credential with `[REDACTED]`, keeping the surrounding text (the variable name, the flag, the
URL's user and host) so a summary still reads well; `redact_obj(obj)` does it to every string
inside a JSON-like value (dict keys are left alone: they are the summary's field names).

Caught:
- provider keys by their shape: Anthropic/OpenAI `sk-...`, GitHub `ghp_/gho_/ghu_/ghs_/ghr_`
  and `github_pat_`, GitLab `glpat-`, Slack `xox[abposr]-`, AWS `AKIA/ASIA...`, Google
  `AIza...`, Stripe `sk_live_/rk_live_`, Hugging Face `hf_`, npm `npm_`, JWTs
  (`eyJ..`.`eyJ..`.`..`);
- PEM private key blocks (also a truncated block: everything after its BEGIN line);
- `Authorization: Bearer|Basic|token <x>` and a bare `Bearer <x>`;
- assignments whose name says secret: `password=`, `token=`, `secret=`, `api_key=`,
  `FOO_TOKEN=...`, `"client_secret": "..."`, `aws_secret_access_key = ...`, with `=` or `:`;
- flags: `--password x`, `--token=x`, `--api-key x`, `--client-secret x`;
- credentials in URLs: `scheme://user:pass@host` (the user is kept);
- passwords given by a program's own short option: `mysql -pX`, `sshpass -p X`,
  `redis-cli -a X`, `docker login -p X`, `curl -u user:X`.

Not caught: secrets with no recognisable shape or name (a bare random string in prose).
Values that are only a variable reference (`$TOKEN`, `${TOKEN}`, `%TOKEN%`) are left alone.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MARK", "redact", "redact_obj"]

MARK = "[REDACTED]"


class _Lazy:
    """A regex compiled on first use: compiling them all costs ~3 ms, and most strings of a
    summary are ruled out by a substring test first (see `redact`)."""

    __slots__ = ("_args", "_rx")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._rx: re.Pattern[str] | None = None

    @property
    def rx(self) -> re.Pattern[str]:
        if self._rx is None:
            self._rx = re.compile(*self._args)
        return self._rx


# Key shapes: replaced whole.
_TOKEN_SHAPES = _Lazy(
    r"""
    (?<![A-Za-z0-9_-])(?:
        sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}        # Anthropic, OpenAI
      | gh[pousr]_[A-Za-z0-9]{30,}                                  # GitHub tokens
      | github_pat_[A-Za-z0-9_]{30,}                                # GitHub fine-grained
      | glpat-[A-Za-z0-9_-]{20,}                                    # GitLab
      | xox[abposr]-[A-Za-z0-9-]{10,}                               # Slack
      | (?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}               # AWS access key ids
      | AIza[0-9A-Za-z_-]{30,}                                      # Google API keys
      | [rs]k_(?:live|test)_[A-Za-z0-9]{16,}                        # Stripe
      | hf_[A-Za-z0-9]{30,}                                         # Hugging Face
      | npm_[A-Za-z0-9]{36}                                         # npm
      | eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*  # JWT
    )(?![A-Za-z0-9_-])
    """,
    re.VERBOSE,
)

_PRIVATE_KEY = _Lazy(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)

# "Authorization: Bearer x", "Bearer x", "Authorization: Basic x", "Authorization: token x".
_AUTH_HEADER = _Lazy(
    r"(?i)(\bauthorization\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)?\s*)"
    r"([A-Za-z0-9._~+/=-]{6,})"
)
_BEARER = _Lazy(
    r"(?i)(\bbearer\s+)((?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{8,}=*)"
)

# name = value, name: value. The name is a whole identifier run; whether it names a secret is
# decided in Python (`_is_secret_name`), which keeps the regex linear: no nested quantifiers.
# A secret name holds a secret word as a whole part (GITHUB_TOKEN, db_password, apiKey,
# "client_secret"), not as a piece of a longer word ("tokens", "author", "secretary" stay).
_SECRET_PARTS = frozenset({
    "password", "passwd", "passphrase", "pass", "secret", "token", "apikey", "credential",
    "credentials", "pwd",
})
_KEY_PAIRS = frozenset({"api", "access", "private", "session", "signing", "encryption", "secret"})
_NOT_A_SECRET_VALUE_PARTS = frozenset({
    "file", "path", "dir", "env", "name", "id", "stdin", "command", "cmd", "count", "length",
    "limit", "type", "url", "endpoint",
})

# A value: "quoted" or 'quoted' (whole, spaces included), or bare up to a delimiter; never a
# variable reference, never one already redacted.
_VALUE = r"""
    (?:
        "(?P<dq>(?!\$|\[REDACTED\])[^"\n]{1,512})"
      | '(?P<sq>(?!\$|\[REDACTED\])[^'\n]{1,512})'
      | (?P<bare>(?!\$|%[A-Za-z_]|\[REDACTED\])[^\s"'&;,)}\]<>]+)
    )
"""

_ASSIGN = _Lazy(
    r"""
    (?<![A-Za-z0-9_.-])
    (?P<name>[A-Za-z0-9_.-]{1,100})
    (?P<sep>["']?[ \t]*(?::(?!//)|=(?!=))[ \t]*)  # `=` (not `==`) or `:` (not `://`)
    """
    + _VALUE,
    re.VERBOSE,
)

_FLAG = _Lazy(
    r"""
    (?<![\w-])
    (?P<flag>--?[A-Za-z0-9][A-Za-z0-9-]{0,80})
    (?P<sep>[ \t]+|=)
    (?!-)
    """
    + _VALUE,
    re.VERBOSE,
)


def _name_parts(name: str) -> list[str]:
    """Lower-cased parts of an identifier: split at _ . - and camelCase boundaries."""
    parts: list[str] = []
    for chunk in name.replace(".", "_").replace("-", "_").split("_"):
        start = 0
        for i in range(1, len(chunk)):
            if chunk[i].isupper() and chunk[i - 1].islower():
                parts.append(chunk[start:i].lower())
                start = i
        if chunk:
            parts.append(chunk[start:].lower())
    return parts


def _is_secret_name(name: str) -> bool:
    parts = _name_parts(name)
    if not parts or parts[-1] in _NOT_A_SECRET_VALUE_PARTS:
        return False
    for i, part in enumerate(parts):
        if part in _SECRET_PARTS and not (part == "pwd" and len(parts) == 1):
            return True
        if part.endswith(("password", "passwd")):  # PGPASSWORD, MYSQLPASSWORD
            return True
        if part == "key" and i > 0 and parts[i - 1] in _KEY_PAIRS:
            return True
    return False


# Passwords given to a command-line program by a short option (or as `user:password`), where
# the option means a password only for that program: `mysql -phunter2` (not `mkdir -p x`),
# `sshpass -p pw`, `redis-cli -a pw`, `docker login -p pw`, `curl -u user:pw`. Each rule
# applies to what follows the program's name in its command (up to `;`, `|`, `&`, newline).
_SEGMENT = _Lazy(r"[^\n;|&]+")
_QVALUE = r"""(?:'[^'\n]*'|"[^"\n]*"|[^\s'"]+)"""
_CLI_RULES = (
    (_Lazy(r"(?<![\w.-])(?:mysql[a-z]*|mariadb[a-z-]*)(?![\w.-])"),
     _Lazy(r"(?<=\s)(?P<head>-p)(?P<value>" + _QVALUE + ")")),
    (_Lazy(r"(?<![\w.-])sshpass(?![\w.-])"),
     _Lazy(r"\A(?:\s+-[^p\s]\S*(?:\s+[^-\s]\S*)?)*?\s+(?P<head>-p\s*)(?P<value>"
           + _QVALUE + ")")),
    (_Lazy(r"(?<![\w.-])redis-cli(?![\w.-])"),
     _Lazy(r"(?<=\s)(?P<head>-a\s+)(?P<value>" + _QVALUE + ")")),
    (_Lazy(r"(?<![\w.-])(?:docker|podman|nerdctl|buildah|skopeo|oras|helm)\s(?:.*\s)?login"
           r"(?![\w.-])"),
     _Lazy(r"(?<=\s)(?P<head>-p\s+)(?P<value>" + _QVALUE + ")")),
    (_Lazy(r"(?<![\w.-])curl(?![\w.-])"),  # -u 'user:pass word'
     _Lazy(r"(?<=\s)(?P<head>(?:-u\s*|--user(?:\s+|=))(?P<q>['\"])[^\s:'\"]*:)"
           r"(?P<value>[^'\"\n]+)(?=(?P=q))")),
    (_Lazy(r"(?<![\w.-])curl(?![\w.-])"),  # -u user:pass
     _Lazy(r"(?<=\s)(?P<head>(?:-u\s*|--user(?:\s+|=))[^\s:'\"]*:)(?P<value>[^\s'\"]+)")),
)
_CLI_WORDS = ("mysql", "mariadb", "sshpass", "redis-cli", "login", "curl")


def _cli_value(m: re.Match[str]) -> str:
    value = m.group("value")
    if value.startswith(("$", MARK)) or (value[:1] in "'\"" and value[1:2] == "$"):
        return m.group(0)  # a variable reference, or already redacted
    quote = value[0] if value[:1] in "'\"" and len(value) > 1 else ""
    before = m.group(0)[: m.start("value") - m.start()]  # options and flag, kept
    return f"{before}{quote}{MARK}{quote}"


def _cli_segment(m: re.Match[str]) -> str:
    seg = m.group(0)
    for program, option in _CLI_RULES:
        found = program.rx.search(seg)
        if found is not None:
            end = found.end()
            seg = seg[:end] + option.rx.sub(_cli_value, seg[end:])
    return seg


_URL_CREDS = _Lazy(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://)([^/\s:@]{0,200}):([^/\s@]+)@")

# Values after `:` that are plainly not secrets (prose such as "token: none", numbers).
_BORING = _Lazy(r"(?i)^(?:none|null|nil|true|false|yes|no|required|optional|\*+|x+|\d{1,6})$")


def _replacement(m: re.Match[str], head: str) -> str:
    if m.group("dq") is not None:
        return f'{head}"{MARK}"'
    if m.group("sq") is not None:
        return f"{head}'{MARK}'"
    return head + MARK


def _assign_sub(m: re.Match[str]) -> str:
    if not _is_secret_name(m.group("name")):
        return m.group(0)
    sep = m.group("sep")
    bare = m.group("bare")
    if bare is not None:
        if _BORING.rx.match(bare):
            return m.group(0)
        if ":" in sep and not sep.startswith(("'", '"')) and len(bare) < 16 and bare.isalpha():
            # Unquoted `name: word` is also prose ("Password: see the vault"): only take
            # values that look machine-made (a digit or a symbol, or long).
            return m.group(0)
    return _replacement(m, m.group("name") + sep)


def _flag_sub(m: re.Match[str]) -> str:
    flag = m.group("flag")
    if not _is_secret_name(flag.lstrip("-")):
        return m.group(0)
    return _replacement(m, flag + m.group("sep"))


# Cheap gates: a pattern runs only on strings that could match it (supersets of the regexes).
_SHAPE_PREFIXES = (
    "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AKIA", "ASIA",
    "AGPA", "AIDA", "AROA", "ANPA", "AIza", "k_live_", "k_test_", "hf_", "npm_", "eyJ",
)
_WORDS = ("pass", "secret", "token", "key", "credential", "pwd")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_FLAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _word_hits(lower: str) -> list[tuple[int, int]]:
    hits = []
    for w in _WORDS:
        i = lower.find(w)
        while i >= 0:
            hits.append((i, i + len(w)))
            i = lower.find(w, i + 1)
    return hits


def _maybe_assignment(lower: str, hits: list[tuple[int, int]]) -> bool:
    """Some secret word is followed (after name characters, quotes, spaces) by = or :."""
    n = len(lower)
    for _, end in hits:
        j = end
        stop = min(n, end + 101)  # a name is at most 100 characters (`_ASSIGN`)
        while j < stop and lower[j] in _NAME_CHARS:
            j += 1
        while j < n and lower[j] in "\"' \t":
            j += 1
        if j < n and lower[j] in "=:":
            return True
    return False


def _maybe_flag(lower: str, hits: list[tuple[int, int]]) -> bool:
    """Some secret word is part of a `-flag` (a run of [a-z0-9-] that starts with -)."""
    for start, _ in hits:
        j = start
        stop = max(0, start - 90)  # a flag is at most 83 characters (`_FLAG`)
        while j > stop and lower[j - 1] in _FLAG_CHARS:
            j -= 1
        if lower.startswith("-", j) and j < start:
            return True
    return False


def redact(text: str) -> str:
    """`text` with every credential it recognises replaced by `[REDACTED]`."""
    if not text:
        return text
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.rx.sub(MARK, text)
    if any(p in text for p in _SHAPE_PREFIXES):
        text = _TOKEN_SHAPES.rx.sub(MARK, text)
    if "://" in text and "@" in text:
        text = _URL_CREDS.rx.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MARK}@", text)
    lower = text.lower()
    if any(w in lower for w in _CLI_WORDS):
        text = _SEGMENT.rx.sub(_cli_segment, text)
    if "authoriz" in lower:
        text = _AUTH_HEADER.rx.sub(lambda m: f"{m.group(1)}{MARK}", text)
    if "bearer" in lower:
        text = _BEARER.rx.sub(lambda m: f"{m.group(1)}{MARK}", text)
    hits = _word_hits(lower)
    if hits:
        if "-" in text and _maybe_flag(lower, hits):
            text = _FLAG.rx.sub(_flag_sub, text)
            lower = text.lower()
            hits = _word_hits(lower)
        if _maybe_assignment(lower, hits):
            text = _ASSIGN.rx.sub(_assign_sub, text)
    return text


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like value with `redact` applied to every string in it."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
