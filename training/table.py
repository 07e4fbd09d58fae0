"""The terminal summary of a run: model x CV-UAR x test accuracy x test UAR."""

from __future__ import annotations


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
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
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
