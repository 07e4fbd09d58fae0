// Shared helpers: emotion colours, the API call, small DOM and formatting functions.

const EMOTION_COLOURS = {
  angry: "#d62728", happy: "#e8a200", sad: "#1f6fd1", neutral: "#5d6878", calm: "#15a3b3",
  fear: "#8e5cc9", disgust: "#2f9e44", surprise: "#e0569f", boredom: "#8c5a3c",
};
const SPARE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2"];

export function colour(emotion) {
  if (EMOTION_COLOURS[emotion]) return EMOTION_COLOURS[emotion];
  let h = 0;
  for (const c of String(emotion)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}

export function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// Every request carries the header the server requires of state-changing requests.
export async function api(path, options = {}) {
  const headers = { "X-Ccser-Dashboard": "1", ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "style" && typeof v === "object") {
      for (const [name, value] of Object.entries(v)) {
        if (name.startsWith("--")) node.style.setProperty(name, value);
        else node.style[name] = value;
      }
    }
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const pct = (p) => (p === null || p === undefined ? "—" : `${Math.round(p * 100)} %`);
export const num = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "—");

export function duration(s) {
  if (typeof s !== "number" || !isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Probability bars, largest first, in the emotion's colour.
export function bars(probabilities) {
  const rows = Object.entries(probabilities || {}).sort((a, b) => b[1] - a[1]);
  return rows.flatMap(([emotion, p]) => [
    el("span", { class: "label" }, emotion),
    el("div", { class: "track" },
      el("div", { class: "fill", style: { width: `${(100 * p).toFixed(1)}%`, background: colour(emotion) } })),
    el("span", { class: "value" }, pct(p)),
  ]);
}

// Fill a uPlot chart's width to its container, and keep it so on resize.
export function fitChart(plot, container, height) {
  const resize = () => plot.setSize({ width: Math.max(200, container.clientWidth), height });
  new ResizeObserver(resize).observe(container);
  resize();
}
