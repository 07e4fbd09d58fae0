// Recognise panel: upload files as one session, show emotion, bars and waveform per file.
import { alpha, api, bars, colour, duration, el, fitChart, pct } from "./common.js";

const $ = (id) => document.getElementById(id);
let limits = { max_upload_mb: 50, max_files: 50 };

function waveform(container, result) {
  const w = result.waveform, n = w.max.length, step = w.seconds / n;
  const xs = w.max.map((_, i) => (i + 0.5) * step);
  const segments = result.segments || [];
  const tint = result.emotion ? colour(result.emotion) : "#7b8494";
  const plot = new uPlot({
    width: 400, height: 110, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false, range: [0, w.seconds] }, y: { range: [-1, 1] } },
    axes: [{ size: 26, values: (u, v) => v.map((s) => `${s} s`) }, { show: false }],
    series: [{}, { stroke: "#3b4252", width: 1, fill: "rgba(59,66,82,0.35)" },
      { stroke: "#3b4252", width: 1, fill: "rgba(59,66,82,0.35)" }],
    hooks: {
      drawClear: [(u) => {  // voiced parts (VAD) shaded in the result's colour
        const ctx = u.ctx, { top, height } = u.bbox;
        ctx.fillStyle = alpha(tint, 0.22);
        for (const [a, b] of segments) {
          const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
          ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
        }
      }],
    },
  }, [xs, w.max, w.min], container);
  fitChart(plot, container, 110);
}

function card(result) {
  const chart = el("div", { class: "chart" });
  const voiced = result.voiced_s !== undefined
    ? `${duration(result.duration_s)} · voiced ${duration(result.voiced_s)}` : "";
  let body;
  if (result.error) body = el("div", { class: "error" }, result.error);
  else if (!result.speech) body = el("div", { class: "nospeech" }, "no speech");
  else {
    body = [el("div", { class: "emotion", style: { color: colour(result.emotion) } }, result.emotion,
      el("span", { class: "muted" }, `  ${pct(result.confidence)}`)),
    el("div", { class: "bars" }, ...bars(result.probabilities))];
  }
  const node = el("article", { class: "card result", "data-speech": result.speech ? "1" : "0" },
    el("div", { class: "head" }, el("span", { class: "file" }, result.name), el("span", { class: "muted" }, voiced)),
    body, result.waveform ? chart : null,
    result.waveform ? el("div", { class: "muted" }, "waveform; shaded: voiced parts") : null);
  if (result.waveform) requestAnimationFrame(() => waveform(chart, result));
  return node;
}

async function recognise() {
  const files = [...$("file-input").files];
  const status = $("file-status"), out = $("file-result");
  if (!files.length) return;
  const total = files.reduce((s, f) => s + f.size, 0);
  if (total > limits.max_upload_mb * 1048576 || files.length > limits.max_files) {
    status.textContent = "";
    out.replaceChildren(el("div", { class: "card error" },
      `Too much at once: ${files.length} files, ${(total / 1048576).toFixed(1)} MB. The limit is `
      + `${limits.max_upload_mb} MB and ${limits.max_files} files together.`));
    return;
  }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  form.append("model", $("file-model").value);
  form.append("stream", $("file-stream").checked ? "1" : "0");
  status.textContent = `Recognising ${files.length} file${files.length > 1 ? "s" : ""}…`;
  out.replaceChildren();
  try {
    const res = await api("/api/recognise", { method: "POST", body: form });
    const n = res.files.length;
    status.textContent = `${n} file${n > 1 ? "s" : ""} with model ${res.model.model_id}`
      + (n > 1 ? `, normalised together as one session${$("file-stream").checked ? " (one after another)" : ""}` : "");
    out.replaceChildren(el("div", { class: "results" }, ...res.files.map(card)));
  } catch (err) {
    status.textContent = "";
    out.replaceChildren(el("div", { class: "card error" }, `Not recognised: ${err.message}`));
  }
}

export async function fillModelSelect() {
  const { models } = await api("/api/models");
  const select = $("file-model"), keep = select.value;
  select.replaceChildren(...models.map((m) => el("option", { value: m.key },
    `${m.name}${m.is_default && m.name !== "default" ? " (default)" : ""} · ${m.emotions.join(", ")}`)));
  if (models.some((m) => m.key === keep)) select.value = keep;
}

export async function startRecognise() {
  $("file-input").addEventListener("change", recognise);
  try {
    limits = await api("/api/info");
    $("upload-limit").textContent = `Up to ${limits.max_upload_mb} MB and ${limits.max_files} files at once.`;
    await fillModelSelect();
  } catch (err) {
    $("file-status").textContent = `Cannot reach ccser-dashboard: ${err.message}`;
  }
}
