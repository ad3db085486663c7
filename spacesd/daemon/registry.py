"""The daemon's op registry: every op of docs/protocol.md is one function, registered here by
name with the schema of its arguments (the way dmypy's `cmd_<name>` methods are found by
name).

    @op("messages", channel_arg(), int_arg("limit", DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT))
    def cmd_messages(daemon: Daemon, req: Request) -> Any: ...

`lookup(name)` finds an op (`unknown_op` otherwise); `Op.check(args)` checks the request's
arguments against the schema, in order, and fills in the defaults (`bad_args` naming the
argument otherwise), so an op function reads `req.args[name]` already typed. The per-client
connection and the outbox delivery both dispatch through here: one way to run an op.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spacesd.daemon.errors import OpError

if TYPE_CHECKING:
    from spacesd.daemon.ipc_connection import IpcConnection
    from spacesd.daemon.server import Daemon

MAX_U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Arg:
    """One argument: the JSON types it may have (`what` names them in the error), its default
    when missing or null, and for integers the range it must lie in."""

    name: str
    kinds: tuple[type, ...]
    what: str
    default: Any = None
    required: bool = False
    lo: int | None = None
    hi: int | None = None

    def check(self, args: dict[str, Any]) -> Any:
        if self.name not in args or args[self.name] is None:
            if self.required:
                raise OpError("bad_args", f"missing argument: {self.name}")
            if isinstance(self.default, (list, dict)):
                return self.default.copy()  # a fresh one per request, as a literal would be
            return self.default
        value = args[self.name]
        if (isinstance(value, bool) and bool not in self.kinds) or not isinstance(
                value, self.kinds):
            raise OpError("bad_args", f"argument {self.name} must be {self.what}")
        if isinstance(value, int) and not isinstance(value, bool) and (
                (self.lo is not None and value < self.lo)
                or (self.hi is not None and value > self.hi)):
            if self.kinds != (int,):  # an id or a name: a negative id is neither
                raise OpError("bad_args", f"argument {self.name} must be {self.what}")
            raise OpError("bad_args",
                          f"argument {self.name} must be between {self.lo} and {self.hi}")
        return value


def int_arg(name: str, default: int | None = None, *, lo: int = 0, hi: int = MAX_U64,
           required: bool = False) -> Arg:
    return Arg(name, (int,), "an integer", default, required, lo, hi)


def str_arg(name: str, default: str | None = None, *, required: bool = False) -> Arg:
    return Arg(name, (str,), "a string", default, required)


def channel_arg(name: str = "channel", *, required: bool = True) -> Arg:
    """A channel id (a non-negative integer) or name."""
    return Arg(name, (int, str), "a channel id or name", None, required, lo=0)


@dataclass
class Request:
    """One request being answered: its arguments checked against the op's schema (`raw`: as
    they came), the client connection that sent it (None for the outbox), and whether a
    write the backend cannot take now may be queued in the outbox (False when the outbox
    itself delivers it)."""

    args: dict[str, Any]
    raw: dict[str, Any]
    client: IpcConnection | None = None
    queue: bool = True


OpFunc = Callable[["Daemon", Request], Any]
"""An op: returns the result, or (an async op) an awaitable of it."""


@dataclass(frozen=True)
class Op:
    name: str
    func: OpFunc
    schema: tuple[Arg, ...]
    is_async: bool
    write: bool = False
    """A write the outbox may hold (a hook or a client queued it while the backend was away)."""
    stream: bool = False
    """The op turns the connection into a pushed stream (`tail`)."""
    doc: str = field(default="", compare=False)

    def check(self, args: dict[str, Any]) -> dict[str, Any]:
        checked = dict(args)
        for arg in self.schema:
            checked[arg.name] = arg.check(args)
        return checked

    def request(self, args: dict[str, Any], *, client: IpcConnection | None = None,
                queue: bool = True) -> Request:
        """The request to call `func` with: `args` checked (OpError `bad_args` if they do
        not fit the schema)."""
        return Request(self.check(args), args, client, queue)


REGISTRY: dict[str, Op] = {}


def op(name: str, *schema: Arg, write: bool = False, stream: bool = False
       ) -> Callable[[OpFunc], OpFunc]:
    """Register the decorated function as the op `name` with the argument `schema`."""

    def register(func: OpFunc) -> OpFunc:
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is registered twice")
        REGISTRY[name] = Op(name, func, schema, inspect.iscoroutinefunction(func), write,
                            stream, inspect.getdoc(func) or "")
        return func

    return register


def lookup(name: str) -> Op:
    found = REGISTRY.get(name)
    if found is None:
        raise OpError("unknown_op", f"unknown op: {name!r}")
    return found
