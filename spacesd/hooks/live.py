"""The live hooks' pending path: hand a running session its inbox, exactly once.

Started by the C fast path (`spaces-hook`, spacesd/hooks/spaces-hook.c) only when the daemon's
marker says this session has something pending, or directly by the agent's hook for the
presence events and where no compiler built the helper, as

    python -I -S -c "<boot>" PKGDIR EVENT AGENT [SESSION]

EVENT (what the agent's hook point is): `post` (after a tool: Claude PostToolUse, Codex
PostToolUse, Gemini AfterTool), `batch` (Claude PostToolBatch), `pre` (before a tool),
`prompt` (turn start: UserPromptSubmit, Gemini BeforeAgent), `stop` (turn end: Stop, Gemini
AfterAgent), `start` (SessionStart), `notify` (Notification, Codex PermissionRequest), `end`
(SessionEnd), `wake` (Claude Code's asyncRewake Stop waiter, section 8) and `summary` (the
session summary of Stop / AfterAgent / SessionEnd: spacesd.hooks.session, detached) and
`context` (SessionStart's peer context: spacesd.hooks.context, ~20 ms sooner than its console
script, which imports `site`). AGENT is
`claude`, `codex` or `gemini`.

What the client need not wait for runs detached from it (the C helper forks it off:
SPACES_DETACHED=1; the summary detaches itself when started without the helper): presence
with nothing to deliver, and the summary, which may wait seconds for the client's transcript
to settle. Detached presence runs may reach the daemon out of order, so each carries the
time the client ran the hook (SPACES_HOOK_AT, ns) and one older than the session's last
applied presence is dropped (`in_order`): the newest state wins.

One run (docs/live-coordination.md, 6.2 and 7.4):
1. read stdin; the session id from the agent's own variable, else the payload (checked
   `[A-Za-z0-9_-]{1,64}`);
2. presence events tell the daemon (`session_event`);
3. delivery points ask `inbox_claim{session, point, budget}` (0.8 s in all) and, with text,
   print the agent's JSON for that event, flush, and only then `inbox_ack{claim}`; a daemon
   gone at that moment gets the ack spooled on disk (`paths.acks_dir()`), applied by the
   daemon before it serves any claim. Output not written (stdout closed, a kill) is never
   acked: the items stay pending for the next hook point.
Whatever happens the exit status is 0 and nothing but the agent's JSON reaches stdout
(the waiter: 2 with the text on stderr when it has items, to wake the session).
"""

from __future__ import annotations

import json
import os
import sys
import time

from spacesd import ipc, paths
from spacesd.hooks import CONNECT_TIMEOUT, HOOK_TIMEOUT, env_float, lease, log, read_input

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HOOK = "spaces-live-hook"
BUDGET = 2000
WAIT_MAX_S = 600
"""The daemon's longest `wait`; the waiter asks again until its own limit."""
MAX_CONTINUATIONS = 2
"""Turn-end continuations per user turn and session (5.1): agents answering each other must
not keep each other running for ever."""
MAX_WAKES = 3
"""Wake-ups of an idle session by the waiter per user turn (8): each starts a turn the agent
spends on peers' messages without its person; two agents answering each other's DMs would
otherwise wake each other for ever. At the cap the waiter exits at once and the items wait
for the person's next prompt (the sender's receipt stays Queued)."""
AGENTS = ("claude", "codex", "gemini")
DELIVERY = ("post", "batch", "pre", "prompt", "stop", "start")
PRESENCE = ("start", "prompt", "notify", "stop", "end")
SESSION_ENV = {"claude": "CLAUDE_CODE_SESSION_ID", "gemini": "GEMINI_SESSION_ID"}
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def valid_session(value: object) -> bool:
    return (isinstance(value, str) and 1 <= len(value) <= 64
            and all(c in _ID_CHARS for c in value))


def session_of(agent: str, data: dict[str, Any]) -> str | None:
    """The session id: the agent's own variable (it overrides one inherited from a parent
    session), else the payload's `session_id`; None when missing or malformed."""
    var = SESSION_ENV.get(agent)
    sid: object = os.environ.get(var, "") if var else ""
    if not sid:
        sid = data.get("session_id")
    return sid if isinstance(sid, str) and valid_session(sid) else None


def pending(session: str) -> bool:
    """The fast path's inbox test, for runs that did not come through the C helper (the
    lease marker is `lease.lease_marked`)."""
    return os.path.exists(paths.live_dir() / f"{session}.inbox")


# ----------------------------------------------------------------- the agents' output shapes


def _specific(event_name: str, text: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": event_name, "additionalContext": text}}


def claude_output(event: str, text: str, deny: str | None = None) -> dict[str, Any] | None:
    """Claude Code 2.1.328: additionalContext on every delivery point (Stop's continues the
    conversation); a PreToolUse interrupt denies the tool with the reason."""
    if event == "pre" and deny:
        out = _specific("PreToolUse", text)
        out["hookSpecificOutput"].update(permissionDecision="deny",
                                         permissionDecisionReason=deny)
        return out
    name = {"post": "PostToolUse", "batch": "PostToolBatch", "pre": "PreToolUse",
            "prompt": "UserPromptSubmit", "stop": "Stop", "start": "SessionStart"}.get(event)
    return _specific(name, text) if name else None


def codex_output(event: str, text: str, deny: str | None = None) -> dict[str, Any] | None:
    """Codex 0.169.0: additionalContext on PostToolUse, PreToolUse, UserPromptSubmit and
    SessionStart; Stop has none, `decision: block` + `reason` continues the turn instead."""
    if event == "stop":
        return {"decision": "block", "reason": text}
    if event == "pre" and deny:
        out = _specific("PreToolUse", text)
        out["hookSpecificOutput"].update(permissionDecision="deny",
                                         permissionDecisionReason=deny)
        return out
    name = {"post": "PostToolUse", "pre": "PreToolUse", "prompt": "UserPromptSubmit",
            "start": "SessionStart"}.get(event)
    return _specific(name, text) if name else None


def gemini_output(event: str, text: str, deny: str | None = None) -> dict[str, Any] | None:
    """Gemini CLI 0.61.0: additionalContext on AfterTool, BeforeAgent and SessionStart;
    AfterAgent `decision: deny` + `reason` is a new prompt; BeforeTool only denies."""
    if event == "stop":
        return {"decision": "deny", "reason": text}
    if event == "pre":
        return {"decision": "deny", "reason": f"{deny}\n\n{text}"} if deny else None
    name = {"post": "AfterTool", "prompt": "BeforeAgent", "start": "SessionStart"}.get(event)
    return _specific(name, text) if name else None


OUTPUTS: dict[str, Callable[[str, str, str | None], dict[str, Any] | None]] = {
    "claude": claude_output, "codex": codex_output, "gemini": gemini_output}


def can_deliver(agent: str, event: str) -> bool:
    """Whether `agent` has an output for `event` (Gemini's BeforeTool has no context)."""
    return OUTPUTS[agent](event, "x", None) is not None


# ------------------------------------------------------------------------- turn-end caps


def _cont_file(session: str, kind: str = "cont") -> str:
    return str(paths.state_dir() / "live" / f"{session}.{kind}")


def continuations(session: str, kind: str = "cont") -> int:
    """Turn-end continuations (`cont`) or wake-ups (`wakes`) since the last user turn."""
    return int(_counter(session, kind)[0])


def _counter(session: str, kind: str) -> tuple[int, str]:
    """(count, note): the file holds `COUNT[ NOTE]` (a wake-up's note: its fence nonce)."""
    try:
        with open(_cont_file(session, kind), "rb") as f:
            count, _, note = f.read(64).decode("ascii").partition(" ")
            return int(count or "0"), note.strip()
    except (OSError, ValueError):
        return 0, ""


def woken_turn(session: str, data: dict[str, Any]) -> bool:
    """Whether this UserPromptSubmit is the turn the waiter's wake-up started (Claude Code
    2.1.328 queues the waiter's text as the turn's prompt and runs UserPromptSubmit for it):
    its prompt holds the last wake-up's fence. Such a turn is no user turn: the caps hold."""
    nonce = _counter(session, "wakes")[1]
    prompt = data.get("prompt")
    return bool(nonce) and isinstance(prompt, str) and f"[spaces {nonce}]" in prompt


def set_continuations(session: str, count: int, kind: str = "cont", note: str = "") -> None:
    path = _cont_file(session, kind)
    try:
        if count <= 0:
            os.unlink(path)
            return
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{count} {note}" if note else str(count))
        os.replace(tmp, path)
    except OSError:
        pass


# --------------------------------------------------------------------------- the daemon


_CLIENT: ipc.Client | None = None


def _client() -> ipc.Client:
    """One connection for a run's claim and ack (the ack then costs one write)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = ipc.Client(timeout=HOOK_TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    return _CLIENT


def _call(op: str, args: dict[str, Any], timeout: float = HOOK_TIMEOUT) -> Any:
    res = _client().request(op, args, timeout=timeout)
    if isinstance(res, ipc.Err):
        raise ipc.IpcError(res.code, res.message)
    return res.result


def client_pid() -> int:
    """The agent process: CLAUDE_PID, else the first ancestor that is not a shell."""
    raw = os.environ.get("CLAUDE_PID", "")
    if raw.isdigit():
        return int(raw)
    pid = os.getppid()
    for _ in range(4):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read(1024)
        except OSError:
            return pid
        name = stat[stat.find(b"(") + 1: stat.rfind(b")")]
        if name not in (b"sh", b"bash", b"dash", b"zsh", b"fish", b"ksh"):
            return pid
        pid = int(stat[stat.rfind(b")") + 2:].split()[1])
    return pid


def one_shot() -> bool:
    """Claude Code run as `claude -p PROMPT` (print mode without stream-json input): it ends
    after the turn, and waits for an asyncRewake hook before it exits — a waiter there would
    hold the process for its whole timeout. Read from the client's command line (CLAUDE_PID)."""
    pid = os.environ.get("CLAUDE_PID", "")
    if not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read(65536).split(b"\0")
    except OSError:
        return False
    printing = any(a in (b"-p", b"--print") for a in argv)
    streaming = b"--input-format=stream-json" in argv or any(
        argv[i] == b"--input-format" and argv[i + 1] == b"stream-json"
        for i in range(len(argv) - 1))
    return printing and not streaming


def can_wake(agent: str) -> bool:
    """Whether `spacesd hooks install` wired a waiter for `agent` (spacesd/livesetup.py) and
    this session can be woken at all (not a one-shot `claude -p`)."""
    if agent == "claude" and one_shot():
        return False
    try:
        with open(paths.data_dir() / "live-wiring.json", "rb") as f:
            wired = json.loads(f.read(65536))
        return bool(wired[agent]["can_wake"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


EVENT_NAMES = {
    "claude": {"start": "SessionStart", "prompt": "UserPromptSubmit", "notify": "Notification",
               "stop": "Stop", "end": "SessionEnd"},
    "codex": {"start": "SessionStart", "prompt": "UserPromptSubmit",
              "notify": "PermissionRequest", "stop": "Stop", "end": "SessionEnd"},
    "gemini": {"start": "SessionStart", "prompt": "BeforeAgent", "notify": "Notification",
               "stop": "AfterAgent", "end": "SessionEnd"},
}
"""The client's event name for each presence point (when the payload lacks it)."""


_ORDER_FD: int | None = None


def in_order(session: str) -> bool:
    """Whether this presence run is the session's newest: takes the session's presence lock
    (held until the process exits, so the runs reach the daemon one at a time) and compares
    SPACES_HOOK_AT with the last applied one. Without a time (no helper), always True."""
    global _ORDER_FD
    raw = os.environ.get("SPACES_HOOK_AT", "")
    if not raw.isdigit():
        return True
    import fcntl

    path = paths.state_dir() / "live" / f"{session}.at"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    _ORDER_FD = fd
    fcntl.flock(fd, fcntl.LOCK_EX)
    last = os.read(fd, 32).strip()
    if last.isdigit() and int(last) > int(raw):
        return False
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, raw.encode())
    return True


def presence(agent: str, event: str, session: str, data: dict[str, Any]) -> None:
    """`session_event`: registers the session the first time, then its presence."""
    if not in_order(session):
        return  # a newer event of this session was told already
    name = data.get("hook_event_name")
    args: dict[str, Any] = {
        "session": session, "agent": agent, "pid": client_pid(),
        "event": name if isinstance(name, str) and name else EVENT_NAMES[agent][event]}
    if event == "start":
        args["can_wake"] = can_wake(agent)
    for key in ("cwd", "notification_type"):
        if isinstance(data.get(key), str):
            args[key] = data[key]
    try:
        _call("session_event", args)
    except ipc.IpcError as e:
        log(HOOK, f"session_event: {e.code}: {e.message}", session_id=session)


def ack(claim: str, ids: list[Any], session: str) -> None:
    """`inbox_ack` as one frame on the claim's connection, not waited for (6.2): the daemon
    acts on it whether or not this process is still there to read the answer. Spooled on
    disk when it cannot be written."""
    err = _client().send("inbox_ack", {"claim": claim, "session": session, "ids": ids})
    if err is not None:
        from spacesd import outbox  # only on this rare path: not an import every hook pays

        outbox.spool_ack(claim, session, [int(i) for i in ids])


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to `fd` (raises OSError when it cannot: nothing is acked then)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def claim(session: str, point: str, budget: int, transcript: Any = None
          ) -> dict[str, Any] | None:
    """The daemon's claim {claim, text, ids, ...}, or None when there is nothing to deliver.
    transcript: Gemini's session file (it uses a killed hook's output: the daemon looks
    there for the text of a claim that lapsed)."""
    args: dict[str, Any] = {"session": session, "point": point, "budget": budget}
    if isinstance(transcript, str) and transcript:
        args["transcript"] = transcript
    try:
        got = _call("inbox_claim", args)
    except ipc.IpcError as e:
        if e.code != "unreachable":
            log(HOOK, f"inbox_claim: {e.code}: {e.message}", session_id=session)
        return None
    if not isinstance(got, dict) or not got.get("claim") or not isinstance(got.get("text"), str):
        return None
    if not got["text"] or not isinstance(got.get("ids"), list):
        return None
    return got


def deliver(agent: str, event: str, session: str, data: dict[str, Any]) -> None:
    """Claim, print the agent's JSON, flush, ack (6.2)."""
    if not can_deliver(agent, event):
        return
    if event == "stop":
        count = continuations(session) if data.get("stop_hook_active") else 0
        if count >= MAX_CONTINUATIONS:
            return  # the items wait for the next turn
    budget = int(env_float("SPACES_LIVE_BUDGET", BUDGET)) or BUDGET
    got = claim(session, event, budget,
                data.get("transcript_path") if agent == "gemini" else None)
    if got is None:
        return
    deny = got.get("deny") if isinstance(got.get("deny"), str) else None
    out = OUTPUTS[agent](event, got["text"], deny)
    if out is None:
        return
    write_all(1, (json.dumps(out, ensure_ascii=False) + "\n").encode("utf-8"))
    if event == "stop":
        set_continuations(session, count + 1)
    ack(str(got["claim"]), list(got["ids"]), session)


def wake(session: str) -> int:
    """Claude Code's asyncRewake Stop waiter (section 8): wait on the daemon (pushed) until
    an item arrives, then claim, write the text to stderr, ack and exit 2 — which wakes the
    session. Nothing (a turn began, a newer waiter, the daemon away, a timeout, a one-shot
    `claude -p` that only waits for this hook to end): exit 0."""
    if one_shot():
        return 0
    wakes = continuations(session, "wakes")
    if wakes >= MAX_WAKES:
        return 0  # woken enough since the person's last prompt: the items wait for it
    deadline = time.monotonic() + env_float("SPACES_WAKE_TIMEOUT", 86000.0)
    while True:
        left = int(min(WAIT_MAX_S, deadline - time.monotonic()))
        if left <= 0:
            return 0
        try:
            got = _call("wait", {"session": session, "timeout": left}, timeout=left + 5)
        except ipc.IpcError as e:
            if e.code not in ("unreachable", "timeout", "disconnected"):
                log(HOOK, f"wait: {e.code}: {e.message}", session_id=session)
            return 0
        if not isinstance(got, dict) or got.get("cancel"):
            return 0
        if got.get("pending"):
            break
    found = claim(session, "wake", int(env_float("SPACES_LIVE_BUDGET", BUDGET)) or BUDGET)
    if found is None:
        return 0
    write_all(2, (found["text"] + "\n").encode("utf-8"))
    nonce = found.get("nonce")
    set_continuations(session, wakes + 1, "wakes",
                      nonce if isinstance(nonce, str) and nonce.isalnum() else "")
    ack(str(found["claim"]), list(found["ids"]), session)
    return 2


def _args() -> tuple[str, str, str]:
    """EVENT AGENT [SESSION] after the boot's PKGDIR (argv[0] is '-c' or a script)."""
    rest = sys.argv[2:] if sys.argv[:1] == ["-c"] else sys.argv[1:]
    event = rest[0] if rest else ""
    agent = rest[1] if len(rest) > 1 else ""
    return event, agent, rest[2] if len(rest) > 2 else ""


def run_hook(event: str, agent: str, given: str) -> int:
    if agent not in AGENTS or event not in (*DELIVERY, *PRESENCE, "wake", "summary", "context"):
        log(HOOK, f"unknown event or agent: {event!r} {agent!r}")
        return 0
    if event == "summary":
        from spacesd.hooks import session as summary

        return summary.main_detached()
    if event == "context":  # spaces-context-hook, started without `site` (-I -S)
        from spacesd.hooks import context

        return context.main()
    data = read_input(HOOK) or {}
    session = given if valid_session(given) else session_of(agent, data)
    if session is None:
        log(HOOK, f"{event}: no valid session id")
        return 0
    if event == "wake":
        return wake(session)
    if event == "prompt" and not woken_turn(session, data):
        set_continuations(session, 0)  # a user turn: the caps start again
        set_continuations(session, 0, "wakes")
    if event in PRESENCE:
        presence(agent, event, session, data)
    if event == "pre" and lease.lease_marked(session):
        conflicts = lease.check(session, data)
        if conflicts:  # refused: the inbox waits for the next hook point
            out = lease.decision(agent, conflicts, lease.mode())
            write_all(1, (json.dumps(out, ensure_ascii=False) + "\n").encode("utf-8"))
            return 0
    if event in DELIVERY and pending(session):
        deliver(agent, event, session, data)
    return 0


def hold_std_fds() -> None:
    """A stdin, stdout or stderr the client closed is held by /dev/null opened read-only: so
    no socket or file the hook opens takes that number (a delivery written to "stdout" would
    go into the daemon's socket, and be acked), and a write to it fails (nothing is acked)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_RDONLY)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)


def main() -> None:
    """Entry point: never raises, exits 0 (2 only for a waiter that has items)."""
    code = 0
    try:
        hold_std_fds()
        code = run_hook(*_args())
    except BaseException as e:
        log(HOOK, f"{type(e).__name__}: {e}")
    os._exit(code)  # no flush at exit: everything was written with os.write
