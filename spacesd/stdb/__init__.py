"""Spaces' own client for SpacetimeDB 2.x.

The sans-I/O codec (no sockets; bytes in, values out, like h11/wsproto):
- `spacesd.stdb.bsatn`: BSATN primitives, `BsatnError` (the one codec error, with the byte
  offset), `ConnectionId`, generated row codecs for the tables and argument codecs for the
  reducers;
- `spacesd.stdb.messages`: the WebSocket v2 ClientMessage / ServerMessage dataclasses, their
  encoders and decoders, server frames (compression tag, gzip, v3 batches), BsatnRowList
  helpers.

The client, sans I/O and then with it:
- `spacesd.stdb.protocol`: `ClientProtocol`, one session's v2 exchange (calls and bytes in,
  typed events out, replies to our requests included);
- `spacesd.stdb.connection`: the asyncio client over a real WebSocket (reconnects,
  resubscribes, awaits replies); `spacesd.stdb.http`: the HTTP API (identity, calls).

The most used names of the codec are re-exported here.
"""

from spacesd.stdb.bsatn import (
    BsatnError,
    ConnectionId,
    decode_args,
    decode_row,
    encode_args,
    encode_row,
)
from spacesd.stdb.messages import (
    V2_PROTOCOL,
    V3_PROTOCOL,
    BsatnRowList,
    ClientMessage,
    Compression,
    ServerMessage,
    call_reducer,
    decode_client_frame,
    decode_client_message,
    decode_rows,
    decode_server_frame,
    decode_server_message,
    encode_client_frame,
    encode_client_message,
    encode_server_frame,
    encode_server_message,
    make_row_list,
)

__all__ = [
    "V2_PROTOCOL",
    "V3_PROTOCOL",
    "BsatnError",
    "BsatnRowList",
    "ClientMessage",
    "Compression",
    "ConnectionId",
    "ServerMessage",
    "call_reducer",
    "decode_args",
    "decode_client_frame",
    "decode_client_message",
    "decode_row",
    "decode_rows",
    "decode_server_frame",
    "decode_server_message",
    "encode_args",
    "encode_client_frame",
    "encode_client_message",
    "encode_row",
    "encode_server_frame",
    "encode_server_message",
    "make_row_list",
]
