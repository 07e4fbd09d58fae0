"""The figures a model card carries, as tables beside another card's (e.g. the previous
default): leave-one-corpus-out per session kind, and the RAVDESS <-> EmoDB rows.

    python benchmarks/card_tables.py NEW_MODEL_DIR [--vs OLD_MODEL_DIR] [--section TITLE]

Prints the tables; with --section, also writes them to that section of RESULTS.md.
Nothing is re-measured here: the card's figures were measured when the model was built
(benchmarks/build_default_model.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import update_section  # noqa: E402

KINDS = ("balanced", "single", "neutral_dominant", "cold")


def metrics(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text())["metrics"]


def cell(new: float | None, old: float | None) -> str:
    if new is None:
        return "-" if old is None else f"- / {old:.3f}"
    return f"{new:.3f}" if old is None else f"{new:.3f} / {old:.3f}"


def loco_table(new: dict, old: dict) -> str:
    rows = ["| held out | adaptive | " + " | ".join(KINDS) + " | **worst** | single - cold |",
            "|---" * (len(KINDS) + 4) + "|"]
    for corpus, block in new.get("loco", {}).items():
        prev = old.get("loco", {}).get(corpus, {})
        s, ps = block.get("sessions", {}), prev.get("sessions", {})
        kinds = [cell(s.get(k), ps.get(k)) for k in KINDS]
        worst = cell(s.get("worst", {}).get("uar"), ps.get("worst", {}).get("uar"))
        gap = s.get("single", 0) - s.get("cold", 0) if s else float("nan")
        rows.append(f"| {corpus} | {cell(block['uar'], prev.get('uar'))} | "
                    + " | ".join(kinds) + f" | **{worst}** | {gap:+.3f} |")
    return "\n".join(rows)


def cross_table(new: dict, old: dict) -> str:
    rows = ["| direction | adaptive | streaming | worst session kind |", "|---|---|---|---|"]
    for name, block in new.get("cross_corpus", {}).items():
        prev = old.get("cross_corpus", {}).get(name, {})
        worst = min(block["sessions"].values())
        pworst = min(prev["sessions"].values()) if prev.get("sessions") else None
        rows.append(f"| {name} | {cell(block['uar'], prev.get('uar'))} | "
                    f"{cell(block['uar_streaming'], prev.get('uar_streaming'))} | "
                    f"{cell(worst, pworst)} |")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--vs", type=Path, help="a second model folder, shown after each figure")
    p.add_argument("--section", help="also write the tables to this RESULTS.md section")
    p.add_argument("--note", default="", help="text before the tables")
    args = p.parse_args()
    new, old = metrics(args.model), metrics(args.vs) if args.vs else {}
    legend = (f"Each cell: {args.model} / {args.vs}.\n\n" if args.vs else "")
    body = (f"{args.note}\n\n{legend}Leave-one-corpus-out (AHNS; train on the others), UAR per "
            f"session kind (live rule):\n\n{loco_table(new, old)}\n\nRAVDESS <-> EmoDB (AHNS):"
            f"\n\n{cross_table(new, old)}").strip()
    print(body)
    if args.section:
        update_section(args.section, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
