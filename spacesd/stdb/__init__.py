"""Spaces' own client for SpacetimeDB 2.x.

The sans-I/O codec (no sockets; bytes in, values out, like h11/wsproto):
- `spacesd.stdb.bsatn`: BSATN primitives, `BsatnError` (the one codec error, with the byte
  offset), `ConnectionId`, generated row codecs for the 13 tables and argument codecs for the
  reducers;
- `spacesd.stdb.messages`: the WebSocket v2 ClientMessage / ServerMessage dataclasses, their
  encoders and decoders, server frames (compression tag, gzip, v3 batches), BsatnRowList
  helpers.

The most used names are re-exported here. I/O lives in `http` and `connection`.
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
