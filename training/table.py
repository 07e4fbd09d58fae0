"""The terminal summary of a run: model x CV-UAR x test accuracy x test UAR, then UAR
per session kind for each test corpus and, with --loco, the leave-one-corpus-out table."""

from __future__ import annotations

from training.sessions import KINDS


def grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns with a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def sessions_table(blocks: dict[str, dict], title: str) -> list[str]:
    """One row per corpus: speaker-adaptive UAR, live UAR per session kind, worst kind."""
    rows = []
    for corpus, b in blocks.items():
        kinds = b.get("sessions")
        if not kinds:
            continue
        rows.append([corpus, f"{b['uar']:.3f}",
                     *[f"{kinds[k]['uar']:.3f}" if k in kinds else "-" for k in KINDS],
                     f"{kinds['worst']['uar']:.3f} ({kinds['worst']['kind']})"])
    if not rows:
        return []
    return [title, *grid(["corpus", "adaptive", *KINDS, "worst"], rows)]


def results_table(report: dict) -> str:
    tests = report["test"]
    search = report.get("search", {})
    header = ["model", "CV-UAR"] + [f"{t} {k}" for t in tests for k in ("acc", "UAR")]
    rows = []
    for name, row in report["models"].items():
        cells = [("* " if name == report["best_model"] else "  ") + name, f"{row['cv_uar']:.3f}"]
        for t in tests:
            block = report["results"][t]
            test_uar = row["test_uar"][t]
            acc = f"{block['accuracy']:.3f}" if name == report["best_model"] else "-"
            cells += [acc, f"{test_uar:.3f}"]
        rows.append(cells)
    lines = grid(header, rows)
    out = [f"emotions: {', '.join(report['emotions'])}   train: {'+'.join(report['train'])} "
           f"({report['n_train']} files)", *lines,
           f"* best by {search.get('cv_scheme', 'speaker-grouped')} CV UAR on the training data: "
           f"{report['best_model']} {report['best_params']}"]
    if search.get("speaker_independent") is False:
        out.append(f"warning: the {search['folds']} CV folds are {search['cv_scheme']}, not "
                   "speaker-independent (one speaker in the training data): CV UAR is optimistic")
    for t in tests:
        b = report["results"][t]
        lo, hi = b["uar_ci95"]
        out.append(f"{t}: UAR {b['uar']:.3f} [95% CI {lo:.3f}-{hi:.3f}], streaming UAR "
                   f"{b['uar_streaming']:.3f}, accuracy {b['accuracy']:.3f}, n={b['n_test']}, "
                   f"chance {b['chance_uar']:.3f}")
    out += sessions_table({t: report["results"][t] for t in tests},
                          "UAR per session kind (live rule; adaptive = whole-speaker statistics):")
    if report.get("loco"):
        out += sessions_table(report["loco"], "leave-one-corpus-out (train on the others), UAR:")
    if report.get("within_corpus"):
        w = report["within_corpus"]
        out.append(f"within-corpus {w.get('cv_scheme', w['cv'])} CV ({w['folds']} folds): "
                   f"UAR {w['uar']:.3f}, accuracy {w['accuracy']:.3f}")
    skipped = {k: v for k, v in report["n_unreadable"].items() if v}
    names = {k: v for k, v in report["n_skipped_names"].items() if v}
    if skipped:
        out.append("unreadable files skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
    if names:
        out.append("files not matching naming rules skipped: "
                   + ", ".join(f"{k} {v}" for k, v in names.items()))
    return "\n".join(out)
