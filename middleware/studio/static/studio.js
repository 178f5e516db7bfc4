// soundscape studio: the page. Plain JavaScript, no build step.
// Everything arrives on one WebSocket: "frame" messages (latest telemetry, new log entries, the
// scene panel) and "reply" messages (answers to the commands this page sent).
"use strict";

const S = {
  ws: null, rid: 0, pending: new Map(), scene: null, hello: null, latest: {}, panel: null,
  held: {},          // controls the designer took over: name -> value before the override
  dragging: null,    // the control under the pointer (telemetry does not move it)
  log: [], logPaused: false, logFilter: "",
  history: [],       // master momentary loudness, for the scrolling level view
  director: null,    // the last director_tick label (model, version, hash)
  built: "",         // which scene the controls were built for
  onFrame: [],       // extensions (teach mode) hook in here
  mine: {},          // instances this page started: id -> {event, position} until they end
};
const LOG_MAX = 400;
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) e.append(kid);
  return e;
};
const byId = (id) => document.getElementById(id);
const shown = (view) => byId(`view-${view}`).classList.contains("active");
// Frames come 25 times a second: touch the DOM only where something changed (each write costs the
// browser a style and layout pass, which on a busy machine is what slows the page down).
function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
function setClass(node, cls) { if (node.className !== cls) node.className = cls; }
function setWidth(node, frac) {  // a bar's fill, 0..1, to the 0.1 %
  const w = `${Math.round(1000 * Math.max(0, Math.min(1, frac || 0))) / 10}%`;
  if (node.style.width !== w) node.style.width = w;
}
function replaceIf(node, key, kids) { if (node.dataset.key !== key) { node.dataset.key = key; node.replaceChildren(...kids()); } }
const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x)) ? "-"
  : Number(x).toFixed(d).replace(/^-(0\.?0*)$/, "$1");  // no "-0.0" for a value that rounds to zero
const token = new URLSearchParams(location.search).get("token") || "";

// ------------------------------------------------------------------------------------ link
function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  S.ws = ws;
  ws.onopen = () => setLink(true);
  ws.onclose = () => { setLink(false); setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.kind === "frame") onFrame(msg);
    else if (msg.kind === "reply") onReply(msg);
  };
}
function setLink(ok) {
  const l = $("#link");
  l.textContent = ok ? "live" : "disconnected";
  l.className = "pill " + (ok ? "ok" : "bad");
}
function send(op, args) {
  return new Promise((resolve) => {
    const rid = ++S.rid;
    S.pending.set(rid, resolve);
    if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify({ rid, op, args }));
    else { S.pending.delete(rid); toast(`${op}: not connected`); resolve({ ok: false }); }
  });
}
function onReply(msg) {
  const done = S.pending.get(msg.rid);
  S.pending.delete(msg.rid);
  if (!msg.ok) toast(`${msg.op || "command"}: ${msg.error}`);
  if (done) done(msg);
}
function toast(text) {
  const box = $("#toast");
  const d = el("div", { text });
  box.append(d);
  setTimeout(() => d.remove(), 5000);
}

// ------------------------------------------------------------------------------------ frames
const SILENT_S = 1.0;  // the daemon publishes audio telemetry 10 times a second
function onFrame(f) {
  S.frames = (S.frames || 0) + 1;  // frames received (the tests measure the feed's rate with it)
  if (f.hello) S.hello = f.hello;
  const quiet = f.silent_s > SILENT_S;
  const l = $("#link");
  setText(l, quiet ? `daemon silent ${Math.round(f.silent_s)} s` : "live");
  setClass(l, "pill " + (quiet ? "bad" : "ok"));
  if (f.panel !== undefined) { S.panel = f.panel; renderPanel(); }
  S.latest = f.latest || {};
  S.studio = f.studio || {};
  if (S.latest.director_tick) S.director = S.latest.director_tick;
  buildControls();
  renderControls();
  renderLayers();
  if (shown("mix")) renderVoices();  // hidden tabs skip their drawing (a loaded machine keeps up)
  renderPerf();
  renderMeters();
  renderSpectrum();
  for (const e of f.events || []) addLog(e);
  renderMusic();
  if (f.events && f.events.length) renderLog();
  drawWorld();
  for (const hook of S.onFrame) hook(f);
}

// The scene's controls: built from the scene file (descriptions) or, without one, from hello.
function sceneInfo() {
  if (S.panel && S.panel.scene) return S.panel.scene;
  const d = S.hello && S.hello.scene;
  if (!d) return null;
  const groups = (m) => Object.fromEntries(Object.entries(m || {}).map(([k, v]) => [k, { values: v, description: "" }]));
  return {
    name: d.name, parameters: d.parameters || {}, states: groups(d.states), switches: groups(d.switches),
    events: Object.fromEntries((d.events || []).map((e) => [e, { description: "" }])),
    snapshots: Object.fromEntries((d.snapshots || []).map((e) => [e, { description: "" }])),
    emitters: {}, listener: { position: [0, 0, 0], forward: [0, 0, -1] }, director: null,
  };
}

function buildControls() {
  const sc = sceneInfo();
  if (!sc) return;
  const key = JSON.stringify([sc.name, Object.keys(sc.parameters), Object.keys(sc.states),
    Object.keys(sc.switches), Object.keys(sc.events), Object.keys(sc.snapshots || {})]);
  if (key === S.built) return;
  S.built = key;
  S.scene = sc;
  $("#scene-name").textContent = sc.name;
  const params = $("#params");
  params.replaceChildren();
  for (const [name, p] of Object.entries(sc.parameters)) {
    const step = (p.max - p.min) / 1000;
    const input = el("input", { type: "range", min: p.min, max: p.max, step, id: `param-${name}`,
      "aria-label": name });
    input.value = p.default;
    input.addEventListener("pointerdown", () => { S.dragging = `param:${name}`; });
    input.addEventListener("input", () => {
      hold(`param:${name}`, currentParam(name));
      byId(`param-${name}-value`).textContent = fmt(input.value, 3);
      throttled(`param:${name}`, () => send("set_param", { name, value: Number(input.value) }));
    });
    const end = () => { S.dragging = null; };
    input.addEventListener("pointerup", end);
    input.addEventListener("change", end);
    const row = el("div", { class: "ctl", id: `ctl-param-${name}`, title: p.description || name },
      el("label", { text: name }), input, el("span", { class: "value", id: `param-${name}-value`, text: "-" }),
      el("span", { class: "badge", text: "OVERRIDE ×", title: "release: give it back to the game",
        onclick: () => release(`param:${name}`) }));
    params.append(row);
  }
  const selectors = (box, kind, groups, op) => {
    box.replaceChildren();
    for (const [group, g] of Object.entries(groups)) {
      const sel = el("select", { id: `${kind}-${group}`, "aria-label": group });
      for (const v of g.values) sel.append(el("option", { value: v, text: v }));
      sel.addEventListener("change", () => {
        hold(`${kind}:${group}`, currentGroup(kind, group));
        send(op, { group, value: sel.value });
      });
      box.append(el("div", { class: "ctl", id: `ctl-${kind}-${group}`, title: g.description || group },
        el("label", { text: group }), sel, el("span", { class: "value" }),
        el("span", { class: "badge", text: "OVERRIDE ×", onclick: () => release(`${kind}:${group}`) })));
    }
  };
  selectors($("#states"), "state", sc.states, "set_state");
  selectors($("#switches"), "switch", sc.switches, "set_switch");
  const snaps = $("#snapshots");
  snaps.replaceChildren();
  if (!Object.keys(sc.snapshots || {}).length) snaps.append(el("span", { class: "note", text: "none in this scene" }));
  for (const name of Object.keys(sc.snapshots || {})) {
    const b = el("button", { id: `snapshot-${name}`, text: name, title: (sc.snapshots[name] || {}).description || "" });
    b.addEventListener("click", () => send("snapshot", { name, on: !b.classList.contains("on") }));
    snaps.append(b);
  }
  const evs = $("#events");
  evs.replaceChildren();
  for (const [name, e] of Object.entries(sc.events)) {
    const b = el("button", { id: `event-${name}`, text: `▶ ${name}`, title: e.description || "trigger" });
    b.addEventListener("click", async () => {
      const position = listenerFront();
      const r = await send("trigger", { event: name, position });
      if (r.ok && r.result) S.mine[r.result.instance] = { event: name, position };  // drawn on the map
    });
    evs.append(b);
  }
  if (S.onBuild) S.onBuild(sc);
}

const throttle = {};
function throttled(key, fn) {   // at most one command per animation frame per control
  if (throttle[key]) { throttle[key] = fn; return; }
  throttle[key] = fn;
  requestAnimationFrame(() => { const f = throttle[key]; delete throttle[key]; f(); });
}

function currentParam(name) { return ((S.latest.scene || {}).params || {})[name]; }
function switchValues() {  // what the studio set, overlaid by what telemetry says plays now
  return { ...(S.studio.switches || {}), ...((S.latest.scene || {}).switches || {}) };
}
function currentGroup(kind, group) {
  if (kind === "state") return ((S.latest.scene || {}).states || {})[group];
  return switchValues()[group];
}
function hold(key, before) {
  if (key in S.held) return;
  S.held[key] = before;
  const row = byId(`ctl-${key.replace(":", "-")}`);
  if (row) row.classList.add("held");
}
function release(key) {
  const before = S.held[key];
  delete S.held[key];
  const [kind, name] = key.split(":");
  const row = byId(`ctl-${kind}-${name}`);
  if (row) row.classList.remove("held");
  if (before === undefined || before === null) return;
  if (kind === "param") send("set_param", { name, value: before });
  else if (kind === "state") send("set_state", { group: name, value: before });
  else send("set_switch", { group: name, value: before });
}

function renderControls() {
  const sc = S.scene;
  if (!sc) return;
  const tel = S.latest.scene || {};
  for (const name of Object.keys(sc.parameters)) {
    const v = (tel.params || {})[name];
    const input = byId(`param-${name}`);
    if (!input || v === undefined) continue;
    if (S.dragging !== `param:${name}` && document.activeElement !== input) {  // the designer's hand wins
      input.value = v;
      byId(`param-${name}-value`).textContent = fmt(v, 3);
    }
  }
  for (const [kind, vals] of [["state", tel.states || {}], ["switch", switchValues()]]) {
    for (const [group, v] of Object.entries(vals)) {
      const sel = byId(`${kind}-${group}`);
      if (sel && document.activeElement !== sel && sel.value !== v) sel.value = v;
    }
  }
  const on = tel.snapshots || {};
  for (const b of document.querySelectorAll("#snapshots button")) {
    b.classList.toggle("on", (on[b.textContent] || 0) > 0);
  }
}

// ------------------------------------------------------------------------------------ layers
function sourceLabel(src) {
  if (src === "director") {
    const d = S.director || {};
    return { cls: "model", text: `MODEL ${d.model || "?"} v${d.version ?? "?"} #${(d.hash || "").slice(0, 8)}` };
  }
  if (src === "override") return { cls: "override", text: "OVERRIDE" };
  return { cls: "rule", text: "rule" };
}
// Mix-tab weight overrides (set_weight): the slider holds the layer's weight until its OVERRIDE ×
// hands it back. One message in flight per layer; the latest value follows when it returns.
const M = { held: new Set(), wanted: {}, busy: new Set(), again: new Set() };
async function holdWeight(uid, st = T) {
  if (st.busy.has(uid)) { st.again.add(uid); return; }
  st.busy.add(uid);
  st.held.add(uid);
  await send("set_weight", { layer: uid, weight: st.wanted[uid] });
  st.busy.delete(uid);
  if (st.again.delete(uid)) holdWeight(uid, st);
}
function releaseLayer(uid) {
  M.held.delete(uid); M.again.delete(uid); T.held.delete(uid);
  const row = $(`#layers tr[data-layer="${CSS.escape(uid)}"]`);
  if (row) row.classList.remove("held");
  return send("set_weight", { layer: uid });
}
function layerRow(uid) {
  const input = el("input", { type: "range", min: 0, max: 1, step: 0.01, class: "wover", "aria-label": `${uid} weight` });
  const row = el("tr", { "data-layer": uid }, el("td", { text: uid }),
    el("td", {}, el("div", { class: "bar" }, el("i"))), el("td", {}, el("span", { class: "badge source" })),
    el("td", { class: "gain" }),
    el("td", { class: "over" }, input, el("span", { class: "badge release", text: "OVERRIDE ×",
      title: "hand the layer back to its rule or the director", onclick: () => releaseLayer(uid) })));
  input.addEventListener("input", () => {
    M.wanted[uid] = Number(input.value);
    row.classList.add("held");
    holdWeight(uid, M);
  });
  return row;
}
function renderLayers() {
  const tel = S.latest.scene || {};
  const layers = tel.layers || {};
  const body = $("#layers tbody");
  const seen = new Set();
  for (const [uid, l] of Object.entries(layers)) {
    seen.add(uid);
    let row = body.querySelector(`tr[data-layer="${CSS.escape(uid)}"]`);
    if (!row) { row = layerRow(uid); body.append(row); }
    const lab = sourceLabel(l.source);
    const bar = row.querySelector(".bar");
    setClass(bar, `bar ${lab.cls}`);
    setWidth(bar.firstChild, l.weight ?? 0);
    bar.title = fmt(l.weight, 3);
    const badge = row.querySelector(".source");
    setClass(badge, `badge source ${lab.cls}`);
    setText(badge, lab.text);
    setText(row.querySelector(".gain"), l.gain_db === null || l.gain_db === undefined ? "-" : `${fmt(l.gain_db, 1)} dB`);
    const held = M.held.has(uid) || l.source === "override";  // held here, in teach mode or by a client
    row.classList.toggle("held", held);
    const input = row.querySelector(".wover");
    if (!M.held.has(uid) && document.activeElement !== input) input.value = l.weight ?? 0;
  }
  for (const row of [...body.children]) if (!seen.has(row.dataset.layer)) row.remove();
}

// ------------------------------------------------------------------------------------ voices
const VOICE_ROWS = 24;  // the loudest real voices first, then virtual ones
function renderVoices() {
  const w = liveWorld();
  const body = $("#voice-list tbody");
  const count = $("#voice-count");
  if (!w) { setText(count, "(this daemon sends no voice list)"); replaceIf(body, "", () => []); return; }
  const vs = [...(w.voices || [])].sort((a, b) =>
    a.state === b.state ? b.gain - a.gain : (a.state === "real" ? -1 : 1));
  const real = vs.filter((v) => v.state === "real").length;
  const more = (w.voices_total || 0) - Math.min(vs.length, VOICE_ROWS);
  setText(count, `${real} real · ${vs.length - real} virtual${more > 0 ? ` · ${more} more not listed` : ""}`);
  const rows = vs.slice(0, VOICE_ROWS);
  const shownDb = (v) => (v.gain > 0 ? fmt(20 * Math.log10(v.gain), 1) : "-inf");  // what the row says
  replaceIf(body, JSON.stringify(rows.map((v) => [v.owner, v.state, shownDb(v)])), () => rows.map((v) => {
    const db = v.gain > 0 ? 20 * Math.log10(v.gain) : null;
    const fill = el("i");
    fill.style.width = `${Math.round(100 * lufsWidth(db))}%`;  // CSSOM: the CSP refuses style attributes
    return el("tr", { "data-voice": v.owner, class: `voice-${v.state}` },
      el("td", { text: v.owner, title: `${v.kind} voice` }),
      el("td", {}, el("span", { class: `badge ${v.state === "real" ? "real" : "virtual"}`, text: v.state })),
      el("td", {}, el("div", { class: "bar", title: `L ${fmt(v.gain_left, 3)} · R ${fmt(v.gain_right, 3)}` },
        fill), el("span", { class: "nums", text: db === null ? "-inf dB" : `${fmt(db, 1)} dB` })));
  }));
}

// ------------------------------------------------------------------------------------ perf, meters, music
function renderPerf() {
  const a = S.latest.audio;
  if (!a) return;
  // audio CPU: the time to render one block over the block's duration (median; p99 in the tooltip)
  const h = S.hello || {};
  const blockMs = h.block && h.sample_rate ? 1000 * h.block / h.sample_rate : null;
  const cpu = blockMs && a.render_ms_p50 !== undefined ? a.render_ms_p50 / blockMs : null;
  setText($("#cpu"), cpu === null ? "-" : `${fmt(100 * cpu, 1)} %`);
  $("#cpu").title = blockMs ? `render p50 ${fmt(a.render_ms_p50, 2)} ms, p99 ${fmt(a.render_ms_p99, 2)} ms per ${fmt(blockMs, 2)} ms block` : "";
  const u = $("#underruns"); setText(u, String(a.underruns ?? "-")); u.classList.toggle("bad", a.underruns > 0);
  const l = $("#late"); setText(l, String(a.late_callbacks ?? "-")); l.classList.toggle("bad", a.late_callbacks > 0);
  setText($("#voices"), `${a.voices_real ?? "-"} real / ${a.voices_virtual ?? "-"} virtual`);
}
const LUFS_FLOOR = -60;
function lufsWidth(x) { return x === null || x === undefined ? 0 : Math.max(0, Math.min(1, (x - LUFS_FLOOR) / -LUFS_FLOOR)); }
function renderMeters() {
  const buses = (S.latest.loudness || {}).buses || {};
  const box = $("#meters");
  for (const [bus, m] of Object.entries(buses)) {
    let row = box.querySelector(`[data-bus="${CSS.escape(bus)}"]`);
    if (!row) {
      row = el("div", { class: "meter", "data-bus": bus }, el("span", { text: bus }),
        el("div", { class: "bar" }, el("i")), el("span", { class: "nums" }));
      box.append(row);
    }
    setWidth(row.querySelector(".bar > i"), lufsWidth(m.momentary_lufs));
    setText(row.querySelector(".nums"),
      `${fmt(m.momentary_lufs, 1)} · ${fmt(m.short_term_lufs, 1)} · ${fmt(m.integrated_lufs, 1)}`);
  }
  const master = buses.master;
  // a new reading (10 a second), not the same one in the next frame: the level view moves with it
  const key = master ? `${master.momentary_lufs},${master.short_term_lufs},${master.integrated_lufs}` : "";
  if (master && key !== S.historyKey) {
    S.historyKey = key;
    const now = performance.now();
    S.history.push([now, master.momentary_lufs, master.short_term_lufs]);
    while (S.history.length && now - S.history[0][0] > HISTORY_MS) S.history.shift();
    if (shown("mix")) drawHistory(now);
  }
}
const HISTORY_MS = 30_000;  // the level view's width in time
function drawHistory(now) {  // scrolls right to left: short-term loudness filled, momentary as a line
  const c = $("#history");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const X = (t) => c.width - (now - t) * c.width / HISTORY_MS;
  const Y = (db) => c.height * (1 - lufsWidth(db));
  g.font = "10px system-ui";
  for (const db of [-48, -36, -24, -12]) {
    g.strokeStyle = "#2b303a"; g.beginPath(); g.moveTo(0, Y(db)); g.lineTo(c.width, Y(db)); g.stroke();
    g.fillStyle = "#56606f"; g.fillText(`${db}`, 2, Y(db) - 2);
  }
  for (let s = 5; s < HISTORY_MS / 1000; s += 5) {
    const x = c.width - s * 1000 * c.width / HISTORY_MS;
    g.fillStyle = "#56606f"; g.fillText(`-${s}s`, x + 2, c.height - 3);
  }
  const h = S.history;
  if (!h.length) return;
  g.fillStyle = "rgba(95,179,255,0.25)";
  g.beginPath(); g.moveTo(X(h[0][0]), c.height);
  for (const [t, , st] of h) g.lineTo(X(t), Y(st));
  g.lineTo(X(h[h.length - 1][0]), c.height); g.closePath(); g.fill();
  g.strokeStyle = "#5fb3ff"; g.lineWidth = 1.5;
  g.beginPath();
  h.forEach(([t, m], i) => { if (i) g.lineTo(X(t), Y(m)); else g.moveTo(X(t), Y(m)); });
  g.stroke(); g.lineWidth = 1;
}
// The master spectrogram: one column per new `spectrum` payload (10 a second), scrolled by time so
// it lines up with the level view above. The canvas scrolls its own pixels; the left strip holds labels.
const SPEC = { frames: -1, t: 0, acc: 0, labelled: "" };
const SPEC_LABEL = 34;
function heat(db) {
  const v = Math.max(0, Math.min(1, (db + 100) / 90));
  return `hsl(${Math.round(250 - 210 * v)}, 85%, ${Math.round(4 + 60 * v)}%)`;
}
function renderSpectrum() {
  const sp = S.latest.spectrum;
  const c = $("#spectrogram");
  if (!sp || !c || sp.frames === SPEC.frames) return;
  SPEC.frames = sp.frames;
  const g = c.getContext("2d");
  const w = c.width - SPEC_LABEL, h = c.height, n = sp.db.length, bh = h / n;
  const now = performance.now();
  SPEC.acc += SPEC.t ? (now - SPEC.t) * w / HISTORY_MS : 2;
  SPEC.t = now;
  const dx = Math.min(w, Math.floor(SPEC.acc));
  if (dx < 1) return;
  SPEC.acc -= dx;
  g.drawImage(c, SPEC_LABEL + dx, 0, w - dx, h, SPEC_LABEL, 0, w - dx, h);
  for (let i = 0; i < n; i++) {
    g.fillStyle = heat(sp.db[i]);
    g.fillRect(c.width - dx, Math.floor(h - (i + 1) * bh), dx, Math.ceil(bh));
  }
  const key = sp.hz.join(",");
  if (SPEC.labelled !== key) {  // frequency labels at the bands holding them
    SPEC.labelled = key;
    g.fillStyle = "#101216"; g.fillRect(0, 0, SPEC_LABEL, h);
    g.fillStyle = "#8a93a3"; g.font = "10px system-ui";
    for (const [f, text] of [[100, "100"], [1000, "1k"], [10000, "10k"]]) {
      const i = sp.hz.findIndex((x) => x >= f);
      if (i >= 0) g.fillText(text, 4, h - i * bh - 2);
    }
  }
}
function renderMusic() {
  const m = (S.latest.scene || {}).music;
  const mb = S.music || {};  // the last beat / bar events: beat within the bar, bar number
  replaceIf($("#music"), JSON.stringify([m && m.segment, m && m.pending, mb.bar, mb.beat, !m]), () =>
    [m ? el("span", { id: "music-now" }, "segment ", el("b", { text: m.segment ?? "-" }),
      " · bar ", el("b", { text: String(mb.bar ?? "-") }), " · beat ", el("b", { text: String(mb.beat ?? "-") }),
      " · next ", el("b", { text: m.pending ?? "-" }))
      : "no music in this scene"]);
}

// ------------------------------------------------------------------------------------ log
function describeEvent(e) {
  const d = e.data || {};
  const parts = [];
  for (const k of ["event", "instance", "status", "scene", "segment", "stinger", "beat", "bar", "code", "field", "message", "re", "client", "model"]) {
    if (d[k] !== undefined && d[k] !== null) parts.push(`${k}=${typeof d[k] === "object" ? JSON.stringify(d[k]) : d[k]}`);
  }
  return parts.join(" ");
}
function addLog(e) {
  if (e.topic === "instance_ended" && e.data) delete S.mine[e.data.instance];
  if (e.topic === "bar" || e.topic === "beat") S.music = { ...(S.music || {}), ...e.data };
  S.log.push(e);
  if (S.log.length > LOG_MAX) S.log.shift();
}
const LOG_SHOWN = 200;  // lines on the page (the studio keeps LOG_MAX, the server 2000)
function logLine(e) {
  return el("li", { class: `log-${e.topic}` },
    el("span", { class: "t", text: new Date(e.t * 1000).toLocaleTimeString([], { hour12: false }) + " " }),
    `${e.topic} ${describeEvent(e)}`);
}
// Newest first. Only new lines are added while the filter stays the same (a game firing 50 events a
// second would otherwise rebuild 200 lines 25 times a second); pause, resume and a new filter rebuild.
function renderLog(full = false) {
  if (S.logPaused) return;
  const f = S.logFilter.toLowerCase();
  const match = (e) => !f || e.topic.includes(f) || describeEvent(e).toLowerCase().includes(f);
  const ol = $("#log");
  const last = S.log.length ? S.log[S.log.length - 1].seq : 0;
  if (full || S.logShown === undefined || S.logShown.filter !== f) {
    ol.replaceChildren(...S.log.filter(match).slice(-LOG_SHOWN).reverse().map(logLine));
  } else {
    const fresh = S.log.filter((e) => e.seq > S.logShown.seq && match(e));
    if (fresh.length) ol.prepend(...fresh.slice(-LOG_SHOWN).reverse().map(logLine));
    while (ol.children.length > LOG_SHOWN) ol.lastChild.remove();
  }
  S.logShown = { filter: f, seq: last };
}

// ------------------------------------------------------------------------------------ scene panel
function renderPanel() {
  const p = S.panel;
  const status = $("#reload-status");
  if (!p) { status.textContent = "no scene file"; return; }
  status.textContent = p.status;
  status.className = "pill " + (p.status.startsWith("rejected") ? "bad" : "ok");
  $("#scene-file").textContent = p.file;
  $("#scene-status").replaceChildren(el("span", { class: p.status.startsWith("rejected") ? "status-rejected" : "status-reloaded",
    text: `${p.status}${p.detail ? " — " + p.detail : ""}` }));
  $("#issues").replaceChildren(...p.issues.map((i) => el("li", {},
    el("div", { class: "where", text: `${i.file}:${i.line}:${i.col}` }), el("div", { text: i.message }),
    i.hint ? el("div", { class: "hint", text: `hint: ${i.hint}` }) : "",
    i.snippet ? el("pre", { text: i.snippet }) : "")));
  const sc = p.scene;
  if (!sc) return;
  $("#scene-params tbody").replaceChildren(...Object.entries(sc.parameters).map(([n, q]) =>
    el("tr", {}, el("td", { text: n }), el("td", { text: `${q.min} .. ${q.max}` }), el("td", { text: String(q.default) }),
      el("td", { text: q.description || "" }))));
  const groups = [...Object.entries(sc.states).map(([n, g]) => [`state ${n}`, g]),
    ...Object.entries(sc.switches).map(([n, g]) => [`switch ${n}`, g])];
  $("#scene-groups tbody").replaceChildren(...groups.map(([n, g]) =>
    el("tr", {}, el("td", { text: n }), el("td", { text: g.values.join(", ") }), el("td", { text: g.description || "" }))));
  $("#scene-events tbody").replaceChildren(...Object.entries(sc.events).map(([n, e]) =>
    el("tr", {}, el("td", { text: n }), el("td", { text: (e.parameters || []).join(", ") }),
      el("td", { text: e.description || "" }))));
}

// ------------------------------------------------------------------------------------ 3D view
const W = { scale: 8, cx: 0, cz: 0, listener: null, drag: null, fitted: "" };
function fitWorld(c, sc) {  // once per scene: frame every placed emitter and the listener
  const key = sc.name + JSON.stringify(Object.keys(sc.emitters || {}));
  if (W.fitted === key) return;
  W.fitted = key;
  const l = listenerPose();
  const pts = [[l.position[0], l.position[2], 2]];
  for (const e of Object.values(sc.emitters || {})) {
    for (const p of e.path || (e.position ? [e.position] : [])) pts.push([p[0], p[2], 2]);
  }
  const x0 = Math.min(...pts.map((p) => p[0] - p[2])), x1 = Math.max(...pts.map((p) => p[0] + p[2]));
  const z0 = Math.min(...pts.map((p) => p[1] - p[2])), z1 = Math.max(...pts.map((p) => p[1] + p[2]));
  W.cx = (x0 + x1) / 2; W.cz = (z0 + z1) / 2;
  W.scale = Math.max(1, Math.min(20, 0.85 * Math.min(c.width / Math.max(x1 - x0, 1), c.height / Math.max(z1 - z0, 1))));
}
function liveWorld() { return (S.latest.scene || {}).world || null; }  // scene.inspect.world, ~23 Hz
function listenerPose() {
  const w = liveWorld();
  if (W.listener && !W.drag && W.letGo !== undefined) {  // let go: the daemon's pose once it has ours (or 0.5 s)
    const p = w && w.listener && w.listener.position;
    const near = p && Math.hypot(p[0] - W.listener.position[0], p[2] - W.listener.position[2]) < 0.05;
    if (near || performance.now() - W.letGo > 500) { W.listener = null; W.letGo = undefined; }
  }
  if (W.listener) return W.listener;  // the designer is moving it: their hand wins until telemetry agrees
  if (w && w.listener && w.listener.position) return w.listener;
  const st = (S.studio || {}).listener;
  if (st && st.position) return { position: st.position, forward: st.forward || [0, 0, -1] };
  const sc = S.scene || {};
  return sc.listener || { position: [0, 0, 0], forward: [0, 0, -1] };
}
function listenerFront() {
  const l = listenerPose();
  return [l.position[0] + 2 * l.forward[0], l.position[1], l.position[2] + 2 * l.forward[2]];
}
function toScreen(c, x, z) { return [c.width / 2 + (x - W.cx) * W.scale, c.height / 2 + (z - W.cz) * W.scale]; }
function toWorld(c, px, py) { return [(px - c.width / 2) / W.scale + W.cx, (py - c.height / 2) / W.scale + W.cz]; }
const COL = { listener: "#5fb3ff", emitter: "#5fd38d", idle: "#56606f", instance: "#f2c14e", object: "#c792ea",
  text: "#e6e6e6", dim: "#8a93a3" };
// What the 3D view shows, from live telemetry when the daemon sends it (else from the scene file):
// [{kind, name, pos, min, max, playing, forward}]. The drawn screen positions go to W.drawn (tests read it).
function worldItems(sc) {
  const w = liveWorld();
  const items = [];
  const layers = (S.latest.scene || {}).layers || {};
  if (w) {
    for (const e of w.emitters || []) {
      items.push({ kind: "emitter", name: e.name, pos: e.position, min: e.min, max: e.max, playing: e.playing,
        follows: e.follows });
    }
    for (const o of w.objects || []) items.push({ kind: "object", name: o.name, pos: o.position, forward: o.forward });
    for (const i of w.instances || []) {
      items.push({ kind: "instance", name: `${i.event} #${i.instance}`, pos: i.position, min: i.min, max: i.max,
        follows: i.follows, playing: true });
    }
    return items;
  }
  for (const [name, e] of Object.entries(sc.emitters || {})) {
    items.push({ kind: "emitter", name, pos: e.position || (e.path && e.path[0]) || null,
      min: (e.attenuation || {}).min, max: (e.attenuation || {}).max, follows: e.follows,
      playing: (e.layers || []).some((l) => l.uid in layers) });
  }
  for (const [iid, m] of Object.entries(S.mine)) {
    items.push({ kind: "instance", name: `${m.event} #${iid}`, pos: m.position, playing: true });
  }
  return items;
}
function rings(g, px, py, it, color) {
  if (!(it.min > 0 || it.max > 0)) return;
  g.strokeStyle = color;
  if (it.min > 0) { g.beginPath(); g.arc(px, py, it.min * W.scale, 0, 2 * Math.PI); g.stroke(); }
  if (it.max > 0) {
    g.setLineDash([4, 4]); g.beginPath(); g.arc(px, py, it.max * W.scale, 0, 2 * Math.PI); g.stroke(); g.setLineDash([]);
  }
}
function arrow(g, px, py, fx, fz, len, color) {
  const ang = Math.atan2(fz, fx);
  g.fillStyle = color;
  g.beginPath();
  g.moveTo(px + len * Math.cos(ang), py + len * Math.sin(ang));
  g.lineTo(px + 0.6 * len * Math.cos(ang + 2.4), py + 0.6 * len * Math.sin(ang + 2.4));
  g.lineTo(px + 0.6 * len * Math.cos(ang - 2.4), py + 0.6 * len * Math.sin(ang - 2.4));
  g.closePath(); g.fill();
}
function drawWorld() {
  const c = $("#world");
  if (!c || !$("#view-world").classList.contains("active")) return;
  const sc = S.scene || {};
  fitWorld(c, sc);
  const key = JSON.stringify([S.built, worldItems(sc), listenerPose(), W.scale, W.cx, W.cz, (S.latest.scene || {}).instances]);
  if (key === W.drawnKey) return;  // nothing it draws moved: keep the picture (and the CPU)
  W.drawnKey = key;
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = "#1c2028"; g.lineWidth = 1;
  const step = W.scale >= 6 ? 5 : 10;
  const [x0, z0] = toWorld(c, 0, 0), [x1, z1] = toWorld(c, c.width, c.height);
  for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) {
    const [px] = toScreen(c, x, 0); g.beginPath(); g.moveTo(px, 0); g.lineTo(px, c.height); g.stroke();
  }
  for (let z = Math.ceil(z0 / step) * step; z <= z1; z += step) {
    const [, py] = toScreen(c, 0, z); g.beginPath(); g.moveTo(0, py); g.lineTo(c.width, py); g.stroke();
  }
  g.fillStyle = COL.dim; g.font = "11px system-ui";
  g.fillText(`grid ${step} m · -z is north (forward) · wheel: zoom · right-drag: pan`, 8, c.height - 8);
  for (const e of Object.values(sc.emitters || {})) {  // authored paths, from the scene file
    const pts = e.path;
    if (!pts || !pts.length) continue;
    g.strokeStyle = "#3c6e52"; g.setLineDash([2, 3]); g.beginPath();
    pts.forEach((p, i) => { const [px, py] = toScreen(c, p[0], p[2]); if (i) g.lineTo(px, py); else g.moveTo(px, py); });
    g.closePath(); g.stroke(); g.setLineDash([]);
  }
  const items = worldItems(sc);
  const info = [];
  const drawn = {};
  for (const it of items) {
    if (!it.pos) {
      if (it.kind === "emitter") info.push(it.follows ? `${it.name} waits for game object '${it.follows}'` : `${it.name}: 2D bed (no place)`);
      else if (it.kind === "instance") info.push(`${it.name}: 2D (no place)`);
      continue;
    }
    const [px, py] = toScreen(c, it.pos[0], it.pos[2]);
    drawn[`${it.kind}:${it.name}`] = { x: it.pos[0], y: it.pos[1], z: it.pos[2], px, py };
    if (it.kind === "object") {
      g.fillStyle = COL.object;
      g.fillRect(px - 4, py - 4, 8, 8);
      if (it.forward) arrow(g, px, py, it.forward[0], it.forward[2], 11, COL.object);
      g.fillStyle = COL.dim; g.textAlign = "right"; g.fillText(it.name, px - 8, py - 6); g.textAlign = "left";
      continue;
    }
    const color = it.kind === "instance" ? COL.instance : (it.playing ? COL.emitter : COL.idle);
    rings(g, px, py, it, it.kind === "instance" ? "#8a7330" : color);
    g.fillStyle = color;
    g.beginPath(); g.arc(px, py, it.kind === "instance" ? 4 : 5, 0, 2 * Math.PI); g.fill();
    g.fillStyle = it.kind === "instance" ? COL.instance : COL.text;
    g.fillText(it.name, px + 8, it.kind === "instance" ? py + 12 : py - 6);
  }
  const l = listenerPose();
  const [lx, ly] = toScreen(c, l.position[0], l.position[2]);
  drawn.listener = { x: l.position[0], y: l.position[1], z: l.position[2], px: lx, py: ly };
  arrow(g, lx, ly, l.forward[0], l.forward[2], 14, COL.listener);
  g.fillStyle = COL.listener; g.fillText("listener", lx + 12, ly + 14);
  W.drawn = drawn;
  W.drawnAt = performance.now();
  drawSide(items, l);
  const w = liveWorld();
  const more = (n, total, what) => (total > n ? [`${total - n} more ${what} not drawn (the daemon sends ${n})`] : []);
  if (w && w.error) info.push(`the daemon could not describe its world: ${w.error}`);
  if (w) {
    info.push(...more((w.objects || []).length, w.objects_total || 0, "game objects"));
    info.push(...more((w.instances || []).length, w.instances_total || 0, "instances"));
  }
  const n = (S.latest.scene || {}).instances || 0;
  const where = `listener at ${l.position.map((v) => fmt(v, 1)).join(", ")}`;
  replaceIf($("#world-info"), JSON.stringify([n, !w, where, info]), () => [
    el("div", {}, "event instances playing: ", el("b", { text: String(n) }),
      w ? "" : el("span", { class: "note", text: " (this daemon sends no positions: the map shows the scene file and events fired here)" })),
    el("div", { text: where }),
    ...info.map((t) => el("div", { text: t }))]);
}
function drawSide(items, l) {  // x across (as on the map), height y up: what the top-down view flattens
  const c = $("#side");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const ground = c.height - 20;
  const sx = (x) => c.width / 2 + (x - W.cx) * W.scale;
  const sy = (y) => ground - y * W.scale;
  g.strokeStyle = "#2b303a"; g.beginPath(); g.moveTo(0, ground); g.lineTo(c.width, ground); g.stroke();
  g.fillStyle = COL.dim; g.font = "11px system-ui"; g.fillText("y = 0", 4, ground + 14);
  for (const it of items) {
    if (!it.pos) continue;
    const color = it.kind === "object" ? COL.object : it.kind === "instance" ? COL.instance : (it.playing ? COL.emitter : COL.idle);
    g.fillStyle = color;
    if (it.kind === "object") g.fillRect(sx(it.pos[0]) - 3, sy(it.pos[1]) - 3, 6, 6);
    else { g.beginPath(); g.arc(sx(it.pos[0]), sy(it.pos[1]), 4, 0, 2 * Math.PI); g.fill(); }
    if (it.kind !== "object") { g.fillStyle = COL.text; g.fillText(it.name, sx(it.pos[0]) + 6, sy(it.pos[1]) - 4); }
  }
  g.fillStyle = COL.listener;
  g.beginPath(); g.arc(sx(l.position[0]), sy(l.position[1]), 5, 0, 2 * Math.PI); g.fill();
  g.fillText("listener", sx(l.position[0]) + 7, sy(l.position[1]) + 12);
}
function worldInput() {
  const c = $("#world");
  c.addEventListener("contextmenu", (ev) => ev.preventDefault());
  c.addEventListener("pointerdown", (ev) => {
    if (ev.button === 2 || ev.altKey) {  // right-drag or alt-drag pans the view
      W.pan = { x: ev.clientX, y: ev.clientY, cx: W.cx, cz: W.cz };
      c.setPointerCapture(ev.pointerId);
      return;
    }
    const l = listenerPose();
    W.listener = { position: [...l.position], forward: [...l.forward] };
    W.letGo = undefined;
    W.drag = { turn: ev.shiftKey };
    c.setPointerCapture(ev.pointerId);
    moveListener(c, ev);
  });
  c.addEventListener("pointermove", (ev) => {
    if (W.pan) {
      const k = c.width / c.getBoundingClientRect().width / W.scale;
      W.cx = W.pan.cx - (ev.clientX - W.pan.x) * k; W.cz = W.pan.cz - (ev.clientY - W.pan.y) * k;
      drawWorld();
    } else if (W.drag) moveListener(c, ev);
  });
  c.addEventListener("pointerup", () => { if (W.drag) W.letGo = performance.now(); W.drag = null; W.pan = null; });
  c.addEventListener("wheel", (ev) => { ev.preventDefault(); W.scale = Math.max(1, Math.min(60, W.scale * (ev.deltaY < 0 ? 1.15 : 0.87))); drawWorld(); });
}
function moveListener(c, ev) {
  const r = c.getBoundingClientRect();
  const [x, z] = toWorld(c, (ev.clientX - r.left) * c.width / r.width, (ev.clientY - r.top) * c.height / r.height);
  const l = W.listener;
  if (W.drag.turn) {
    const dx = x - l.position[0], dz = z - l.position[2], n = Math.hypot(dx, dz) || 1;
    l.forward = [dx / n, 0, dz / n];
  } else {
    l.position = [x, l.position[1], z];
  }
  drawWorld();
  throttled("listener", () => send("listener", { position: l.position, forward: l.forward }));
}


// ------------------------------------------------------------------------------------ teach mode
const T = { built: "", wanted: {}, held: new Set(), busy: new Set(), again: new Set() };
// Teach weights are audible: moving a layer's slider holds that weight in the daemon (set_weight,
// telemetry source OVERRIDE); keep, A/B and "hand back" release every held layer (set_weight
// without a weight). One message in flight per layer: the latest value goes out when it returns.
async function releaseWeights() {
  const uids = [...T.held];
  T.held.clear();
  T.again.clear();
  await Promise.all(uids.map((uid) => M.held.has(uid) ? null : send("set_weight", { layer: uid })));
}
function buildTeach() {
  const sc = S.panel && S.panel.scene;
  const box = $("#teach");
  const d = sc && sc.director;
  const key = d ? JSON.stringify([sc.name, d.inputs, d.outputs]) : "";
  if (key === T.built) return;
  T.built = key;
  if (!d) {
    box.replaceChildren(el("p", { class: "note", text: "Teach mode needs a scene with a director section (see docs/ml-guide.md)." }));
    return;
  }
  const rows = d.outputs.map((uid) => {
    const input = el("input", { type: "range", min: 0, max: 1, step: 0.01, id: `teach-${uid}`, "aria-label": uid });
    input.addEventListener("input", () => { T.wanted[uid] = Number(input.value); byId(`teach-${uid}-value`).textContent = fmt(input.value, 2); holdWeight(uid, T); });
    return el("div", { class: "ctl teachrow" }, el("label", { text: uid, title: uid }), input,
      el("span", { class: "value", id: `teach-${uid}-value`, text: "-" }),
      el("span", { class: "badge source", id: `teach-${uid}-now`, text: "-" }));
  });
  const steps = el("input", { id: "teach-steps", type: "number", min: 50, max: 20000, value: 2000, size: 6 });
  box.replaceChildren(
    el("h2", { text: "1 · Set the mix for this situation" }),
    el("div", { class: "kv", id: "teach-inputs" }),
    el("p", { class: "note", text: "Move the game's parameters and states on the Mix tab (or let the game play), then set each layer's weight here. Right: the weight playing now." }),
    ...rows,
    el("div", { class: "buttons" },
      el("button", { id: "teach-reset", text: "take the weights playing now", onclick: () => resetWanted(true) }),
      el("button", { id: "teach-release", text: "hand the layers back", onclick: releaseWeights }),
      el("button", { id: "teach-keep", class: "on", text: "keep this example", onclick: keep })),
    el("div", { class: "kv", id: "teach-kept" }),
    el("h2", { text: "2 · Retrain the director" }),
    el("div", { class: "buttons" }, el("span", { text: "steps " }), steps,
      el("button", { id: "teach-train", text: "train", onclick: () => send("teach_train", { steps: Number(steps.value) }) })),
    el("div", { class: "progress" }, el("i", { id: "teach-progress" })),
    el("div", { class: "kv", id: "teach-phase" }),
    el("div", { id: "teach-result" }),
    el("div", { class: "buttons" },
      el("button", { id: "teach-accept", text: "accept (hot-swap the model)", onclick: () => send("teach_accept", {}) }),
      el("button", { id: "teach-discard", text: "discard", onclick: () => send("teach_discard", {}) })),
    el("h2", { text: "A/B · compare" }),
    el("div", { class: "buttons" },
      el("button", { id: "ab-rules", text: "A: the scene's rules", onclick: () => releaseWeights().then(() => send("teach_ab", { play: "rules" })) }),
      el("button", { id: "ab-model", text: "B: the director model", onclick: () => releaseWeights().then(() => send("teach_ab", { play: "model" })) })),
  );
  T.wanted = {};
}
function nowWeights() {
  const tick = S.latest.director_tick || {};
  const layers = (S.latest.scene || {}).layers || {};
  const out = {};
  for (const uid of ((S.panel || {}).scene || {}).director?.outputs || []) {
    out[uid] = uid in layers ? layers[uid].weight : (tick.weights || {})[uid];
  }
  return out;
}
function resetWanted(force) {
  const now = nowWeights();
  for (const [uid, w] of Object.entries(now)) {
    if (w === undefined || w === null || (!force && uid in T.wanted)) continue;
    T.wanted[uid] = Math.round(w * 100) / 100;
    const input = byId(`teach-${uid}`);
    if (input) { input.value = T.wanted[uid]; byId(`teach-${uid}-value`).textContent = fmt(T.wanted[uid], 2); }
  }
}
async function keep() {
  const r = await send("teach_keep", { weights: T.wanted });
  await releaseWeights();  // kept: the director (or rules) play again
  if (r.ok) toastOk(`kept: ${JSON.stringify(r.result.inputs)} -> ${r.result.file}`);
}
function toastOk(text) { const d = el("div", { class: "ok", text }); $("#toast").append(d); setTimeout(() => d.remove(), 3000); }
function renderTeach(f) {
  S.lastFrame = f;
  if (!shown("teach")) return;  // drawn when its tab opens (showView)
  buildTeach();
  const d = S.panel && S.panel.scene && S.panel.scene.director;
  if (!d) return;
  resetWanted(false);
  const tick = S.latest.director_tick || {};
  const ins = tick.inputs || {};
  $("#teach-inputs").replaceChildren("situation now: ", ...d.inputs.map((k) => el("span", {}, `${k}=`, el("b", { text: typeof ins[k] === "number" ? fmt(ins[k], 3) : String(ins[k] ?? "?") }), " ")));
  const layers = (S.latest.scene || {}).layers || {};
  for (const uid of d.outputs) {
    const b = byId(`teach-${uid}-now`);
    const l = layers[uid];
    if (!b) continue;
    const lab = sourceLabel(l ? l.source : "rule");
    b.className = `badge source ${lab.cls}`;
    b.textContent = l ? `${fmt(l.weight, 2)} ${lab.text}` : "silent";
  }
  const t = f.teach || {};
  if (t.steps_range) [byId("teach-steps").min, byId("teach-steps").max] = t.steps_range;  // the server's limits
  $("#teach-kept").textContent = t.kept ? `${t.kept} example(s) kept this session; last in ${t.last_kept.file}` : "";
  byId("teach-progress").style.width = `${Math.round(100 * (t.progress || 0))}%`;
  const phases = { idle: "", training: `training: ${t.stage} ${fmt(100 * (t.progress || 0), 0)} %`, trained: `candidate ${t.candidate} ready: accept or discard`,
    failed: `training failed: ${t.error}`, accepted: `accepted ${t.accepted}: the daemon reloads the scene with it` };
  $("#teach-phase").textContent = t.phase in phases ? phases[t.phase] : t.phase;
  byId("teach-accept").disabled = t.phase !== "trained";
  byId("teach-discard").disabled = !(t.phase === "trained" || t.phase === "training");
  byId("teach-train").disabled = t.phase === "training";
  byId("ab-rules").classList.toggle("on", t.ab === "rules");
  byId("ab-model").classList.toggle("on", t.ab !== "rules");
  renderResult(t.result);
}
function renderResult(r) {
  const box = $("#teach-result");
  const key = r ? `${r.file}:${r.version}` : "";
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  if (!r) { box.replaceChildren(); return; }
  const kids = [el("p", {}, "candidate ", el("b", { text: `${r.model} v${r.version}` }), ` (${r.file}), ${r.examples} examples, train MAE ${fmt(r.train_mae, 4)}`)];
  if (r.mae) {
    const methods = ["model", "nearest", "idw"];
    const outs = Object.keys(r.mae_per_output.model);
    kids.push(el("table", { id: "teach-mae" },
      el("thead", {}, el("tr", {}, el("th", { text: "held-out MAE" }), ...methods.map((m) => el("th", { text: m })))),
      el("tbody", {}, ...outs.map((uid) => el("tr", {}, el("td", { text: uid }), ...methods.map((m) => el("td", { text: fmt(r.mae_per_output[m][uid], 4) })))),
        el("tr", {}, el("td", {}, el("b", { text: "all" })), ...methods.map((m) => el("td", {}, el("b", { text: fmt(r.mae[m], 4) })))))));
    for (const [base, w] of Object.entries(r.model_vs_baselines || {})) {
      kids.push(el("div", { class: "kv", text: `model vs ${base}: better on ${w.model_better}/${w.examples} held-out examples, worse on ${w.baseline_better}` }));
    }
    for (const [title, rows] of [["wins most at", r.wins_at], ["loses most at", r.loses_at]]) {
      for (const x of rows || []) kids.push(el("div", { class: "kv", text: `model ${title}: ${x.inputs} (${x.example}, ${x.margin > 0 ? "+" : ""}${fmt(x.margin, 4)})` }));
    }
  } else {
    kids.push(el("p", { class: "note", text: "no held-out comparison (it needs 3 examples or more)" }));
  }
  box.replaceChildren(...kids);
}
S.onFrame.push(renderTeach);

// ------------------------------------------------------------------------------------ start
function tabs() {
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => showView(b.dataset.view));
  }
}
function showView(name) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === `view-${name}`);
  drawWorld();
  if (name === "mix") { renderVoices(); drawHistory(performance.now()); }
  if (name === "teach" && S.lastFrame) renderTeach(S.lastFrame);
}
window.studio = { S, W, SPEC, send, showView };
document.addEventListener("DOMContentLoaded", () => {
  tabs();
  worldInput();
  $("#log-pause").addEventListener("click", (ev) => {
    S.logPaused = !S.logPaused;
    ev.target.textContent = S.logPaused ? "resume" : "pause";
    ev.target.classList.toggle("on", S.logPaused);
    renderLog(true);
  });
  $("#log-filter").addEventListener("input", (ev) => { S.logFilter = ev.target.value; renderLog(); });
  connect();
});
