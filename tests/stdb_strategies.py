"""Hypothesis strategies for the SpacetimeDB codec tests: model rows, reducer arguments and
every v2 ClientMessage / ServerMessage (spacesd.stdb.messages)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from spacesd import model
from spacesd.model import Identity, TypeSpec
from spacesd.stdb import messages as m
from spacesd.stdb.bsatn import ConnectionId

U8 = st.integers(0, 2**8 - 1)
U16 = st.integers(0, 2**16 - 1)
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=40)
BLOB = st.binary(max_size=40)
IDENTITIES = st.one_of(
    st.integers(0, 2**256 - 1),
    st.sampled_from([0, 1, 2**256 - 1, 0xC200 << 240]),
).map(Identity)
CONNECTION_IDS = st.integers(0, 2**128 - 1).map(ConnectionId)


def value_of(spec: TypeSpec) -> st.SearchStrategy[Any]:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        return st.none() | value_of(spec.inner)
    if kind == "Enum":
        assert spec.enum is not None
        return st.sampled_from(list(spec.enum))
    return {
        "bool": st.booleans(),
        "u8": U8,
        "u16": U16,
        "u32": U32,
        "u64": U64,
        "i64": I64,
        "Timestamp": I64,
        "String": TEXT,
        "Identity": IDENTITIES,
    }[kind]


def rows_of(table_name: str) -> st.SearchStrategy[Any]:
    table = model.TABLE_BY_NAME[table_name]
    return st.tuples(*(value_of(c.type) for c in table.columns)).map(
        lambda values: table.row_from_values(values))


TABLE_NAMES = st.sampled_from([t.name for t in model.TABLES])
REDUCER_NAMES = st.sampled_from([r.name for r in model.REDUCERS])


@st.composite
def table_and_rows(draw: st.DrawFn, max_rows: int = 6) -> tuple[str, list[Any]]:
    name = draw(TABLE_NAMES)
    return name, draw(st.lists(rows_of(name), max_size=max_rows))


@st.composite
def reducer_and_args(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    reducer = model.REDUCER_BY_NAME[draw(REDUCER_NAMES)]
    values = tuple(draw(value_of(model.parse_type(t))) for _, t in reducer.params)
    return reducer.name, values


# Row lists: real encoded rows of a table (with the table's name), or arbitrary hints and
# bytes (the message layer carries any BsatnRowList).
@st.composite
def real_row_lists(draw: st.DrawFn) -> tuple[str, m.BsatnRowList]:
    name, rows = draw(table_and_rows())
    return name, m.make_row_list(name, rows)


ARBITRARY_ROW_LISTS = st.builds(
    m.BsatnRowList,
    st.one_of(st.builds(m.FixedSize, U16),
              st.builds(m.RowOffsets, st.lists(U64, max_size=4))),
    BLOB,
)

ROW_LISTS = st.one_of(real_row_lists().map(lambda p: p[1]), ARBITRARY_ROW_LISTS)


@st.composite
def single_table_rows(draw: st.DrawFn) -> m.SingleTableRows:
    if draw(st.booleans()):
        name, rl = draw(real_row_lists())
        return m.SingleTableRows(name, rl)
    return m.SingleTableRows(draw(TEXT), draw(ARBITRARY_ROW_LISTS))


QUERY_ROWS = st.builds(m.QueryRows, st.lists(single_table_rows(), max_size=3))

TABLE_UPDATE_ROWS: st.SearchStrategy[m.TableUpdateRows] = st.one_of(
    st.builds(m.PersistentTableRows, ROW_LISTS, ROW_LISTS),
    st.builds(m.EventTableRows, ROW_LISTS),
)

TABLE_UPDATES = st.builds(m.TableUpdate, st.one_of(TABLE_NAMES, TEXT),
                          st.lists(TABLE_UPDATE_ROWS, max_size=3))

TRANSACTION_UPDATES = st.builds(
    m.TransactionUpdate,
    st.lists(st.builds(m.QuerySetUpdate, U32, st.lists(TABLE_UPDATES, max_size=3)),
             max_size=3),
)

REDUCER_OUTCOMES: st.SearchStrategy[m.ReducerOutcome] = st.one_of(
    st.builds(m.ReducerOk, BLOB, TRANSACTION_UPDATES),
    st.just(m.ReducerOkEmpty()),
    st.builds(m.ReducerErr, BLOB),
    TEXT.map(m.ReducerErr.from_message),
    st.builds(m.ReducerInternalError, TEXT),
)

CLIENT_MESSAGES: st.SearchStrategy[m.ClientMessage] = st.one_of(
    st.builds(m.Subscribe, U32, U32, st.lists(TEXT, max_size=4)),
    st.builds(m.Unsubscribe, U32, U32, st.sampled_from(list(m.UnsubscribeFlags))),
    st.builds(m.OneOffQuery, U32, TEXT),
    st.builds(m.CallReducer, U32, TEXT, BLOB),
    st.builds(m.CallProcedure, U32, TEXT, BLOB),
)

SERVER_MESSAGES: st.SearchStrategy[m.ServerMessage] = st.one_of(
    st.builds(m.InitialConnection, IDENTITIES, CONNECTION_IDS, TEXT),
    st.builds(m.SubscribeApplied, U32, U32, QUERY_ROWS),
    st.builds(m.UnsubscribeApplied, U32, U32, st.none() | QUERY_ROWS),
    st.builds(m.SubscriptionError, st.none() | U32, U32, TEXT),
    TRANSACTION_UPDATES,
    st.builds(m.OneOffQueryResult, U32, st.one_of(QUERY_ROWS, TEXT)),
    st.builds(m.ReducerResult, U32, I64, REDUCER_OUTCOMES),
    st.builds(m.ProcedureResult,
              st.one_of(st.builds(m.ProcedureReturned, BLOB),
                        st.builds(m.ProcedureInternalError, TEXT)),
              I64, I64, U32),
)
