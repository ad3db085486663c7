"""The data model as DESIGN.md fixes it: these orders are the wire format."""

from __future__ import annotations

import pytest

from spacesd import model
from spacesd.model import ChannelType, Identity, MemberRole, MessageType


def test_the_design_tables_in_order_then_write_key_server_invite_and_the_live_block() -> None:
    # The 13 of DESIGN.md, write_key (docs/idempotency.md), server_invite (docs/roles.md), then
    # live sessions (issue 12), appended; the tables of issue 13 (task, path_lease, vote) are
    # checked below.
    assert [t.name for t in model.TABLES if t.name not in ("task", "path_lease", "vote")] == [
        "user_profile", "user_presence", "server", "server_member", "channel", "thread",
        "message", "reaction", "channel_read_state", "direct_conversation", "direct_message",
        "typing_indicator", "system_notification", "write_key", "server_invite",
        "session_info", "inbox_item", "channel_follow", "thread_poster",
    ]


def test_task_lease_and_vote_tables_and_enums() -> None:
    names = [t.name for t in model.TABLES]
    assert {"task", "path_lease", "vote"} <= set(names)
    assert [m.name for m in model.TaskState] == ["Open", "Claimed", "Done", "Failed",
                                                 "Cancelled"]
    assert [m.name for m in model.VoteTarget] == ["Message", "Task"]
    cols = [(c.name, c.type_name) for c in model.TABLE_BY_NAME["task"].columns]
    assert cols[6:9] == [("state", "TaskState"), ("creator", "Identity"),
                         ("assignee", "Option<Identity>")]


def test_server_columns_end_with_the_join_policy() -> None:
    cols = [c.name for c in model.TABLE_BY_NAME["server"].columns]
    assert cols == ["id", "name", "description", "icon_url", "owner", "created_at",
                    "invite_only"]


def test_write_key_columns_and_namespacing() -> None:
    table = model.TABLE_BY_NAME["write_key"]
    assert [(c.name, c.type_name) for c in table.columns] == [
        ("key", "String"), ("identity", "Identity"), ("reducer", "String"), ("row_id", "u64"),
        ("created_at", "Timestamp")]
    assert (table.primary_key, table.visible_to) == ("key", ("identity",))
    assert model.write_key_of(Identity(1), "k") == "0" * 63 + "1/k"


def test_message_columns_in_wire_order() -> None:
    cols = [(c.name, c.type_name) for c in model.TABLE_BY_NAME["message"].columns]
    assert cols == [
        ("id", "u64"), ("channel_id", "u64"), ("thread_id", "Option<u64>"),
        ("sender", "Identity"), ("content", "String"), ("message_type", "MessageType"),
        ("created_at", "Timestamp"), ("edited_at", "Option<Timestamp>"),
        ("reply_to_id", "Option<u64>"),
    ]


def test_enum_tags_are_variant_order() -> None:
    assert [m.name for m in ChannelType] == ["Text", "Voice", "Announcement", "AgentLog"]
    assert [m.name for m in MessageType] == ["Text", "System", "AgentEvent", "Join", "Leave"]
    assert [m.name for m in MemberRole] == ["Owner", "Admin", "Moderator", "Member", "Agent"]
    assert [r.level for r in MemberRole] == [4, 3, 2, 1, 1]


def test_thirty_reducers_the_keyed_variants_and_the_live_block() -> None:
    names = [r.name for r in model.REDUCERS]
    # + tasks, path leases and votes (13), live sessions' 7 (issue 12), send_dm_keyed
    assert len(names) == len(set(names)) == 31 + 13 + 7 + 1
    keyed = [n for n in names if n.endswith("_keyed")]
    assert keyed == ["send_message_keyed", "send_dm_keyed"]
    for name in keyed:  # a keyed variant takes the key, then its base reducer's parameters
        base = model.REDUCER_BY_NAME[name.removesuffix("_keyed")]
        assert model.REDUCER_BY_NAME[name].params == (("key", "String"), *base.params)
    for extra in ("set_member_role", "delete_server", "set_typing", "dismiss_notification",
                  "set_invite_only", "invite_to_server"):
        assert extra in names
    assert model.REDUCER_BY_NAME["send_message"].param_names == (
        "channel_id", "content", "thread_id", "reply_to_id", "message_type")


def test_every_column_type_parses() -> None:
    for table in model.TABLES:
        for col in table.columns:
            assert str(col.type) == col.type_name


def test_identity_hex_is_byte_reverse_of_wire() -> None:
    ident = Identity.from_hex("0x" + "c2" + "00" * 30 + "01")
    wire = ident.to_le_bytes()
    assert wire[0] == 0x01 and wire[-1] == 0xC2
    assert Identity.from_le_bytes(wire) == ident
    assert ident.hex.startswith("c2") and ident.short() == "c2000000"


@pytest.mark.parametrize("bad", ["", "0x12", "zz" * 32, "1" * 65])
def test_identity_rejects_bad_hex(bad: str) -> None:
    with pytest.raises(ValueError):
        Identity.from_hex(bad)


def test_timestamp_iso() -> None:
    assert model.timestamp_to_iso(1_763_629_207_259_000) == "2025-11-20T09:00:07.259000Z"
