"""The Spaces engine: the reducers as pure logic over a SQLite store.

It is the embedded backend (one machine) and the host of the test server. Layout, as in a
SpacetimeDB module: `errors` (every refusal message), `validation` (every bound),
`auth` (lookups, membership, role levels), `effects` (shared mutations and cascades),
`reducers/` (by domain), `args` (argument checking and JSON coercion), `core` (Engine).
"""

from spacesd.engine.args import coerce_args
from spacesd.engine.core import Engine
from spacesd.engine.errors import ReducerError
from spacesd.store import Changes, TableChanges

__all__ = ["Changes", "Engine", "ReducerError", "TableChanges", "coerce_args"]
