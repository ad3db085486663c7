"""The daemon's op registry (spacesd.daemon.registry / ops): every op of docs/protocol.md is
registered, and an op's argument schema answers bad arguments as the protocol says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spacesd.daemon.errors import OpError
from spacesd.daemon.ops import REGISTRY, lookup
from spacesd.daemon.registry import Arg, channel_arg, int_arg, str_arg

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def test_the_registry_is_the_protocol_table() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    table = text[text.index("## Operations"):text.index("## The tail stream")]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    assert documented == set(REGISTRY)
    assert {name for name, spec in REGISTRY.items() if spec.write} == {
        "call", "send", "post_summary"}
    assert [name for name, spec in REGISTRY.items() if spec.stream] == ["tail"]
    # writes wait for their commit; status counts rows off the event loop
    assert {name for name, spec in REGISTRY.items() if spec.is_async} == {
        "call", "send", "post_summary", "task_create", "task_claim", "task_renew",
        "task_progress", "task_complete", "task_fail", "task_release", "task_cancel",
        "lease_acquire", "lease_release", "vote_cast", "status", "session_event", "inbox",
        "wait", "post", "follow", "address", "web"}  # web: it may start the HTTP server


def test_unknown_op() -> None:
    with pytest.raises(OpError) as e:
        lookup("nope")
    assert (e.value.code, e.value.message) == ("unknown_op", "unknown op: 'nope'")


def bad(arg: Arg, args: dict[str, object]) -> str:
    with pytest.raises(OpError) as e:
        arg.check(args)
    assert e.value.code == "bad_args"
    return e.value.message


def test_argument_schema() -> None:
    limit = int_arg("limit", 20, lo=1, hi=500)
    assert limit.check({}) == 20 and limit.check({"limit": None}) == 20
    assert limit.check({"limit": 7}) == 7
    assert bad(limit, {"limit": True}) == "argument limit must be an integer"
    assert bad(limit, {"limit": "7"}) == "argument limit must be an integer"
    assert bad(limit, {"limit": 501}) == "argument limit must be between 1 and 500"
    assert bad(str_arg("content", required=True), {}) == "missing argument: content"
    channel = channel_arg()
    assert channel.check({"channel": "dev"}) == "dev"
    assert channel.check({"channel": 1 << 70}) == 1 << 70  # no upper bound on an id
    assert bad(channel, {"channel": -1}) == "argument channel must be a channel id or name"
    assert bad(channel, {"channel": False}) == "argument channel must be a channel id or name"
    as_owner = Arg("as_owner", (bool,), "true or false", False)
    assert as_owner.check({"as_owner": True}) is True
    assert bad(as_owner, {"as_owner": 1}) == "argument as_owner must be true or false"


def test_a_request_keeps_the_raw_arguments() -> None:
    req = REGISTRY["send"].request({"channel": 2, "content": "hi", "extra": 1})
    assert req.args["type"] == "Text" and req.args["thread_id"] is None
    assert req.raw == {"channel": 2, "content": "hi", "extra": 1} and req.queue


def test_a_list_default_is_fresh_per_request() -> None:
    first = REGISTRY["call"].request({"reducer": "set_typing"})
    first.args["args"].append(1)
    assert REGISTRY["call"].request({"reducer": "set_typing"}).args["args"] == []
