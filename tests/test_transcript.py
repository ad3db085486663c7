"""spacesd.transcripts: the readers, on the Claude Code, Codex and Gemini CLI fixtures and on
hostile input."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from spacesd.transcripts import MAX_LINE, cut, summarize
from spacesd.transcripts.claude import ClaudeSummarizer as Summarizer
from spacesd.transcripts.codex import CodexSummarizer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "claude-code"
TRANSCRIPT = FIXTURES / "transcript.jsonl"
CWD = "/home/dev/src/acme-api"


def line(**kw: Any) -> str:
    return json.dumps(kw) + "\n"


def user(text: Any, **kw: Any) -> str:
    return line(type="user", message={"role": "user", "content": text}, **kw)


def assistant(mid: str, blocks: Any, usage: dict[str, Any] | None = None,
              **kw: Any) -> str:
    msg: dict[str, Any] = {"id": mid, "role": "assistant", "model": "claude-x", "content": blocks}
    if usage is not None:
        msg["usage"] = usage
    return line(type="assistant", message=msg, **kw)


def bash(tid: str, cmd: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": cmd}}


def result(tid: str, text: str, is_error: bool = False) -> str:
    return user([{"type": "tool_result", "tool_use_id": tid, "content": text,
                  "is_error": is_error}])


def test_fixture_summary() -> None:
    s = summarize(TRANSCRIPT, cwd=CWD)
    assert s["task"] == (
        "The /v1/orders endpoint returns 500 under load. Find out why and fix it; "
        "keep the tests green."
    )
    assert s["files"] == ["app/ratelimit.py", "tests/test_ratelimit.py"]
    assert s["commands"] == [
        "pytest tests/test_orders.py -x -q",
        "pytest -q",
        "git commit -am 'Make TokenBucket.take atomic'",
    ]
    assert s["commands_total"] == 3
    assert s["failed_commands"] == ["pytest tests/test_orders.py -x -q"]
    assert s["tests"] == [
        {"command": "pytest tests/test_orders.py -x -q", "result": "1 failed, 1 passed in 0.84s",
         "ok": False},
        {"command": "pytest -q", "result": "8 passed in 1.92s", "ok": True},
    ]
    assert any("8 passed" in t["result"] for t in s["tests"])
    assert s["commits"] == [
        {"hash": "3e1f2a9", "branch": "fix/rate-limit", "message": "Make TokenBucket.take atomic"}
    ]
    assert s["git_branch"] == "fix/rate-limit"
    assert s["cwd"] == CWD
    assert s["started_at"] == "2026-11-20T09:00:07.259Z"
    assert s["ended_at"] == "2026-11-20T09:01:59.403Z"
    assert s["duration_s"] == pytest.approx(112.144)  # 09:00:07.259 -> 09:01:59.403
    assert s["model"] == "claude-sonnet-4-5"
    assert s["prompts"] == 1
    assert s["last_text"].startswith("Fixed: `TokenBucket.take` is now atomic")
    assert s["partial"] is False and s["bad_lines"] == 0 and s["lines"] == 18


def test_fixture_tokens_once_per_message_id() -> None:
    # By hand, one usage per message id (msg_01A is on 3 lines, msg_01C on 2):
    #   id       input  output  cache_read
    #   msg_01A    812      96     14210
    #   msg_01B   1203     210     15022
    #   msg_01C   1650     388     16110
    #   msg_01D   1702     301     16500
    #   msg_01E   1750     120     16900
    #   msg_01F   1801     160     17000
    #   msg_01G   1850      95     17100
    #   total    10768    1370    112842     cache_creation 0 throughout
    s = summarize(TRANSCRIPT, cwd=CWD)
    assert s["tokens"] == {"input": 10768, "output": 1370, "cache_read": 112842,
                           "cache_creation": 0}
    # Counting every line instead would have said 812*2 + 1650 more input tokens.
    naive = 0
    for raw in TRANSCRIPT.read_text().splitlines():
        obj = json.loads(raw)
        if obj.get("type") == "assistant":
            naive += obj["message"]["usage"]["input_tokens"]
    assert naive == 10768 + 2 * 812 + 1650


def test_streaming_usage_takes_the_largest_value_per_id() -> None:
    s = Summarizer()
    s.feed_line(assistant("m1", [{"type": "text", "text": "a"}], {"input_tokens": 5,
                                                                   "output_tokens": 1}))
    s.feed_line(assistant("m1", [{"type": "text", "text": "b"}], {"input_tokens": 5,
                                                                   "output_tokens": 40}))
    s.feed_line(assistant("m2", [], {"input_tokens": 7, "output_tokens": 2,
                                     "cache_creation_input_tokens": 3}))
    assert s.result()["tokens"] == {"input": 12, "output": 42, "cache_read": 0,
                                    "cache_creation": 3}


def test_skips_what_it_does_not_understand(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    lines = [
        "not json at all\n",
        "[1, 2, 3]\n",
        '{"type": "user", "message": "a string, not an object"}\n',
        line(type="system", subtype="init", content="x"),
        line(type="queue-operation", operation="enqueue"),
        line(type="attachment", attachment={"type": "image"}),
        line(type="summary", summary="s", leafUuid="u"),
        user("<command-name>/clear</command-name>\n<command-message>clear</command-message>"),
        user("<local-command-stdout></local-command-stdout>"),
        user("Caveat: The messages below were generated by the user while running local "
             "commands."),
        user("meta text", isMeta=True),
        user("side prompt", isSidechain=True),
        user([{"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
              {"type": "text", "text": "Add a --dry-run flag"},
              {"type": "image", "source": {"type": "base64", "data": "AAAA"}}]),
        user("second prompt"),
        assistant("m1", [{"type": "tool_use", "id": "t1", "name": "MultiEdit",
                          "input": {"file_path": "/elsewhere/x.py", "edits": []}},
                         {"type": "tool_use", "id": "t2", "name": "NotebookEdit",
                          "input": {"notebook_path": "/p/nb.ipynb"}},
                         {"type": "tool_use", "id": "t3", "name": "Read",
                          "input": {"file_path": "/p/read-only.py"}},
                         {"type": "weird_block"}, "not a block"],
                  {"input_tokens": "many"}),
        assistant("m2", "content as a string"),
        '{"type": "assistant", "message": {"content": [{"type": "tool_use", "name": 5}]}}\n',
        '{"truncated": \n',
        "\n",
    ]
    p.write_text("".join(lines))
    s = summarize(p, cwd="/p")
    assert s["task"] == "Add a --dry-run flag"
    assert s["prompts"] == 2
    assert s["files"] == ["/elsewhere/x.py", "nb.ipynb"]
    assert s["tokens"] == {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
    assert s["bad_lines"] == 3  # two bad JSON lines and one non-object


def test_a_line_nested_too_deep_for_the_parser_is_skipped(tmp_path: Path) -> None:
    # json.loads raises RecursionError (not ValueError) past ~1000 levels: such a line (well
    # under MAX_LINE) must not cost the whole summary.
    p = tmp_path / "t.jsonl"
    deep = "[" * 100_000 + "]" * 100_000 + "\n"
    p.write_text(user("fix the parser") + deep + '{"a": ' * 50_000 + "\n" + user("again"))
    s = summarize(p)
    assert s["task"] == "fix the parser" and s["prompts"] == 2
    assert s["bad_lines"] == 2


def test_failed_commands_tests_and_commits(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    rows = [
        user("go"),
        assistant("a1", [bash("b1", "make build")]),
        result("b1", "Exit code 2\nmake: *** [build] Error 2"),
        assistant("a2", [bash("b2", "cargo test")]),
        result("b2", "running 8 tests\ntest result: ok. 8 passed; 0 failed; 0 ignored; "
               "0 measured; 0 filtered out; finished in 0.01s\n"),
        assistant("a3", [bash("b3", "npx jest")]),
        result("b3", "Tests:       1 failed, 7 passed, 8 total\nTime: 2s", is_error=True),
        assistant("a4", [bash("b4", "go test ./...")]),
        result("b4", "ok  \texample.com/acme/api\t0.012s\nFAIL\texample.com/acme/db\t0.100s"),
        assistant("a5", [bash("b5", "python -m unittest")]),
        result("b5", "........\n------\nRan 8 tests in 0.010s\n\nOK\n"),
        assistant("a6", [bash("b6", "git add -A && git commit -m 'Initial import'")]),
        result("b6", "[main (root-commit) 0a1b2c3d] Initial import\n 3 files changed"),
        assistant("a7", [bash("b7", "echo ok")]),
        result("b7", "Exit code 0\nok"),
        assistant("a8", [bash("b8", "git log --oneline -1")]),
        result("b8", "[main 1234567] not a commit run"),
    ]
    p.write_text("".join(rows))
    s = summarize(p)
    assert s["failed_commands"] == ["make build", "npx jest"]
    tests = {t["command"]: (t["result"], t["ok"]) for t in s["tests"]}
    assert tests["cargo test"][1] is True and "8 passed; 0 failed" in tests["cargo test"][0]
    assert tests["npx jest"] == ("Tests: 1 failed, 7 passed, 8 total", False)
    assert tests["go test ./..."][1] is False
    assert tests["python -m unittest"] == ("Ran 8 tests in 0.010s OK", True)
    assert s["commits"] == [{"hash": "0a1b2c3d", "branch": "main", "message": "Initial import"}]
    assert s["commands_total"] == 8


def test_lists_and_strings_are_capped() -> None:
    s = Summarizer()
    s.feed_line(user("x" * 10_000))
    for i in range(500):
        s.feed_line(assistant(f"m{i}", [bash(f"t{i}", f"cmd {i} " + "y" * 1000),
                                        {"type": "tool_use", "id": f"w{i}", "name": "Write",
                                         "input": {"file_path": f"/f/{i}.py"}}]))
        s.feed_line(result(f"t{i}", f"{i} passed in 1.0s", is_error=i % 2 == 0))
    r = s.result()
    assert len(r["task"]) <= 1000
    assert len(r["commands"]) == 25 and all(len(c) <= 300 for c in r["commands"])
    assert r["commands_total"] == 500
    assert len(r["files"]) == 40
    assert len(r["failed_commands"]) == 10
    assert len(r["tests"]) == 10 and r["tests"][-1]["result"] == "499 passed in 1.0s"
    assert len(s._open_tools) == 0


def test_cut_never_keeps_half_a_word() -> None:
    assert cut("short", 10) == "short"
    assert cut("export T=sk-ant-abcdefghijklmnopqrstuvwxyz now", 20) == "export…"
    assert cut("one two three", 8) == "one two…"
    assert cut("one two three", 7) == "one…"


def test_overlong_lines_are_skipped_not_held(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    with p.open("w") as f:
        f.write(user("first"))
        f.write(user([{"type": "image", "source": {"data": "A" * (MAX_LINE * 3)}}]))
        f.write(user("second"))
    s = summarize(p)
    assert s["task"] == "first" and s["prompts"] == 2
    assert s["skipped_lines"] == 1


def _big_transcript(p: Path, n_middle: int) -> None:
    with p.open("w") as f:
        f.write(user("THE TASK", timestamp="2026-11-20T08:00:00Z", gitBranch="main", cwd="/p"))
        f.write(assistant("h1", [bash("hb", "early-command")], {"input_tokens": 1},
                          timestamp="2026-11-20T08:00:01Z"))
        for i in range(n_middle):
            f.write(assistant(f"mid{i}", [bash(f"m{i}", f"middle {i}"),
                                          {"type": "text", "text": "z" * 2000}],
                              {"input_tokens": 1}, timestamp="2026-11-20T09:00:00Z"))
            f.write(result(f"m{i}", "out " * 500))
        f.write(assistant("z1", [{"type": "tool_use", "id": "e", "name": "Edit",
                                  "input": {"file_path": "/p/late.py"}},
                                 {"type": "text", "text": "THE END"}], {"input_tokens": 1},
                          timestamp="2026-11-20T10:00:00.5Z", gitBranch="feature"))


def test_huge_file_reads_head_and_tail_only(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    _big_transcript(p, 3000)  # ~13 MB
    size = p.stat().st_size
    tracemalloc.start()
    s = summarize(p, full_limit=4 << 20, head_bytes=256 << 10, tail_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert s["partial"] is True and s["skipped_bytes"] > size // 2
    assert s["task"] == "THE TASK"
    assert s["commands"][0] == "early-command"
    assert s["files"] == ["late.py"]
    assert s["last_text"] == "THE END"
    assert s["git_branch"] == "feature"
    assert s["duration_s"] == pytest.approx(7200.5)
    assert 0 < s["tokens"]["input"] < 3000  # the windows' usage only
    assert peak < 8 << 20, f"peak {peak} bytes"


def test_full_read_memory_stays_bounded(tmp_path: Path) -> None:
    p = tmp_path / "mid.jsonl"
    _big_transcript(p, 3000)
    tracemalloc.start()
    s = summarize(p)  # under the default full_limit: read whole, streaming
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert s["partial"] is False
    assert s["tokens"]["input"] == 3002
    assert s["commands_total"] == 3001
    assert peak < 8 << 20, f"peak {peak} bytes"


@pytest.mark.parametrize(
    "text",
    ["\n" * 60000, " \n" * 30000, "\r\n" * 30000, "= " * 30000, "1 passed, " * 6000,
     "Tests: " + "1 a, " * 6000, "ok " * 20000, "[main abc1234] " * 4000,
     "Ran 1 tests in 1s\n" * 4000, "Exit code " * 6000],
)
def test_result_scanning_is_linear(text: str) -> None:
    s = Summarizer()
    s.feed_line(assistant("m", [bash("b", "git -C -C " * 30 + "x")]))
    s.feed_line(assistant("m2", [bash("c", "pytest")]))
    t0 = time.perf_counter()
    s.feed_line(result("b", text))
    s.feed_line(result("c", text))
    assert time.perf_counter() - t0 < 0.5


# -- Codex CLI rollouts ----------------------------------------------------------------------

CODEX_ROLLOUT = next((Path(__file__).parent / "fixtures" / "codex").glob("rollout-*.jsonl"))


def rl(kind: str, payload: dict[str, Any], ts: str = "2026-11-25T09:00:00.000Z") -> str:
    """One RolloutLine: {"timestamp", "type", "payload"}."""
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}) + "\n"


def call(name: str, args: dict[str, Any], call_id: str) -> str:
    return rl("response_item", {"type": "function_call", "name": name,
                                "arguments": json.dumps(args), "call_id": call_id})


def output(call_id: str, text: Any) -> str:
    return rl("response_item", {"type": "function_call_output", "call_id": call_id,
                                "output": text})


def codex(lines: list[str]) -> dict[str, Any]:
    s = CodexSummarizer()
    for ln in lines:
        s.feed_line(ln)
    return s.result()


def test_codex_fixture_summary() -> None:
    s = summarize(CODEX_ROLLOUT, cwd=CWD)
    assert s["format"] == "codex"
    # The first typed prompt: not the developer message, AGENTS.md or <environment_context>.
    assert s["task"] == (
        "Orders sometimes hang for minutes when the payments upstream is slow. Give the "
        "upstream client a timeout, add a test for it, and commit.")
    assert s["prompts"] == 2  # event user_message lines, not the response_item copies too
    # apply_patch as a freeform tool and as a JSON function; Update, Add, relative to cwd.
    assert s["files"] == ["app/orders/payments.py", "app/orders/errors.py",
                          "tests/test_payments.py"]
    assert s["commands"] == [
        'rg -n "requests\\.(get|post)" app/orders',  # shell_command
        "pytest tests/test_payments.py -q",  # shell's argv ["bash", "-lc", ...]
        "pytest -q",  # exec_command, finished through write_stdin
        'git add app/orders tests/test_payments.py && git commit -m "orders: time out slow '
        'payments calls after 5 s"',
        "ruff check app/orders tests/test_payments.py",
        "ruff check --fix app/orders tests/test_payments.py",
    ]
    assert s["commands_total"] == 6  # write_stdin is no new command
    # exit 1 in the structured JSON output, and "Exit code: 1" in the freeform one.
    assert s["failed_commands"] == ["pytest tests/test_payments.py -q",
                                    "ruff check app/orders tests/test_payments.py"]
    assert s["tests"] == [
        {"command": "pytest tests/test_payments.py -q", "result": "1 failed, 11 passed in 2.31s",
         "ok": False},
        {"command": "pytest -q", "result": "84 passed, 1 skipped in 13.62s", "ok": True},
    ]
    assert s["commits"] == [{"hash": "3c9d2e1", "branch": "main",
                             "message": "orders: time out slow payments calls after 5 s"}]
    # The last cumulative total (48211 in, 39680 of them cached, 3877 out), not a sum of the
    # five token_count events (that would be 152766 in).
    assert s["tokens"] == {"input": 48211 - 39680, "output": 3877, "cache_read": 39680,
                           "cache_creation": 0}
    assert s["cwd"] == CWD and s["git_branch"] == "main" and s["model"] == "gpt-5-codex"
    assert s["started_at"] == "2026-11-25T09:12:03.401Z"  # session_meta's own timestamp
    assert s["ended_at"] == "2026-11-25T09:19:47.902Z"
    assert s["duration_s"] == pytest.approx(464.501)
    assert s["last_text"].startswith("ruff found an unused `import time`")
    assert s["bad_lines"] == 0 and s["partial"] is False


def test_format_is_told_by_content_not_name(tmp_path: Path) -> None:
    # A rollout under a Claude-looking name is still a rollout, and the other way round.
    fake = tmp_path / "0b5f2a4e-1111-2222-3333-444455556666.jsonl"
    fake.write_bytes(CODEX_ROLLOUT.read_bytes())
    assert summarize(fake)["format"] == "codex"
    claude = tmp_path / "rollout-2026-11-25T09-12-03-x.jsonl"
    claude.write_text(user("hello") + assistant("m1", [{"type": "text", "text": "hi"}]))
    s = summarize(claude)
    assert s["format"] == "claude-code" and s["task"] == "hello"
    # Blank and broken lines before the first one that tells are not a verdict.
    late = tmp_path / "late.jsonl"
    late.write_text("\n" + "not json\n" + CODEX_ROLLOUT.read_text())
    assert summarize(late)["format"] == "codex"


def test_codex_tokens_are_the_last_total_not_a_sum() -> None:
    def tc(inp: int, cached: int, out: int) -> str:
        usage = {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
                 "reasoning_output_tokens": 0, "total_tokens": inp + out}
        return rl("event_msg", {"type": "token_count",
                                "info": {"total_token_usage": usage, "last_token_usage": usage,
                                         "model_context_window": 272000}})
    s = codex([tc(100, 0, 10), rl("event_msg", {"type": "token_count", "info": None}),
               tc(250, 100, 30), tc(400, 300, 45)])
    assert s["tokens"] == {"input": 100, "output": 45, "cache_read": 300, "cache_creation": 0}


def test_codex_prompts_without_user_message_events() -> None:
    # No event_msg user_message (an older rollout): the response_item user messages count,
    # minus Codex's injected context, and "## My request for Codex:" keeps what follows.
    def umsg(text: str) -> str:
        return rl("response_item", {"type": "message", "role": "user",
                                    "content": [{"type": "input_text", "text": text}]})
    s = codex([
        umsg("<user_instructions>\nbe terse\n</user_instructions>"),
        umsg("<environment_context>\n  <cwd>/p</cwd>\n</environment_context>"),
        umsg("<user_shell_command>ls</user_shell_command>"),
        umsg("Context.\n\n## My request for Codex:\nfix the flaky test"),
        umsg("thanks, now commit"),
    ])
    assert s["task"] == "fix the flaky test" and s["prompts"] == 2


def test_codex_exit_codes_and_shell_apply_patch() -> None:
    s = codex([
        rl("session_meta", {"id": "x", "cwd": "/p", "cli_version": "0.63.0",
                            "git": {"branch": "feat"}}),
        call("shell", {"command": ["bash", "-lc", "make build"]}, "a"),
        output("a", [{"type": "input_text", "text": "Exit code: 2\nWall time: 1 seconds\n"
                                                     "Output:\nmake: *** [build] Error 2\n"}]),
        call("exec_command", {"cmd": "cargo test"}, "b"),
        output("b", "Chunk ID: 1\nWall time: 3.0 seconds\nProcess exited with code 101\n"
                    "Output:\ntest result: FAILED. 3 passed; 1 failed; 0 ignored\n"),
        # apply_patch through the shell: an edit, not a command
        call("shell", {"command": ["apply_patch", "*** Begin Patch\n*** Update File: /p/src/a.rs"
                                                  "\n*** Move to: src/b.rs\n@@\n-x\n+y\n"
                                                  "*** Delete File: old.rs\n*** End Patch\n"]},
             "c"),
        output("c", "Exit code: 0\nOutput:\nSuccess."),
        rl("response_item", {"type": "local_shell_call", "call_id": "d", "status": "completed",
                             "action": {"type": "exec", "command": ["ls", "-la"]}}),
        output("d", json.dumps({"output": "total 0\n", "metadata": {"exit_code": 0,
                                                                   "duration_seconds": 0.1}})),
        # extended persistence: exec_command_end carries the exit code too
        call("shell_command", {"command": "npm test"}, "e"),
        rl("event_msg", {"type": "exec_command_end", "call_id": "e", "exit_code": 1,
                         "stdout": "", "stderr": "", "aggregated_output": ""}),
        output("e", "aborted by user"),
        call("update_plan", {"plan": []}, "f"),  # not a shell tool
        output("f", "Plan updated"),
    ])
    assert s["commands"] == ["make build", "cargo test", "ls -la", "npm test"]
    assert s["failed_commands"] == ["make build", "cargo test", "npm test"]
    assert s["files"] == ["src/a.rs", "src/b.rs", "old.rs"]
    assert s["tests"] == [{"command": "cargo test", "ok": False,
                           "result": "test result: FAILED. 3 passed; 1 failed; 0 ignored"}]
    assert s["git_branch"] == "feat" and s["cwd"] == "/p"


def test_codex_skips_what_it_does_not_understand() -> None:
    s = codex([
        "not json\n",
        rl("event_msg", {"type": "something_new", "x": 1}),
        rl("world_state", {"a": 1}),
        json.dumps({"timestamp": "t", "type": "response_item", "payload": "a string"}) + "\n",
        rl("response_item", {"type": "function_call", "name": "shell", "arguments": "{not json",
                             "call_id": "a"}),
        rl("response_item", {"type": "function_call", "name": "shell",
                             "arguments": json.dumps({"command": 42}), "call_id": "b"}),
        rl("response_item", {"type": "message", "role": "user", "content": "not a list"}),
        rl("event_msg", {"type": "token_count", "info": {"total_token_usage": None}}),
        output("zzz", "Exit code: 1"),  # an output whose call we never saw
    ])
    assert s["commands"] == [] and s["failed_commands"] == [] and s["task"] is None
    assert s["tokens"] == {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
    assert s["bad_lines"] == 1


def test_codex_huge_rollout_reads_head_and_tail(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    head = CODEX_ROLLOUT.read_text().splitlines(keepends=True)[:8]  # meta, preamble, task
    with p.open("w") as f:
        f.writelines(head)
        for i in range(3000):
            f.write(call("shell_command", {"command": f"echo {i}" + " x" * 1000}, f"c{i}"))
            f.write(output(f"c{i}", "Exit code: 0\nOutput:\n" + "y" * 2000))
        f.write(rl("event_msg", {"type": "token_count", "info": {"total_token_usage": {
            "input_tokens": 9000, "cached_input_tokens": 1000, "output_tokens": 77}}},
            ts="2026-11-25T11:00:00.000Z"))
    tracemalloc.start()
    s = summarize(p, full_limit=4 << 20, head_bytes=256 << 10, tail_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert s["format"] == "codex" and s["partial"] is True
    assert s["task"].startswith("Orders sometimes hang")
    # The total is cumulative: the tail's last token_count covers the whole session.
    assert s["tokens"] == {"input": 8000, "output": 77, "cache_read": 1000, "cache_creation": 0}
    assert s["ended_at"] == "2026-11-25T11:00:00.000Z"
    assert peak < 8 << 20, f"peak {peak} bytes"


# -- Gemini CLI chat files ---------------------------------------------------------------------


def shell_call(cid: str, command: str, output: str, status: str = "success") -> dict[str, Any]:
    """A run_shell_command ToolCallRecord, its result as Gemini CLI records it."""
    return {"id": cid, "name": "run_shell_command", "args": {"command": command},
            "status": status, "timestamp": "2026-11-25T10:01:00.000Z",
            "result": [{"functionResponse": {"id": cid, "name": "run_shell_command",
                                             "response": {"output": output}}}]}


def shell_output(command: str, out: str, code: int) -> str:
    return (f"Command: {command}\nDirectory: (root)\nOutput: {out}\nError: (none)\n"
            f"Exit Code: {code}\nSignal: (none)\nBackground PIDs: (none)\n"
            f"Process Group PGID: 4242")


GEMINI_RECORD: dict[str, Any] = {
    "sessionId": "4f0c2a7e-51d9-4b8e-9a63-2c1d0e8f7b15",
    "projectHash": "c0ffee",
    "startTime": "2026-11-25T10:00:00.000Z",
    "lastUpdated": "2026-11-25T10:03:12.000Z",
    "messages": [
        {"id": "m1", "timestamp": "2026-11-25T10:00:00.100Z", "type": "user",
         "content": [{"text": "Add a --dry-run flag to the deploy script"}]},
        {"id": "m2", "timestamp": "2026-11-25T10:00:40.000Z", "type": "gemini", "content": "",
         "model": "gemini-2.5-pro",
         "tokens": {"input": 9000, "output": 120, "cached": 0, "thoughts": 300, "tool": 0,
                    "total": 9420},
         "toolCalls": [
             {"id": "w1", "name": "replace", "status": "success",
              "args": {"file_path": "/home/dev/src/acme-api/scripts/deploy.sh",
                       "old_string": "a", "new_string": "b"}},
             {"id": "w2", "name": "write_file", "status": "success",
              "args": {"file_path": "/home/dev/src/acme-api/tests/test_deploy.py",
                       "content": "..."}},
             shell_call("s1", "pytest -q tests/test_deploy.py",
                        shell_output("pytest -q tests/test_deploy.py",
                                     "F..\n1 failed, 2 passed in 0.31s", 1)),
             shell_call("s2", "pytest -q tests/test_deploy.py",
                        shell_output("pytest -q tests/test_deploy.py", "...\n3 passed in 0.29s",
                                     0)),
             shell_call("s3", "git commit -am 'deploy: --dry-run'",
                        shell_output("git commit -am 'deploy: --dry-run'",
                                     "[main 1a2b3c4] deploy: --dry-run\n 2 files changed", 0)),
             shell_call("s4", "shellcheck scripts/deploy.sh", "cancelled", status="error"),
         ]},
        {"id": "m3", "timestamp": "2026-11-25T10:03:12.000Z", "type": "gemini",
         "content": "Added --dry-run to scripts/deploy.sh.", "model": "gemini-2.5-pro",
         "tokens": {"input": 12000, "output": 80, "cached": 8000, "thoughts": 20, "tool": 0,
                    "total": 12100}},
        {"id": "m4", "timestamp": "2026-11-25T10:03:12.100Z", "type": "info",
         "content": "not a prompt"},
    ],
}


def test_gemini_chat_file_summary(tmp_path: Path) -> None:
    p = tmp_path / "session-2026-11-25T10-00-4f0c2a7e.json"
    p.write_text(json.dumps(GEMINI_RECORD, indent=2))  # as chatRecordingService writes it
    s = summarize(p, cwd=CWD)
    assert s["format"] == "gemini-cli"
    assert s["task"] == "Add a --dry-run flag to the deploy script" and s["prompts"] == 1
    assert s["files"] == ["scripts/deploy.sh", "tests/test_deploy.py"]
    assert s["commands"] == ["pytest -q tests/test_deploy.py",
                             "git commit -am 'deploy: --dry-run'",
                             "shellcheck scripts/deploy.sh"]
    assert s["commands_total"] == 4
    assert s["failed_commands"] == ["pytest -q tests/test_deploy.py",
                                    "shellcheck scripts/deploy.sh"]
    assert [t["ok"] for t in s["tests"]] == [False, True]
    assert s["commits"] == [{"hash": "1a2b3c4", "branch": "main",
                             "message": "deploy: --dry-run"}]
    # Per-response usage, summed; thoughts count as output; cached is part of input.
    assert s["tokens"] == {"input": 9000 + 4000, "output": 420 + 100, "cache_read": 8000,
                           "cache_creation": 0}
    assert s["model"] == "gemini-2.5-pro"
    assert s["last_text"] == "Added --dry-run to scripts/deploy.sh."
    assert s["started_at"] == "2026-11-25T10:00:00.000Z"
    assert s["duration_s"] == pytest.approx(192.1)


def test_gemini_chat_file_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    record = dict(GEMINI_RECORD, messages=[{"type": "gemini", "content": "x" * 1000}] * 5000)
    big.write_text(json.dumps(record, indent=2))
    s = summarize(big)
    assert s["format"] == "gemini-cli" and s["partial"] is True and s["task"] is None
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(GEMINI_RECORD, indent=2)[:-40])  # caught mid-write
    s = summarize(broken)
    assert s["format"] == "gemini-cli" and s["bad_lines"] == 1 and s["task"] is None


# -- transcripts recorded from the real clients (tests/agents/record.py) --------------------

REAL = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("kind", ["claude-code", "codex", "gemini-cli"])
def test_real_client_transcripts(kind: str) -> None:
    """Each client's own transcript of one session (write a file, a passing and a failing
    command, the tests, a quiet commit) reads as what Spaces posted for it."""
    posted = json.loads((REAL / kind / "real-summary.json").read_text())
    s = summarize(REAL / kind / "real-session.jsonl", cwd=posted["project"])
    assert s["format"] == kind
    for key in ("task", "files", "commands", "commands_total", "failed_commands", "tests",
                "tokens", "model", "prompts"):
        assert s[key] == posted[key], key
    assert s["files"] == [f"calc_{kind.split('-')[0]}.py"]
    assert s["failed_commands"] == ["ls /nonexistent-dir"]
    assert [c["hash"] for c in s["commits"]] == [c["hash"] for c in posted["commits"]]
    assert s["commits"][0]["message"].startswith("add calc for")
    assert s["tokens"]["output"] > 0 and s["model"]


def test_gemini_jsonl_keeps_only_a_message_s_last_line(tmp_path: Path) -> None:
    """Gemini CLI 0.61 writes a message line again (same id) once its tool calls are done:
    tokens count once, tool calls from the last line; $set lines and the header are state."""
    quiet = "git commit -q -m x && git log --oneline -1"
    call = {"id": "c1", "name": "run_shell_command", "args": {"command": quiet},
            "status": "success",
            "result": [{"functionResponse": {"id": "c1", "name": "run_shell_command", "response": {
                "output": "<untrusted_context>\nOutput: 3e1f2a9 x\nProcess Group PGID: 1\n"
                          "</untrusted_context>"}}}]}
    msg = {"id": "g1", "timestamp": "2026-11-30T10:00:01.000Z", "type": "gemini", "content": "",
           "tokens": {"input": 100, "output": 5, "cached": 40}, "model": "gemini-x"}
    lines = [
        {"sessionId": "s1", "projectHash": "h", "startTime": "2026-11-30T10:00:00.000Z",
         "lastUpdated": "2026-11-30T10:00:00.000Z", "kind": "main"},
        {"$set": {"messages": [{"id": "ctx", "type": "user", "content": [
            {"text": "<session_context>\nThis is the Gemini CLI.</session_context>"}]}]}},
        {"id": "u1", "timestamp": "2026-11-30T10:00:00.500Z", "type": "user", "content": [
            {"text": "<hook_context>Recent activity of peer agent sessions, from Spaces: "
                     "task 'old'</hook_context>\n\nShip it"}]},
        msg, {"$set": {"lastUpdated": "2026-11-30T10:00:02.000Z"}}, {**msg, "toolCalls": [call]},
    ]
    p = tmp_path / "session-2026-11-30T10-00-s1.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    s = summarize(p)
    assert s["format"] == "gemini-cli" and s["task"] == "Ship it" and s["prompts"] == 1
    assert s["tokens"] == {"input": 60, "output": 5, "cache_read": 40, "cache_creation": 0}
    assert s["commits"] == [{"hash": "3e1f2a9", "branch": "", "message": "x"}]
    assert s["ended_at"] == "2026-11-30T10:00:02.000Z"


def test_spaces_context_is_no_task_for_any_reader() -> None:
    from spacesd.transcripts.base import strip_spaces_context

    ctx = "Recent activity of peer agent sessions, from Spaces #agent-logs: - At 09:00 ..."
    assert strip_spaces_context(ctx) == ""
    assert strip_spaces_context(f"<hook_context>{ctx}</hook_context>\n\nFix the bug") == (
        "Fix the bug")
    assert strip_spaces_context("Fix the bug") == "Fix the bug"
    s = Summarizer()
    s.feed_line(user(f"<hook_context>{ctx}</hook_context>\nReal task"))
    assert s.result()["task"] == "Real task"


@pytest.mark.parametrize(("output", "expected"), [
    ("3e1f2a9 add calc\n", ("3e1f2a9", "main", "add calc")),
    ("3e1f2a9 (HEAD -> feat/x) add calc\n", ("3e1f2a9", "feat/x", "add calc")),
])
def test_a_quiet_commit_is_a_commit(output: str, expected: tuple[str, str, str]) -> None:
    cmd = "git add -A && git commit -q -m 'add calc' && git log --oneline -1"
    s = Summarizer()
    s.feed_line(line(type="user", gitBranch="main", message={"role": "user", "content": "go"}))
    s.feed_line(assistant("m1", [{"type": "tool_use", "id": "t1", "name": "Bash",
                                  "input": {"command": cmd}}]))
    s.feed_line(user([{"type": "tool_result", "tool_use_id": "t1", "content": output}]))
    h, branch, message = expected
    assert s.result()["commits"] == [{"hash": h, "branch": branch, "message": message}]
    failed = Summarizer()  # a failed one is none
    failed.feed_line(assistant("m1", [{"type": "tool_use", "id": "t1", "name": "Bash",
                                       "input": {"command": cmd}}]))
    failed.feed_line(user([{"type": "tool_result", "tool_use_id": "t1", "is_error": True,
                            "content": output}]))
    assert failed.result()["commits"] == []


def test_the_readers_import_no_cycle_and_claude_loads_no_other_reader() -> None:
    import subprocess
    import sys

    code = ("import sys; from spacesd.transcripts import summarize; "
            f"summarize({str(TRANSCRIPT)!r}); "
            "print(sorted(m for m in sys.modules if m.startswith('spacesd')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = eval(out)
    assert "spacesd.transcripts.claude" in loaded
    assert "spacesd.transcripts.codex" not in loaded
    assert "spacesd.transcripts.gemini" not in loaded
    for name in ("base", "claude", "codex", "gemini", "reader"):  # each imports alone
        subprocess.run([sys.executable, "-c", f"import spacesd.transcripts.{name}"],
                       check=True)
    base = (Path(__file__).resolve().parents[1] / "spacesd/transcripts/base.py").read_text()
    assert "from spacesd" not in base  # the base imports no reader: no circle
