// Live panel: the relay's Server-Sent Events -> current emotion, daemon state, timeline.
import { alpha, bars, colour, duration, el, fitChart, pct } from "./common.js";

const PING_S = 5;          // the server pings at least this often
const TIMELINE_H = 300;

const live = {
  source: null,            // EventSource
  lastMessage: 0,          // performance.now() of the last message
  skew: 0,                 // server clock - this browser's clock, seconds
  address: "",
  events: [],              // {source, event} for emotion / utterance / vad, in arrival order
  daemons: new Map(),      // relay key -> {state, status, lost_messages, restarts, heartbeat_s}
  relay: {},               // {invalid_messages, ignored_messages, max_daemons, error}
  historyS: 300,
  plot: null,
  emotions: [],
  dirty: true,
};

const $ = (id) => document.getElementById(id);
const now = () => Date.now() / 1000 + live.skew;

function connect() {
  if (live.source) live.source.close();
  live.lastMessage = performance.now();
  live.source = new EventSource("/api/events");
  live.source.onmessage = (m) => {
    live.lastMessage = performance.now();
    pageLink(true);
    handle(JSON.parse(m.data));
  };
  live.source.onerror = () => {
    pageLink(false);
    if (live.source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
}

// A tab that slept may hold a dead stream: reconnect (and get a fresh snapshot).
function watchdog() {
  if (performance.now() - live.lastMessage > (2 * PING_S + 2) * 1000) {
    pageLink(false);
    connect();
  }
}

function pageLink(ok) {
  const node = $("page-link");
  node.dataset.ok = ok ? "1" : "0";
  node.textContent = ok ? "live" : "dashboard unreachable, reconnecting…";
  if (!ok) renderDaemon();
}

function handle(msg) {
  if (msg.type === "snapshot") {
    live.skew = msg.now - Date.now() / 1000;
    live.address = msg.address;
    live.historyS = msg.history_s;
    live.events = msg.events;
    live.daemons = new Map(msg.daemons.map((d) => [d.source, d]));
    live.relay = msg;
  } else if (msg.type === "relay") {
    live.relay = msg;
  } else if (msg.type === "daemon_gone") {
    live.daemons.delete(msg.source);
  } else if (msg.type === "ping") {
    live.skew = msg.now - Date.now() / 1000;
    return;
  } else if (msg.type === "event") {
    live.events.push(msg);
  } else if (msg.type === "daemon") {
    live.daemons.set(msg.source, msg);
  }
  live.dirty = true;
}

// Stream time (seconds since the daemon's stream began) -> wall clock, per daemon.
function offsets() {
  const out = new Map();
  for (const [key, d] of live.daemons) {
    if (d.status && typeof d.status.stream_start_time === "number") out.set(key, d.status.stream_start_time);
  }
  for (const { source, event } of live.events) {
    if (event.type === "emotion" && !out.has(source)) out.set(source, event.time - event.t_end);
  }
  return out;
}

// Utterances in arrival order: [{source, id, start, end|null, emotion|null}] (wall clock).
function utterances(off) {
  const spans = [];
  const open = (src, id) => spans.findLast((s) => s.source === src && s.id === id);
  for (const { source, event: e } of live.events) {
    const o = off.get(source) ?? e.time - (e.t ?? e.t_end ?? 0);
    if (e.type === "vad" && e.state === "start") {
      spans.push({ source, id: e.utterance_id, start: o + e.t, end: null, emotion: null });
    } else if (e.type === "vad" && e.state === "end") {
      const s = open(source, e.utterance_id);
      if (s) s.end = o + e.t;
    } else if (e.type === "utterance") {
      let s = open(source, e.utterance_id);
      if (!s) spans.push((s = { source, id: e.utterance_id, start: o + e.t_start, end: o + e.t_end }));
      s.emotion = e.emotion;
      s.confidence = e.confidence;
      if (s.end === null) s.end = o + e.t_end;
    }
  }
  return spans;
}

function renderCurrent(spans) {
  const preds = live.events.filter((m) => m.event.type === "emotion" || m.event.type === "utterance");
  const last = preds[preds.length - 1];
  const ongoing = spans.length && spans[spans.length - 1].end === null ? spans[spans.length - 1] : null;
  const node = $("current-emotion");
  if (!last) {
    node.textContent = "—";
    node.style.color = "";
    $("current-detail").textContent = ongoing ? "speaking…" : "waiting for speech";
    $("current-bars").replaceChildren();
    return;
  }
  const e = last.event;
  const gone = !live.daemons.size || primaryDaemon().state === "no connection";
  node.textContent = e.emotion;
  node.style.color = colour(e.emotion);
  node.style.opacity = gone ? 0.4 : 1;  // a value from a daemon no longer there
  const ago = Math.max(0, now() - e.time);
  const from = last.source ? ` · from ${last.source}` : "";
  $("current-detail").textContent = (gone ? "daemon not connected · " : "") + (ongoing && !gone
    ? `speaking now · utterance ${ongoing.id}`
    : e.type === "utterance"
      ? `last utterance (${duration(e.t_end - e.t_start)}), ${duration(ago)} ago`
      : `last window, ${duration(ago)} ago`) + ` · confidence ${pct(e.confidence)}${from}`;
  $("current-bars").replaceChildren(...bars(e.probabilities));
}

function primaryDaemon() {
  const all = [...live.daemons.values()];
  return all.find((d) => d.state !== "no connection") || all[0] || null;
}

function renderDaemon() {
  const d = primaryDaemon();
  const pageOk = $("page-link").dataset.ok !== "0";
  const state = pageOk && d ? d.state : "no connection";
  const node = $("daemon-state");
  node.textContent = state.replace("_", " ");
  node.dataset.state = state;
  const s = d && d.status;
  $("daemon-note").textContent = !pageOk ? "this page cannot reach ccser-dashboard"
    : !d ? `nothing received from ${live.address} yet`
      : state === "no connection" ? `no heartbeat for ${duration(d.heartbeat_s * 2.5)} or more` : (s && s.message) || "";
  const x = (s && s.extra) || {};
  const latency = "window_latency_p50_ms" in x
    ? `${x.window_latency_p50_ms.toFixed(0)} / ${x.window_latency_p95_ms.toFixed(0)} ms` : "—";
  // Schema version 2 names the daemon (`source`) and calls its input `input`; version 1
  // had no name and called the input `source`.
  const wide = [...(d && d.source ? [["Daemon", d.source]] : []), ["Model", s ? s.model_id : "—"],
    ["Input", s ? s.input ?? s.source : "—"], ["Publisher", live.address || "—"]];
  const rows = [
    ["Audio processed", s ? duration(s.audio_s) : "—"], ["Uptime", s ? duration(s.uptime_s) : "—"],
    ["Windows", s ? s.windows : "—"], ["Utterances", s ? s.utterances : "—"],
    ["Latency p50 / p95", latency], ["Queue", s ? s.queue_depth : "—"],
    ["Dropped windows", s ? s.dropped_windows : "—", true], ["Dropped messages", s ? s.dropped_messages : "—", true],
    ["Overflows", s ? s.overflows : "—", true], ["Lost messages", d ? d.lost_messages : "—", true],
    ["Restarts seen", d ? d.restarts : "—"],
  ];
  $("daemon-counters").replaceChildren(...wide.flatMap(([k, v]) => [
    el("dt", {}, k), el("dd", { class: "wide" }, String(v))]), ...rows.flatMap(([k, v, warn]) => [
    el("dt", {}, k), el("dd", { class: warn && v > 0 ? "warn" : "" }, String(v))]));
  const others = [...live.daemons.values()].filter((o) => o !== d);
  $("daemon-others").textContent = others.length
    ? `Other daemons: ${others.map((o) => `${o.source || "(unnamed)"} ${o.state}`).join(" · ")}` : "";
  const r = live.relay;
  $("relay-note").textContent = [
    r.invalid_messages ? `${r.invalid_messages} unreadable message${r.invalid_messages === 1 ? "" : "s"} ignored (last: ${r.error})` : "",
    r.ignored_messages ? `${r.ignored_messages} messages from daemons beyond the ${r.max_daemons} shown ignored` : "",
  ].filter(Boolean).join(" · ");
}

function timelineData(off) {
  const windows = live.events.filter((m) => m.event.type === "emotion");
  const names = windows.length ? Object.keys(windows[windows.length - 1].event.probabilities) : live.emotions;
  if (names.join() !== live.emotions.join()) { live.emotions = names; makePlot(); }
  const xs = [], ys = names.map(() => []);
  let prev = null;
  for (const { source, event: e } of windows) {
    const x = (off.get(source) ?? e.time - e.t_end) + e.t_end;
    if (prev && (prev.utterance_id !== e.utterance_id || prev.source !== source) && xs.length) {
      xs.push((xs[xs.length - 1] + x) / 2);  // a gap: no line across silence
      ys.forEach((y) => y.push(null));
    }
    xs.push(x);
    names.forEach((n, i) => ys[i].push(e.probabilities[n] ?? null));
    prev = { utterance_id: e.utterance_id, source };
  }
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  return [order.map((i) => xs[i]), ...ys.map((y) => order.map((i) => y[i]))];
}

function drawSpans(u) {
  const ctx = u.ctx, { left, top, width, height } = u.bbox, dpr = devicePixelRatio || 1;
  const spans = live.spans || [];
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  for (const s of spans) {
    const x0 = u.valToPos(s.start, "x", true), x1 = u.valToPos(s.end ?? now(), "x", true);
    if (x1 < left || x0 > left + width) continue;
    ctx.fillStyle = s.emotion ? alpha(colour(s.emotion), 0.16) : "rgba(120,128,145,0.12)";
    ctx.fillRect(x0, top, Math.max(x1 - x0, 1), height);
    ctx.fillStyle = "rgba(60,66,80,0.55)";  // speech detected (VAD)
    ctx.fillRect(x0, top + height - 6 * dpr, Math.max(x1 - x0, 1), 6 * dpr);
    ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
    if (s.emotion && ctx.measureText(s.emotion).width + 6 * dpr < x1 - Math.max(x0, left)) {
      ctx.fillStyle = colour(s.emotion);
      ctx.fillText(s.emotion, Math.max(x0, left) + 3 * dpr, top + 14 * dpr);
    }
  }
  if (!spans.some((s) => (s.end ?? now()) > now() - spanS())) {
    ctx.fillStyle = "#98a1b3";
    ctx.font = `${14 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.fillText("no speech in this period", left + width / 2, top + height / 2);
  }
  ctx.restore();
}

const spanS = () => Number($("timeline-span").value);

function makePlot() {
  const container = $("timeline");
  if (live.plot) live.plot.destroy();
  live.plot = new uPlot({
    width: Math.max(200, container.clientWidth), height: TIMELINE_H,
    scales: { x: { time: true, auto: false }, y: { auto: false, range: [0, 1] } },
    axes: [{}, { values: (u, v) => v.map((p) => `${Math.round(p * 100)}%`), size: 50 }],
    series: [{ label: "time" }, ...live.emotions.map((name) => ({
      label: name, stroke: colour(name), width: 2, spanGaps: false,
      points: { show: true, size: 6, fill: colour(name) },
    }))],
    legend: { show: false },
    hooks: { drawClear: [drawSpans] },
  }, [[], ...live.emotions.map(() => [])], container);
  fitChart(live.plot, container, TIMELINE_H);
  const key = (text, swatch, cls = "") => el("span", { class: cls, style: { "--swatch": swatch } }, text);
  $("timeline-legend").replaceChildren(...live.emotions.map((e) => key(e, colour(e), "text")),
    key("utterance, shaded in its emotion's colour", "#7b8494", "shade"),
    key("speech detected", "rgba(60,66,80,0.55)"));
}

function render() {
  const horizon = now() - live.historyS;
  if (live.events.length && live.events[0].event.time < horizon - 30) {
    live.events = live.events.filter((m) => m.event.time >= horizon);
  }
  const off = offsets();
  live.spans = utterances(off);
  if (live.dirty) {
    renderCurrent(live.spans);
    renderDaemon();
    live.plot.setData(timelineData(off), false);
    live.dirty = false;
  }
  const t = now();
  live.plot.setScale("x", { min: t - spanS(), max: t });
}

export function startLive() {
  makePlot();
  renderDaemon();
  connect();
  $("timeline-span").addEventListener("change", () => { live.dirty = true; render(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { watchdog(); live.dirty = true; } });
  setInterval(watchdog, 2000);
  setInterval(() => { live.dirty = true; }, 1000);  // "N s ago" and counters age
  const loop = () => { render(); setTimeout(() => requestAnimationFrame(loop), 250); };
  loop();
}
