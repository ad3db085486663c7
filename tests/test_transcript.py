"""spacesd.transcript: the summarizer, on the Claude Code fixture and on hostile input."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from spacesd.transcript import MAX_LINE, Summarizer, cut, summarize

# Claude Code's samples: $SPACES_SHARED_DIR, else ../shared beside the checkout.
_SHARED = os.environ.get("SPACES_SHARED_DIR", "").strip()
FIXTURES = (Path(_SHARED) if _SHARED else Path(__file__).resolve().parents[2] / "shared") / (
    "fixtures/claude-code"
)
TRANSCRIPT = FIXTURES / "transcript.jsonl"
needs_fixtures = pytest.mark.skipif(not TRANSCRIPT.is_file(), reason=f"no {TRANSCRIPT}")
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


@needs_fixtures
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


@needs_fixtures
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
