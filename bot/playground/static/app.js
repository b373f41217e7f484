// campaignbot playground: a tiny chat client. Every piece of text goes in with textContent; nothing
// from the server or the user is ever parsed as HTML.
"use strict";

const state = {
  ws: null,
  user: "",
  userName: "",
  messages: new Map(), // id -> message (server's view)
  notes: [], // ephemeral answers for this tab: {id, thread, text}
  openThread: null,
  helloName: null, // the name last sent in a hello on this connection
  waitingFor: null, // campaign id (C12) whose root should open when it arrives
  reactions: [],
  maxText: 2000,
  noteSeq: 0,
  pickerFor: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function send(obj) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(obj));
    return true;
  }
  note(state.openThread, "Not connected yet; try again in a moment.", true);
  return false;
}

// ---------------------------------------------------------------------------------------------
// connection

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => {
    setConn("connected", true);
    hello();
  };
  ws.onclose = () => {
    state.helloName = null;
    setConn("reconnecting…", false);
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    receive(msg);
  };
}

function setConn(text, ok) {
  const c = $("conn");
  c.textContent = text;
  c.classList.toggle("ok", ok);
}

function hello() {
  // once per name and connection: the connection opening and the name field's change event can
  // both fire for the same name, and a second welcome would re-render the page under the user's
  // pointer (a click landing mid re-render is lost)
  const name = $("user").value.trim();
  if (!name || name === state.helloName) return;
  if (send({ type: "hello", user: name })) state.helloName = name;
}

function receive(msg) {
  switch (msg.type) {
    case "welcome":
      state.user = msg.user;
      state.userName = msg.user_name;
      state.reactions = msg.reactions || [];
      state.maxText = msg.max_text || state.maxText;
      state.messages = new Map(msg.messages.map((m) => [m.id, m]));
      document.body.dataset.user = msg.user_name;
      renderAll();
      break;
    case "message": {
      const m = msg.message;
      const isNew = !state.messages.has(m.id);
      state.messages.set(m.id, m);
      if (isNew && !m.thread && state.waitingFor && m.title === `Campaign ${state.waitingFor}`) {
        state.waitingFor = null;
        openThread(m.id);
      }
      upsert(m, isNew);
      break;
    }
    case "ephemeral": {
      const found = /campaign (C\d+)/.exec(msg.text || "");
      note(msg.thread, msg.text, false);
      if (found && !msg.thread && /^Working on it/.test(msg.text)) {
        // the delivery loop may post the campaign's root before this answer reaches the page
        const title = `Campaign ${found[1]}`;
        const root = [...state.messages.values()].find((m) => !m.thread && m.title === title);
        if (root) openThread(root.id);
        else state.waitingFor = found[1];
      }
      break;
    }
    case "error":
      if (state.helloName !== state.userName) state.helloName = null; // a refused name may be sent again
      note(state.lastThread === undefined ? null : state.lastThread, msg.text, true);
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// rendering

function when(ts) {
  return new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function kindOf(m) {
  if (m.only) return "only";
  if (m.fields && m.fields.length) return "card";
  if (m.attachment && m.attachment.kind === "image") return "sheet";
  if (m.user === "campaignbot" && /^(⏳|⚙️|✅|⚠️|❌|⌛)/.test(m.text)) return "status";
  return "plain";
}

function renderMessage(m) {
  const kind = kindOf(m);
  const row = el("div", `msg ${kind}${m.user === "campaignbot" ? " bot" : ""}`);
  row.dataset.id = m.id;
  const who = m.user === "campaignbot" ? "campaignbot" : m.user_name;
  row.appendChild(el("div", "avatar", who.slice(0, 1).toUpperCase()));
  const body = el("div", "body");
  const meta = el("div", "meta");
  meta.appendChild(el("span", "who", who));
  if (m.user === "campaignbot") meta.appendChild(el("span", "badge", "APP"));
  meta.appendChild(el("span", "when", when(m.at)));
  if (m.edited) meta.appendChild(el("span", "edited", "(edited)"));
  if (m.only) meta.appendChild(el("span", "only-you", "Only visible to you"));
  if (!m.only) {
    const add = el("button", "add-reaction", "☺+");
    add.type = "button";
    add.title = "Add a reaction";
    add.setAttribute("aria-label", "Add a reaction");
    add.addEventListener("click", (ev) => {
      ev.stopPropagation();
      togglePicker(m, meta);
    });
    meta.appendChild(add);
  }
  body.appendChild(meta);
  if (kind === "card") {
    body.appendChild(renderCard(m));
  } else {
    body.appendChild(el("div", "text", m.text));
    if (m.attachment) body.appendChild(renderAttachment(m));
  }
  if (m.buttons && m.buttons.length) {
    const bar = el("div", "buttons");
    for (const b of m.buttons) {
      const btn = el("button", "btn", b.label);
      btn.type = "button";
      btn.dataset.action = b.action;
      btn.addEventListener("click", () => {
        state.lastThread = m.thread;
        send({ type: "button", message: m.id, action: b.action, value: b.value });
      });
      bar.appendChild(btn);
    }
    body.appendChild(bar);
  }
  if (!m.only && Object.keys(m.reactions).length) {
    body.appendChild(renderReactions(m));
  }
  if (!m.thread && !m.only && m.user === "campaignbot" && m.title.startsWith("Campaign ")) {
    const n = replyCount(m.id);
    const link = el("button", "thread-link", n ? `${n} ${n === 1 ? "reply" : "replies"} · View thread` : "View thread");
    link.type = "button";
    link.addEventListener("click", () => openThread(m.id));
    body.appendChild(link);
  }
  row.appendChild(body);
  return row;
}

function renderCard(m) {
  const card = el("div", "card-box");
  if (m.attachment) card.appendChild(renderAttachment(m));
  const info = el("div", "card-info");
  info.appendChild(el("div", "card-id", m.title));
  const dl = el("dl");
  for (const [k, v] of m.fields) {
    dl.appendChild(el("dt", null, k));
    dl.appendChild(el("dd", null, v));
  }
  info.appendChild(dl);
  card.appendChild(info);
  return card;
}

function renderAttachment(m) {
  const a = m.attachment;
  if (a.kind === "image") {
    const img = el("img", "attachment");
    img.src = a.url;
    img.alt = a.name;
    img.loading = "lazy";
    img.addEventListener("click", () => window.open(a.url, "_blank", "noopener"));
    return img;
  }
  const link = el("a", "download", `📦 ${a.name}`);
  link.href = a.url;
  link.setAttribute("download", a.name);
  return link;
}

function renderReactions(m) {
  const bar = el("div", "reactions");
  for (const [emoji, users] of Object.entries(m.reactions)) {
    const mine = users.includes(state.user);
    const chip = el("button", `chip${mine ? " mine" : ""}`);
    chip.type = "button";
    chip.dataset.emoji = emoji;
    chip.title = users.map((u) => (u === "campaignbot" ? "campaignbot" : u.replace(/^pg:/, ""))).join(", ");
    chip.appendChild(el("span", "e", emoji));
    chip.appendChild(el("span", "n", users.length));
    chip.addEventListener("click", () => react(m, emoji, !mine));
    bar.appendChild(chip);
  }
  return bar;
}

function togglePicker(m, anchor) {
  const old = document.querySelector(".picker");
  if (old) old.remove();
  if (state.pickerFor === m.id) {
    state.pickerFor = null;
    return;
  }
  state.pickerFor = m.id;
  const p = el("div", "picker");
  for (const e of state.reactions) {
    const b = el("button", "pick", e);
    b.type = "button";
    b.addEventListener("click", () => {
      p.remove();
      state.pickerFor = null;
      react(m, e, true);
    });
    p.appendChild(b);
  }
  anchor.appendChild(p);
}

function react(m, emoji, on) {
  state.lastThread = m.thread;
  send({ type: "react", message: m.id, emoji, on });
}

function replyCount(rootId) {
  let n = 0;
  for (const m of state.messages.values()) if (m.thread === rootId && !m.only) n += 1;
  return n;
}

function listFor(thread) {
  return thread ? $("thread-messages") : $("messages");
}

function atBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollDown(box) {
  box.scrollTop = box.scrollHeight;
}

function renderList(box, thread) {
  box.replaceChildren();
  if (thread) {
    const root = state.messages.get(thread);
    if (root) box.appendChild(renderMessage(root));
    box.appendChild(el("div", "divider", "replies"));
  }
  for (const m of state.messages.values()) {
    if ((m.thread || null) === (thread || null)) box.appendChild(renderMessage(m));
  }
  for (const n of state.notes) if ((n.thread || null) === (thread || null)) box.appendChild(renderNote(n));
  scrollDown(box);
}

function renderAll() {
  renderList($("messages"), null);
  if (state.openThread) renderList($("thread-messages"), state.openThread);
}

function replaceIn(box, m) {
  const old = box.querySelector(`.msg[data-id="${CSS.escape(m.id)}"]`);
  if (old) old.replaceWith(renderMessage(m));
  return Boolean(old);
}

function upsert(m, isNew) {
  // the message itself, where it is shown
  const thread = m.thread || null;
  const places = [];
  places.push(listFor(null));
  if (state.openThread) places.push(listFor(state.openThread));
  for (const box of places) {
    const follow = atBottom(box);
    if (!replaceIn(box, m) && isNew) {
      const here = box === $("messages") ? thread === null : thread === state.openThread;
      if (here) {
        box.appendChild(renderMessage(m));
        if (follow) scrollDown(box);
      }
    }
  }
  // a reply changes its root's "N replies" line
  if (thread) {
    const root = state.messages.get(thread);
    if (root) for (const box of places) replaceIn(box, root);
  }
}

function renderNote(n) {
  const row = el("div", `msg note${n.error ? " error" : ""}`);
  row.dataset.note = n.id;
  row.appendChild(el("div", "avatar", n.error ? "!" : "C"));
  const body = el("div", "body");
  const meta = el("div", "meta");
  meta.appendChild(el("span", "who", "campaignbot"));
  meta.appendChild(el("span", "only-you", "Only visible to you"));
  const x = el("button", "dismiss", "Dismiss");
  x.type = "button";
  x.addEventListener("click", () => {
    state.notes = state.notes.filter((o) => o !== n);
    row.remove();
  });
  meta.appendChild(x);
  body.appendChild(meta);
  body.appendChild(el("div", "text", n.text));
  row.appendChild(body);
  return row;
}

function note(thread, text, error) {
  const n = { id: `n${++state.noteSeq}`, thread: thread || null, text, error };
  state.notes.push(n);
  const box = n.thread && n.thread === state.openThread ? $("thread-messages") : $("messages");
  box.appendChild(renderNote(n));
  scrollDown(box);
}

function openThread(id) {
  state.openThread = id;
  const root = state.messages.get(id);
  $("thread-title").textContent = root ? root.title : "";
  $("thread").hidden = false;
  document.body.classList.add("with-thread");
  renderList($("thread-messages"), id);
  $("thread-box").focus();
}

function closeThread() {
  state.openThread = null;
  $("thread").hidden = true;
  document.body.classList.remove("with-thread");
}

// ---------------------------------------------------------------------------------------------
// input

function submit(box, thread) {
  const text = box.value.trim();
  if (!text) return;
  if (!state.user) {
    note(thread, "Type your name in the sidebar first.", true);
    $("user").focus();
    return;
  }
  if (text.length > state.maxText) {
    note(thread, `That message is ${text.length} characters long; the limit is ${state.maxText}.`, true);
    return;
  }
  state.lastThread = thread;
  const ok = text.startsWith("/")
    ? send({ type: "command", text })
    : thread
      ? send({ type: "reply", thread, text })
      : (note(null, "In the channel, start with /campaign (try /campaign help). Reply to a campaign in its thread.", true), false);
  if (ok) box.value = "";
}

function bindComposer(formId, boxId, threadOf) {
  const form = $(formId);
  const box = $(boxId);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit(box, threadOf());
  });
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      submit(box, threadOf());
    }
  });
}

function init() {
  const input = $("user");
  let name = "";
  try {
    // per tab first (a reload keeps this tab's user), then the name used last in this browser
    name = sessionStorage.getItem("campaignbot.user") || localStorage.getItem("campaignbot.user") || "";
  } catch (_) {
    name = "";
  }
  if (!name) name = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  input.value = name;
  input.addEventListener("change", () => {
    const v = input.value.trim();
    if (!v) return;
    try {
      sessionStorage.setItem("campaignbot.user", v);
      localStorage.setItem("campaignbot.user", v);
    } catch (_) {
      /* private mode: the name lasts for this tab */
    }
    state.notes = [];
    hello();
  });
  try {
    sessionStorage.setItem("campaignbot.user", name);
    localStorage.setItem("campaignbot.user", name);
  } catch (_) {
    /* ignore */
  }
  bindComposer("composer", "box", () => null);
  bindComposer("thread-composer", "thread-box", () => state.openThread);
  $("close-thread").addEventListener("click", closeThread);
  document.addEventListener("click", () => {
    const p = document.querySelector(".picker");
    if (p) p.remove();
    state.pickerFor = null;
  });
  connect();
}

document.addEventListener("DOMContentLoaded", init);
