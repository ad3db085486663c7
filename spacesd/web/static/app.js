// Spaces web view. Plain JavaScript, no build step. Every text from the server is put in the
// page with textContent (never as HTML): a message holding markup shows as that markup.
"use strict";

const S = {
  me: null, servers: [], channels: new Map(), current: null, thread: null,
  msgs: new Map(), reactions: new Map(), threads: new Map(), oldest: null,
  replyTo: null, editing: null, people: [], latency: [], firstPaint: null, serverPaint: null, paintKnown: false, es: null,
  readTimer: null, lastSeq: 0, loading: null, dm: null, dms: new Map(), passphrase: null,
  sessions: [], receipts: new Map(),
};
window.spaces = S;  // for tests and the benchmark: latency samples, first paint

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "cls") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const res = await fetch(path, {credentials: "same-origin", ...opts});
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

// ---------------------------------------------------------------------------- login

async function login() {
  const m = /(?:^#|&)t=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, "", location.pathname + location.search);
  const token = m[1];
  for (;;) {
    try {
      await api("/login", {token, passphrase: S.passphrase});
      if (S.passphrase !== null) {  // the passphrase form was shown: back to the page
        S.passphrase = null;
        $("gate").hidden = true; $("layout").hidden = false;
      }
      return;
    } catch (e) {
      if (e.status !== 401) throw e;
      S.passphrase = await askPassphrase(e.message);  // the person proves they are the owner
    }
  }
}

async function askPassphrase(why) {
  await DOM_READY;
  gate(why);
  const form = $("pass-form");
  form.hidden = false;
  $("pass").value = "";
  $("pass").focus();
  return new Promise((resolve) => {
    form.onsubmit = (ev) => { ev.preventDefault(); form.hidden = true; resolve($("pass").value); };
  });
}

function gate(text) {
  $("gate-text").textContent = text;
  $("gate").hidden = false;
  $("layout").hidden = true;
}

// ---------------------------------------------------------------------------- sidebar

function renderSidebar() {
  const box = $("servers");
  box.replaceChildren();
  S.channels.clear();
  for (const server of S.servers) {
    const list = el("ul", {cls: "channels"});
    for (const ch of server.channels) {
      S.channels.set(ch.id, {...ch, server: server.name});
      const badge = el("span", {cls: "unread", text: unreadText(ch.unread)});
      badge.hidden = !ch.unread;
      const b = el("button", {
        type: "button", cls: "chan", "data-id": ch.id,
        "aria-current": S.current === ch.id ? "page" : null,
        onclick: () => go(`/c/${ch.id}`),
      }, el("span", {cls: "hash", text: ch.type === "AgentLog" ? "▤" : "#"}),
      el("span", {cls: "name", text: ch.name}), badge);
      list.append(el("li", null, b));
    }
    box.append(el("h2", {cls: "side-head", text: server.name}), list);
  }
  const dms = el("ul", {cls: "channels"});
  S.dms.clear();
  for (const c of S.conversations || []) {
    S.dms.set(c.id, c);
    const badge = el("span", {cls: "unread", text: unreadText(c.unread)});
    badge.hidden = !c.unread;
    dms.append(el("li", null, el("button", {
      type: "button", cls: "chan dm", "data-dm": c.id,
      "aria-current": S.dm === c.id ? "page" : null, onclick: () => go(`/d/${c.id}`),
    }, el("span", {cls: "hash", text: "@"}), el("span", {cls: "name", text: c.name}),
    c.other_agent ? el("span", {cls: "tag", text: "agent"}) : null, badge)));
  }
  if (S.dms.size) box.append(el("h2", {cls: "side-head", text: "Direct messages"}), dms);
  $("me").textContent = S.me ? `You act as @${S.me.username}` +
    (S.me.owner ? " (the hub's owner)" : " (this machine's daemon)") : "";
}

function unreadText(n) { return n >= 1000 ? "999+" : n ? String(n) : ""; }

function setUnread(cid, n) {
  const ch = S.channels.get(cid);
  if (!ch) return;
  ch.unread = n;
  const badge = document.querySelector(`button.chan[data-id="${cid}"] .unread`);
  if (badge) { badge.textContent = unreadText(n); badge.hidden = !n; }
}

function loadStateData(query) { return api("/api/state" + (query || "")); }

async function loadState(query) {
  const st = await loadStateData(query);
  applyState(st);
  return st;
}

function applyState(st) {
  S.me = st.me; S.servers = st.servers; S.search = st.search; S.defaultChannel = st.channel;
  S.conversations = st.dms;
  renderSidebar();
  return st;
}

function renderPeople() {
  const ul = $("people");
  ul.replaceChildren();
  for (const p of S.people) {
    const dot = el("span", {cls: "dot " + (p.online ? "on" : "off"),
                            title: p.online ? "online" : "offline"});
    ul.append(el("li", null, el("a", {href: `/p/${p.identity}`, cls: "person"}, dot,
      el("span", {text: "@" + p.username}),
      p.is_agent ? el("span", {cls: "tag", text: "agent"}) : null,
      el("span", {cls: "sr", text: p.online ? " (online)" : " (offline)"}))));
  }
}

// ---------------------------------------------------------------------------- tasks, leases

const TASK_ORDER = {Claimed: 0, Open: 1, Failed: 2, Done: 3, Cancelled: 4};
const at = (name) => (name ? (String(name).startsWith("@") ? name : `@${name}`) : null);

function taskEventText(content) {
  // The AgentEvents the task reducers post, said in words (null for any other event).
  let ev;
  try { ev = JSON.parse(content); } catch (e) { return null; }
  if (!ev || typeof ev !== "object") return null;
  if (ev.kind === "task_created") {
    const subs = Array.isArray(ev.subtasks) && ev.subtasks.length ? ` (${ev.subtasks.length} subtasks: ${ev.subtasks.join(", ")})` : "";
    return `Task created: ${ev.title}${subs}`;
  }
  if (ev.kind === "task_done") return `Task #${ev.task} done: ${ev.title}${ev.result ? ` — ${ev.result}` : ""}`;
  if (ev.kind === "task_failed") return `Task #${ev.task} failed: ${ev.title}${ev.result ? ` — ${ev.result}` : ""}`;
  return null;
}

function taskItem(t) {
  const li = el("li", {cls: `msg task ts-${t.state}`, "data-task": t.id});
  li.append(el("div", {cls: "meta"}, el("span", {cls: "tag", text: t.state}),
    el("span", {cls: "author", text: `#${t.id} ${t.title}`}),
    t.parent_id ? el("span", {cls: "edited", text: `subtask of #${t.parent_id}`}) : null));
  const dl = el("dl", {cls: "person-facts"});
  fact(dl, "Channel", t.channel ? `#${t.channel}` : null);
  fact(dl, "By", at(t.creator_name));
  fact(dl, "Claimed by", at(t.assignee_name));
  fact(dl, "Until", t.state === "Claimed" && t.lease_expires ? fmtTime(t.lease_expires) : null);
  fact(dl, "Result", t.result);
  li.append(dl);
  return li;
}

function leaseItem(l) {
  const li = el("li", {cls: "msg lease", "data-lease": l.id},
    el("div", {cls: "meta"}, el("span", {cls: "tag", text: "lease"}),
      el("span", {cls: "author", text: l.pattern}),
      el("span", {cls: "edited", text: `${at(l.holder_name || l.holder.slice(0, 8))} until ${fmtTime(l.expires_at)}`})));
  if (l.reason) li.append(el("div", {cls: "body", text: l.reason}));
  li.append(el("div", {cls: "edited", text: l.project}));
  return li;
}

async function loadTasks(show) {
  const board = await api("/api/tasks");
  const active = board.tasks.filter((t) => t.state === "Open" || t.state === "Claimed").length;
  const badge = $("tasks-count");
  badge.textContent = String(active); badge.hidden = !active;
  if (!show && location.pathname !== "/tasks") return;
  const tasks = board.tasks.slice().sort((a, b) =>
    (TASK_ORDER[a.state] - TASK_ORDER[b.state]) || (b.id - a.id));
  openPanel("Tasks and leases",
    `${active} open or claimed of ${board.tasks.length}; ${board.leases.length} live path leases.`,
    [...board.leases.map(leaseItem), ...tasks.map(taskItem)]);
}

// ---------------------------------------------------------------------------- sessions, receipts

const STATES = {Working: "working", WaitingForInput: "waiting for input", Idle: "idle",
  Ended: "ended"};

function renderSessions() {
  const ul = $("sessions");
  ul.replaceChildren();
  for (const s of S.sessions) {
    const where = [s.project, s.branch].filter(Boolean).join(" · ");
    ul.append(el("li", null, el("a", {href: `/p/${s.identity}`, cls: "person session",
      title: `${s.agent} in ${where}: ${STATES[s.state] || s.state}`},
    el("span", {cls: `dot st-${s.state}`}), el("span", {text: s.handle}),
    el("span", {cls: "tag", text: s.agent}),
    el("span", {cls: "sr", text: ` (${STATES[s.state] || s.state})`}))));
  }
  $("sessions").previousElementSibling.hidden = !S.sessions.length;
}

async function loadSessions() {
  try { S.sessions = (await api("/api/sessions")).sessions; renderSessions(); } catch (e) { /* shown */ }
}

function receiptKey(r) { return r.dm_id ? `d:${r.dm_id}` : `m:${r.message_id}`; }

function keepReceipts(key, list) {
  if (!list) return;
  const map = new Map();
  for (const r of list) map.set(r.item, r);
  S.receipts.set(key, map);
}

function receiptsLine(key) {
  const box = el("div", {cls: "receipts", "data-receipts": key});
  const map = S.receipts.get(key);
  if (!map || !map.size) { box.hidden = true; return box; }
  box.append(el("span", {cls: "sr", text: "Receipts: "}));
  for (const r of map.values()) {
    box.append(el("span", {cls: `receipt rc-${r.state}`, title: r.waits || r.kind,
      text: `${r.handle} · ${r.state.toLowerCase()}${r.waits ? ` (${r.waits})` : ""}`}));
  }
  return box;
}

function onReceipt(d, gone) {
  const key = receiptKey(d);
  const map = S.receipts.get(key) || new Map();
  if (gone) map.delete(d.item); else map.set(d.item, d);
  S.receipts.set(key, map);
  for (const old of document.querySelectorAll(`[data-receipts="${key}"]`)) {
    old.replaceWith(receiptsLine(key));
  }
}

async function loadPeople() {
  try { S.people = (await api("/api/people")).people; renderPeople(); } catch (e) { /* shown */ }
}

// ---------------------------------------------------------------------------- messages

let TIME_FORMAT = null;  // made once, on first use: toLocaleString builds one per call,
                        // and the first costs 20-50 ms (locale data): not before the first request

function fmtTime(iso) {
  const d = new Date(iso);
  if (TIME_FORMAT === null) {
    TIME_FORMAT = new Intl.DateTimeFormat([], {hour: "2-digit", minute: "2-digit",
      month: "short", day: "numeric"});
  }
  return isNaN(d) ? "" : TIME_FORMAT.format(d);
}

function fmtDuration(s) {
  if (typeof s !== "number") return null;
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`
    : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function asText(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "object" && !Array.isArray(v)) {
    return v.command || v.cmd || v.path || v.file || v.message || v.subject ||
      v.result || v.summary || JSON.stringify(v);
  }
  return String(v);
}

function list(items, fmt) {
  const ul = el("ul", {cls: "facts"});
  for (const it of items) ul.append(el("li", {text: fmt ? fmt(it) : asText(it)}));
  return ul;
}

function fact(dl, label, value) {
  if (value === null || value === undefined || value === "" ||
      (Array.isArray(value) && !value.length)) return;
  dl.append(el("dt", {text: label}),
    el("dd", null, value instanceof Node ? value : document.createTextNode(String(value))));
}

function tokensText(t) {
  if (typeof t === "number") return `${t}`;
  if (!t || typeof t !== "object") return null;
  const parts = [];
  for (const k of ["input", "output", "cache_read", "cache_creation"]) {
    if (typeof t[k] === "number" && t[k]) parts.push(`${k.replace("_", " ")} ${t[k]}`);
  }
  const total = Object.values(t).filter((v) => typeof v === "number").reduce((a, b) => a + b, 0);
  return total ? `${total} (${parts.join(", ")})` : null;
}

function testsText(t) {
  if (!t || (Array.isArray(t) && !t.length)) return null;
  if (Array.isArray(t)) {
    return list(t.slice(-5), (r) => typeof r === "object" && r
      ? `${r.ok === false ? "✗" : r.ok === true ? "✓" : "•"} ${r.command || r.cmd || ""} ${r.result || r.summary || ""}`.trim()
      : asText(r));
  }
  if (typeof t === "object") {
    return ["passed", "failed", "errors", "skipped"].filter((k) => typeof t[k] === "number")
      .map((k) => `${t[k]} ${k}`).join(", ") || asText(t);
  }
  return String(t);
}

function summaryCard(sum, msg) {
  const who = [sum.agent_kind || sum.agent, sum.host].filter(Boolean).join(" on ");
  const where = [sum.project || sum.cwd, sum.git_branch || sum.branch].filter(Boolean).join(" · ");
  const card = el("article", {cls: "card", "aria-label": "Session summary"});
  card.append(el("h3", {text: "Session summary" + (who ? ` — ${who}` : "")}));
  if (where) card.append(el("p", {cls: "where", text: where}));
  const dl = el("dl");
  fact(dl, "Task", sum.task || sum.first_prompt);
  const files = sum.files || sum.files_edited || [];
  fact(dl, "Files", Array.isArray(files) && files.length ? list(files) : null);
  const cmds = Array.isArray(sum.commands) ? sum.commands : [];
  const failed = Array.isArray(sum.failed_commands) ? sum.failed_commands : [];
  const total = typeof sum.commands_total === "number" && sum.commands_total ? sum.commands_total : cmds.length;
  if (total || failed.length) {
    const box = el("div", null, el("span", {text: `${total} run, ${failed.length} failed`}));
    if (failed.length) {
      const ul = list(failed);
      ul.classList.add("failed");
      box.append(ul);
    }
    fact(dl, "Commands", box);
  }
  fact(dl, "Tests", testsText(sum.tests));
  const commits = Array.isArray(sum.commits) ? sum.commits : sum.commits ? [sum.commits] : [];
  fact(dl, "Commits", commits.length ? list(commits, (c) => typeof c === "object" && c
    ? `${(c.sha || c.hash || "").slice(0, 10)} ${c.message || c.subject || ""}`.trim() : asText(c)) : null);
  fact(dl, "Tokens", tokensText(sum.tokens));
  fact(dl, "Duration", fmtDuration(sum.duration_s));
  fact(dl, "Model", sum.model);
  const link = el("a", {href: `/p/${msg.sender}`, cls: "who", text: "@" + msg.sender_name});
  const sess = el("span", null, link, document.createTextNode(
    sum.session_id ? ` · session ${String(sum.session_id).slice(0, 8)}` : ""));
  fact(dl, "Participant", sess);
  card.append(dl);
  const final = sum.final_message || sum.final || sum.last_assistant_message;
  if (final) card.append(el("p", {cls: "final", text: final}));
  return card;
}

function reactionsRow(m) {
  const row = el("div", {cls: "reactions"});
  const mine = S.me ? S.me.identity : "";
  for (const r of S.reactions.get(m.id) || []) {
    const on = r.by.includes(mine);
    row.append(el("button", {
      type: "button", cls: "react" + (on ? " on" : ""), "aria-pressed": on ? "true" : "false",
      title: `${r.emoji} ${r.by.length}`, text: `${r.emoji} ${r.by.length}`,
      onclick: () => act("/api/react", {message_id: m.id, emoji: r.emoji, on: !on}),
    }));
  }
  return row;
}

function actionsRow(m) {
  const row = el("div", {cls: "actions"});
  row.append(el("button", {type: "button", text: "Reply", onclick: () => startReply(m)}));
  for (const e of ["👍", "✅", "👀"]) {
    row.append(el("button", {type: "button", text: e, "aria-label": `React ${e}`,
      onclick: () => act("/api/react", {message_id: m.id, emoji: e, on: true})}));
  }
  if (!m.thread_id && S.current === m.channel_id) {
    row.append(el("button", {type: "button", text: "Thread", onclick: () => startThread(m)}));
  }
  if (S.me && m.sender === S.me.identity && m.type === "Text") {
    row.append(el("button", {type: "button", text: "Edit", onclick: () => startEdit(m)}));
  }
  const del = el("button", {type: "button", text: "Delete"});
  del.addEventListener("click", () => {
    if (del.dataset.armed) { act("/api/delete", {message_id: m.id}); return; }
    del.dataset.armed = "1"; del.textContent = "Delete?";
    setTimeout(() => { delete del.dataset.armed; del.textContent = "Delete"; }, 4000);
  });
  row.append(del);
  return row;
}

function messageItem(m) {
  const li = el("li", {cls: "msg" + (m.summary ? " has-card" : ""), "data-id": m.id, tabindex: "-1"});
  const meta = el("div", {cls: "meta"},
    el("a", {href: `/p/${m.sender}`, cls: "author", text: m.sender_name}),
    m.sender_agent ? el("span", {cls: "tag", text: "agent"}) : null,
    el("time", {datetime: m.created_at, text: fmtTime(m.created_at)}),
    m.edited_at ? el("span", {cls: "edited", text: "(edited)"}) : null);
  if (m.thread_id && !S.thread) {
    const t = S.threads.get(m.thread_id);
    meta.append(el("a", {cls: "threadlink", href: `/c/${m.channel_id}/t/${m.thread_id}`,
      text: `in thread ${t ? t.name : m.thread_id}`}));
  }
  li.append(meta);
  if (m.reply_to_id) {
    const orig = S.msgs.get(m.reply_to_id);
    li.append(el("div", {cls: "replyto", text: orig
      ? `↪ @${orig.sender_name}: ${orig.summary ? "session summary" : orig.content.slice(0, 120)}`
      : `↪ reply to message ${m.reply_to_id}`}));
  }
  if (m.summary) li.append(summaryCard(m.summary, m));
  else {
    const task = m.type === "AgentEvent" ? taskEventText(m.content) : null;
    li.append(task ? el("div", {cls: "body task-event", text: task})
      : el("div", {cls: "body" + (m.type === "AgentEvent" ? " event" : ""), text: m.content}));
  }
  keepReceipts(`m:${m.id}`, m.receipts);
  li.append(receiptsLine(`m:${m.id}`));
  li.append(reactionsRow(m));
  // The action buttons are made when the message is first pointed at or focused: a page of
  // 50 messages paints sooner without 300 buttons nobody has asked for yet.
  const addActions = () => {
    if (!li.querySelector(".actions")) li.append(actionsRow(S.msgs.get(m.id) || m));
  };
  li.addEventListener("mouseenter", addActions, {once: true});
  li.addEventListener("focusin", addActions, {once: true});
  li.addEventListener("click", addActions, {once: true});
  return li;
}

function shown(m) {
  return m.channel_id === S.current && (!S.thread || m.thread_id === S.thread);
}

function renderThreads() {
  const bar = $("threads");
  bar.replaceChildren();
  if (S.thread) {
    const t = S.threads.get(S.thread);
    bar.append(el("span", {text: `Thread: ${t ? t.name : S.thread}`}),
      el("a", {href: `/c/${S.current}`, text: "← back to the channel"}));
    return;
  }
  for (const t of S.threads.values()) {
    if (t.channel_id !== S.current || t.archived) continue;
    bar.append(el("a", {cls: "chip", href: `/c/${S.current}/t/${t.id}`, text: `🧵 ${t.name}`}));
  }
}

function putMessage(m, where) {
  S.msgs.set(m.id, m);
  const list = $("messages");
  const item = messageItem(m);
  const old = list.querySelector(`li[data-id="${m.id}"]`);
  if (old) { old.replaceWith(item); return item; }
  if (where === "top") list.prepend(item); else list.append(item);
  return item;
}

function prepareChannel(cid, thread) {
  S.current = cid; S.thread = thread || null; S.dm = null; S.msgs.clear(); S.reactions.clear();
  S.replyTo = null; S.editing = null; composeNote();
  const ch = S.channels.get(cid);
  $("title").textContent = ch ? `#${ch.name}` : `channel ${cid}`;
  document.title = ch ? `#${ch.name} · Spaces` : "Spaces";
  markCurrent();
  S.loading = [];  // live messages that arrive while the page is fetched
  return S.loading;
}

function markCurrent() {
  for (const b of document.querySelectorAll("button.chan")) {
    const on = b.dataset.dm ? Number(b.dataset.dm) === S.dm : Number(b.dataset.id) === S.current;
    if (on) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
}

function dmItem(m) {
  const mine = S.me && m.sender === S.me.identity;
  keepReceipts(`d:${m.id}`, m.receipts);
  return el("li", {cls: "msg", "data-id": m.id, tabindex: "-1"},
    el("div", {cls: "meta"}, el("a", {href: `/p/${m.sender}`, cls: "author", text: m.sender_name}),
      el("time", {datetime: m.created_at, text: fmtTime(m.created_at)}),
      mine ? el("span", {cls: "edited", text: m.read ? "✓ read" : "sent"}) : null),
    el("div", {cls: "body", text: m.content}), receiptsLine(`d:${m.id}`));
}

function putDm(m) {
  const list = $("messages");
  const item = dmItem(m);
  const old = list.querySelector(`li[data-id="${m.id}"]`);
  if (old) old.replaceWith(item); else list.append(item);
}

async function openDm(id) {
  S.current = null; S.thread = null; S.dm = id; S.replyTo = null; S.editing = null;
  composeNote(); markCurrent();
  const c = S.dms.get(id);
  $("title").textContent = c ? `@${c.name}` : `conversation ${id}`;
  document.title = `${$("title").textContent} · Spaces`;
  $("threads").replaceChildren();
  $("older").hidden = true;
  const page = await api(`/api/dm?conversation=${id}`);
  if (S.dm !== id) return;
  const list = $("messages");
  list.replaceChildren();
  for (const m of page.messages) putDm(m);
  list.scrollTop = list.scrollHeight;
  markDmRead(page.messages);
}

function markDmRead(messages) {
  const c = S.dms.get(S.dm);
  if (!c || document.hidden || !messages.some((m) => m.sender !== S.me.identity && !m.read)) return;
  c.unread = 0;
  const badge = document.querySelector(`button.chan[data-dm="${S.dm}"] .unread`);
  if (badge) badge.hidden = true;
  api("/api/dm_read", {conversation_id: S.dm}).catch(() => {});
}

async function openChannel(cid, thread) {
  const t0 = performance.now();
  const loading = prepareChannel(cid, thread);
  const page = await api(`/api/messages?channel=${cid}` + (S.thread ? `&thread=${S.thread}` : ""));
  if (S.current !== cid || S.loading !== loading) return;
  renderPage(cid, page, t0);
}

function renderPage(cid, page, t0) {
  const loading = S.loading || [];
  S.loading = null;
  const first = $("first");  // the server's first screen: this script's own takes its place
  if (first) first.remove();
  for (const t of page.threads) S.threads.set(t.id, t);
  for (const [k, v] of Object.entries(page.reactions)) S.reactions.set(Number(k), v);
  const list = $("messages");
  list.replaceChildren();
  for (const m of page.messages) putMessage(m);
  for (const [kind, ev] of loading) onEvent(kind, ev);
  S.oldest = page.messages.length ? page.messages[0].id : null;
  $("older").hidden = !page.more;
  renderThreads();
  list.scrollTop = list.scrollHeight;
  requestAnimationFrame(() => {
    const ms = performance.now() - t0;
    S.lastOpen = {channel: cid, ms, messages: page.messages.length};
    if (S.firstPaint === null) S.firstPaint = performance.now();
    document.body.dataset.ready = "1";
  });
  markRead();
}

async function loadOlder() {
  if (!S.current || !S.oldest) return;
  const page = await api(`/api/messages?channel=${S.current}&before=${S.oldest}` +
    (S.thread ? `&thread=${S.thread}` : ""));
  for (const [k, v] of Object.entries(page.reactions)) S.reactions.set(Number(k), v);
  for (const m of page.messages.slice().reverse()) putMessage(m, "top");
  if (page.messages.length) S.oldest = page.messages[0].id;
  $("older").hidden = !page.more;
}

function markRead() {
  clearTimeout(S.readTimer);
  S.readTimer = setTimeout(() => {
    const ids = [...S.msgs.keys()];
    if (!S.current || !ids.length || document.hidden) return;
    const last = Math.max(...ids);
    const ch = S.channels.get(S.current);
    if (ch && ch.last_read >= last) return;
    if (ch) ch.last_read = last;
    setUnread(S.current, 0);
    api("/api/read", {channel: S.current, message_id: last}).catch(() => {});
  }, 300);
}

// ---------------------------------------------------------------------------- live events

function onEvent(kind, ev) {
  const d = ev.data;
  if (ev.seq) S.lastSeq = ev.seq;
  if (S.loading && kind.startsWith("message")) { S.loading.push([kind, ev]); return; }
  if (kind === "message") {
    if (shown(d)) {
      const list = $("messages");
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      putMessage(d);
      if (atBottom) list.scrollTop = list.scrollHeight;
      const commit = Date.parse(d.created_at);
      requestAnimationFrame(() => {
        S.latency.push({id: d.id, ms: Date.now() - commit, push_ms: Date.now() - ev.sent_at * 1000});
        if (S.latency.length > 10000) S.latency.shift();
      });
      markRead();
    } else if (!S.me || d.sender !== S.me.identity) {
      const ch = S.channels.get(d.channel_id);
      if (ch && d.id > ch.last_read) setUnread(d.channel_id, ch.unread + 1);
    }
  } else if (kind === "message_edited") {
    if (S.msgs.has(d.id) && shown(d)) putMessage(d);
  } else if (kind === "message_deleted") {
    S.msgs.delete(d.id);
    const li = $("messages").querySelector(`li[data-id="${d.id}"]`);
    if (li) li.remove();
  } else if (kind === "reaction_added" || kind === "reaction_removed") {
    reactionChange(kind === "reaction_added", d);
  } else if (kind === "thread") {
    S.threads.set(d.id, d);
    if (d.channel_id === S.current) renderThreads();
  } else if (kind === "dm" || kind === "dm_edited") {
    if (S.dm === d.conversation_id) {
      const list = $("messages");
      putDm(d);
      list.scrollTop = list.scrollHeight;
      if (kind === "dm") markDmRead([d]);
    } else if (kind === "dm" && d.sender !== S.me.identity) {
      const c = S.dms.get(d.conversation_id);
      if (!c) loadState().catch(() => {});
      else {
        c.unread += 1;
        const badge = document.querySelector(`button.chan[data-dm="${c.id}"] .unread`);
        if (badge) { badge.textContent = unreadText(c.unread); badge.hidden = false; }
      }
    }
  } else if (kind === "tasks") {
    loadTasks(false).catch(() => {});
  } else if (kind === "receipt" || kind === "receipt_gone") {
    onReceipt(d, kind === "receipt_gone");
  } else if (kind === "sessions") {
    loadSessions();
  } else if (kind === "sidebar") {
    loadState().catch(() => {});
  } else if (kind === "people") {
    loadPeople();
  }
}

function reactionChange(added, d) {
  const m = S.msgs.get(d.message_id);
  if (!m) return;
  const rs = S.reactions.get(d.message_id) || [];
  let r = rs.find((x) => x.emoji === d.emoji);
  if (added) {
    if (!r) { r = {emoji: d.emoji, by: []}; rs.push(r); }
    if (!r.by.includes(d.identity)) r.by.push(d.identity);
  } else if (r) {
    r.by = r.by.filter((x) => x !== d.identity);
    if (!r.by.length) rs.splice(rs.indexOf(r), 1);
  }
  S.reactions.set(d.message_id, rs);
  const li = $("messages").querySelector(`li[data-id="${d.message_id}"] .reactions`);
  if (li) li.replaceWith(reactionsRow(m));
}

function connect(after) {
  // `after`: the event sequence of the state the page shows; the server replays what came
  // after it (a reconnect sends Last-Event-ID by itself).
  const es = new EventSource(after === undefined ? "/events" : `/events?after=${after}`);
  S.es = es;
  const kinds = ["message", "message_edited", "message_deleted", "reaction_added",
    "reaction_removed", "thread", "sidebar", "people", "dm", "dm_edited", "tasks", "receipt",
    "receipt_gone", "sessions"];
  for (const k of kinds) {
    es.addEventListener(k, (e) => { try { onEvent(k, JSON.parse(e.data)); } catch (x) { console.error(x); } });
  }
  es.addEventListener("hello", () => setConn("live", true));
  es.addEventListener("reset", () => { setConn("live", true); refresh(); });
  es.onopen = () => setConn("live", true);
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      setConn("disconnected", false);
      api("/api/state").then(() => setTimeout(connect, 1000)).catch((e) => {
        if (e.status === 403) gate("Your session ended. Run `spacesd web` at your terminal for a new link.");
        else setTimeout(connect, 2000);
      });
    } else setConn("reconnecting…", false);
  };
}

function setConn(text, ok) {
  const c = $("conn");
  c.textContent = text;
  c.classList.toggle("ok", ok);
}

async function refresh() {
  await loadState();
  if (S.current) await openChannel(S.current, S.thread);
}

// ---------------------------------------------------------------------------- compose

function composeNote() {
  const note = $("compose-note");
  let text = "";
  if (S.editing) text = `Editing message ${S.editing.id}`;
  else if (S.replyTo) text = `Replying to @${S.replyTo.sender_name}`;
  else if (S.thread) {
    const t = S.threads.get(S.thread);
    text = `Posting in thread ${t ? t.name : S.thread}`;
  }
  $("compose-note-text").textContent = text;
  note.hidden = !text;
}

function startReply(m) { S.replyTo = m; S.editing = null; composeNote(); $("text").focus(); }

function startEdit(m) {
  S.editing = m; S.replyTo = null; composeNote();
  $("text").value = m.content; $("text").focus();
}

async function startThread(m) {
  const name = ($("text").value.trim() || m.content).slice(0, 100).replace(/\s+/g, " ") || "thread";
  await act("/api/thread", {channel: m.channel_id, name});
}

function cancelCompose() {
  if (S.editing) $("text").value = "";
  S.editing = null; S.replyTo = null; composeNote();
}

async function act(path, body) {
  $("compose-error").textContent = "";
  try { return await api(path, body); } catch (e) {
    $("compose-error").textContent = e.message;
    return null;
  }
}

async function submit(ev) {
  ev.preventDefault();
  const box = $("text");
  const content = box.value;
  if (!content.trim() || !(S.current || S.dm)) return;
  let ok;
  // One key per composed message, kept until it is sent: a resend after a lost answer is
  // the same write (never a second message); editing the text makes it a new one.
  if (!S.sendKey || S.sendKeyFor !== content) {
    S.sendKey = "web:" + crypto.randomUUID(); S.sendKeyFor = content;
  }
  const key = S.sendKey;
  if (S.dm) ok = await act("/api/dm_send", {conversation_id: S.dm, content, key});
  else if (S.editing) ok = await act("/api/edit", {message_id: S.editing.id, content});
  else ok = await act("/api/send", {channel: S.current, content, thread_id: S.thread,
    reply_to_id: S.replyTo ? S.replyTo.id : null, key});
  if (ok) { box.value = ""; S.editing = null; S.replyTo = null; S.sendKey = null; composeNote(); }
}

// ---------------------------------------------------------------------------- panel: search, people

function openPanel(title, note, items) {
  $("panel-title").textContent = title;
  $("panel-note").textContent = note || "";
  const ol = $("panel-list");
  ol.replaceChildren(...items);
  $("panel").hidden = false;
}

function closePanel() {
  $("panel").hidden = true;
  if (/^\/(p\/|tasks$)/.test(location.pathname)) {
    history.replaceState(null, "", S.dm ? `/d/${S.dm}` : `/c/${S.current}`);
  }
}

function resultItem(m) {
  const ch = S.channels.get(m.channel_id);
  const li = el("li", {cls: "msg result"},
    el("div", {cls: "meta"}, el("a", {href: `/c/${m.channel_id}`, text: ch ? `#${ch.name}` : `channel ${m.channel_id}`}),
      el("span", {cls: "author", text: " @" + m.sender_name}), el("time", {text: fmtTime(m.created_at)})));
  li.append(m.summary ? summaryCard(m.summary, m) : el("div", {cls: "body", text: m.content}));
  return li;
}

async function search(q) {
  const res = await api(`/api/search?q=${encodeURIComponent(q)}`);
  openPanel(`Search: ${q}`, `${res.results.length} found${res.results.length === 50 ? " (newest 50)" : ""} — searched ${res.scope}.`,
    res.results.map(resultItem));
}

function sessionFacts(s) {
  const dl = el("dl", {cls: "person-facts"});
  fact(dl, "Session", `${s.agent} in ${s.project}`);
  fact(dl, "Branch", s.branch);
  fact(dl, "State", `${STATES[s.state] || s.state} since ${fmtTime(s.state_at)}`);
  fact(dl, "Wakes", s.can_wake ? "yes: a message wakes it when idle" : "no: a message waits for its next turn");
  return dl;
}

function addressForm(s) {
  const text = el("textarea", {rows: "3", maxlength: "4000", "aria-label": `Message to ${s.handle}`});
  const prio = el("input", {type: "checkbox", id: "prio"});
  const sent = el("div", {cls: "sent"});
  const form = el("form", {cls: "address"}, text,
    el("label", {for: "prio"}, prio, document.createTextNode(
      " Priority: first in its next injection, at its next tool call")),
    el("button", {type: "submit", text: `Send to ${s.handle}`}), sent);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    const res = await act("/api/address", {to: s.handle, text: text.value, priority: prio.checked});
    if (!res) return;
    text.value = "";
    keepReceipts(`m:${res.id}`, res.receipts);
    sent.replaceChildren(el("p", {text: `Sent as message ${res.id} in #${res.channel}:`}),
      receiptsLine(`m:${res.id}`));
  });
  return form;
}

async function showPerson(hex) {
  if (!S.people.length) await loadPeople();
  const p = S.people.find((x) => x.identity === hex);
  const sess = S.sessions.find((x) => x.identity === hex);
  const items = [];
  if (sess) items.push(el("li", null, sessionFacts(sess), sess.state !== "Ended" ? addressForm(sess) : null));
  if (p) {
    const dl = el("dl", {cls: "person-facts"});
    fact(dl, "Name", p.display_name || p.username);
    fact(dl, "Kind", p.is_agent ? "agent" : "person");
    fact(dl, "Presence", p.online ? "online" : `offline${p.last_seen ? " since " + fmtTime(p.last_seen) : ""}`);
    fact(dl, "Status", p.status);
    fact(dl, "Identity", p.identity);
    const li = el("li", null, dl);
    if (S.me && p.identity !== S.me.identity) {
      li.append(el("button", {type: "button", cls: "dm-start", text: `Message @${p.username}`,
        onclick: async () => {
          const res = await act("/api/dm_start", {identity: p.identity});
          if (res) { await loadState(); closePanel(); go(`/d/${res.conversation_id}`); }
        }}));
    }
    items.push(li);
  }
  const res = await api(`/api/search?q=${encodeURIComponent(p ? p.username : hex)}`).catch(() => ({results: []}));
  for (const m of res.results.filter((x) => x.sender === hex).slice(0, 20)) items.push(resultItem(m));
  openPanel(p ? `@${p.username}` : "Participant", "Profile and recent messages and summaries.", items);
}

// ---------------------------------------------------------------------------- routing, keys

// The page's addresses are paths (`/c/N`, `/c/N/t/T`, `/d/N`, `/p/<identity>`, `/tasks`):
// the server renders the addressed channel's first screen itself. Moving within the page
// pushes the next address (History API); back and forward (popstate) route to it again.
const VIEW = /^\/(?:c\/\d+(?:\/t\/\d+)?|d\/\d+|p\/[0-9a-f]{64}|tasks)$/;

function legacyHash() {
  // an old address (`/#/c/7`, `#/tasks`, ...) becomes its path, in place
  const h = location.hash.slice(1);
  if (VIEW.test(h)) history.replaceState(null, "", h);
}

function go(path) {
  if (location.pathname !== path || location.hash) history.pushState(null, "", path);
  return route().catch(showError);
}

async function route() {
  legacyHash();
  const p = location.pathname;
  let m;
  if ((m = /^\/c\/(\d+)(?:\/t\/(\d+))?$/.exec(p))) {
    const cid = Number(m[1]), tid = m[2] ? Number(m[2]) : null;
    $("panel").hidden = true;
    if (cid !== S.current || tid !== S.thread) await openChannel(cid, tid);
    closeMenu();
  } else if (p === "/tasks") {
    await loadTasks(true);
    closeMenu();
  } else if ((m = /^\/d\/(\d+)$/.exec(p))) {
    $("panel").hidden = true;
    if (Number(m[1]) !== S.dm) await openDm(Number(m[1]));
    closeMenu();
  } else if ((m = /^\/p\/([0-9a-f]{64})$/.exec(p))) {
    await showPerson(m[1]);
  } else if (!S.current) {
    const want = S.defaultChannel;
    let first = null;
    for (const ch of S.channels.values()) {
      if (first === null) first = ch.id;
      if (String(ch.id) === String(want) || ch.name === String(want).replace(/^#/, "")) { first = ch.id; break; }
    }
    if (first !== null) history.replaceState(null, "", `/c/${first}`), await openChannel(first);
  }
}

function onLinkClick(e) {
  // a link to one of the page's addresses moves within the page (no new document)
  const a = e.target.closest && e.target.closest("a[href^='/']");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey ||
      e.altKey || !VIEW.test(a.getAttribute("href"))) return;
  e.preventDefault();
  go(a.getAttribute("href"));
}

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu").setAttribute("aria-expanded", "false");
}

function moveChannel(step) {
  const ids = [...S.channels.keys()];
  const i = ids.indexOf(S.current);
  const next = ids[(i + step + ids.length) % ids.length];
  if (next !== undefined) go(`/c/${next}`);
}

function moveMessage(step) {
  const items = [...$("messages").querySelectorAll("li.msg")];
  if (!items.length) return;
  const i = items.indexOf(document.activeElement);
  const next = items[Math.max(0, Math.min(items.length - 1, i < 0 ? items.length - 1 : i + step))];
  next.focus();
}

function onKey(e) {
  const typing = /^(INPUT|TEXTAREA)$/.test(e.target.tagName);
  if (e.key === "Escape") { cancelCompose(); closePanel(); closeMenu(); return; }
  if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
    e.preventDefault(); moveChannel(e.key === "ArrowUp" ? -1 : 1); return;
  }
  if (e.altKey && e.key === "m") { e.preventDefault(); $("menu").click(); return; }
  if (typing) return;
  if (e.key === "/") { e.preventDefault(); $("q").focus(); }
  else if (e.key === "j" || e.key === "k") moveMessage(e.key === "j" ? 1 : -1);
  else if (e.key === "r" || e.key === "e") {
    const li = document.activeElement.closest && document.activeElement.closest("li.msg");
    const m = li && S.msgs.get(Number(li.dataset.id));
    if (m) { e.preventDefault(); if (e.key === "r") startReply(m); else startEdit(m); }
  } else if (e.key === "c") { e.preventDefault(); $("text").focus(); }
}

// The first request leaves as soon as this script runs (it is loaded async, beside the
// stylesheet): the login, then the sidebar and the channel's newest page in one answer. The
// page itself is built once the document is parsed.
const DOM_READY = document.readyState === "loading"
  ? new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, {once: true}))
  : Promise.resolve();
legacyHash();  // (before reading the address: `/#/c/7` is `/c/7`)
const START = /^\/c\/(\d+)$/.exec(location.pathname);
const START_CHANNEL = START ? Number(START[1]) : null;  // the channel the address names
// A logged-in person's page comes with its first screen rendered by the server (the channel
// they were last in) and the state this script would ask for: no round trip when it is the
// channel the address names (spacesd/web/first.py).
const BOOT = (() => {
  const b = document.getElementById("boot");
  try { return b ? JSON.parse(b.textContent) : null; } catch (e) { return null; }
})();
// When the server's first screen painted: the browser's first contentful paint if the whole
// document was parsed by then, else the first frame after it was (measured as `renderPage`
// measures its own). This script's render waits for that frame, then takes its place.
let FRAME_DONE;
const FIRST_RENDERED = new Promise((resolve) => { FRAME_DONE = resolve; });
const FIRST_SHOWN = (async () => {
  await DOM_READY;
  const f = document.getElementById("first");
  if (!f || f.hidden || !BOOT || !BOOT.page) { FRAME_DONE(); return; }
  await new Promise((resolve) => requestAnimationFrame(() => {
    S.serverPaint = performance.now();
    if (S.firstPaint === null) S.firstPaint = S.serverPaint;
    setTimeout(resolve, 0);
  }));
  FRAME_DONE();
  const fcp = await new Promise((resolve) => {
    try {
      new PerformanceObserver((list) => resolve(list.getEntriesByName("first-contentful-paint")[0]))
        .observe({type: "paint", buffered: true});
    } catch (e) { resolve(null); }
    setTimeout(() => resolve(null), 1000);
  });
  const nav = performance.getEntriesByType("navigation")[0];
  if (nav && fcp && nav.domInteractive <= fcp.startTime) S.serverPaint = S.firstPaint = fcp.startTime;
})().finally(() => { S.paintKnown = true; });
const EARLY = (async () => {
  await login();
  // the server's state: the addressed channel's, or (a thread, a DM) the sidebar's only
  if (BOOT && (BOOT.page ? START_CHANNEL === null || START_CHANNEL === BOOT.channel
    : START_CHANNEL === null && location.pathname !== "/")) return BOOT;
  if (window.spacesEarly && START_CHANNEL !== null) {  // asked for while parsed (first.py)
    const res = await window.spacesEarly.catch(() => null);
    if (res && res.ok) return res.json();
  }
  if (START_CHANNEL === null) return loadStateData("?first=1");
  return loadStateData(`?channel=${START_CHANNEL}`).catch((e) => {
    if (e.status !== 404) throw e;
    S.notFound = e.message;  // no such channel (or not one of the person's): the default one
    history.replaceState(null, "", "/");
    return loadStateData("?first=1");
  });
})();
EARLY.catch(() => {});  // handled in main()

async function main() {
  await DOM_READY;
  document.addEventListener("keydown", onKey);
  $("compose").addEventListener("submit", submit);
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("compose").requestSubmit(); }
  });
  $("compose-cancel").addEventListener("click", cancelCompose);
  $("older").addEventListener("click", loadOlder);
  $("panel-close").addEventListener("click", closePanel);
  $("search").addEventListener("submit", (e) => { e.preventDefault(); const q = $("q").value.trim(); if (q) search(q); });
  $("menu").addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("visibilitychange", markRead);
  // A page left for another (kept in the back/forward cache) closes its stream: a browser
  // allows 6 connections per host, and a held stream would starve the next page's requests.
  window.addEventListener("pagehide", () => { if (S.es) S.es.close(); });
  window.addEventListener("pageshow", (e) => { if (e.persisted) { connect(); refresh(); } });
  window.addEventListener("popstate", () => route().catch(showError));
  window.addEventListener("hashchange", () => { if (VIEW.test(location.hash.slice(1))) route().catch(showError); });
  document.addEventListener("click", onLinkClick);
  let st;
  try {
    st = await EARLY;
  } catch (e) {
    gate(e.status === 403 ? "Open the link that `spacesd web` prints at your terminal (each link works once)." : e.message);
    return;
  }
  await FIRST_RENDERED;
  applyState(st);
  connect(st.seq);  // from the state's own sequence: nothing committed meanwhile is missed
  if (st.page && st.channel !== null) {
    const plain = location.pathname === "/";
    if (plain) history.replaceState(null, "", `/c/${st.channel}`);
    prepareChannel(st.channel, null);
    renderPage(st.channel, st.page, 0);
    if (S.notFound) showError(new Error(S.notFound));
    if (!plain && START_CHANNEL === null) await route();  // the address names a view: the tasks, a profile
  } else {
    S.loading = null;
    await route();
  }
  loadPeople();
  loadTasks(false).catch(() => {});
  loadSessions();
}

function showError(e) { $("compose-error").textContent = e.message || String(e); }

main().catch(showError);
