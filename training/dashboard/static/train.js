// Train panel: choose corpora, emotions, features and classifiers; follow one ccser-train run.
import { api, el } from "./common.js";

const $ = (id) => document.getElementById(id);
let wasRunning = false;

function group(legend, name, values, checked, note) {
  return el("fieldset", { "data-name": name }, el("legend", {}, legend),
    values.length ? values.map((v) => el("label", {},
      el("input", { type: "checkbox", name, value: v, checked: checked.includes(v) }), ` ${v}`))
      : el("span", { class: "muted" }, note));
}

const chosen = (name) => [...document.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);

function showStatus(s) {
  const state = $("train-state");
  state.textContent = s.state;
  state.dataset.state = s.state;
  const running = s.state === "running";
  $("train-start").disabled = running;
  $("train-cancel").disabled = !running;
  const p = s.progress || {};
  $("train-progress-bar").style.width = running ? `${p.percent || 0}%` : s.state === "finished" ? "100%" : "0";
  $("train-progress").textContent = running
    ? `${s.name}: ${p.stage || "starting"} ${p.percent !== undefined ? `${p.percent}%` : ""} · ${s.elapsed_s} s`
    : s.state === "idle" ? "no run yet"
      : `${s.name}: ${s.state} after ${s.elapsed_s} s${s.returncode ? ` (exit ${s.returncode})` : ""}`
        + (s.state === "finished" ? ` · model written to ${s.output}; see Models` : "");
  const log = $("train-log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = s.log.join("\n");
  if (atEnd) log.scrollTop = log.scrollHeight;
  return running;
}

export async function startTrain(onModelAdded) {
  async function poll() {
    try {
      const running = showStatus(await api("/api/train"));
      if (wasRunning && !running) onModelAdded();
      wasRunning = running;
    } catch { /* the live panel reports an unreachable dashboard */ }
    setTimeout(poll, wasRunning ? 1000 : 5000);
  }
  try {
    const o = await api("/api/train/options");
    const none = `no corpora in ${o.corpus_dir || "(no --corpus-dir)"}`;
    $("train-options").replaceChildren(
      group("Train on", "train", o.corpora, o.corpora.slice(0, 1), none),
      group("Test on (other corpora)", "test", o.corpora, o.corpora.slice(1, 2), none),
      group("Emotions", "emotions", o.emotions, o.default_emotions),
      group("Feature groups", "features", o.features, o.default_features),
      group("Classifiers (best by CV is exported)", "models", o.models, o.default_models));
    if (!o.corpora.length) $("train-error").textContent = "Training needs corpora: start ccser-dashboard with --corpus-dir DIR (or $CCSER_CORPORA).";
  } catch (err) {
    $("train-error").textContent = err.message;
  }
  $("train-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("train-error").textContent = "";
    const body = { train: chosen("train"), test: chosen("test"), emotions: chosen("emotions"),
      features: chosen("features"), models: chosen("models"), name: $("train-name").value };
    try {
      showStatus(await api("/api/train", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }));
      wasRunning = true;
    } catch (err) {
      $("train-error").textContent = err.message;
    }
  });
  $("train-cancel").addEventListener("click", async () => {
    try { showStatus(await api("/api/train/cancel", { method: "POST" })); } catch (err) { $("train-error").textContent = err.message; }
  });
  poll();
}
