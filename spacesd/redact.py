"""Secrets never leave the machine: scrub them from every string before it is posted or queued.

Standard library only (the Stop hook imports it). `redact(text)` replaces what looks like a
credential with `[REDACTED]`, keeping the surrounding text (the variable name, the flag, the
URL's user and host) so a summary still reads well; `redact_obj(obj)` does it to every string
inside a JSON-like value (dict keys are left alone: they are the summary's field names).

These are the rules that read text as people and shells write it. The daemon's redaction gate
(spacesd/daemon/gate.py) runs them too, then a detection library's detectors and an entropy
check: the hook's pass is a first line, the gate is where correctness lives.

Caught:
- provider keys by their documented shape (`_SHAPES`: Anthropic, OpenAI, GitHub, GitLab,
  Slack, AWS, Google, Stripe, Hugging Face, npm, PyPI, Docker Hub, DigitalOcean, Shopify,
  Vault, Sentry, ... about 90 formats), JWTs, webhook URLs (Slack, Discord, Teams) and the
  `sig=` of an Azure SAS URL;
- PEM private key blocks (also a truncated block: everything after its BEGIN line);
- `Authorization: Bearer|Basic|token <x>` and a bare `Bearer <x>`;
- assignments whose name says secret, after any prefix and inside other values: `password=`,
  `Note: DB_PASSWORD=...`, `env: GITHUB_TOKEN=...`, `--from-literal=password=...`,
  `"client_secret": "..."`, `AccountKey=...;` in a connection string, an upper-case `*_KEY=`;
  with `=`, `:` or `:=`;
- flags: `--password x`, `--token=x`, `--api-key x`, `--client-secret x`, `-storepass x`;
- credentials in URLs: `scheme://user:pass@host` (the user is kept);
- passwords given to a program its own way, also across `\\`-continued lines: `mysql -pX`,
  `sshpass -p X`, `redis-cli -a X`, `docker login -p X`, `curl -u user:X`, `mongosh -p X`,
  `sqlcmd -P X`, `zip -P X`, `ldapsearch -w X`, `openssl ... pass:X`, `htpasswd -b f user X`,
  `aws configure set aws_secret_access_key X`, `gh secret set N --body X`,
  `kubectl create secret ... --from-literal=K=X`, and `echo X | ... --password-stdin`.

Not caught here: secrets with no recognisable shape or name (a bare random string in prose:
the daemon's gate looks at entropy). Left alone, as code or placeholders rather than secrets:
values that are a variable reference (`$TOKEN`, `${TOKEN}`, `%TOKEN%`, `{{ x }}`), a call or a
subscript (`password = getpass.getpass()`, `config["api_key"]`), an attribute path
(`self.password`), a type (`token: str`), or a placeholder (`none`, `changeme`, `<key>`).
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["MARK", "is_secret_field", "redact", "redact_obj"]

MARK = "[REDACTED]"


class _Lazy:
    """A regex compiled on first use: the hook pays only for the patterns its text needs."""

    __slots__ = ("_args", "_rx")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._rx: re.Pattern[str] | None = None

    @property
    def rx(self) -> re.Pattern[str]:
        if self._rx is None:
            self._rx = re.compile(*self._args)
        return self._rx


# Key shapes (documented formats of provider keys): replaced whole. Each is filed under the
# keys that find where it can begin (`_shape_starts`): the first two characters of the run of
# [A-Za-z0-9_-] (8 or more) that it begins, or a literal it holds, with at most
# `_SHAPE_REACH` such characters before it (a shape whose first run is short, such as `dp.`
# or `SG.`, or one that begins with any characters, such as Terraform's `.atlasv1.`). Trying
# the one big pattern at every position costs ~1 ms on 16 KB and compiling it ~2.5 ms (the
# hook pays that on every run): the small per-key patterns compile only when their key is seen.
_SHAPES: tuple[tuple[str, str], ...] = (
    ("sk", r"sk-(?:ant-(?:api|admin|sid)\d\d-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("gh", r"gh[pousr]_[A-Za-z0-9]{30,}"),
    ("gi", r"github_pat_[A-Za-z0-9_]{30,}"),
    ("gl", r"gl(?:pat|rt|dt|ft|soat|cbt|imt|ptt|agent|oas)-[A-Za-z0-9_-]{20,}"),
    ("gl", r"gl(?:c|sa)_[\w+/=-]{32,}"),
    ("GR", r"GR1348941[\w-]{20,}"),
    ("xo xoxe.", r"(?:xoxe\.)?xox[abposre]-[A-Za-z0-9-]{10,}"),
    ("xa", r"xapp-\d-[A-Za-z0-9-]{20,}"),
    ("AK AS AG AI AR AN AB AC A3",
     r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}"),
    ("AI", r"AIza[0-9A-Za-z_-]{30,}"),
    ("GO", r"GOCSPX-[\w-]{24,}"),
    ("1//0", r"1//0[\w-]{40,}"),
    ("ya29.", r"ya29\.[\w-]{30,}"),
    ("rk sk", r"[rs]k_(?:live|test|prod)_[A-Za-z0-9]{16,}"),
    ("wh", r"whsec_[A-Za-z0-9+/]{24,}"),
    ("hf", r"hf_[A-Za-z0-9]{30,}"),
    ("ap", r"api_org_[A-Za-z0-9]{30,}"),
    ("np", r"npm_[A-Za-z0-9]{36}"),
    ("py", r"pypi-AgE[\w-]{50,}"),
    ("ru", r"rubygems_[0-9a-f]{48}"),
    ("dc", r"dckr_pat_[\w-]{27,}"),
    ("do", r"do[por]_v1_[0-9a-f]{64}"),
    ("HR", r"HRKU-[\w-]{40,}"),
    ("sh", r"shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}"),
    ("da", r"dapi[0-9a-f]{32}(?:-\d)?"),
    ("dp.", r"dp\.(?:pt|st|ct|sa|scim|audit)\.[\w.-]{40,}"),
    ("li", r"lin_api_[A-Za-z0-9]{40}"),
    ("NR", r"NR(?:AK|JS|II|AA)-[\w-]{19,}"),
    ("hvs. hvb.", r"hv[sb]\.[\w-]{24,}"),
    (".atlasv1.", r"[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,}"),
    ("pu", r"pul-[0-9a-f]{40}"),
    ("PM", r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}"),
    ("sn", r"sntry[su]_[\w+/=-]{40,}"),
    ("ps", r"pscale_(?:tkn|pw|oauth)_[\w.=-]{32,}"),
    ("pn", r"pnu_[A-Za-z0-9]{36}"),
    ("rd", r"rdme_[a-z0-9]{70}"),
    ("CL", r"CLOJARS_[a-z0-9]{60}"),
    ("AG", r"AGE-SECRET-KEY-1[A-Z0-9]{58}"),
    ("LT", r"LTAI[A-Za-z0-9]{20}"),
    ("AT", r"ATATT3[\w=-]{100,}"),
    ("SG.", r"SG\.[\w-]{22}\.[\w-]{43}"),
    ("ke", r"key-[0-9a-f]{32}"),
    ("-us", r"[0-9a-f]{32}-us\d{1,2}"),
    ("dt0c01.", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    ("EZ", r"EZAK[A-Za-z0-9]{54}"),
    ("FL", r"FLWSECK(?:_TEST)?-[0-9a-f]{32}-X"),
    ("fi", r"fio-u-[\w=-]{64}"),
    ("sh", r"shippo_(?:live|test)_[0-9a-f]{40}"),
    ("EA", r"EAA[A-Za-z0-9]{40,}"),
    ("sq", r"sq0(?:atp|csp)-[\w-]{22,}"),
    ("tf", r"tfp_[\w.=-]{59}"),
    ("du", r"duffel_(?:test|live)_[\w=-]{43}"),
    ("p8", r"p8e-[A-Za-z0-9]{32}"),
    ("pa", r"pat[A-Za-z0-9]{14}\.[0-9a-f]{64}"),
    ("v1.0-", r"v1\.0-[0-9a-f]{24}-[0-9a-f]{146}"),
    ("dn", r"dnkey-[\w=-]{26}-[\w=-]{52}"),
    ("FlyV1 ", r"FlyV1 fm[12][ar]?_[\w+/=,-]{100,}"),
    ("li", r"live_[\w=-]{40}"),
    ("pat.", r"pat\.[\w-]{22}\.[0-9a-f]{24}\.[A-Za-z0-9]{20}"),
    ("AK", r"AKCp[A-Za-z0-9]{69}"),
    ("k.eyJ", r"[sp]k\.eyJ[\w-]{20,}\.[\w-]{20,}"),
    ("sha256~", r"sha256~[\w-]{43}"),
    ("tk", r"tk-us-[\w-]{48}"),
    ("xk", r"xkeysib-[0-9a-f]{64}-[A-Za-z0-9]{16}"),
    ("gs", r"gsk_[A-Za-z0-9]{52}"),
    ("xa", r"xai-[A-Za-z0-9]{80}"),
    ("pp", r"pplx-[A-Za-z0-9]{48}"),
    ("r8", r"r8_[A-Za-z0-9]{37}"),
    ("nt", r"ntn_[A-Za-z0-9]{46}"),
    ("se", r"secret_[A-Za-z0-9]{43}"),
    ("sb", r"sbp_[0-9a-f]{40}"),
    ("sb", r"sb_secret_[\w-]{20,}"),
    ("ls", r"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}"),
    ("bk", r"bkua_[0-9a-f]{40}"),
    ("fi", r"figd_[\w-]{40}"),
    ("op", r"ops_eyJ[\w+/=-]{100,}"),
    ("pc", r"pcsk_[A-Za-z0-9]{5}_[A-Za-z0-9]{50,}"),
    ("ts", r"tskey-(?:auth|api|client|webhook)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,}"),
    ("sg", r"sgp_[A-Za-z0-9]{64}"),
    ("ai", r"aio_[A-Za-z0-9]{28}"),
    ("ic", r"ico-[A-Za-z0-9]{32}"),
    ("AP", r"API-[A-Z0-9]{26}"),
    ("oy", r"oy2[a-z0-9]{43}"),
    ("_mmk", r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk"),
    ("CF", r"CFPAT-[\w-]{43}"),
    (":AA", r"\d{8,10}:AA[\w-]{33}"),
    ("ey", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWT
)


def _shape_pattern(branches: list[str]) -> _Lazy:
    return _Lazy(r"(?<![A-Za-z0-9_-])(?:" + "|".join(branches) + r")(?![A-Za-z0-9_-])")


def _shapes_by_key() -> dict[str, _Lazy]:
    keyed: dict[str, list[str]] = {}
    for keys, pattern in _SHAPES:
        for key in keys.split():
            keyed.setdefault(key, []).append(pattern)
    return {key: _shape_pattern(branches) for key, branches in keyed.items()}


_SHAPE_BY_KEY = _shapes_by_key()
_SHAPE_HEADS = frozenset(k for k in _SHAPE_BY_KEY if len(k) == 2)
_SHAPE_LITERALS = tuple(k for k in _SHAPE_BY_KEY if len(k) != 2)
_TOKEN_SHAPES = _shape_pattern([p for _, p in _SHAPES])  # all of them (tests, ungated)
_SHAPE_REACH = 64
_SHAPE_RUN = _Lazy(r"[A-Za-z0-9_-]{8,}")
_RUN_CHARS_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_RUN_CHARS = frozenset(_RUN_CHARS_ASCII)


@functools.lru_cache(maxsize=8)
def _run_table(chars: str) -> dict[int, str]:
    """A `str.translate` table: each ASCII character in `chars` to `a`, every other to a
    space."""
    return {c: "a" if chr(c) in chars else " " for c in range(128)}


def runs(text: str, chars: str, least: int, rx: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of every run of the ASCII `chars` at least `least` long, as `rx`
    (`[chars]{least,}`) finds them. An ASCII text is blanked in one C pass (those characters
    to `a`, the others to a space) and searched with `str.find` for `least` a's, which skips
    short words whole, where `re` tries the pattern at each of their characters."""
    if not text.isascii():
        return [m.span() for m in rx.finditer(text)]
    blanked = text.translate(_run_table(chars))
    need = "a" * least
    out = []
    i = blanked.find(need)
    while i >= 0:
        end = blanked.find(" ", i + least)
        if end < 0:
            end = len(text)
        out.append((i, end))
        i = blanked.find(need, end)
    return out


def _shape_starts(text: str) -> dict[int, list[str]]:
    """Where a shape can begin, and the keys of the shapes to try there."""
    found: dict[int, list[str]] = {}
    for start, _ in runs(text, _RUN_CHARS_ASCII, 8, _SHAPE_RUN.rx):
        head = text[start:start + 2]
        if head in _SHAPE_HEADS:
            found[start] = [head]
    for lit in _SHAPE_LITERALS:
        i = text.find(lit)
        while i >= 0:
            j = i
            stop = max(0, i - _SHAPE_REACH)
            while j > stop and text[j - 1] in _RUN_CHARS:
                j -= 1
            found.setdefault(j, []).append(lit)
            i = text.find(lit, i + 1)
    return found


def _sub_shapes(text: str) -> str:
    """Every shape replaced, tried only where `_shape_starts` says (the longest match of
    the shapes filed there)."""
    out: list[str] = []
    pos = 0
    starts = _shape_starts(text)
    for start in sorted(starts):
        if start < pos:
            continue
        end = -1
        for key in starts[start]:
            m = _SHAPE_BY_KEY[key].rx.match(text, start)
            if m is not None:
                end = max(end, m.end())
        if end >= 0:
            out.append(text[pos:start])
            out.append(MARK)
            pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# Secret URLs: the part after the fixed prefix is the credential. Each pattern begins with
# the literal it is looked for by (a case-insensitive alternation costs ~0.4 ms on 16 KB).
_URL_TAIL = r"""([^\s"'<>)&]+)"""
_SECRET_URLS = (
    ("hooks.slack.com/",
     _Lazy(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)" + _URL_TAIL)),
    ("discord", _Lazy(r"(discord(?:app)?\.com/api/webhooks/)" + _URL_TAIL)),
    (".webhook.office.com/", _Lazy(r"(\.webhook\.office\.com/webhookb2/)" + _URL_TAIL)),
    ("sig=", _Lazy(r"([?&]sig=)" + _URL_TAIL)),  # an Azure SAS URL's signature
)

# A block, or a truncated one: everything after its BEGIN line, up to the end of the text or
# an ASCII record separator (\x1e: the daemon's gate scrubs a JSON document's strings as one
# text, kept apart by it).
_PRIVATE_KEY = _Lazy(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[^\x1e]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[^\x1e]*)",
)

# "Authorization: Bearer x", "Bearer x", "Authorization: Basic x", "Authorization: token x".
_AUTH_HEADER = _Lazy(
    r"(?i)(\bauthorization\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)"
    r"(?!(?:bearer|basic|token|digest)\b)([A-Za-z0-9._~+/=-]{6,})"
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
    "credentials", "pwd", "accountkey", "sharedaccesskey", "authtoken", "accesstoken",
    "clientsecret", "privatekey", "secretkey", "pat",
})
_KEY_PAIRS = frozenset({"api", "access", "private", "session", "signing", "encryption", "secret",
                        "account", "master", "auth", "license", "client", "app"})
_NOT_A_SECRET_VALUE_PARTS = frozenset({
    "file", "path", "dir", "env", "name", "id", "stdin", "command", "cmd", "count", "length",
    "limit", "type", "url", "uri", "endpoint", "hash", "hashed", "digest", "min", "max",
    "policy", "prompt", "regex", "pattern", "label", "hint", "expiry", "expires", "seconds",
    "ttl", "header", "field", "format", "len", "size", "version", "reset", "salt", "fingerprint",
})
_PLAIN_KEY_NAMES = frozenset({"PRIMARY_KEY", "SORT_KEY", "PARTITION_KEY", "CACHE_KEY",
                              "FOREIGN_KEY", "HOT_KEY", "MAP_KEY", "SSH_KEY", "GPG_KEY"})

# A value: "quoted" or 'quoted' (whole, spaces included), or bare up to a delimiter (an `&`
# only where a URL's next `name=` parameter follows it).
_VALUE = r"""
    (?:
        "(?P<dq>[^"\n]{1,512})"
      | '(?P<sq>[^'\n]{1,512})'
      | (?P<bare>[^\s"'&;,(){}\[\]<>]+(?:&(?![A-Za-z_][\w.-]*=)[^\s"'&;,(){}\[\]<>]+)*)
    )
"""

# The value is in a lookahead: a name that turns out not to be a secret's consumes only
# itself and its separator, so an assignment inside its value (`Note: PASSWORD=x`,
# `--from-literal=password=x`) is still found.
_ASSIGN = _Lazy(
    r"""
    (?<![A-Za-z0-9_.-])
    (?P<name>[A-Za-z0-9_.-]{1,100})
    (?P<sep>["']?[ \t]*(?::=|:(?!//)|=(?!=))[ \t]*)  # `=` (not `==`), `:` (not `://`), `:=`
    (?=""" + _VALUE + ")",
    re.VERBOSE,
)

_FLAG = _Lazy(
    r"""
    (?<![\w-])
    (?P<flag>--?[A-Za-z0-9][A-Za-z0-9-]{0,80})
    (?P<sep>[ \t]+|=)
    (?!-)
    (?=""" + _VALUE + ")",
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


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    parts = _name_parts(name.strip("\"'"))
    if not parts or parts[-1] in _NOT_A_SECRET_VALUE_PARTS:
        return False
    for i, part in enumerate(parts):
        if part in _SECRET_PARTS and not (part == "pwd" and len(parts) == 1):
            return True
        if part.endswith(("password", "passwd")):  # PGPASSWORD, MYSQLPASSWORD
            return True
        if part == "key" and i > 0 and parts[i - 1] in _KEY_PAIRS:
            return True
    # An environment variable named *_KEY holds a key (STRIPE_KEY, DD_APP_KEY).
    return name.isupper() and name.endswith("_KEY") and name not in _PLAIN_KEY_NAMES


def _is_secret_flag(flag: str) -> bool:
    name = flag.lstrip("-")
    if _is_secret_name(name):
        return True
    # keytool -storepass, -keypass; openssl -passin / -passout (values like pass:X)
    return flag.startswith("-") and name in ("storepass", "keypass", "srcstorepass",
                                             "deststorepass", "passin", "passout", "pass")


# Values that are plainly not secrets: placeholders, types, code words, small numbers.
_BORING = _Lazy(
    r"(?i)^(?:none|null|nil|true|false|yes|no|required|optional|undefined|str|string|bytes"
    r"|int|bool|boolean|any|secretstr|changeme|await|new|lambda|function|yield|this|self"
    r"|\*+|x+|\.+|-+|\d{1,6})$"
)
_CODE_PATH = _Lazy(r"[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)+")
_FILE_PATH = _Lazy(r"(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]+)*/?")


def _is_reference(value: str) -> bool:
    """A value that only refers to a secret kept elsewhere: `$X`, `${X}`, `%X%`, `{{ x }}`,
    `<your key>`, or one already redacted."""
    return (value.startswith(("$", "%", "<", "{{", "your-", "your_", MARK))
            or "${" in value or "{{" in value)


def _value_span(m: re.Match[str], code: bool = True) -> tuple[int, int, str] | None:
    """(start, end, kind) of the assignment's value, or None when it is no secret. `code`:
    also leave values that read as code or placeholders (an assignment; a flag's value is
    what the program gets, whatever it looks like)."""
    for kind in ("dq", "sq", "bare"):
        if m.group(kind) is not None:
            start, end = m.span(kind)
            value = m.group(kind)
            break
    else:  # pragma: no cover - the regex always sets one
        return None
    if _is_reference(value):
        return None
    if not code:
        return start, end, kind
    if _BORING.rx.match(value):
        return None
    if kind == "bare":
        after = m.string[end:end + 1]
        if after in ("(", "["):  # a call or a subscript: code
            return None
        if _CODE_PATH.rx.fullmatch(value) and not any(c.isdigit() for c in value):
            return None  # self.password, settings.SECRET_KEY, std::env::var
        if value.isidentifier() and _is_secret_name(value):
            return None  # password=password, token=access_token
        if _FILE_PATH.rx.fullmatch(value) and (value.count("/") > 1 or value[0] in ".~"):
            return None  # a file that holds it: --from-file=password=./pw.txt
    return start, end, kind


def _assign_span(m: re.Match[str]) -> tuple[int, int] | None:
    if not _is_secret_name(m.group("name")):
        return None
    found = _value_span(m)
    if found is None:
        return None
    start, end, kind = found
    sep = m.group("sep")
    if (kind == "bare" and ":" in sep and "=" not in sep and not sep.startswith(("'", '"'))
            and end - start < 16 and m.string[start:end].isalpha()):
        # Unquoted `name: word` is also prose ("Password: see the vault"): only take values
        # that look machine-made (a digit or a symbol, or long).
        return None
    return start, end


def _flag_span(m: re.Match[str]) -> tuple[int, int] | None:
    if not _is_secret_flag(m.group("flag")):
        return None
    found = _value_span(m, code=False)
    return None if found is None else found[:2]


def _sub_spans(rx: re.Pattern[str], text: str,
               span_of: Callable[[re.Match[str]], tuple[int, int] | None],
               starts: list[int] | None = None) -> str:
    """Replace the span `span_of(m)` picks for each match (None: keep), scanning on after the
    match itself, so that matches may begin inside an earlier match's (kept) value. With
    `starts`, `rx` is tried only there (`_starts`: where a match can begin)."""
    out: list[str] = []
    pos = 0
    matches = (rx.finditer(text) if starts is None
               else (rx.match(text, i) for i in starts))
    for m in matches:
        if m is None or m.start() < pos:
            continue
        span = span_of(m)
        if span is None:
            continue
        out.append(text[pos:span[0]])
        out.append(MARK)
        pos = span[1]
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _value_group(m: re.Match[str]) -> tuple[int, int] | None:
    value = m.group("value")
    if _is_reference(value) or (value[:1] in "'\"" and _is_reference(value[1:])):
        return None
    start, end = m.span("value")
    if value[:1] in "'\"" and len(value) > 1 and value[-1] == value[0]:
        start, end = start + 1, end - 1  # keep the quotes
    return start, end


# Passwords given to a command-line program its own way, where the option means a password
# only for that program: `mysql -phunter2` (not `mkdir -p x`), `sshpass -p pw`, `curl -u
# user:pw`. Each rule applies to what follows the program's name in its command: up to `;`,
# `|`, `&` or a newline that is not escaped (a `\`-continued line is the same command).
_SEGMENT = _Lazy(r"(?:\\\r?\n|[^\n;|&])+")
_QVALUE = r"""(?:'[^'\n]*'|"[^"\n]*"|[^\s'"]+)"""
_GAP = r"(?:\s|\\\r?\n)"  # between words: a space, or an escaped newline
_CLI_RULES: tuple[tuple[str, tuple[_Lazy, ...]], ...] = (
    (r"(?:mysql[a-z]*|mariadb[a-z-]*)",
     (_Lazy(r"(?<=\s)(?P<head>-p)(?P<value>" + _QVALUE + ")"),)),
    (r"sshpass",
     (_Lazy(r"\A(?:\s+-[^p\s]\S*(?:\s+[^-\s]\S*)?)*?\s+(?P<head>-p\s*)(?P<value>"
            + _QVALUE + ")"),)),
    (r"redis-cli", (_Lazy(r"(?<=\s)(?P<head>-a\s+)(?P<value>" + _QVALUE + ")"),)),
    (r"(?:docker|podman|nerdctl|buildah|skopeo|oras|helm)\s(?:[^\n;|&]*\s)?login",
     (_Lazy(r"(?<=\s)(?P<head>-p\s+)(?P<value>" + _QVALUE + ")"),)),
    (r"mongo(?:sh|dump|restore|export|import)?",
     (_Lazy(r"(?<=\s)(?P<head>-p\s+)(?P<value>" + _QVALUE + ")"),)),
    (r"(?:sqlcmd|bcp|zip|unzip|zipcloak)",
     (_Lazy(r"(?<=\s)(?P<head>-P\s+)(?P<value>" + _QVALUE + ")"),)),
    (r"7z[a-z]?", (_Lazy(r"(?<=\s)(?P<head>-p)(?P<value>" + _QVALUE + ")"),)),
    (r"ldap[a-z]+", (_Lazy(r"(?<=\s)(?P<head>-w\s+)(?P<value>" + _QVALUE + ")"),)),
    (r"openssl",
     (_Lazy(r"(?<=\s)(?P<head>(?:-pass\w*|-k)\s+(?:pass:)?)(?P<value>" + _QVALUE + ")"),)),
    (r"htpasswd",  # -b FILE USER PASSWORD, -nb USER PASSWORD
     (_Lazy(r"\A(?P<head>(?:\s+-[a-zA-Z]*b[a-zA-Z]*(?:\s+-\w+)*\s+(?:[^-\s]\S*\s+){2})|"
            r"(?:\s+-[a-zA-Z]*n[a-zA-Z]*b[a-zA-Z]*(?:\s+-\w+)*\s+[^-\s]\S*\s+)|"
            r"(?:\s+-[a-zA-Z]*b[a-zA-Z]*n[a-zA-Z]*(?:\s+-\w+)*\s+[^-\s]\S*\s+))"
            r"(?P<value>" + _QVALUE + ")"),)),
    (r"(?:curl|https?|wget)",
     (_Lazy(r"(?<=\s)(?P<head>(?:-u\s*|-a\s+|--user(?:\s+|=)|--auth(?:\s+|=))(?P<q>['\"])"
            r"[^\s:'\"]*:)(?P<value>[^'\"\n]+)(?=(?P=q))"),  # -u 'user:pass word'
      _Lazy(r"(?<=\s)(?P<head>(?:-u\s*|-a\s+|--user(?:\s+|=)|--auth(?:\s+|=))[^\s:'\"]*:)"
            r"(?P<value>[^\s'\"]+)"))),  # -u user:pass
    (r"config(?:ure)?" + _GAP + r"+set",  # aws configure set, npm config set, ...
     (_Lazy(r"\A" + _GAP + r"+(?P<head>[\w./:-]*(?:secret|token|password|passwd|key)[\w./:-]*"
            + _GAP + r"+)(?P<value>" + _QVALUE + ")", re.IGNORECASE),)),
    (r"secret" + _GAP + r"+set",  # gh secret set NAME --body X
     (_Lazy(r"(?<=\s)(?P<head>(?:--body|-b)(?:\s+|=))(?P<value>" + _QVALUE + ")"),)),
    (r"kubectl" + _GAP + r"+create" + _GAP + r"+secret",
     (_Lazy(r"(?<=\s)(?P<head>--from-literal(?:\s+|=)['\"]?[^=\s'\"]+=)"
            r"(?P<value>[^\s'\"]+)"),)),
)
# One scan finds every program of the rules: each a named group, the name its rule's index.
# Literal-first branches (no lookbehind) let `re` skip ahead fast; the word boundary before a
# program is checked in Python (`_cli_rules`).
_PROGRAMS = _Lazy("|".join(f"(?P<p{i}>{prog})(?![\\w.-])" for i, (prog, _) in
                           enumerate(_CLI_RULES)))
# What each program's name begins with: `str.find` looks for these several times faster than
# `re` scans for `_PROGRAMS` (an alternation), which is then tried only where one is found.
_PROGRAM_WORDS = ("mysql", "mariadb", "sshpass", "redis-cli", "docker", "podman", "nerdctl",
                  "buildah", "skopeo", "oras", "helm", "mongo", "sqlcmd", "bcp", "zip", "unzip",
                  "7z", "ldap", "openssl", "htpasswd", "curl", "http", "wget", "config",
                  "secret", "kubectl")
_LOGIN_PROGRAMS = frozenset({"docker", "podman", "nerdctl", "buildah", "skopeo", "oras", "helm"})
_PROGRAM_BEFORE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _cli_value(m: re.Match[str]) -> str:
    value = m.group("value")
    if _is_reference(value) or (value[:1] in "'\"" and _is_reference(value[1:])):
        return m.group(0)  # a variable reference, or already redacted
    quote = value[0] if value[:1] in "'\"" and len(value) > 1 else ""
    before = m.group(0)[: m.start("value") - m.start()]  # options and flag, kept
    return f"{before}{quote}{MARK}{quote}"


def _cli_rules(text: str) -> str:
    """Each program's option rules, applied to the rest of its command (up to `;`, `|`, `&`
    or an unescaped newline)."""
    out: list[str] = []
    pos = 0
    starts: set[int] = set()
    has_login = "login" in text
    for word in _PROGRAM_WORDS:
        if word in _LOGIN_PROGRAMS and not has_login:
            continue  # their rule is for `<program> ... login`
        i = text.find(word)
        while i >= 0:
            if not (i and text[i - 1] in _PROGRAM_BEFORE):
                starts.add(i)
            i = text.find(word, i + 1)
    for start in sorted(starts):
        if start < pos:
            continue
        m = _PROGRAMS.rx.match(text, start)
        if m is None:
            continue
        end = m.end()
        seg = _SEGMENT.rx.match(text, end)
        seg_end = seg.end() if seg is not None else end
        rest = text[end:seg_end]
        for option in _CLI_RULES[int((m.lastgroup or "p0")[1:])][1]:
            rest = option.rx.sub(_cli_value, rest)
        out.append(text[pos:end])
        out.append(rest)
        pos = seg_end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# `echo X | docker login --password-stdin`, `printf '%s' X | ...`, `... --password-stdin <<< X`
_STDIN_PIPE = _Lazy(
    r"(?P<head>(?<![\w.-])(?:echo(?:\s+-[neE]+)*|printf(?:\s+'%s[^']*'|\s+\"%s[^\"]*\")?)\s+)"
    r"(?P<value>" + _QVALUE + r")(?=[ \t]*\|[^\n;&]*--password-stdin)"
)
_HERE_STRING = _Lazy(r"(?P<head>--password-stdin[^\n;|&]*<<<\s*)(?P<value>" + _QVALUE + ")")

_URL_CREDS = _Lazy(r"(://[^/\s:@]{0,200}:)[^/\s@]+@")  # scheme://user:PASSWORD@host


# Cheap gates: a pattern runs only on strings that could match it (supersets of the regexes).
_WORDS = ("pass", "secret", "token", "key", "credential", "pwd", "auth", "_pat", "-pat", "pat=",
          "pat:")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_FLAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _hits(lower: str, words: tuple[str, ...]) -> list[int]:
    """Where each of `words` is in `lower`."""
    out = []
    for w in words:
        i = lower.find(w)
        while i >= 0:
            out.append(i)
            i = lower.find(w, i + 1)
    return out


@functools.lru_cache(maxsize=8)
def _blank_table(back: frozenset[str]) -> dict[int, str]:
    """A `str.translate` table that turns every ASCII character not in `back` into a space."""
    return {c: " " for c in range(128) if chr(c) not in back}


_SEP_AHEAD = _Lazy(r"""["']?[ \t]*[:=]""")  # what an assignment's name is followed by


def _starts(lower: str, hits: list[int], back: frozenset[str], first: str,
            assigned: bool = False) -> list[int]:
    """Where a match can begin: before each hit, back over the characters in `back` (a name
    or a flag, at most 100), where that run begins with `first` (and, `assigned`, where the
    run is followed by `_ASSIGN`'s separator: a quote, blanks, `:` or `=`)."""
    if not back:
        return sorted({i for i in hits if lower.startswith(first, i)})
    found: set[int] = set()
    if lower.isascii():  # one C pass marks the other characters; rfind finds the run's start
        blanked = lower.translate(_blank_table(back))
        ahead = _SEP_AHEAD.rx
        for i in hits:
            stop = i - 100 if i > 100 else 0
            j = blanked.rfind(" ", stop, i) + 1 or stop
            if assigned:
                end = blanked.find(" ", i)
                if end < 0 or ahead.match(lower, end) is None:
                    continue
            if lower.startswith(first, j):
                found.add(j)
        return sorted(found)
    for i in hits:
        j = i
        stop = max(0, i - 100)
        while j > stop and lower[j - 1] in back:
            j -= 1
        if lower.startswith(first, j):
            found.add(j)
    return sorted(found)


_NO_CHARS: frozenset[str] = frozenset()


class _Pass:
    """The text between passes, its lower-cased copy, and the words found in it (kept until
    the text changes). `run` tries a pattern only where a match can begin (`_starts`), or
    everywhere when not `gated` or when lower-casing changed the length (a few non-ASCII
    letters lower-case to two characters)."""

    def __init__(self, text: str, gated: bool) -> None:
        self.gated = gated
        self._set(text)

    def _set(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        self.hits: dict[tuple[str, ...], list[int]] = {}

    def run(self, rx: re.Pattern[str], words: tuple[str, ...], back: frozenset[str],
            first: str, span_of: Callable[[re.Match[str]], tuple[int, int] | None],
            need: str = "", assigned: bool = False) -> None:
        starts: list[int] | None = None
        if self.gated:
            if need not in self.lower:
                return
            hits = self.hits.get(words)
            if hits is None:
                hits = self.hits[words] = _hits(self.lower, words)
            if not hits:
                return
            if len(self.lower) == len(self.text):
                starts = _starts(self.lower, hits, back, first, assigned)
        new = _sub_spans(rx, self.text, span_of, starts)
        if new is not self.text:
            self._set(new)


def _redact(text: str, gated: bool = True) -> str:
    """`redact`; with `gated` False every pattern is run over the whole text, whatever the
    cheap tests say (tests compare the two)."""
    if not gated or "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.rx.sub(MARK, text)
    text = _sub_shapes(text) if gated else _TOKEN_SHAPES.rx.sub(MARK, text)
    for literal, url in _SECRET_URLS:
        if not gated or literal in text:
            text = url.rx.sub(lambda m: m.group(1) + MARK, text)
    if not gated or ("://" in text and "@" in text):
        text = _URL_CREDS.rx.sub(lambda m: f"{m.group(1)}{MARK}@", text)
    p = _Pass(_cli_rules(text), gated)
    p.run(_STDIN_PIPE.rx, ("echo", "printf"), _NO_CHARS, "", _value_group, "--password-stdin")
    p.run(_HERE_STRING.rx, ("--password-stdin",), _NO_CHARS, "", _value_group)
    p.run(_AUTH_HEADER.rx, ("authoriz",), _NO_CHARS, "", lambda m: m.span(2))
    p.run(_BEARER.rx, ("bearer",), _NO_CHARS, "", lambda m: m.span(2))
    p.run(_FLAG.rx, _WORDS, _FLAG_CHARS, "-", _flag_span, "-")
    p.run(_ASSIGN.rx, _WORDS, _NAME_CHARS, "", _assign_span, assigned=True)
    return p.text


def is_secret_field(name: str, value: str) -> bool:
    """A JSON-like field `name: value` whose name says it holds a secret and whose value is
    one (not empty, a reference, a placeholder, or already redacted)."""
    return (bool(value) and _is_secret_name(name) and not _is_reference(value)
            and _BORING.rx.match(value) is None)


def redact(text: str) -> str:
    """`text` with every credential it recognises replaced by `[REDACTED]`."""
    return _redact(text) if text else text


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like value with `redact` applied to every string in it."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
