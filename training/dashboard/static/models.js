// Models panel: each model folder's card in readable form, confusion matrices as heat maps.
import { api, colour, el, num } from "./common.js";
import { fillModelSelect } from "./recognise.js";

const $ = (id) => document.getElementById(id);
const KIND = {
  test: "test corpus", cross_corpus: "cross-corpus", within_corpus: "within corpus",
  cv: "cross-validation", loco: "leave one corpus out", sessions: "sessions",
};

function metricsTable(rows) {
  if (!rows.length) return el("p", { class: "muted" }, "no evaluation figures in the card");
  const has = (k) => rows.some((r) => r[k] !== undefined);
  const cols = [["uar", "UAR"], ["uar_streaming", "UAR live"], ["accuracy", "accuracy"],
    ["macro_f1", "macro F1"], ["n_test", "files"], ["chance_uar", "chance"]].filter(([k]) => has(k));
  return el("table", {},
    el("tr", {}, el("th", {}, "evaluation"), el("th", {}, ""), ...cols.map(([, t]) => el("th", {}, t))),
    ...rows.map((r) => el("tr", { title: r.command || "" },
      el("td", {}, KIND[r.kind] || r.kind.replace(/_/g, " ")), el("td", {}, r.name.replace("->", " → ")),
      ...cols.map(([k]) => el("td", { class: "num" },
        r[k] === undefined ? "" : k === "n_test" ? r[k] : num(r[k]) + (k === "uar" && r.uar_ci95
          ? ` (${num(r.uar_ci95[0], 2)}–${num(r.uar_ci95[1], 2)})` : ""))))));
}

// Rows = true emotion, columns = predicted; each cell shaded by its share of the row.
function heatmap(title, matrix, emotions) {
  const rowSums = matrix.map((r) => r.reduce((a, b) => a + b, 0) || 1);
  return el("figure", {}, el("figcaption", {}, `${title} (rows: true, columns: predicted)`),
    el("table", { class: "heat" },
      el("tr", {}, el("th", {}, ""), ...emotions.map((e) => el("th", {}, e))),
      ...matrix.map((row, i) => el("tr", {}, el("th", {}, emotions[i]),
        ...row.map((v, j) => {
          const share = v / rowSums[i];
          return el("td", {
            style: { background: `rgba(36, 88, 211, ${(0.08 + 0.85 * share).toFixed(2)})`, color: share > 0.5 ? "#fff" : "#1d2330" },
            title: `${emotions[i]} heard as ${emotions[j]}: ${v}`,
          }, `${Math.round(100 * share)}%`);
        })))));
}

function modelCard(m) {
  const c = m.classifier || {};
  const params = Object.entries(c.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  const corpora = el("table", {}, el("tr", {}, el("th", {}, "training corpus"), el("th", {}, "files"), el("th", {}, "licence")),
    ...m.corpora.map((x) => el("tr", {}, el("td", {}, x.name), el("td", { class: "num" }, x.n_files), el("td", {}, x.licence))));
  const perEmotion = Object.entries(m.n_train_per_emotion).map(([e, n]) => `${e} ${n}`).join(", ");
  const confusion = m.confusion.length
    ? el("div", { class: "heatmaps" }, ...m.confusion.map((x) => heatmap(x.title, x.matrix, m.emotions)))
    : m.confusion_png ? el("img", { class: "confusion-png", alt: "confusion matrix", src: `/api/models/${m.key}/confusion.png` })
      : el("p", { class: "muted" }, "no confusion matrix stored");
  return el("article", { class: "card model", "data-key": m.key },
    el("div", { class: "head" }, el("h3", {}, m.name), m.is_default ? el("span", { class: "badge" }, "default") : null,
      el("span", { class: "muted" }, `${m.model_id} · ${m.created}`)),
    el("div", { class: "chips", style: { marginTop: "8px" } },
      ...m.emotions.map((e) => el("span", { class: "chip", style: { background: colour(e) } }, e))),
    el("div", { class: "model-grid" },
      el("div", {}, corpora,
        el("p", { class: "muted" }, `Training files per emotion: ${perEmotion || "—"}`),
        el("p", { class: "muted" }, `Classifier: ${c.name || "—"}${params ? ` (${params})` : ""} · features: `
          + `${m.features.groups.join(", ")} (${m.features.n_features}) · normalisation: ${m.normalisation.method || "—"}`
          + (m.augment.length ? ` · augmented: ${m.augment.join(", ")}` : "")),
        metricsTable(m.metrics)),
      el("div", {}, confusion)),
    el("p", { class: "muted" }, m.folder));
}

export function startModels() {
  async function refresh() {
    try {
      const [{ models }, info] = await Promise.all([api("/api/models"), api("/api/info")]);
      $("models-where").textContent = `${models.length} model${models.length === 1 ? "" : "s"}: the default and those in ${info.models_dirs.join(", ")}. UAR = unweighted average recall (chance = 1 / emotions); "UAR live" normalises as the daemon does.`;
      $("models-list").replaceChildren(...models.map(modelCard));
      await fillModelSelect();
    } catch (err) {
      $("models-where").textContent = `Cannot list models: ${err.message}`;
    }
  }
  refresh();
  return { refresh };
}
