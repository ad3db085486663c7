"""The daemon's redaction gate (spacesd/daemon/gate.py): what it catches, in which contexts,
what it leaves alone, that every reducer call passes it on both backends, and end to end that
no stored row holds a secret of the corpus (tests/corpus/), through the Stop hook and through
`spacesd send`."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import redaction_corpus as rc
from conftest import ProcessDaemon, SpacesEnv, console_script

from spacesd.daemon import gate
from spacesd.daemon.backend import Backend, JsonArgs
from spacesd.ipc import Ok
from spacesd.model import MACHINE_TEXT_PARAMS, REDUCER_BY_NAME, REDUCERS, Identity, _reducer
from spacesd.redact import MARK, redact
from spacesd.store import Changes

SECRETS = rc.secrets()
GOAL = 0.95  # of the secret corpus caught, in every context
FP_GOAL = 0.01  # of the ordinary lines touched, at most


def _rates(scrubber: Any) -> dict[str, float]:
    caught = dict.fromkeys(rc.CONTEXTS, 0)
    for i, secret in enumerate(SECRETS):
        for context, text in rc.contexts(secret, i).items():
            caught[context] += rc.caught(secret, scrubber(text))
    return {c: n / len(SECRETS) for c, n in caught.items()}


# -- the corpus, through the gate ------------------------------------------------------------


def test_corpus_is_large_and_varied() -> None:
    assert len(SECRETS) >= 300 and len({s.kind for s in SECRETS}) >= 100
    assert len(rc.ordinary()) >= 700


def test_corpus_secrets_say_they_are_examples() -> None:
    # Real formats, but each carries a marker (make_secrets.MARKERS): no one's credential.
    markers = ("EXAMPLE", "example", "FAKE", "fake", "deadbeef", "0000")
    assert all(any(m in s.value for m in markers) for s in SECRETS)


def test_gate_catches_the_corpus_in_every_context() -> None:
    rates = _rates(gate.scrub)
    assert all(rate >= GOAL for rate in rates.values()), rates


def test_gate_leaves_ordinary_text_alone() -> None:
    lines = rc.ordinary()
    touched = [line for line in lines if gate.scrub(line) != line]
    assert len(touched) / len(lines) < FP_GOAL, touched


def test_hook_rules_alone_do_most_of_it() -> None:
    # The hook's stdlib pass (no library, no entropy) is a first line, not the guarantee.
    rates = _rates(redact)
    assert min(rates.values()) >= 0.85, rates
    assert sum(redact(line) != line for line in rc.ordinary()) / len(rc.ordinary()) < FP_GOAL


def test_library_windows_find_what_the_whole_text_run_finds() -> None:
    # The library's detectors run only in windows around their probes' hits (for speed): on
    # every corpus secret in every context, padded with ordinary text on both sides so that a
    # window cannot be the whole text, they find exactly what running them over the whole
    # text finds. The keyword plugins are probed by their vendor's name on purpose (their
    # vendor-less `api_key = ...` is the assignment rules' and the entropy check's).
    lines = rc.ordinary()
    texts = []
    for i, secret in enumerate(SECRETS):
        pad_before = " ".join(lines[i % len(lines):i % len(lines) + 6])
        pad_after = " ".join(lines[(i * 7) % len(lines):(i * 7) % len(lines) + 6])
        texts += [f"{pad_before}\n{text}\n{pad_after}" for text in rc.contexts(secret, i).values()]
    texts.append("\n".join(lines))
    keyword = {"CloudantDetector", "IbmCloudIamDetector", "SoftlayerDetector"}
    found = 0
    for text in texts:
        lower = text.lower()
        for name, probes, before, patterns in gate._library_plugins():
            if name in keyword:
                continue
            windowed = gate._plugin_spans(text, patterns,
                                          gate._windows(probes, text, lower, before))
            assert windowed == gate._plugin_spans(text, patterns, [(0, len(text))]), (name, text)
            found += bool(windowed)
    assert found > len(SECRETS)  # the library finds something in many of them


def test_tokens_are_what_the_token_regex_finds() -> None:
    # The entropy check's candidates (`_tokens`, found with str.find over a blanked copy)
    # are exactly `_TOKEN`'s matches, on every corpus text, ASCII or not.
    texts = [*rc.ordinary(), "\n".join(rc.ordinary()), "é " + "\n".join(rc.ordinary()),
             "A" * 25 + "===" + "b" * 30 + "=", "x" * 19 + "=" + "y" * 20 + "==z" * 3]
    for i, secret in enumerate(SECRETS):
        texts += list(rc.contexts(secret, i).values())
    for text in texts:
        assert gate._tokens(text) == [m.span() for m in gate._TOKEN.finditer(text)], text


# -- the leaks the adversarial pass found (issue 11), each by name ---------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PASSWORD = "Tr0ub4dor&3-example"


def _gone(text: str, secret: str, kept: str = "") -> str:
    out = gate.scrub(text)
    assert secret not in out, out
    assert MARK in out and kept in out, out
    return out


def test_leak_assignment_after_a_note_prefix() -> None:
    _gone(f"Note: DB_PASSWORD={PASSWORD}", PASSWORD, "Note: DB_PASSWORD=")


def test_leak_assignment_after_an_env_prefix() -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4EXAMPLE0"
    _gone(f"env: GITHUB_TOKEN={token}", token, "env: GITHUB_TOKEN=")
    _gone("env: GITHUB_TOKEN=plain-words-but-a-token", "plain-words-but-a-token")


def test_leak_assignment_inside_another_value() -> None:
    _gone(f'docker run -e "DB_PASSWORD={PASSWORD}" app', PASSWORD, "DB_PASSWORD=")
    _gone(f"helm install x --set-string env=API_TOKEN={PASSWORD}", PASSWORD, "API_TOKEN=")


def test_leak_aws_configure_set() -> None:
    _gone(f"aws configure set aws_secret_access_key {AWS_SECRET}", AWS_SECRET,
          "aws configure set aws_secret_access_key ")
    _gone("aws configure set aws_secret_access_key hunter2example", "hunter2example")


def test_leak_curl_user_on_a_continued_line() -> None:
    text = f"curl -X POST https://api.example.com/v1 \\\n  -u deploy:{PASSWORD} \\\n  -d @x.json"
    out = _gone(text, PASSWORD, "-u deploy:")
    assert out.endswith("\\\n  -d @x.json")


def test_leak_account_key_in_a_connection_string() -> None:
    key = "Zm9vYmFyZXhhbXBsZWtleQ" + "EXAMPLE" * 9 + "=="
    text = f"DefaultEndpointsProtocol=https;AccountName=ex;AccountKey={key};EndpointSuffix=x.net"
    out = _gone(text, key, "AccountName=ex;AccountKey=")
    assert out.endswith(";EndpointSuffix=x.net")


def test_leak_slack_webhook_url() -> None:
    url_secret = "T00000000/B00000000/XXXXexampleXXXXXXXXXXXX"
    _gone(f"posting to https://hooks.slack.com/services/{url_secret} now", url_secret,
          "https://hooks.slack.com/services/")


def test_leak_kubectl_from_literal() -> None:
    _gone(f"kubectl create secret generic db --from-literal=password={PASSWORD}", PASSWORD,
          "--from-literal=password=")
    _gone(f"kubectl create secret generic db --from-literal=dsn={PASSWORD}", PASSWORD)


def test_leak_htpasswd_batch() -> None:
    _gone(f"htpasswd -b -c /etc/nginx/.htpasswd admin {PASSWORD}", PASSWORD,
          "htpasswd -b -c /etc/nginx/.htpasswd admin ")
    _gone(f"htpasswd -nb admin {PASSWORD}", PASSWORD, "htpasswd -nb admin ")


def test_leak_docker_password_stdin_fed_by_a_pipe() -> None:
    _gone(f"echo {PASSWORD} | docker login -u me --password-stdin ghcr.io", PASSWORD,
          "| docker login -u me --password-stdin ghcr.io")
    _gone(f"printf '%s' '{PASSWORD}' | docker login --password-stdin", PASSWORD)
    _gone(f"docker login --password-stdin <<< '{PASSWORD}'", PASSWORD)


@pytest.mark.parametrize("text", [
    "password = getpass.getpass()",
    "token = os.environ['GITHUB_TOKEN']",
    "password: Optional[str] = None",
    "self.password = password",
    'echo "$DOCKER_PASSWORD" | docker login --password-stdin',
    "aws configure set region eu-west-1",
    "kubectl create secret generic db --from-file=password=./password.txt",
])
def test_code_is_not_a_secret(text: str) -> None:
    assert gate.scrub(text) == text


# -- JSON documents (session summaries) ------------------------------------------------------


def test_json_summary_stays_valid_and_keeps_its_layout() -> None:
    summary = {"kind": "session_summary", "session_id": "s1", "task": "deploy",
               "commands": [f"export STRIPE_KEY={'sk_live_' + 'EXAMPLE' * 4}", "pytest -q"],
               "config": {"password": PASSWORD, "user": "admin"}, "tokens": {"input": 5},
               "note": 'quote " and \\ and ünïcode'}
    text = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
    out = gate.scrub(text)
    doc = json.loads(out)
    assert PASSWORD not in out and "sk_live_" not in out
    assert doc["config"] == {"password": MARK, "user": "admin"}
    assert doc["commands"] == [f"export STRIPE_KEY={MARK}", "pytest -q"]
    assert doc["note"] == summary["note"] and doc["tokens"] == {"input": 5}
    assert out == json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    clean = json.dumps({"a": "b", "n": [1, 2]}, indent=2)
    assert gate.scrub(clean) is clean or gate.scrub(clean) == clean


def test_json_with_a_truncated_private_key_does_not_swallow_later_strings() -> None:
    doc = {"a": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJ", "b": "keep me"}
    out = json.loads(gate.scrub(json.dumps(doc)))
    assert out == {"a": MARK, "b": "keep me"}


# -- every reducer's text, from the data model -----------------------------------------------


def test_text_params_come_from_the_model() -> None:
    assert REDUCER_BY_NAME["send_message"].text_params == (1,)
    assert REDUCER_BY_NAME["update_profile"].text_params == (0, 1, 2)
    assert REDUCER_BY_NAME["set_presence"].text_params == (1,)
    assert REDUCER_BY_NAME["create_thread"].text_params == (1,)
    assert REDUCER_BY_NAME["send_dm"].text_params == (1,)
    assert REDUCER_BY_NAME["join_server"].text_params == ()
    for r in REDUCERS:
        for i, (name, type_name) in enumerate(r.params):
            assert (i in r.text_params) == (type_name in ("String", "Option<String>")
                                            and name not in MACHINE_TEXT_PARAMS)


def test_an_idempotency_key_is_not_text() -> None:
    # A key is an identifier a program chose: scrubbing a random-looking one to [REDACTED]
    # would make two distinct writes one.
    keyed = _reducer("send_message_keyed", "key String; channel_id u64; content String")
    assert keyed.text_params == (2,)


@pytest.mark.parametrize("reducer", [r for r in REDUCERS if r.text_params])
def test_every_text_argument_of_every_reducer_is_scrubbed(reducer: Any) -> None:
    secret = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0EXAMPLEabcdefghij"
    args: list[Any] = [7] * len(reducer.params)
    for i in reducer.text_params:
        args[i] = f"see {secret} here"
    out = gate.scrub_args(reducer.name, args)
    for i in range(len(args)):
        if i in reducer.text_params:
            assert out[i] == f"see {MARK} here"
        else:
            assert out[i] == 7
    assert args[reducer.text_params[0]] == f"see {secret} here"  # the caller's list is kept


class _Recorder(Backend):
    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, JsonArgs]] = []

    @property
    def database(self) -> str:
        return "memory"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def _call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                    ) -> Changes:
        self.calls.append(("agent" if caller is None else caller.hex, reducer, args))
        return Changes()

    async def _call_as_owner(self, reducer: str, args: JsonArgs) -> Changes:
        self.calls.append(("owner", reducer, args))
        return Changes()


def test_backend_call_is_the_gate_for_every_backend() -> None:
    import asyncio

    from spacesd.daemon.embedded import EmbeddedBackend
    from spacesd.daemon.spacetimedb import SpacetimeBackend

    b = _Recorder()
    asyncio.run(b.call("send_message", [1, f"DB_PASSWORD={PASSWORD}", None, None, "Text"]))
    asyncio.run(b.call_as_owner("update_profile", [f"token={PASSWORD}", None, None]))
    session = Identity(7)
    asyncio.run(b.call("send_dm", [3, f"DB_PASSWORD={PASSWORD}"], caller=session))
    assert b.calls == [("agent", "send_message", [1, f"DB_PASSWORD={MARK}", None, None, "Text"]),
                       ("owner", "update_profile", [f"token={MARK}", None, None]),
                       # a live session's participant writes through the same gate
                       (session.hex, "send_dm", [3, f"DB_PASSWORD={MARK}"])]
    # Neither real backend has its own way around the gate.
    for cls in (EmbeddedBackend, SpacetimeBackend):
        assert cls.call is Backend.call and cls.call_as_owner is Backend.call_as_owner


# -- end to end: Stop hook -> daemon -> stored row, and `spacesd send` -----------------------

COMMAND_CHARS = 300  # spacesd.transcript.Limits.command_chars
TEXT_CHARS = 1900  # under Limits.text_chars (2000)


def _transcript_line(session: str, kind: str, content: Any, n: int) -> str:
    return json.dumps({
        "type": kind, "sessionId": session, "cwd": "/srv/app", "gitBranch": "main",
        "uuid": f"{session}-{n}", "timestamp": f"2026-11-30T10:00:{n % 60:02d}.000Z",
        "message": {"role": kind, "content": content, "id": f"msg-{session}-{n}",
                    "model": "claude-sonnet-4-5"},
    })


def _hook_runs(lines: list[str]) -> list[tuple[list[str], list[str]]]:
    """`lines` in batches for Stop hook runs: (bash commands, final message lines), each
    line whole in a field that holds it whole."""
    runs: list[tuple[list[str], list[str]]] = []
    commands: list[str] = []
    text: list[str] = []
    for line in lines:
        if len(line) <= COMMAND_CHARS and "\n" not in line and len(commands) < 20:
            commands.append(line)
        elif len(line) + sum(len(t) + 1 for t in text) <= TEXT_CHARS:
            text.append(line)
        else:
            runs.append((commands, text))
            commands, text = [], []
            if len(line) <= COMMAND_CHARS and "\n" not in line:
                commands.append(line)
            else:
                text.append(line)
        if len(commands) == 20 and sum(len(t) for t in text) > TEXT_CHARS // 2:
            runs.append((commands, text))
            commands, text = [], []
    if commands or text:
        runs.append((commands, text))
    return runs


def _run_stop_hook(env: SpacesEnv, tmp: Path, commands: list[str], text: list[str]) -> None:
    session = str(uuid.uuid4())
    lines = [_transcript_line(session, "user", "Ship the release.", 0)]
    for n, cmd in enumerate(commands, start=1):
        lines.append(_transcript_line(session, "assistant", [
            {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash",
             "input": {"command": cmd}}], n))
    transcript = tmp / f"{session}.jsonl"
    transcript.write_text("\n".join(lines) + "\n")
    stdin = json.dumps({"session_id": session, "transcript_path": str(transcript),
                        "cwd": "/srv/app", "hook_event_name": "Stop", "stop_hook_active": False,
                        "last_assistant_message": "\n".join(text)})
    res = subprocess.run([console_script("spaces-session-hook")], input=stdin.encode(),
                         env={**env.env, "SPACES_COOLDOWN": "0"}, capture_output=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout == b"", res


def _stored(d: ProcessDaemon, channel: str) -> list[str]:
    """The contents of the channel's Text and AgentEvent messages (not Join and the like)."""
    res = d.request("messages", channel=channel, limit=500)
    assert isinstance(res, Ok), res
    return [m["content"] for m in res.result if m["type"] in ("Text", "AgentEvent")]


def _raw_store(env: SpacesEnv) -> bytes:
    """Every byte the embedded backend holds (its SQLite files)."""
    return b"".join(p.read_bytes() for p in sorted(env.data_dir.rglob("*")) if p.is_file())


def _context_lines(context: str) -> list[tuple[rc.Secret, str]]:
    return [(s, rc.contexts(s, i)[context]) for i, s in enumerate(SECRETS)]


def _send_batches(lines: list[str]) -> list[str]:
    """`lines` joined into messages under the 4,000 characters a message may hold."""
    batches: list[str] = []
    batch: list[str] = []
    for line in lines:
        if batch and sum(len(b) + 1 for b in batch) + len(line) >= 3000:
            batches.append("\n".join(batch))
            batch = []
        batch.append(line)
    return [*batches, "\n".join(batch)] if batch else batches


def _through_hook(d: ProcessDaemon, env: SpacesEnv, tmp: Path, lines: list[str]) -> str:
    """`lines` posted by Stop hooks; what the new stored summaries hold."""
    before = len(_stored(d, "agent-logs"))
    runs = _hook_runs(lines)
    for commands, text in runs:
        _run_stop_hook(env, tmp, commands, text)
    summaries = [json.loads(c) for c in _stored(d, "agent-logs")[before:]]
    assert len(summaries) == len(runs)
    # every command made it into a summary whole (nothing was lost to a size cap)
    assert sum(len(s.get("commands") or []) for s in summaries) == sum(len(c) for c, _ in runs)
    return "\n".join([*(json.dumps(s, ensure_ascii=False) for s in summaries),
                      *(v for s in summaries for v in _values(s))])


def _through_send(d: ProcessDaemon, env: SpacesEnv, lines: list[str]) -> str:
    """`lines` sent with `spacesd send`; what the new stored messages hold."""
    before = len(_stored(d, "general"))
    batches = _send_batches(lines)
    for batch in batches:
        res = subprocess.run([console_script("spacesd"), "send", "general", "--", batch],
                             env=env.env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
    stored = _stored(d, "general")[before:]
    assert len(stored) == len(batches)
    return "\n".join(stored)


@pytest.mark.timeout(900)
def test_end_to_end_stop_hook_and_send(daemon_process: ProcessDaemon, spaces_env: SpacesEnv,
                                       tmp_path: Path) -> None:
    d = daemon_process.start()
    rates: dict[str, dict[str, float]] = {"hook": {}, "send": {}}
    missed: set[str] = set()
    for context in rc.CONTEXTS:
        pairs = _context_lines(context)
        lines = [text for _, text in pairs]
        # the Stop hook redacts first, then the daemon's gate; `spacesd send` hands the raw
        # text to the daemon, and only the gate stands between it and the database
        for path, found in (("hook", _through_hook(d, spaces_env, tmp_path, lines)),
                            ("send", _through_send(d, spaces_env, lines))):
            caught = [rc.caught(secret, found) for secret, _ in pairs]
            missed.update(secret.value for (secret, _), ok in zip(pairs, caught, strict=True)
                          if not ok)
            rates[path][context] = sum(caught) / len(pairs)
    print(f"\nend to end, Stop hook: {rates['hook']}\nend to end, spacesd send: {rates['send']}")
    for path_rates in rates.values():
        assert all(rate >= GOAL for rate in path_rates.values()), rates
    # The database's own files hold no secret beyond those the stored rows show.
    raw = _raw_store(spaces_env)
    assert {s.value for s in SECRETS if s.value.encode() in raw} <= missed


def _values(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in _values(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _values(x)]
    return []


@pytest.mark.parametrize("text", [
    "aA1" * 5000, "a_" * 5000, "-" * 10000, "x=" * 5000, "token" * 2000, "key-" * 3000,
    "https://" * 1000 + "@", "eyJ" * 3000, "sk-" * 3000, "A" * 20000, "Ab1/" * 4000,
    '{"a": "' + "password=x " * 1500 + '"}', "[" + ",".join(['"k"'] * 3000) + "]",
    "1//0" * 3000, ".atlasv1." * 1000, "-us1" * 3000, ":AA" * 3000, "echo x | " * 1000,
])
def test_gate_time_is_linear_on_adversarial_input(text: str) -> None:
    import time

    t0 = time.perf_counter()
    gate.scrub(text)
    assert time.perf_counter() - t0 < 1.0
