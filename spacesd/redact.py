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
- credentials in URLs: `scheme://user:pass@host` (the user is kept).

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

# Key shapes: replaced whole.
_TOKEN_SHAPES = re.compile(
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

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)

# "Authorization: Bearer x", "Bearer x", "Authorization: Basic x", "Authorization: token x".
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)?\s*)"
    r"([A-Za-z0-9._~+/=-]{6,})"
)
_BEARER = re.compile(
    r"(?i)(\bbearer\s+)((?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{8,}=*)"
)

# name = value, name: value. The name must hold a secret word as a whole word-part
# (GITHUB_TOKEN, db_password, apiKey, "client_secret"), not as a piece of a longer word
# ("tokens", "author", "secretary" stay).
_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pass|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret|auth[_-]?token|credentials?|session[_-]?key"
    r"|signing[_-]?key|encryption[_-]?key)"
)
# A value: "quoted" or 'quoted' (whole, spaces included), or bare up to a delimiter; never a
# variable reference, never one already redacted.
_VALUE = r"""
    (?:
        "(?P<dq>(?!\$|\[REDACTED\])[^"\n]{1,512})"
      | '(?P<sq>(?!\$|\[REDACTED\])[^'\n]{1,512})'
      | (?P<bare>(?!\$|%[A-Za-z_]|\[REDACTED\])[^\s"'&;,)}\]<>]+)
    )
"""

_ASSIGN = re.compile(
    r"""
    (?P<name>
        (?<![A-Za-z0-9])                   # start of the name
        (?:[A-Za-z0-9]+[_.-]|[a-z0-9]+(?-i:(?<=[a-z0-9])(?=[A-Z])))*  # AWS_, db., camelCase
        """
    + _SECRET_WORD
    + r"""
        (?:[_.-][A-Za-z0-9]+)*             # suffix parts: _V2, _ID would be odd but allowed
        (?![A-Za-z0-9])
    )
    (?P<sep>["']?\s*(?::|=(?!=))\s*)       # `=` (not `==`), or `:`; a quoted key's closing quote
    """
    + _VALUE
    + r"""
    """,
    re.VERBOSE | re.IGNORECASE,
)

_FLAG = re.compile(
    r"""
    (?P<flag>(?<![\w-])--?(?:[A-Za-z0-9]+-)*
        (?:password|passwd|passphrase|pass|secret|token|api-?key|apikey|access-?key
          |client-?secret|auth-?token|private-?key|credentials?)
        (?!-(?:file|path|dir|env|name|id|stdin|command|cmd)\b)(?:-[A-Za-z0-9]+)*)
    (?P<sep>\s+|=)
    (?!-)
    """
    + _VALUE
    + r"""
    """,
    re.VERBOSE | re.IGNORECASE,
)

_URL_CREDS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]+)@")

# Values after `:` that are plainly not secrets (prose such as "token: none", numbers).
_BORING = re.compile(r"(?i)^(?:none|null|nil|true|false|yes|no|required|optional|\*+|x+|\d{1,6})$")


def _replacement(m: re.Match[str], head: str) -> str:
    if m.group("dq") is not None:
        return f'{head}"{MARK}"'
    if m.group("sq") is not None:
        return f"{head}'{MARK}'"
    return head + MARK


def _assign_sub(m: re.Match[str]) -> str:
    sep = m.group("sep")
    bare = m.group("bare")
    if bare is not None:
        if _BORING.match(bare):
            return m.group(0)
        if ":" in sep and not sep.startswith(("'", '"')) and len(bare) < 16 and bare.isalpha():
            # Unquoted `name: word` is also prose ("Password: see the vault"): only take
            # values that look machine-made (a digit or a symbol, or long).
            return m.group(0)
    return _replacement(m, m.group("name") + sep)


def _flag_sub(m: re.Match[str]) -> str:
    return _replacement(m, m.group("flag") + m.group("sep"))


def redact(text: str) -> str:
    """`text` with every credential it recognises replaced by `[REDACTED]`."""
    if not text:
        return text
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.sub(MARK, text)
    text = _TOKEN_SHAPES.sub(MARK, text)
    if "://" in text:
        text = _URL_CREDS.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MARK}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MARK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MARK}", text)
    text = _FLAG.sub(_flag_sub, text)
    text = _ASSIGN.sub(_assign_sub, text)
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
