"""spacesd.redact: real-looking secrets go, ordinary text stays byte for byte."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacesd.redact import MARK, redact, redact_obj

# Samples shaped like the real thing (random, revoked-looking, never valid).
ANTHROPIC = "sk-ant-api03-" + "Xq7vR2mK9pL4nT8wZ1cB5yH3jF6dG0sA-uE2iO9pQ4rT7yU1wV3zX5cN8mB6lK0jH"
OPENAI = "sk-proj-" + "4fJ9kL2mN7pQ1rS8tU3vW6xY0zA5bC_dE"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
SLACK = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GOOGLE = "AIza" + "SyD4-9hR2kLm3Nq8Pz1Xw5Vb7Tc6Yu0Ej_Fg"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
STRIPE = "sk_live_" + "51HqLyjWDarjtT1zdp7dcXaB"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MmTg2bK0X7nD4FA2\n"
    "jKq8lQ3s9Yd1hVx0G3rJ2pL5mN8tW6zC4vB7nM1qR0sT9uY2xE5fH8iK3lO6pA==\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    "secret", [ANTHROPIC, OPENAI, GITHUB, GITHUB_PAT, SLACK, AWS, GOOGLE, JWT, STRIPE]
)
def test_key_shapes(secret: str) -> None:
    text = f"export X={secret} && echo done"
    out = redact(text)
    assert secret not in out
    assert MARK in out and out.endswith(" && echo done")
    assert redact(f"key is {secret}.") == f"key is {MARK}."
    assert redact(f'{{"k": "{secret}"}}') == f'{{"k": "{MARK}"}}'


def test_private_key_block() -> None:
    text = f"cat id_rsa\n{PEM}\nok"
    assert redact(text) == f"cat id_rsa\n{MARK}\nok"
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u"
    assert redact("x " + cut) == f"x {MARK}"


def test_bearer_and_authorization() -> None:
    out = redact('curl -H "Authorization: Bearer abc123.DEF456-ghi789" https://api.x.io/v1')
    assert out == f'curl -H "Authorization: Bearer {MARK}" https://api.x.io/v1'
    out = redact("Authorization: Basic dXNlcjpodW50ZXIy")
    assert out == f"Authorization: Basic {MARK}"
    assert redact("got Bearer tok_9f8e7d6c5b4a in logs") == f"got Bearer {MARK} in logs"
    assert redact("authorization: token 0123456789abcdef") == f"authorization: token {MARK}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql --user root password=hunter2 db", f"mysql --user root password={MARK} db"),
        ("psql 'host=db token=abc123def'", f"psql 'host=db token={MARK}'"),
        ("secret=s3cr3t-Value", f"secret={MARK}"),
        ("api_key=0123456789abcdef", f"api_key={MARK}"),
        ("API-KEY: 0123456789abcdef", f"API-KEY: {MARK}"),
        ("GITHUB_TOKEN=abc123 make release", f"GITHUB_TOKEN={MARK} make release"),
        ("export OPENAI_API_KEY='not-a-real-key'", f"export OPENAI_API_KEY='{MARK}'"),
        ("DB_PASSWORD=\"p@ss w0rd\"", f"DB_PASSWORD=\"{MARK}\""),
        ('{"client_secret": "zZ9yY8xX7"}', f'{{"client_secret": "{MARK}"}}'),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key = {MARK}"),
        ("https://x.io/cb?access_token=ya29.a0Af&s=1", f"https://x.io/cb?access_token={MARK}&s=1"),
        ("apiToken: 'Abc123'", f"apiToken: '{MARK}'"),
        ("password: hunter2", f"password: {MARK}"),
    ],
)
def test_assignments(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy --password x --verbose", f"deploy --password {MARK} --verbose"),
        ("login --token=abc123", f"login --token={MARK}"),
        ("cli --api-key 'k-123' run", f"cli --api-key '{MARK}' run"),
        ("az login --client-secret S3cr3t", f"az login --client-secret {MARK}"),
    ],
)
def test_flags(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql -u root -pS3cretPass db", f"mysql -u root -p{MARK} db"),
        ("cd /srv; /usr/bin/mysqldump -p'my pw' app > a.sql; ls -p",
         f"cd /srv; /usr/bin/mysqldump -p'{MARK}' app > a.sql; ls -p"),
        ("PGPASSWORD=hunter2 psql -h db app", f"PGPASSWORD={MARK} psql -h db app"),
        ("sshpass -e -p 'p@ss w0rd' ssh -p 2222 host",
         f"sshpass -e -p '{MARK}' ssh -p 2222 host"),
        ("redis-cli -h cache -a s3cr3tpw ping", f"redis-cli -h cache -a {MARK} ping"),
        ("docker login -u me -p mypassword123 ghcr.io", f"docker login -u me -p {MARK} ghcr.io"),
        ("curl -u alice:wonderland https://api.example.com",
         f"curl -u alice:{MARK} https://api.example.com"),
        ("curl --user 'bob:pass word' https://x", f"curl --user 'bob:{MARK}' https://x"),
    ],
)
def test_program_password_options(text: str, expected: str) -> None:
    # -p, -a, -u mean a password only for these programs: the secret goes, never the next
    # word (`mysql -pS3cretPass db` used to keep the password and hide `db`).
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["mysql -u root -p", "mysql -p$MYSQL_PWD app", "mkdir -p build && mysql -u x -p app",
     "docker run -p 8080:80 img", "ssh -p 2222 host", "pytest -p no:cacheprovider",
     "git log -p", "curl -u alice https://x", "curl -u alice:$PW https://x",
     "sshpass -f ~/.pw ssh host"],
)
def test_program_options_that_are_no_password(text: str) -> None:
    assert redact(text) == text


def test_url_credentials() -> None:
    out = redact("git clone https://alice:s3cret@github.com/acme/api.git")
    assert out == f"git clone https://alice:{MARK}@github.com/acme/api.git"
    out = redact("DATABASE_URL is postgres://app:pw123@db.internal:5432/app")
    assert out == f"DATABASE_URL is postgres://app:{MARK}@db.internal:5432/app"


@pytest.mark.parametrize(
    "text",
    [
        "The /v1/orders endpoint returns 500 under load. Find out why and fix it.",
        "pytest tests/test_orders.py -x -q",
        "git commit -am 'Make TokenBucket.take atomic'",
        "git commit --author='Dev <dev@example.com>' -m fix",
        "self.tokens -= 1",
        "if self.tokens <= 0: return False",
        "max_tokens=4096 temperature=0.2",
        "token_count = 12",
        "if token == expected:",
        "password=$DB_PASSWORD ./run",
        "export GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "docker login --password-stdin < pw.txt",
        "cli --token-file ~/.config/x/token",
        "The bearer of the news; sk-short; AKIA is a prefix.",
        "Password: see the team vault",
        "token: none",
        '{"token": null, "password": "$DB_PASSWORD", "secret": ""}',
        "ssh git@github.com:acme/api.git https://github.com/acme/api",
        "Fixed: `TokenBucket.take` is now atomic; committed as 3e1f2a9 on fix/rate-limit.",
        "8 passed in 1.92s",
        "/home/dev/src/acme-api/app/ratelimit.py",
        "PWD=/home/dev/src/acme-api",
        "bypass=1 author=me secretary=bob",
        "",
    ],
)
def test_normal_text_untouched(text: str) -> None:
    assert redact(text) == text


def test_redact_obj_walks_everything() -> None:
    obj = {
        "task": f"use {GITHUB}",
        "commands": ["ls", f"curl -u x:y https://u:pw@h/ -H 'X-Api-Key: {OPENAI}'"],
        "tokens": {"input": 5},
        "nested": [{"k": AWS}],
        "flag": True,
        "none": None,
    }
    out = redact_obj(obj)
    flat = repr(out)
    for s in (GITHUB, OPENAI, AWS, "pw@"):
        assert s not in flat
    assert out["tokens"] == {"input": 5} and out["flag"] is True and out["none"] is None
    assert out["commands"][0] == "ls"
    assert obj["task"] == f"use {GITHUB}"  # input not mutated


def _ungated(text: str) -> str:
    """`redact` with every pattern applied unconditionally, to check the gates."""
    from spacesd import redact as r

    return r._redact(text, gated=False) if text else text


FRAGMENTS = [
    "password", "Pass", "TOKEN", "token", "api_key", "apiKey", "secret", "credentials", "_", "-",
    "--", "=", "==", ":", ": ", " ", "'", '"', "abc123", "hunter2", "x", "$X", "Bearer ",
    "Authorization: ", "https://", "u:p@", "h.io", GITHUB, AWS, JWT, "\n", "MY_", ".", "db",
    "mysql ", "-p", "curl ", "-u ", "docker login ", "redis-cli ", "sshpass ", ";",
    "podman ", "login ", "\t", "é", "İ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
def test_gates_never_skip_a_match(text: str) -> None:
    assert redact(text) == _ungated(text)


@pytest.mark.parametrize(
    "text",
    [
        "aA" * 5000, "a_" * 5000, "a" * 10000, "-" * 10000, "--a" * 3000, "x=" * 5000,
        "token" * 2000, "token_" * 2000 + "=", "apiKey" * 2000, "https://" * 1000 + "@",
        "eyJ" * 3000 + "." * 10, "sk-" * 3000, "Bearer " * 2000, "-----BEGIN " * 1000,
        "a:" * 5000, "password: " * 2000, "'" * 10000, "AKIA" * 3000, "1.2.3." * 2000,
        "mysql " + "-p" * 5000, "sshpass" + " -a b" * 2000, "curl " + "-u '" * 3000,
        "docker login" + " -p" * 3000, "mysql" * 2000,
    ],
)
def test_linear_time_on_adversarial_input(text: str) -> None:
    t0 = time.perf_counter()
    redact(text)
    _ungated(text)
    assert time.perf_counter() - t0 < 0.5


def test_gates_never_skip_a_corpus_secret() -> None:
    # Every synthetic secret of tests/corpus, alone and in its contexts: the gated rules (shape
    # keys, word hits, program words) find what the ungated ones find.
    import redaction_corpus as rc

    for i, secret in enumerate(rc.secrets()):
        for text in (secret.value, *rc.contexts(secret, i).values()):
            assert redact(text) == _ungated(text), (secret.kind, text)


RUN_TEXT = st.text(alphabet=st.sampled_from("aZ9_-+/~= .é\n"), max_size=200)


@settings(max_examples=300, deadline=None)
@given(RUN_TEXT, st.sampled_from([2, 8, 20]))
def test_runs_are_what_the_regex_finds(text: str, least: int) -> None:
    # `runs` (blank the text, str.find) is a faster way to what `[chars]{least,}` finds.
    import re

    from spacesd.redact import runs

    for chars, cls in (("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                        "[A-Za-z0-9_-]"),
                       ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/_~-",
                        "[A-Za-z0-9+/_~-]")):
        rx = re.compile(f"{cls}{{{least},}}")
        want = [m.span() for m in rx.finditer(text)]
        assert runs(text, chars, least, rx) == want
        ascii_text = text.replace("é", "#")
        assert runs(ascii_text, chars, least, rx) == [m.span() for m in rx.finditer(ascii_text)]
