"""BSATN, SpacetimeDB's binary encoding: sans-I/O, bytes in and values out.

Wire facts (crates/sats, checked against the official TypeScript SDK):
- little-endian fixed-width integers; `bool` is one byte, 0 or 1;
- String, bytes and arrays: a u32 length prefix, then the UTF-8 bytes / bytes / elements;
- products: their fields in order, nothing else; sums: a u8 tag (variant index) then the
  variant's payload; `Option<T>` is the sum `some(T) = 0 | none = 1`;
- Identity: u256, 32 bytes little-endian (the hex people see is big-endian, the reverse);
  ConnectionId: u128, 16 bytes little-endian; Timestamp and TimeDuration: i64 microseconds.

This module offers:
- `BsatnError`: the ONE error type of the codec. Every malformed input (truncated, bad tag,
  invalid UTF-8, length beyond the remaining bytes, trailing bytes, ...) raises it, with the
  byte `offset` where decoding failed; values that cannot be encoded raise it too.
- `Reader` / `Writer`: bounds-checked primitives, used by the message layer.
- `ConnectionId`.
- `RowCodec` for each table (`row_codec(table_name)`, `ROW_CODECS`): `encode`,
  `encode_into`, `decode` (exactly one row), `decode_at` (one row at an offset),
  `decode_concat` (rows back to back, as in a BsatnRowList). The codecs are generated
  Python source per table (struct.unpack_from over runs of fixed-size columns, local
  bindings, an Identity cache) because decoding subscription rows is the hot path.
- `ArgsCodec` for each reducer (`args_codec(reducer_name)`): the BSATN product of a reducer's
  parameters, as carried by CallReducer.args.
- `encode_value(type_name, value)` / `decode_value(type_name, data)` for one value of a type
  spelled as in model.py ("Option<String>", "Identity", "MemberRole", ...).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from spacesd import model
from spacesd.model import Identity, TypeSpec

__all__ = [
    "ARGS_CODECS",
    "ROW_CODECS",
    "ArgsCodec",
    "BsatnError",
    "ConnectionId",
    "Reader",
    "RowCodec",
    "Writer",
    "args_codec",
    "decode_args",
    "decode_row",
    "decode_value",
    "encode_args",
    "encode_row",
    "encode_value",
    "row_codec",
]


class BsatnError(ValueError):
    """Bytes that are not valid BSATN for the expected type, or a value that cannot be encoded.

    `offset` is the byte offset (into the buffer being decoded, or the output being written)
    where the problem was found.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.reason = message
        self.offset = offset


# --------------------------------------------------------------------------------------------
# ConnectionId


class ConnectionId:
    """A SpacetimeDB connection id: an unsigned 128-bit integer, 16 bytes LE on the wire."""

    __slots__ = ("_value",)
    _value: int

    def __init__(self, value: int) -> None:
        if not 0 <= value < 1 << 128:
            raise ValueError("connection id out of range for u128")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ConnectionId is immutable")

    @classmethod
    def from_hex(cls, text: str) -> ConnectionId:
        digits = text[2:] if text[:2].lower() == "0x" else text
        if len(digits) != 32:
            raise ValueError(f"connection id must be 32 hex digits, got {len(digits)}")
        return cls(int(digits, 16))

    @classmethod
    def from_le_bytes(cls, data: bytes) -> ConnectionId:
        if len(data) != 16:
            raise ValueError("connection id must be 16 bytes")
        return cls(int.from_bytes(data, "little"))

    def to_le_bytes(self) -> bytes:
        return self._value.to_bytes(16, "little")

    @property
    def value(self) -> int:
        return self._value

    @property
    def hex(self) -> str:
        return f"{self._value:032x}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectionId) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("ConnectionId", self._value))

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        return f"ConnectionId(0x{self.hex})"


# --------------------------------------------------------------------------------------------
# Primitives

_U8: Final = struct.Struct("<B")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_I64: Final = struct.Struct("<q")
_U32_UNPACK: Final = _U32.unpack_from
_BOOL_FROM_BYTE: Final = (False, True)


def _new_identity(raw: bytes) -> Identity:
    # Identity.__init__ range-checks; 32 bytes are always in range, so skip it.
    ident = object.__new__(Identity)
    object.__setattr__(ident, "_value", int.from_bytes(raw, "little"))
    return ident


class Reader:
    """Reads BSATN primitives from `data`, starting at `pos`; every read is bounds-checked.

    Reads past the end, bad bool bytes and invalid UTF-8 raise BsatnError at the offset of
    the value being read.
    """

    __slots__ = ("buf", "end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.buf: bytes = data if isinstance(data, bytes) else bytes(data)
        self.pos = pos
        self.end = len(self.buf)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> int:
        pos = self.pos
        if n > self.end - pos:
            raise BsatnError(
                f"truncated: {what} needs {n} byte(s), {self.end - pos} remain", pos)
        self.pos = pos + n
        return pos

    def u8(self) -> int:
        pos = self._need(1, "u8")
        return self.buf[pos]

    def tag(self, what: str, count: int) -> int:
        """A sum tag that must be below `count`."""
        pos = self._need(1, f"{what} tag")
        tag = self.buf[pos]
        if tag >= count:
            raise BsatnError(f"invalid {what} tag {tag}", pos)
        return tag

    def bool_(self) -> bool:
        pos = self._need(1, "bool")
        b = self.buf[pos]
        if b > 1:
            raise BsatnError(f"invalid bool byte {b}", pos)
        return b == 1

    def u16(self) -> int:
        return int(_U16.unpack_from(self.buf, self._need(2, "u16"))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self.buf, self._need(4, "u32"))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.buf, self._need(8, "u64"))[0])

    def i64(self) -> int:
        return int(_I64.unpack_from(self.buf, self._need(8, "i64"))[0])

    def u128(self) -> int:
        pos = self._need(16, "u128")
        return int.from_bytes(self.buf[pos:pos + 16], "little")

    def u256(self) -> int:
        pos = self._need(32, "u256")
        return int.from_bytes(self.buf[pos:pos + 32], "little")

    def identity(self) -> Identity:
        pos = self._need(32, "Identity")
        return _new_identity(self.buf[pos:pos + 32])

    def connection_id(self) -> ConnectionId:
        return ConnectionId(self.u128())

    def timestamp(self) -> int:
        return self.i64()

    def time_duration(self) -> int:
        return self.i64()

    def bytes_(self) -> bytes:
        start = self.pos
        n = self.u32()
        if n > self.end - self.pos:
            raise BsatnError(f"truncated: bytes of length {n}, {self.end - self.pos} remain",
                             start)
        pos = self.pos
        self.pos = pos + n
        return self.buf[pos:pos + n]

    def string(self) -> str:
        start = self.pos
        raw = self.bytes_()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BsatnError(f"invalid UTF-8 in string: {e.reason}", start + 4 + e.start) from None

    def array_len(self, min_elem_size: int = 1) -> int:
        """An array's u32 length, bounded by the bytes left (each element >= min_elem_size)."""
        start = self.pos
        n = self.u32()
        if min_elem_size and n * min_elem_size > self.end - self.pos:
            raise BsatnError(f"array of {n} element(s) cannot fit in the "
                             f"{self.end - self.pos} remaining byte(s)", start)
        return n

    def u64_array(self) -> list[int]:
        n = self.array_len(8)
        pos = self.pos
        self.pos = pos + 8 * n
        return list(struct.unpack_from(f"<{n}Q", self.buf, pos)) if n else []

    def string_array(self) -> list[str]:
        return [self.string() for _ in range(self.array_len(4))]

    def option_tag(self) -> bool:
        """Reads an Option's tag: True for some (0), False for none (1)."""
        return self.tag("Option", 2) == 0

    def expect_end(self, what: str = "value") -> None:
        if self.pos != self.end:
            raise BsatnError(f"{self.end - self.pos} trailing byte(s) after {what}", self.pos)


class Writer:
    """Appends BSATN primitives to a bytearray (`out`); `getvalue()` returns the bytes."""

    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self.out)

    def _pack(self, st: struct.Struct, value: int, what: str) -> None:
        try:
            self.out += st.pack(value)
        except (struct.error, TypeError):
            raise BsatnError(f"cannot encode {value!r} as {what}", len(self.out)) from None

    def u8(self, value: int) -> None:
        self._pack(_U8, value, "u8")

    def bool(self, value: bool) -> None:
        if value is not True and value is not False and value not in (0, 1):
            raise BsatnError(f"cannot encode {value!r} as bool", len(self.out))
        self.out.append(1 if value else 0)

    def u16(self, value: int) -> None:
        self._pack(_U16, value, "u16")

    def u32(self, value: int) -> None:
        self._pack(_U32, value, "u32")

    def u64(self, value: int) -> None:
        self._pack(_U64, value, "u64")

    def i64(self, value: int) -> None:
        self._pack(_I64, value, "i64")

    def u128(self, value: int) -> None:
        if not isinstance(value, int) or not 0 <= value < 1 << 128:
            raise BsatnError(f"cannot encode {value!r} as u128", len(self.out))
        self.out += value.to_bytes(16, "little")

    def u256(self, value: int) -> None:
        if not isinstance(value, int) or not 0 <= value < 1 << 256:
            raise BsatnError(f"cannot encode {value!r} as u256", len(self.out))
        self.out += value.to_bytes(32, "little")

    def identity(self, value: Identity) -> None:
        if not isinstance(value, Identity):
            raise BsatnError(f"cannot encode {value!r} as Identity", len(self.out))
        self.out += value.to_le_bytes()

    def connection_id(self, value: ConnectionId) -> None:
        if not isinstance(value, ConnectionId):
            raise BsatnError(f"cannot encode {value!r} as ConnectionId", len(self.out))
        self.out += value.to_le_bytes()

    def timestamp(self, value: int) -> None:
        self._pack(_I64, value, "Timestamp")

    def time_duration(self, value: int) -> None:
        self._pack(_I64, value, "TimeDuration")

    def bytes_(self, value: bytes | bytearray | memoryview) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise BsatnError(f"cannot encode {type(value).__name__} as bytes", len(self.out))
        self._pack(_U32, len(value), "length")
        self.out += value

    def string(self, value: str) -> None:
        if not isinstance(value, str):
            raise BsatnError(f"cannot encode {type(value).__name__} as String", len(self.out))
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise BsatnError(f"cannot encode string as UTF-8: {e.reason}",
                             len(self.out)) from None
        self.bytes_(raw)

    def array_len(self, n: int) -> None:
        self._pack(_U32, n, "array length")

    def u64_array(self, values: Sequence[int]) -> None:
        self.array_len(len(values))
        try:
            self.out += struct.pack(f"<{len(values)}Q", *values)
        except (struct.error, TypeError):
            raise BsatnError("cannot encode array of u64", len(self.out)) from None

    def string_array(self, values: Sequence[str]) -> None:
        self.array_len(len(values))
        for v in values:
            self.string(v)

    def option_some(self) -> None:
        self.out.append(0)

    def option_none(self) -> None:
        self.out.append(1)

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data


# --------------------------------------------------------------------------------------------
# Generated product codecs (table rows and reducer arguments)

# kind -> (struct format char(s), byte size)
_FIXED: Final[dict[str, tuple[str, int]]] = {
    "bool": ("B", 1),
    "u8": ("B", 1),
    "u16": ("H", 2),
    "u32": ("I", 4),
    "u64": ("Q", 8),
    "i64": ("q", 8),
    "Timestamp": ("q", 8),
    "Identity": ("32s", 32),
    "Enum": ("B", 1),
}

_DECODE_ERRORS: Final = (struct.error, IndexError, UnicodeDecodeError, KeyError)
_ENCODE_ERRORS: Final = (struct.error, IndexError, KeyError, AttributeError, TypeError,
                         ValueError, OverflowError)


def static_size(specs: Iterable[TypeSpec]) -> int | None:
    """The BSATN size shared by every value of this product, or None if it varies."""
    total = 0
    for spec in specs:
        fixed = _FIXED.get(spec.kind)
        if fixed is None:
            return None
        total += fixed[1]
    return total


class _Gen:
    """Emits Python source for decoding/encoding a product of TypeSpecs."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "BsatnError": BsatnError,
            "_U32": _U32.unpack_from,
            "_PU32": _U32.pack,
            "_BOOL": _BOOL_FROM_BYTE,
            "_BOOLI": {False: 0, True: 1},
            "_mkid": _new_identity,
            "_Identity": Identity,
            "_DECODE_ERRORS": _DECODE_ERRORS,
            "_ENCODE_ERRORS": _ENCODE_ERRORS,
        }
        self._n = 0

    def name(self, prefix: str, value: Any) -> str:
        self._n += 1
        key = f"{prefix}{self._n}"
        self.env[key] = value
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    # -- decoding ---------------------------------------------------------------------------

    def _post_fixed(self, indent: int, spec: TypeSpec, var: str, what: str) -> None:
        if spec.kind == "bool":
            self.emit(indent, f"{var} = _BOOL[{var}]")
        elif spec.kind == "Enum":
            assert spec.enum is not None
            members = self.name("_E", tuple(spec.enum))
            self.emit(indent, f"{var} = {members}[{var}]")
        elif spec.kind == "Identity":
            self.emit(indent, f"x = ids.get({var})")
            self.emit(indent, "if x is None:")
            self.emit(indent + 1, f"x = ids[{var}] = _mkid({var})")
            self.emit(indent, f"{var} = x")

    def decode_fields(self, indent: int, specs: Sequence[TypeSpec], names: Sequence[str],
                      varnames: Sequence[str]) -> None:
        i = 0
        while i < len(specs):
            if specs[i].kind in _FIXED:
                j = i
                fmt = "<"
                size = 0
                while j < len(specs) and specs[j].kind in _FIXED:
                    f, s = _FIXED[specs[j].kind]
                    fmt += f
                    size += s
                    j += 1
                st = self.name("_S", struct.Struct(fmt).unpack_from)
                targets = ", ".join(varnames[i:j]) + ("," if j - i == 1 else "")
                self.emit(indent, f"{targets} = {st}(buf, pos)")
                self.emit(indent, f"pos += {size}")
                for k in range(i, j):
                    self._post_fixed(indent, specs[k], varnames[k], names[k])
                i = j
            else:
                self.decode_one(indent, specs[i], names[i], varnames[i])
                i += 1

    def decode_one(self, indent: int, spec: TypeSpec, name: str, var: str) -> None:
        if spec.kind in _FIXED:
            self.decode_fields(indent, [spec], [name], [var])
        elif spec.kind == "String":
            self.emit(indent, "n, = _U32(buf, pos)")
            self.emit(indent, "pos += 4")
            self.emit(indent, "e = pos + n")
            self.emit(indent, "if e > end:")
            self.emit(indent + 1, f"raise BsatnError('truncated: {self.what}.{name} string "
                                  f"of length ' + str(n), pos - 4)")
            self.emit(indent, f"{var} = buf[pos:e].decode('utf-8')")
            self.emit(indent, "pos = e")
        elif spec.kind == "Option":
            assert spec.inner is not None
            self.emit(indent, "t = buf[pos]")
            self.emit(indent, "pos += 1")
            self.emit(indent, "if t == 1:")
            self.emit(indent + 1, f"{var} = None")
            self.emit(indent, "elif t == 0:")
            self.decode_one(indent + 1, spec.inner, name, var)
            self.emit(indent, "else:")
            self.emit(indent + 1, f"raise BsatnError('invalid Option tag ' + str(t) + "
                                  f"' in {self.what}.{name}', pos - 1)")
        else:  # pragma: no cover - model.parse_type admits nothing else
            raise AssertionError(f"no BSATN decoder for {spec}")

    # -- encoding ---------------------------------------------------------------------------

    def _pre_fixed(self, indent: int, spec: TypeSpec, var: str) -> None:
        if spec.kind == "bool":
            self.emit(indent, f"{var} = _BOOLI[{var}]")
        elif spec.kind == "Enum":
            assert spec.enum is not None
            table = {m: int(m) for m in spec.enum}
            check = self.name("_EV", table)
            self.emit(indent, f"{var} = {check}[{var}]")
        elif spec.kind == "Identity":
            self.emit(indent, f"if {var}.__class__ is not _Identity:")
            self.emit(indent + 1, f"raise TypeError('not an Identity: ' + repr({var}))")
            self.emit(indent, f"{var} = {var}.to_le_bytes()")

    def encode_fields(self, indent: int, specs: Sequence[TypeSpec],
                      varnames: Sequence[str]) -> None:
        i = 0
        while i < len(specs):
            if specs[i].kind in _FIXED:
                j = i
                fmt = "<"
                while j < len(specs) and specs[j].kind in _FIXED:
                    fmt += _FIXED[specs[j].kind][0]
                    j += 1
                for k in range(i, j):
                    self._pre_fixed(indent, specs[k], varnames[k])
                st = self.name("_P", struct.Struct(fmt).pack)
                self.emit(indent, f"out += {st}({', '.join(varnames[i:j])})")
                i = j
            else:
                self.encode_one(indent, specs[i], varnames[i])
                i += 1

    def encode_one(self, indent: int, spec: TypeSpec, var: str) -> None:
        if spec.kind in _FIXED:
            self.encode_fields(indent, [spec], [var])
        elif spec.kind == "String":
            self.emit(indent, f"s = {var}.encode('utf-8')")
            self.emit(indent, "out += _PU32(len(s))")
            self.emit(indent, "out += s")
        elif spec.kind == "Option":
            assert spec.inner is not None
            self.emit(indent, f"if {var} is None:")
            self.emit(indent + 1, "out.append(1)")
            self.emit(indent, "else:")
            self.emit(indent + 1, "out.append(0)")
            self.encode_one(indent + 1, spec.inner, var)
        else:  # pragma: no cover
            raise AssertionError(f"no BSATN encoder for {spec}")

    def compile(self, filename: str) -> dict[str, Any]:
        source = "\n".join(self.lines) + "\n"
        code = compile(source, filename, "exec")
        namespace = dict(self.env)
        exec(code, namespace)
        namespace["__source__"] = source
        return namespace


def _build_product(what: str, names: Sequence[str], specs: Sequence[TypeSpec],
                   make: Callable[..., Any], from_attrs: bool) -> dict[str, Any]:
    """Generates `decode_seq(buf) -> (values, ends)`, `decode_at(buf, pos) -> (value, end)`
    and `encode_into(out, value)`.

    decode_seq decodes products back to back until the end of `buf`, returning them and
    the end offset of each; decode_at decodes one at `pos`; `make(*fields)` builds a value.
    encode_into reads fields as attributes (rows) or by position (argument sequences).
    """
    gen = _Gen(what)
    gen.env["_make"] = make
    n = len(specs)
    varnames = [f"v{i}" for i in range(n)]
    e = gen.emit
    # decode
    e(0, "def decode_seq(buf):")
    e(1, "end = len(buf)")
    e(1, "pos = 0")
    e(1, "ids = {}")
    e(1, "out = []")
    e(1, "ends = []")
    e(1, "append = out.append")
    e(1, "mark = ends.append")
    e(1, "try:")
    if n:
        e(2, "while pos < end:")
        gen.decode_fields(3, specs, names, varnames)
        e(3, f"append(_make({', '.join(varnames)}))")
        e(3, "mark(pos)")
    else:  # zero-size products cannot be told apart back to back
        e(2, "if end:")
        e(3, f"raise BsatnError('trailing bytes after an empty {what}', 0)")
    e(1, "except _DECODE_ERRORS as err:")
    e(2, f"raise BsatnError('malformed {what}: ' + type(err).__name__ + ': ' + str(err), "
         "pos) from None")
    e(1, "return out, ends")
    e(0, "")
    e(0, "def decode_at(buf, pos):")
    e(1, "end = len(buf)")
    e(1, "ids = {}")
    e(1, "try:")
    e(2, "pass")
    gen.decode_fields(2, specs, names, varnames)
    e(1, "except _DECODE_ERRORS as err:")
    e(2, f"raise BsatnError('malformed {what}: ' + type(err).__name__ + ': ' + str(err), "
         "pos) from None")
    e(1, f"return _make({', '.join(varnames)}), pos")
    e(0, "")
    # encode
    e(0, "def encode_into(out, value):")
    e(1, "try:")
    if from_attrs:
        for var, nm in zip(varnames, names, strict=True):
            e(2, f"{var} = value.{nm}")
    elif n:
        e(2, f"{', '.join(varnames)}, = value")
    else:
        e(2, "() = value")
    gen.encode_fields(2, specs, varnames)
    e(1, "except BsatnError:")
    e(2, "raise")
    e(1, "except _ENCODE_ERRORS as err:")
    e(2, f"raise BsatnError('cannot encode {what}: ' + type(err).__name__ + ': ' + str(err), "
         "len(out)) from None")
    return gen.compile(f"<bsatn {what}>")


class RowCodec:
    """BSATN codec for one table's rows (model.TableDef), as generated Python code.

    - encode(row) -> bytes; encode_into(out: bytearray, row)
    - decode(data) -> row: exactly one row, trailing bytes are an error
    - decode_at(data, pos) -> (row, end): one row at `pos` of `data`
    - decode_concat(data) -> (rows, ends): rows back to back, with each row's end offset
    - static_size: the size of every row when all columns are fixed-size, else None
    """

    __slots__ = ("_decode_at", "_decode_seq", "encode_into", "source", "static_size", "table")

    def __init__(self, table: model.TableDef) -> None:
        self.table = table
        specs = [c.type for c in table.columns]
        self.static_size = static_size(specs)
        ns = _build_product(table.name, table.column_names, specs, table.row_type, True)
        self._decode_seq: Callable[[bytes], tuple[list[Any], list[int]]] = ns["decode_seq"]
        self._decode_at: Callable[[bytes, int], tuple[Any, int]] = ns["decode_at"]
        self.encode_into: Callable[[bytearray, Any], None] = ns["encode_into"]
        self.source: str = ns["__source__"]

    def encode(self, row: Any) -> bytes:
        if type(row) is not self.table.row_type:
            raise BsatnError(f"cannot encode {type(row).__name__} as a {self.table.name} row")
        out = bytearray()
        self.encode_into(out, row)
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        buf = data if isinstance(data, bytes) else bytes(data)
        if not buf:
            raise BsatnError(f"truncated: empty {self.table.name} row", 0)
        row, end = self._decode_at(buf, 0)
        if end != len(buf):
            raise BsatnError(f"{len(buf) - end} trailing byte(s) after a "
                             f"{self.table.name} row", end)
        return row

    def decode_at(self, data: bytes, pos: int) -> tuple[Any, int]:
        """One row starting at `pos` of `data` (bytes); returns it and where it ends."""
        return self._decode_at(data, pos)

    def decode_concat(self, data: bytes | bytearray | memoryview) -> tuple[list[Any], list[int]]:
        buf = data if isinstance(data, bytes) else bytes(data)
        return self._decode_seq(buf)


class ArgsCodec:
    """BSATN codec for a reducer's arguments: the product of its parameters, in order.

    encode(args) takes a sequence (positional) or a mapping (by parameter name);
    decode(data) returns a tuple.
    """

    __slots__ = ("_decode_at", "_encode_into", "reducer")

    def __init__(self, reducer: model.ReducerDef) -> None:
        self.reducer = reducer
        specs = [model.parse_type(t) for _, t in reducer.params]
        ns = _build_product(f"{reducer.name} arguments", reducer.param_names, specs,
                            lambda *a: a, False)
        self._decode_at: Callable[[bytes, int], tuple[Any, int]] = ns["decode_at"]
        self._encode_into: Callable[[bytearray, Any], None] = ns["encode_into"]

    def encode(self, args: Sequence[Any] | Mapping[str, Any]) -> bytes:
        names = self.reducer.param_names
        if isinstance(args, Mapping):
            unknown = set(args) - set(names)
            missing = [n for n in names if n not in args]
            if unknown or missing:
                raise BsatnError(f"{self.reducer.name}: unknown {sorted(unknown)}, "
                                 f"missing {missing}")
            values: Sequence[Any] = [args[n] for n in names]
        else:
            values = args
        if len(values) != len(names):
            raise BsatnError(f"{self.reducer.name} takes {len(names)} argument(s), "
                             f"got {len(values)}")
        out = bytearray()
        self._encode_into(out, tuple(values))
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
        buf = data if isinstance(data, bytes) else bytes(data)
        values, end = self._decode_at(buf, 0)
        if end != len(buf):
            raise BsatnError(f"{len(buf) - end} trailing byte(s) after {self.reducer.name} "
                             "arguments", end)
        result: tuple[Any, ...] = values
        return result


ROW_CODECS: Final[dict[str, RowCodec]] = {t.name: RowCodec(t) for t in model.TABLES}
ARGS_CODECS: Final[dict[str, ArgsCodec]] = {r.name: ArgsCodec(r) for r in model.REDUCERS}


def row_codec(table_name: str) -> RowCodec:
    try:
        return ROW_CODECS[table_name]
    except KeyError:
        raise BsatnError(f"unknown table {table_name!r}") from None


def args_codec(reducer_name: str) -> ArgsCodec:
    try:
        return ARGS_CODECS[reducer_name]
    except KeyError:
        raise BsatnError(f"unknown reducer {reducer_name!r}") from None


def encode_row(table_name: str, row: Any) -> bytes:
    """One row of `table_name` (a model row dataclass) as BSATN."""
    return row_codec(table_name).encode(row)


def decode_row(table_name: str, data: bytes | bytearray | memoryview) -> Any:
    """Exactly one row of `table_name` from BSATN."""
    return row_codec(table_name).decode(data)


def encode_args(reducer_name: str, args: Sequence[Any] | Mapping[str, Any]) -> bytes:
    """A reducer's arguments as the BSATN product CallReducer.args carries."""
    return args_codec(reducer_name).encode(args)


def decode_args(reducer_name: str, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
    """A reducer's arguments from CallReducer.args, as a tuple in parameter order."""
    return args_codec(reducer_name).decode(data)


# --------------------------------------------------------------------------------------------
# Single values of a type spelled as in model.py

_VALUE_CODECS: dict[str, ArgsCodec] = {}


def _value_codec(type_name: str) -> ArgsCodec:
    codec = _VALUE_CODECS.get(type_name)
    if codec is None:
        try:
            model.parse_type(type_name)
        except ValueError as e:
            raise BsatnError(str(e)) from None
        codec = ArgsCodec(model.ReducerDef(f"<{type_name}>", (("value", type_name),)))
        _VALUE_CODECS[type_name] = codec
    return codec


def encode_value(type_name: str, value: Any) -> bytes:
    """One value of a model type (e.g. "Option<String>", "MemberRole") as BSATN."""
    return _value_codec(type_name).encode((value,))


def decode_value(type_name: str, data: bytes | bytearray | memoryview) -> Any:
    """One value of a model type from BSATN (the whole of `data`)."""
    return _value_codec(type_name).decode(data)[0]
