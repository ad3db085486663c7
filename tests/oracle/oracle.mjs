// The official SpacetimeDB TypeScript SDK (npm `spacetimedb`, pinned in package.json) as a
// BSATN oracle for Spaces' Python codec. Bundled from the SDK's own sources with esbuild
// (tests/test_oracle.py does that) and driven over stdin/stdout, one JSON object a line:
//
//   {"id": 1, "op": "decode", "type": "ServerMessage", "hex": "..."}
//     -> {"id": 1, "ok": true, "json": <value>, "hex": <SDK re-encoding>, "remaining": 0}
//   {"id": 2, "op": "encode", "type": "row:message", "json": <value>}
//     -> {"id": 2, "ok": true, "hex": "..."}
//   {"op": "server_frame", "protocol": "v2"|"v3", "hex": "..."}  (tag, gzip, v3 batches
//     through the SDK's WebsocketDecompressAdapter and v3 frame reader)
//     -> {"ok": true, "messages": [<json>...]}
//   {"op": "rows", "table": "message", "hex": "<rows_data>"} -> {"ok": true, "rows": [...]}
//     (rows back to back, read as the SDK's DbConnectionImpl reads a BsatnRowList)
//   {"op": "client_frame_v3", "hex": "..."} -> {"ok": true, "messages": [...]}
//   {"op": "encode_client_frame_v3", "hexes": [...]} -> {"ok": true, "hex": "..."}
//   {"op": "schema"} -> {"ok": true, "tables": {...}, "reducers": {...}}
//
// Types: ClientMessage, ServerMessage, row:<table>, args:<reducer>, or any of the SDK's
// client_api types (e.g. BsatnRowList). JSON for values follows the SDK's own algebraic
// types: u64 and wider as decimal strings, byte arrays as hex, Option as null or the value,
// Result as {"ok": v} / {"err": v}, other sums as {"tag": name, "value": v}, products as
// objects keyed by the SDK's element names (camelCase for protocol types).
import * as readline from 'node:readline';
import * as api from './node_modules/spacetimedb/src/sdk/client_api/types.ts';
import BinaryReader from './node_modules/spacetimedb/src/lib/binary_reader.ts';
import BinaryWriter from './node_modules/spacetimedb/src/lib/binary_writer.ts';
import { WebsocketDecompressAdapter } from './node_modules/spacetimedb/src/sdk/websocket_decompress_adapter.ts';
import {
  decodeClientMessagesV3,
  encodeClientMessagesV3,
  forEachServerMessageV3,
} from './node_modules/spacetimedb/src/sdk/websocket_v3_frames.ts';
import { REDUCERS, TABLES } from './schema.mjs';

const WIDE = new Set(['I64', 'U64', 'I128', 'U128', 'I256', 'U256']);
const NARROW = new Set(['Bool', 'I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'F32', 'F64', 'String']);

const isOption = ty =>
  ty.tag === 'Sum' && ty.value.variants.length === 2 &&
  ty.value.variants[0].name === 'some' && ty.value.variants[1].name === 'none';
const isResult = ty =>
  ty.tag === 'Sum' && ty.value.variants.length === 2 &&
  ty.value.variants[0].name === 'ok' && ty.value.variants[1].name === 'err';

const toHex = bytes => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const fromHex = hex => new Uint8Array(Buffer.from(hex, 'hex'));

function toJson(ty, v) {
  if (NARROW.has(ty.tag)) return v;
  if (WIDE.has(ty.tag)) return v.toString();
  switch (ty.tag) {
    case 'Array':
      if (ty.value.tag === 'U8') return toHex(v);
      return v.map(e => toJson(ty.value, e));
    case 'Product': {
      const out = {};
      for (const el of ty.value.elements) out[el.name] = toJson(el.algebraicType, v[el.name]);
      return out;
    }
    case 'Sum': {
      if (isOption(ty)) return v === undefined || v === null ? null : toJson(ty.value.variants[0].algebraicType, v);
      if (isResult(ty)) {
        if ('ok' in v) return { ok: toJson(ty.value.variants[0].algebraicType, v.ok) };
        return { err: toJson(ty.value.variants[1].algebraicType, v.err) };
      }
      const variant = ty.value.variants.find(x => x.name === v.tag);
      if (!variant) throw new Error(`unknown variant ${v.tag}`);
      return { tag: v.tag, value: toJson(variant.algebraicType, v.value) };
    }
    default:
      throw new Error(`no JSON for type ${ty.tag}`);
  }
}

function fromJson(ty, j) {
  if (NARROW.has(ty.tag)) return j;
  if (WIDE.has(ty.tag)) return BigInt(j);
  switch (ty.tag) {
    case 'Array':
      if (ty.value.tag === 'U8') return fromHex(j);
      return j.map(e => fromJson(ty.value, e));
    case 'Product': {
      const out = {};
      for (const el of ty.value.elements) out[el.name] = fromJson(el.algebraicType, j[el.name]);
      return out;
    }
    case 'Sum': {
      if (isOption(ty)) return j === null ? undefined : fromJson(ty.value.variants[0].algebraicType, j);
      if (isResult(ty)) {
        if ('ok' in j) return { ok: fromJson(ty.value.variants[0].algebraicType, j.ok) };
        return { err: fromJson(ty.value.variants[1].algebraicType, j.err) };
      }
      const variant = ty.value.variants.find(x => x.name === j.tag);
      if (!variant) throw new Error(`unknown variant ${j.tag}`);
      return { tag: j.tag, value: fromJson(variant.algebraicType, j.value ?? {}) };
    }
    default:
      throw new Error(`no JSON for type ${ty.tag}`);
  }
}

// Rust spellings, as in spacesd/model.py, for the schema check.
function spell(ty) {
  switch (ty.tag) {
    case 'Bool': return 'bool';
    case 'String': return 'String';
    case 'U8': case 'U16': case 'U32': case 'U64': case 'I64':
      return ty.tag.toLowerCase();
    case 'Product': {
      const els = ty.value.elements;
      if (els.length === 1 && els[0].name === '__identity__') return 'Identity';
      if (els.length === 1 && els[0].name === '__timestamp_micros_since_unix_epoch__') return 'Timestamp';
      return `{${els.map(e => `${e.name}: ${spell(e.algebraicType)}`).join(', ')}}`;
    }
    case 'Sum':
      if (isOption(ty)) return `Option<${spell(ty.value.variants[0].algebraicType)}>`;
      return `enum[${ty.value.variants.map(v => v.name).join(',')}]`;
    default:
      return ty.tag;
  }
}

function builderFor(type) {
  if (type.startsWith('row:')) return TABLES[type.slice(4)];
  if (type.startsWith('args:')) return REDUCERS[type.slice(5)];
  return api[type];
}

// In SDK 2.10.1 a Result's serializer writes the err value with the ok type's serializer,
// so ServerMessage.serialize throws on OneOffQueryResult { result: { err } }. That one case
// is written with the SDK's BinaryWriter directly, field by field, per types.ts.
function serializeServerMessage(writer, value) {
  if (value.tag === 'OneOffQueryResult' && 'err' in value.value.result) {
    writer.writeU8(5);
    writer.writeU32(value.value.requestId);
    writer.writeU8(1);
    writer.writeString(value.value.result.err);
    return;
  }
  api.ServerMessage.serialize(writer, value);
}

function serialize(type, builder, value) {
  const writer = new BinaryWriter(64);
  if (type === 'ServerMessage') serializeServerMessage(writer, value);
  else builder.serialize(writer, value);
  return writer.getBuffer();
}

async function decompressFrame(bytes) {
  // The SDK's own adapter: its onmessage handler strips the tag and inflates.
  const fake = { protocol: 'v2.bsatn.spacetimedb', readyState: 1, close() {}, send() {} };
  const adapter = new WebsocketDecompressAdapter(fake);
  return await new Promise((resolve, reject) => {
    adapter.onmessage = msg => resolve(msg.data);
    const origError = console.error;
    console.error = (...args) => { reject(new Error(args.map(String).join(' '))); };
    Promise.resolve(fake.onmessage({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }))
      .catch(reject)
      .finally(() => { console.error = origError; });
  });
}

async function handle(req) {
  switch (req.op) {
    case 'decode': {
      const builder = builderFor(req.type);
      if (!builder) throw new Error(`unknown type ${req.type}`);
      const bytes = fromHex(req.hex);
      const reader = new BinaryReader(bytes);
      const value = builder.deserialize(reader);
      if (value === undefined) throw new Error('SDK returned undefined (unknown sum tag)');
      const out = { json: toJson(builder.algebraicType, value), remaining: reader.remaining };
      try {
        out.hex = toHex(serialize(req.type, builder, value));
      } catch (e) {
        out.reencode_error = String(e);
      }
      return out;
    }
    case 'encode': {
      const builder = builderFor(req.type);
      if (!builder) throw new Error(`unknown type ${req.type}`);
      const value = fromJson(builder.algebraicType, req.json);
      return { hex: toHex(serialize(req.type, builder, value)) };
    }
    case 'server_frame': {
      const body = await decompressFrame(fromHex(req.hex));
      const ty = api.ServerMessage.algebraicType;
      const messages = [];
      if (req.protocol === 'v3') {
        forEachServerMessageV3(new BinaryReader(body), body, m => messages.push(toJson(ty, m)));
      } else {
        const reader = new BinaryReader(body);
        messages.push(toJson(ty, api.ServerMessage.deserialize(reader)));
        if (reader.remaining !== 0) throw new Error(`${reader.remaining} trailing byte(s)`);
      }
      return { messages };
    }
    case 'rows': {
      // As the SDK's DbConnectionImpl#parseRowList: rows back to back until rows_data ends.
      const builder = TABLES[req.table];
      const reader = new BinaryReader(fromHex(req.hex));
      const rows = [];
      while (reader.remaining > 0) rows.push(toJson(builder.algebraicType, builder.deserialize(reader)));
      return { rows };
    }
    case 'client_frame_v3': {
      const data = fromHex(req.hex);
      const ty = api.ClientMessage.algebraicType;
      const parts = decodeClientMessagesV3(data);
      return {
        messages: parts.map(p => toJson(ty, api.ClientMessage.deserialize(new BinaryReader(p)))),
      };
    }
    case 'encode_client_frame_v3': {
      const parts = req.hexes.map(fromHex);
      return { hex: toHex(encodeClientMessagesV3(new BinaryWriter(64), parts)) };
    }
    case 'schema': {
      const tables = {};
      for (const [name, b] of Object.entries(TABLES)) {
        tables[name] = b.algebraicType.value.elements.map(e => [e.name, spell(e.algebraicType)]);
      }
      const reducers = {};
      for (const [name, b] of Object.entries(REDUCERS)) {
        reducers[name] = b.algebraicType.value.elements.map(e => [e.name, spell(e.algebraicType)]);
      }
      return { tables, reducers };
    }
    case 'version':
      return { node: process.version };
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
let chain = Promise.resolve();
rl.on('line', line => {
  // Requests are answered strictly in order.
  chain = chain.then(async () => {
    let req;
    let resp;
    try {
      req = JSON.parse(line);
      resp = { id: req.id, ok: true, ...(await handle(req)) };
    } catch (e) {
      resp = { id: req?.id, ok: false, error: String(e?.stack ?? e) };
    }
    process.stdout.write(JSON.stringify(resp) + '\n');
  });
});
