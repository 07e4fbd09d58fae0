"""`--models rnn` against the default model: leave-one-corpus-out x session kinds,
late fusion, training time, and the daemon's latency and memory with the RNN.

    CCSER_CORPORA=../shared/corpora python benchmarks/rnn.py [--emotions AHNS] [--seconds 120]

Per held-out corpus (trained on the other three) it runs the real `ccser-train`:
once with the defaults (the default model's row) and once with
`--models logreg,rnn --fuse` (the RNN's row, and the fusion row: the model, the
average of the RNN's and the logistic-regression model's probabilities). Then
`ccser-train --train ravdess,savee,casia --test emodb --models rnn` from a cold
cache is timed and its model replayed through `ccserd` by daemon_latency.py's
harness. Writes the "## RNN" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_latency import replay_file, run  # noqa: E402
from results_md import machine, update_section  # noqa: E402

CORPORA = ("emodb", "ravdess", "savee", "casia")
KINDS = ("balanced", "single", "neutral_dominant", "cold", "worst")
TRAIN = Path(sys.executable).parent / "ccser-train"


def train(args: list[str], report: Path) -> tuple[dict, float, float]:
    """(report, wall seconds, CPU seconds of ccser-train and its workers)."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(TRAIN), *args, "--report", str(report), "--quiet"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ccser-train {' '.join(args)} failed:\n{proc.stderr}")
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (json.loads(report.read_text()), time.perf_counter() - start,
            end.ru_utime + end.ru_stime - cpu.ru_utime - cpu.ru_stime)


def cells(sessions: dict) -> list[str]:
    return [f"{sessions[k]['uar']:.3f}" if k in sessions else "-" for k in KINDS]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emotions", default="AHNS")
    p.add_argument("--seconds", type=float, default=120.0, help="audio replayed through ccserd")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    corpora = os.environ.get("CCSER_CORPORA")
    if not corpora:
        p.error("set CCSER_CORPORA to the folder holding the four corpora")
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The timed run first, from an empty cache: the issue's own command.
        common = ["--corpus-dir", corpora, "--emotions", args.emotions, "--jobs", str(args.jobs),
                  "--cache-dir", str(tmp / "cache")]
        load = os.getloadavg()[0]
        timed, wall, cpu = train(["--train", "ravdess,savee,casia", "--test", "emodb", "--models",
                             "rnn", "--output", str(tmp / "rnn_model"), *common], tmp / "t.json")
        rnn_s = timed["models"]["rnn"]["search_s"]
        for held in CORPORA:
            others = ",".join(c for c in CORPORA if c != held)
            base = ["--train", others, "--test", held, "--no-export", *common]
            default = train(base, tmp / f"d_{held}.json")[0]
            both = train([*base, "--models", "logreg,rnn", "--fuse"], tmp / f"r_{held}.json")[0]
            d_block = default["results"][held]
            rnn = both["models"]["rnn"]
            fusion = both["results"][held]
            rows += [
                f"| {held} | default ({default['best_model']}) | {d_block['uar']:.3f} | "
                + " | ".join(cells(d_block.get("sessions", {}))) + " |",
                f"| {held} | rnn (CV {rnn['cv_uar']:.3f}) | {rnn['test_uar'][held]:.3f} | "
                + " | ".join(cells(rnn.get("sessions", {}).get(held, {}))) + " |",
                f"| {held} | fusion logreg + rnn | {fusion['uar']:.3f} | "
                + " | ".join(cells(fusion.get("sessions", {}))) + " |",
            ]
            print("\n".join(rows[-3:]), flush=True)
        wav = tmp / "replay.wav"
        total = replay_file(Path(corpora), args.seconds, wav)
        rt = run(tmp / "rnn_model", wav, realtime=True)
        fast = run(tmp / "rnn_model", wav, realtime=False)
    table = ("| held out | model | adaptive | " + " | ".join(KINDS) + " |\n"
             "| --- | --- | --- | " + " | ".join("---" for _ in KINDS) + " |\n" + "\n".join(rows))
    daemon = (
        "| measure | with the RNN | target |\n| --- | --- | --- |\n"
        f"| p95 latency, sliding-window end -> subscriber | {rt['latency_p95']:.1f} ms | "
        "<= 30 ms |\n"
        f"| p50 / max latency | {rt['latency_p50']:.1f} / {rt['latency_max']:.1f} ms | |\n"
        f"| CPU at real time | {rt['cpu_pct']:.1f} % of one core | |\n"
        f"| peak RSS | {max(rt['peak_mb'], fast['peak_mb']):.0f} MB | <= 200 MB |\n"
        f"| speed with --no-realtime | {fast['speed']:.0f}x real time | |\n"
        f"| windows (sliding) / utterances / dropped | {rt['windows']} ({rt['sliding']}) / "
        f"{rt['utterances']} / {rt['dropped']} | |")
    body = (
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end (shared "
        "machine: times vary from run to run).\n\n"
        f"Command: `CCSER_CORPORA=../shared/corpora python benchmarks/rnn.py` ({args.emotions}, "
        f"`--jobs {args.jobs}`, grid `RnnGrid()` of training/models.py).\n\n"
        "**Training time.** `ccser-train --train ravdess,savee,casia --test emodb --emotions "
        f"{args.emotions} --models rnn` from an empty cache: {wall:.0f} s wall in all "
        f"(features and frames of four corpora, training, evaluation, export; load average "
        f"{load:.1f} when it started), {cpu:.0f} s of CPU (all processes); the RNN's "
        f"training {rnn_s:.0f} s wall, best epoch {timed['models']['rnn']['best_params']['epochs']}"
        " (target: the run under 600 s).\n\n"
        "**Leave-one-corpus-out** (trained on the other three; UAR). `adaptive`: each test "
        "speaker normalised by all its files; the session kinds play files through the live "
        "rule (see the cross-corpus section); `worst` is the lowest kind. `default` is "
        "`ccser-train` with its defaults; `rnn` and `fusion` come from one "
        "`--models logreg,rnn --fuse` run (fusion averages the two models' probabilities).\n\n"
        f"{table}\n\n"
        f"**Daemon with the RNN** (the model of the timed run; {total:.0f} s of emodb + ravdess "
        "speech replayed through `ccserd --source`, harness of daemon_latency.py):\n\n"
        f"{daemon}\n")
    print(body)
    update_section("RNN", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
