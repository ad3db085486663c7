"""A scripted fake model server for the real agent CLIs (tests only; 127.0.0.1).

One `FakeModel` serves one agent session: a thread running `http.server` on a free port of
127.0.0.1, answering the three wire protocols the clients speak:

- Anthropic Messages (Claude Code): `POST /v1/messages` (SSE when `"stream": true`: message_start,
  content_block_start/delta/stop, message_delta with stop_reason and usage, message_stop), and
  `POST /v1/messages/count_tokens`.
- OpenAI Responses (Codex, `wire_api = "responses"`): `POST <base>/responses`, streamed as SSE
  (response.created, response.output_item.added/done per item, response.completed with usage),
  and `GET <base>/models` (an empty list).
- Gemini API (Gemini CLI): `POST /v1beta/models/<m>:streamGenerateContent?alt=sse` (SSE of
  GenerateContentResponse), `:generateContent` and `:countTokens`.

The conversation is a `Script`: a list of steps, each one action of the agent (write a file, run
a shell command) or its final answer. A request's step is the number of tool results already
in the conversation it carries, so a retry gets the same answer and several sessions never
share a counter. Requests that are not the agent's main loop (Claude Code's title and
command-prefix calls, Gemini's JSON-schema side calls) get a short fixed answer.

Every request is recorded (`requests`): method, path, and the JSON body, so tests can assert
what the model saw (the peer context the SessionStart hook injected, for one).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Action", "FakeModel", "Recorded", "Script", "final", "shell", "write"]


@dataclass(frozen=True)
class Action:
    """One step of the agent: kind "write" (path, content), "shell" (command) or "final"."""

    kind: str
    arg: str
    content: str = ""


def write(path: str, content: str) -> Action:
    return Action("write", path, content)


def shell(command: str) -> Action:
    return Action("shell", command)


def final(text: str) -> Action:
    return Action("final", text)


@dataclass
class Script:
    steps: list[Action]
    model: str = "fake-model-1"
    input_tokens: int = 1200
    output_tokens: int = 40

    def step(self, done: int) -> Action:
        """The action after `done` tool results (the final answer once the steps run out)."""
        if done < len(self.steps):
            return self.steps[done]
        last = self.steps[-1] if self.steps else None
        return last if last is not None and last.kind == "final" else final("Done.")


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        """The body as JSON text (for substring assertions)."""
        return json.dumps(self.body, ensure_ascii=False)


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


# ------------------------------------------------------------------------------ Anthropic


def _anthropic_done(body: dict[str, Any]) -> int:
    n = 0
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if m.get("role") == "user" and isinstance(content, list):
            n += sum(1 for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return n


def _anthropic_blocks(action: Action) -> tuple[list[dict[str, Any]], str]:
    tid = "toolu_" + uuid.uuid4().hex[:20]
    if action.kind == "write":
        return [{"type": "tool_use", "id": tid, "name": "Write",
                 "input": {"file_path": action.arg, "content": action.content}}], "tool_use"
    if action.kind == "shell":
        return [{"type": "tool_use", "id": tid, "name": "Bash",
                 "input": {"command": action.arg, "description": "run it"}}], "tool_use"
    return [{"type": "text", "text": action.arg}], "end_turn"


def _anthropic_stream(model: str, blocks: list[dict[str, Any]], stop: str,
                      usage: dict[str, int]) -> bytes:
    mid = "msg_" + uuid.uuid4().hex[:20]
    out = [_sse("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1,
                  "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}})]
    for i, b in enumerate(blocks):
        if b["type"] == "tool_use":
            start = {**b, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}
        else:
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": b["text"]}
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": start}))
        out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                "delta": delta}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(_sse("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": usage["output_tokens"]}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


# ------------------------------------------------------------------------------ OpenAI Responses


def _responses_done(body: dict[str, Any]) -> int:
    items = body.get("input") or []
    return sum(1 for it in items if isinstance(it, dict)
               and it.get("type") in ("function_call_output", "custom_tool_call_output"))


def _tool_names(body: dict[str, Any]) -> dict[str, str]:
    """The tools a Responses request offers: name -> type ("function", "custom", ...)."""
    out: dict[str, str] = {}
    for t in body.get("tools") or []:
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            out[t["name"]] = str(t.get("type"))
    return out


def _patch_for(path: str, content: str) -> str:
    lines = "".join(f"+{line}\n" for line in content.splitlines())
    return f"*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch\n"


def _responses_item(action: Action, tools: dict[str, str]) -> dict[str, Any]:
    call_id = "call_" + uuid.uuid4().hex[:20]
    if action.kind == "write":
        patch = _patch_for(action.arg, action.content)
        if tools.get("apply_patch") == "custom":
            return {"type": "custom_tool_call", "id": "ctc_" + call_id[5:], "call_id": call_id,
                    "name": "apply_patch", "input": patch, "status": "completed"}
        if "apply_patch" in tools:
            return {"type": "function_call", "id": "fc_" + call_id[5:], "call_id": call_id,
                    "name": "apply_patch", "arguments": json.dumps({"input": patch})}
        # Codex runs `apply_patch` given to its shell tool as a patch (no tool of its own for
        # a model it has no metadata for)
        action = Action("shell", f"apply_patch <<'EOF'\n{patch}EOF")
    if action.kind == "shell":
        for name, key in (("exec_command", "cmd"), ("shell_command", "command")):
            if name in tools:
                args: dict[str, Any] = {key: action.arg}
                break
        else:
            name, args = "shell", {"command": ["bash", "-lc", action.arg]}
        return {"type": "function_call", "id": "fc_" + call_id[5:], "call_id": call_id,
                "name": name, "arguments": json.dumps(args)}
    return {"type": "message", "id": "msg_" + call_id[5:], "role": "assistant",
            "status": "completed", "content": [{"type": "output_text", "text": action.arg,
                                                "annotations": []}]}


def _responses_stream(model: str, item: dict[str, Any], usage: dict[str, int]) -> bytes:
    rid = "resp_" + uuid.uuid4().hex[:20]
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    u = {"input_tokens": usage["input_tokens"],
         "input_tokens_details": {"cached_tokens": usage.get("cached", 0)},
         "output_tokens": usage["output_tokens"],
         "output_tokens_details": {"reasoning_tokens": 0},
         "total_tokens": usage["input_tokens"] + usage["output_tokens"]}
    out = [_sse("response.created", {"type": "response.created", "response": base}),
           _sse("response.output_item.added", {"type": "response.output_item.added",
                                               "output_index": 0, "item": item})]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        out.append(_sse("response.output_text.delta", {
            "type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
            "content_index": 0, "delta": text}))
    out.append(_sse("response.output_item.done", {"type": "response.output_item.done",
                                                  "output_index": 0, "item": item}))
    done = {**base, "status": "completed", "output": [item], "usage": u}
    out.append(_sse("response.completed", {"type": "response.completed", "response": done}))
    return b"".join(out)


# ------------------------------------------------------------------------------ Gemini


def _gemini_done(body: dict[str, Any]) -> int:
    n = 0
    for c in body.get("contents") or []:
        for p in (c.get("parts") or []) if isinstance(c, dict) else []:
            if isinstance(p, dict) and "functionResponse" in p:
                n += 1
    return n


def _gemini_parts(action: Action) -> list[dict[str, Any]]:
    if action.kind == "write":
        return [{"functionCall": {"name": "write_file",
                                  "args": {"file_path": action.arg, "content": action.content}}}]
    if action.kind == "shell":
        return [{"functionCall": {"name": "run_shell_command",
                                  "args": {"command": action.arg,
                                           "description": "run it"}}}]
    return [{"text": action.arg}]


def _gemini_response(model: str, parts: list[dict[str, Any]],
                     usage: dict[str, int]) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": usage["input_tokens"],
                              "candidatesTokenCount": usage["output_tokens"],
                              "totalTokenCount": usage["input_tokens"] + usage["output_tokens"]},
            "modelVersion": model}


def _schema_answer(schema: Any) -> Any:
    """A value fitting a JSON schema, for Gemini's side calls (next speaker, routing...)."""
    if not isinstance(schema, dict):
        return {}
    t = str(schema.get("type", "")).lower()
    if schema.get("enum"):
        return "user" if "user" in schema["enum"] else schema["enum"][0]
    if t == "object":
        props = schema.get("properties") or {}
        return {k: _schema_answer(v) for k, v in props.items()}
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 0
    if t == "boolean":
        return False
    return "user"


# ------------------------------------------------------------------------------ the server


class FakeModel:
    """A fake model for one session: `.start()`, `.url`, `.requests`, `.stop()`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeModel:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                model._record("GET", self.path, None)
                if self.path.rstrip("/").endswith("/models") or "/models?" in self.path:
                    self._json(200, {"object": "list", "data": [], "models": []})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                model._record("POST", self.path, body)
                status, ctype, payload = model.answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"fakemodel-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, body))

    def model_requests(self) -> list[Recorded]:
        """The requests of the agent's main loop (those that offer tools)."""
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if isinstance(r.body, dict) and r.body.get("tools")]

    # -- answers

    def _usage(self) -> dict[str, int]:
        return {"input_tokens": self.script.input_tokens,
                "output_tokens": self.script.output_tokens}

    def answer(self, path: str, body: Any) -> tuple[int, str, bytes]:
        if not isinstance(body, dict):
            body = {}
        p = path.split("?", 1)[0]
        if p.endswith("/messages/count_tokens"):
            return 200, "application/json", json.dumps({"input_tokens": 100}).encode()
        if p.endswith("/messages"):
            return self._anthropic(body)
        if p.endswith("/responses"):
            return self._responses(body)
        if ":countTokens" in p:
            return 200, "application/json", json.dumps({"totalTokens": 100}).encode()
        if ":streamGenerateContent" in p or ":generateContent" in p:
            return self._gemini(body, stream=":streamGenerateContent" in p)
        return 404, "application/json", b'{"error": {"message": "not found"}}'

    def _anthropic(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        if body.get("tools"):
            blocks, stop = _anthropic_blocks(self.script.step(_anthropic_done(body)))
        else:  # a side call (title, command prefix, ...): a short fixed answer
            blocks, stop = [{"type": "text", "text": "none"}], "end_turn"
        model = str(body.get("model") or self.script.model)
        if body.get("stream"):
            return 200, "text/event-stream", _anthropic_stream(model, blocks, stop,
                                                               self._usage())
        msg = {"id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant",
               "model": model, "content": blocks, "stop_reason": stop, "stop_sequence": None,
               "usage": {**self._usage(), "cache_read_input_tokens": 0,
                         "cache_creation_input_tokens": 0}}
        return 200, "application/json", json.dumps(msg).encode()

    def _responses(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        tools = _tool_names(body)
        action = self.script.step(_responses_done(body)) if tools else final("none")
        item = _responses_item(action, tools)
        model = str(body.get("model") or self.script.model)
        return 200, "text/event-stream", _responses_stream(model, item, self._usage())

    def _gemini(self, body: dict[str, Any], stream: bool) -> tuple[int, str, bytes]:
        config = body.get("generationConfig") or body.get("config") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if body.get("tools"):
            parts = _gemini_parts(self.script.step(_gemini_done(body)))
        elif schema is not None or config.get("responseMimeType") == "application/json":
            parts = [{"text": json.dumps(_schema_answer(schema))}]
        else:
            parts = [{"text": "none"}]
        resp = _gemini_response(self.script.model, parts, self._usage())
        if stream:
            return 200, "text/event-stream", f"data: {json.dumps(resp)}\r\n\r\n".encode()
        return 200, "application/json", json.dumps(resp).encode()
