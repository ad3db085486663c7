// The official SpacetimeDB TypeScript SDK's client (DbConnection of npm `spacetimedb`, the
// version pinned in package.json, its built dist) against Spaces' test server
// (tests/stdb_server.py). Table and reducer definitions are written by hand, as
// `spacetime generate` would write them for the Spaces module.
//
//   node --experimental-websocket tests/oracle/client_test.mjs ws://127.0.0.1:PORT spaces [TOKEN]
//
// (Node 20 has no global WebSocket without that flag; Node 22+ has one. The SDK would
// otherwise import undici's.) It connects with TOKEN (the SDK trades it for a short-lived one
// at /v1/identity/websocket-token first) or anonymously (the server mints an identity),
// subscribes to `message`, calls `send_message` in #general and waits for its own row; then
// a refused reducer call (an agent-less member creating a channel) must come back as an
// error. Prints one JSON line with what happened; exit code 0 on success.
import {
  DbConnectionBuilder,
  DbConnectionImpl,
  convertToAccessorMap,
  procedures,
  reducerSchema,
  reducers,
  schema,
  t,
  table,
} from 'spacetimedb';

const [, , uri = 'ws://127.0.0.1:3000', dbName = 'spaces', authToken = ''] = process.argv;

const ChannelType = t.enum('ChannelType', {
  Text: t.unit(),
  Voice: t.unit(),
  Announcement: t.unit(),
  AgentLog: t.unit(),
});
const MessageType = t.enum('MessageType', {
  Text: t.unit(),
  System: t.unit(),
  AgentEvent: t.unit(),
  Join: t.unit(),
  Leave: t.unit(),
});

const MessageRow = t.row({
  id: t.u64().primaryKey(),
  channelId: t.u64().name('channel_id'),
  threadId: t.option(t.u64()).name('thread_id'),
  sender: t.identity(),
  content: t.string(),
  messageType: MessageType.name('message_type'),
  createdAt: t.timestamp().name('created_at'),
  editedAt: t.option(t.timestamp()).name('edited_at'),
  replyToId: t.option(t.u64()).name('reply_to_id'),
});

const ChannelRow = t.row({
  id: t.u64().primaryKey(),
  serverId: t.u64().name('server_id'),
  name: t.string(),
  topic: t.option(t.string()),
  channelType: ChannelType.name('channel_type'),
  position: t.u32(),
  createdAt: t.timestamp().name('created_at'),
});

const tablesSchema = schema({
  message: table({ name: 'message', indexes: [], constraints: [] }, MessageRow),
  channel: table({ name: 'channel', indexes: [], constraints: [] }, ChannelRow),
});

const reducersSchema = reducers(
  reducerSchema('send_message', {
    channelId: t.u64(),
    content: t.string(),
    threadId: t.option(t.u64()),
    replyToId: t.option(t.u64()),
    messageType: MessageType,
  }),
  reducerSchema('create_channel', {
    serverId: t.u64(),
    name: t.string(),
    topic: t.option(t.string()),
    channelType: ChannelType,
  })
);
const proceduresSchema = procedures();

const REMOTE_MODULE = {
  versionInfo: { cliVersion: '2.10.1' },
  tables: tablesSchema.schemaType.tables,
  reducers: reducersSchema.reducersType.reducers,
  ...proceduresSchema,
};

class DbConnection extends DbConnectionImpl {
  static builder() {
    return new DbConnectionBuilder(REMOTE_MODULE, config => new DbConnection(config));
  }
}
void convertToAccessorMap;

const result = { ok: false, steps: [] };
const step = s => result.steps.push(s);
const finish = (ok, error) => {
  result.ok = ok;
  if (error) result.error = String(error?.message ?? error);
  console.log(JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
  process.exit(ok ? 0 : 1);
};
setTimeout(() => finish(false, 'timed out'), 20000).unref();

const content = `hello from the official SDK ${Date.now()}`;

const builder = DbConnection.builder().withUri(uri).withDatabaseName(dbName);
if (authToken) builder.withToken(authToken);
builder
  .onConnect((conn, identity, token) => {
    result.identity = identity.toHexString();
    result.token_present = typeof token === 'string' && token.length > 0;
    step('connected');
    conn.db.message.onInsert((ctx, row) => {
      if (row.content !== content) return;
      step('own row received');
      result.row = {
        id: row.id,
        channel_id: row.channelId,
        sender: row.sender.toHexString(),
        content: row.content,
        message_type: row.messageType.tag,
      };
      result.sender_is_me = row.sender.toHexString() === result.identity;
      result.event = ctx.event?.tag;
      result.cache_count = conn.db.message.count();
      // A refusal: a Member (not Admin) creating a channel.
      conn.reducers
        .createChannel({ serverId: 1n, name: 'nope', topic: undefined, channelType: { tag: 'Text' } })
        .then(
          () => finish(false, 'create_channel should have been refused'),
          err => {
            result.refusal = String(err?.message ?? err);
            step('refusal received');
            finish(result.sender_is_me === true, null);
          }
        );
    });
    conn
      .subscriptionBuilder()
      .onApplied(ctx => {
        step('subscription applied');
        result.initial_rows = conn.db.message.count();
        const general = [...conn.db.channel.iter()].find(c => c.name === 'general');
        result.general_id = general?.id;
        conn.reducers
          .sendMessage({
            channelId: general ? general.id : 1n,
            content,
            threadId: undefined,
            replyToId: undefined,
            messageType: { tag: 'Text' },
          })
          .then(
            () => step('send_message committed'),
            err => finish(false, `send_message failed: ${err?.message ?? err}`)
          );
      })
      .onError((ctx, err) => finish(false, `subscription error: ${err?.message ?? err}`))
      .subscribe(['SELECT * FROM message', 'SELECT * FROM channel']);
  })
  .onConnectError((ctx, err) => finish(false, `connect error: ${err?.message ?? err}`))
  .build();
