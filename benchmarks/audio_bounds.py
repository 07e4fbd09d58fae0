"""Peak memory of recognising small files that decode to a lot of audio (issue 16).

Generates, in a temporary folder deleted afterwards:
- the review's bomb: a FLAC of digital silence, 8 channels at 192 kHz, 6 minutes
  (~0.6 MB; 2.2 GB as float32);
- a 2-hour 16 kHz mono WAV (230 MB on disk; the review saw ccser-predict reach 12.3 GB);
- speech-like audio exactly at the default limit (MAX_DURATION_S), the largest file
  recognised without --max-duration: the worst case of the bound.

and measures the peak RSS of the process that reads them: a real `ccser-dashboard`
(VmHWM of its process, the files POSTed to /api/recognise) and `ccser-predict`
(ru_maxrss of that child, from wait4). Writes the figures to the "Decoded audio"
part of the "Hardening (issue 16)" section of RESULTS.md, leaving the rest of it.

    python benchmarks/audio_bounds.py [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from generated_audio import silent_flac  # noqa: E402
from results_md import RESULTS, machine  # noqa: E402

from ccser_core.audio import MAX_DURATION_S  # noqa: E402

SECTION = "Hardening (issue 16)"
PART = "Decoded audio size (item 3)"
TARGET_MB = 1024


def speech_like(sr: int, seconds: float, seed: int) -> np.ndarray:
    """A voice-like signal the no-speech gate passes: harmonics of a gliding f0 with
    a syllable-rate envelope, in 3-second phrases with pauses, plus a little noise."""
    rng = np.random.default_rng(seed)
    parts = []
    while sum(map(len, parts)) < seconds * sr:
        t = np.arange(int(3 * sr)) / sr
        f0 = rng.uniform(110, 220) * (1 + 0.15 * np.sin(2 * np.pi * 0.4 * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        voice = sum(np.sin(k * phase) / k for k in range(1, 12))
        voice *= 1 - 0.6 * (0.5 + 0.5 * np.cos(2 * np.pi * 4 * t))
        parts += [0.2 * voice / np.abs(voice).max(), np.zeros(int(0.7 * sr))]
    y = np.concatenate(parts)[: int(seconds * sr)]
    return (y + 0.003 * rng.standard_normal(len(y))).astype(np.float32)


def long_wav(path: Path, seconds: float, sr: int = 16000) -> Path:
    """A long 16-bit WAV written a minute at a time (speech-like, so not trivially silent)."""
    minute = (speech_like(sr, 60, 1) * 32767).astype(np.int16)
    with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16", format="WAV") as fh:
        for _ in range(int(seconds // 60)):
            fh.write(minute)
    return path


def predict_peak(files: list[Path], *extra: str) -> tuple[float, float, str]:
    """(peak RSS MB, seconds, the label or the first message) of one ccser-predict run."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "training.predict_cli",
                                 *map(str, files), *extra], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        said = out.read().decode().splitlines() + [
            ln for ln in err.read().decode().splitlines() if ln.startswith("ccser-predict")]
    shown = said[0].split("\t")[1] if said and "\t" in said[0] else (said or [""])[0]
    return usage.ru_maxrss / 1024, time.monotonic() - start, shown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def dashboard_peaks(uploads: list[Path]) -> list[tuple[float, float, float, str]]:
    """Start `ccser-dashboard`, POST each file on its own to /api/recognise; for each:
    (RSS before MB, peak RSS so far MB, seconds, the answer for the file)."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "training.dashboard.cli", "--http",
                             f"127.0.0.1:{port}", "--connect", f"tcp://127.0.0.1:{free_port()}",
                             "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/info", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("ccser-dashboard did not start") from None
                time.sleep(0.2)
        rows = []
        for path in uploads:
            before = vm_kb(proc.pid, "VmRSS") / 1024
            start = time.monotonic()
            with path.open("rb") as fh:
                r = httpx.post(url + "/api/recognise", files=[("files", (path.name, fh))],
                               headers={"X-Ccser-Dashboard": "1"}, timeout=600)
            seconds = time.monotonic() - start
            answer = r.json()["files"][0] if r.status_code == 200 else {"error": r.text}
            shown = answer.get("error") or (answer.get("emotion") or "no speech")
            rows.append((before, vm_kb(proc.pid, "VmHWM") / 1024, seconds, str(shown)))
        return rows
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def update_part(body: str) -> None:
    """Replace (or add) only the `### PART` block inside `## SECTION` of RESULTS.md."""
    text = RESULTS.read_text()
    block = f"### {PART}\n\n{body.strip()}\n\n"
    part = re.compile(rf"^### {re.escape(PART)}\n.*?(?=^### |^## |\Z)", re.S | re.M)
    if part.search(text):
        text = part.sub(lambda _: block, text)
    elif re.search(rf"^## {re.escape(SECTION)}\n", text, re.M):
        section = re.compile(rf"(^## {re.escape(SECTION)}\n.*?)(?=^## |\Z)", re.S | re.M)
        text = section.sub(lambda m: m.group(1).rstrip() + "\n\n" + block, text)
    else:
        text = text.rstrip() + f"\n\n## {SECTION}\n\n" + block
    RESULTS.write_text(text.rstrip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccser-audio-bounds-") as tmp:
        folder = Path(tmp)
        print("generating files ...", file=sys.stderr)
        bomb = silent_flac(folder / "bomb-8ch-192k-6min.flac", 360, 192000, 8)
        wide = silent_flac(folder / "wide-8ch-192k.flac", MAX_DURATION_S, 192000, 8)
        at_limit = folder / f"speech-{MAX_DURATION_S:g}s.flac"
        sf.write(str(at_limit), speech_like(16000, MAX_DURATION_S, 2), 16000)
        two_hours = long_wav(folder / "two-hours-16k.wav", 7200)
        sizes = {p: p.stat().st_size / 2**20 for p in (bomb, wide, at_limit, two_hours)}
        cases = [(bomb, "8 ch x 192 kHz, 6 min, digital silence (FLAC)"),
                 (wide, f"8 ch x 192 kHz, {MAX_DURATION_S:g} s (the limit), digital silence "
                        "(FLAC)"),
                 (at_limit, f"{MAX_DURATION_S:g} s (the limit) of speech-like audio, 16 kHz")]

        rows = []
        for path, label in cases:
            before, peak, seconds, shown = dashboard_peaks([path])[0]
            rows.append(("dashboard /api/recognise", label, sizes[path], before, peak, seconds,
                         shown.replace(path.name, "FILE")))
            print(rows[-1], file=sys.stderr)
        for path, label in [*cases, (two_hours, "2 h at 16 kHz mono (WAV)")]:
            peak, seconds, shown = predict_peak([path])
            rows.append(("ccser-predict", label, sizes[path], None, peak, seconds,
                         shown.replace(str(path), "FILE")))
            print(rows[-1], file=sys.stderr)

    lines = [f"`python benchmarks/audio_bounds.py` on {machine()}. Peak RSS of the process "
             "that reads the file: the real `ccser-dashboard` (VmHWM after one POST of the "
             "file to `/api/recognise`; RSS before the request in brackets) and "
             "`ccser-predict` (ru_maxrss of that process). Default limit "
             f"{MAX_DURATION_S:g} s per file (`ccser-predict --max-duration`), 600 s per "
             f"dashboard request; target under {TARGET_MB} MB. Before the fix the bomb took "
             "the dashboard to 4373 MB and the 2-hour WAV took ccser-predict to 12.3 GB.", "",
             "| reader | file | on disk (MB) | peak RSS (MB) | time (s) | answer |",
             "|---|---|---:|---:|---:|---|"]
    for reader, label, size, before, peak, seconds, shown in rows:
        rss = f"{peak:.0f}" + (f" ({before:.0f})" if before is not None else "")
        ok = "" if peak < TARGET_MB else " **over target**"
        lines.append(f"| {reader} | {label} | {size:.2f} | {rss}{ok} | {seconds:.1f} | "
                     f"{shown.replace('|', '/')} |")
    lines += ["", "Decoding is block by block (down-mixed and resampled as it goes), so the "
              "8-channel 192 kHz file costs what its 16 kHz mono result does; what remains "
              "grows with duration is the analysis of the whole recording (about 3.6 MB per "
              "second, the pitch track above all), which is why the limit is "
              f"{MAX_DURATION_S:g} s. `ccserd --source` streams longer recordings."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        update_part(body)
    return 0 if all(r[4] < TARGET_MB for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
