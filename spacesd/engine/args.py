"""Reducer arguments: checking Python values, and converting simple JSON to them.

Python values per `model.REDUCERS` types: `str` for String (Unicode text: a lone surrogate
is refused, naming the argument), `bool` for bool, `int` for the
integer types and Timestamp (in range), `Identity`, the IntEnum member (or its integer tag)
for enums, `None` or the inner value for Option.

JSON (`coerce_args`): Identity as a hex string (64 digits, `0x` optional) or SATS-JSON's
`{"__identity__": "0x..."}`; an enum as its variant name (`"Text"`) or SATS-JSON's
`{"Text": []}`; Option as null / the value, or SATS-JSON's `{"some": v}` / `{"none": []}`;
integers as JSON integers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final

from spacesd import model
from spacesd.engine import errors
from spacesd.engine.errors import ReducerError
from spacesd.model import Identity, ReducerDef, TypeSpec

_INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    "u8": (0, (1 << 8) - 1),
    "u16": (0, (1 << 16) - 1),
    "u32": (0, (1 << 32) - 1),
    "u64": (0, (1 << 64) - 1),
    "i64": (-(1 << 63), (1 << 63) - 1),
    "Timestamp": (-(1 << 63), (1 << 63) - 1),
}

_PARAM_SPECS: Final[dict[str, tuple[tuple[str, TypeSpec], ...]]] = {
    r.name: tuple((name, model.parse_type(type_name)) for name, type_name in r.params)
    for r in model.REDUCERS
}


def reducer_def(name: str) -> ReducerDef:
    found = model.REDUCER_BY_NAME.get(name)
    if found is None:
        raise ReducerError(errors.unknown_reducer(name))
    return found


def describe(spec: TypeSpec) -> str:
    """How an argument error names the expected type: "a u64", "a String or null", ..."""
    if spec.kind == "Option":
        assert spec.inner is not None
        return f"{describe(spec.inner)} or null"
    if spec.kind == "Enum":
        assert spec.enum is not None
        names = ", ".join(m.name for m in spec.enum)
        return f"a {spec.enum.__name__} ({names})"
    if spec.kind == "Identity":
        return "an Identity (64 hex digits)"
    return f"a {spec.kind}"


class _Bad(Exception):
    pass


class _BadText(_Bad):
    """A str that is not Unicode text: it holds a lone surrogate (U+D800..U+DFFF), which
    UTF-8, BSATN and SQLite cannot carry."""


def _check_value(spec: TypeSpec, value: Any) -> Any:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        return None if value is None else _check_value(spec.inner, value)
    if kind == "String":
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _BadText from None
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(value, int) and not isinstance(value, bool | enum.Enum) \
                and low <= value <= high:
            return int(value)
    elif kind == "Identity":
        if isinstance(value, Identity):
            return value
    elif kind == "Enum":
        assert spec.enum is not None
        if isinstance(value, spec.enum):
            return value
        if isinstance(value, int) and not isinstance(value, bool | enum.Enum):
            try:
                return spec.enum(value)
            except ValueError:
                pass
    raise _Bad


def _refusal(reducer: str, name: str, spec: TypeSpec, bad: _Bad) -> ReducerError:
    if isinstance(bad, _BadText):
        return ReducerError(errors.invalid_text(reducer, name))
    return ReducerError(errors.bad_argument(reducer, name, describe(spec)))


def check_args(reducer: str, args: Sequence[Any]) -> list[Any]:
    """Python values for a reducer call, checked against its parameter types."""
    specs = _PARAM_SPECS.get(reducer)
    if specs is None:
        raise ReducerError(errors.unknown_reducer(reducer))
    if isinstance(args, str | bytes | dict) or not hasattr(args, "__len__"):
        raise ReducerError(errors.not_an_array(reducer))
    if len(args) != len(specs):
        raise ReducerError(errors.wrong_arity(reducer, len(specs), len(args)))
    out = []
    for (name, spec), value in zip(specs, args, strict=True):
        try:
            out.append(_check_value(spec, value))
        except _Bad as bad:
            raise _refusal(reducer, name, spec, bad) from None
    return out


def _coerce_value(spec: TypeSpec, value: Any) -> Any:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        if value is None:
            return None
        if isinstance(value, dict) and len(value) == 1:
            (tag, inner), = value.items()
            if tag == "none" and inner in ([], {}, None):
                return None
            if tag == "some":
                return _coerce_value(spec.inner, inner)
        return _coerce_value(spec.inner, value)
    if kind == "Identity":
        if isinstance(value, dict) and len(value) == 1 and "__identity__" in value:
            value = value["__identity__"]  # SATS-JSON
        if isinstance(value, str):
            try:
                return Identity.from_hex(value)
            except ValueError:
                raise _Bad from None
        raise _Bad
    if kind == "Enum":
        assert spec.enum is not None
        name = value
        if isinstance(value, dict) and len(value) == 1:
            (name, payload), = value.items()
            if payload not in ([], {}, None):
                raise _Bad
        if isinstance(name, str) and name in spec.enum.__members__:
            return spec.enum[name]
        raise _Bad
    if kind == "Timestamp" and isinstance(value, dict) and len(value) == 1:
        # SATS-JSON spells a Timestamp {"__timestamp_micros_since_unix_epoch__": n}
        (_, inner), = value.items()
        return _check_value(spec, inner)
    return _check_value(spec, value)


def coerce_args(reducer: str, json_args: list[Any]) -> list[Any]:
    """Python values from a JSON argument array (see the module docstring).

    Raises ReducerError naming the argument on bad input.
    """
    specs = _PARAM_SPECS.get(reducer)
    if specs is None:
        raise ReducerError(errors.unknown_reducer(reducer))
    if not isinstance(json_args, list | tuple):
        raise ReducerError(errors.not_an_array(reducer))
    if len(json_args) != len(specs):
        raise ReducerError(errors.wrong_arity(reducer, len(specs), len(json_args)))
    out = []
    for (name, spec), value in zip(specs, json_args, strict=True):
        try:
            out.append(_coerce_value(spec, value))
        except _Bad as bad:
            raise _refusal(reducer, name, spec, bad) from None
    return out
