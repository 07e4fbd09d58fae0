"""Does ccserd (onnxruntime, numpy, soxr, zmq) run under systemd/ccserd.service's sandbox?

Where systemd is not PID 1 (containers, CI) the unit cannot be started, so this
script rebuilds the parts of its sandbox that could break the daemon and runs
a real `ccserd --source FILE --no-realtime` inside them:

* SystemCallFilter=@system-service ~@privileged ~@resources, as a seccomp allow
  list resolved with `systemd-analyze syscall-filter`; a call outside it fails
  with EPERM, as SystemCallErrorNumber=EPERM makes the unit do (`--kill`: the
  process is killed with SIGSYS instead, systemd's default, to see whether
  anything asks for a filtered call at all; `strace -f` shows which);
* MemoryDenyWriteExecute=yes, with systemd's own seccomp rules (mmap with
  PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect with PROT_EXEC and shmat with
  SHM_EXEC fail with EPERM);
* ProcSubset=pid + ProtectProc=invisible, as a private /proc mount.

Run as root with Debian's python3 and python3-seccomp (`apt-get install
python3-seccomp`); it re-executes itself in a new mount namespace:

    sudo /usr/bin/python3 benchmarks/systemd_sandbox.py [--audio FILE] [--no-mdwe]

It then prints `systemd-analyze security` for the shipped unit. Prints what
ran and exits non-zero if ccserd failed under the sandbox.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "ccserd.service"
ALLOW = ["@system-service"]
DENY = ["@privileged", "@resources"]
#: Given back after DENY, as the unit's last SystemCallFilter= line does.
READD = ["sched_setscheduler"]


def expand(group: str, seen: set[str] | None = None) -> set[str]:
    """Syscall names in a systemd group, nested groups resolved."""
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                         text=True, check=True).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if item.startswith("@"):
            if item not in seen:
                seen.add(item)
                names |= expand(item, seen)
        else:
            names.add(item)
    return names


def install_filter(mdwe: bool, kill: bool, readd: list[str]) -> int:
    """Allow-list seccomp filter like the unit's; returns how many calls it allows."""
    import errno

    import seccomp

    allowed = set().union(*(expand(g) for g in ALLOW)) - set().union(*(expand(g) for g in DENY))
    allowed |= set(readd)
    flt = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS if kill
                                else seccomp.ERRNO(errno.EPERM))
    count = 0
    for name in sorted(allowed):
        if mdwe and name in ("mmap", "mprotect", "pkey_mprotect", "shmat"):
            continue  # conditional rules below
        try:
            flt.add_rule(seccomp.ALLOW, name)
            count += 1
        except (RuntimeError, ValueError):  # not a syscall on this architecture
            pass
    if mdwe:  # what is not allowed below fails with EPERM (explicitly when kill is on)
        prot_exec, prot_write, shm_exec = 0x4, 0x2, 0o100000
        wx = prot_exec | prot_write
        for value in (0, prot_exec, prot_write):
            flt.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, value))
        for name in ("mprotect", "pkey_mprotect"):
            flt.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, prot_exec, 0))
        flt.add_rule(seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, shm_exec, 0))
        if kill:
            eperm = seccomp.ERRNO(errno.EPERM)
            flt.add_rule(eperm, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
            for name in ("mprotect", "pkey_mprotect"):
                flt.add_rule(eperm, name,
                             seccomp.Arg(2, seccomp.MASKED_EQ, prot_exec, prot_exec))
            flt.add_rule(eperm, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, shm_exec, shm_exec))
    else:
        for name in ("mmap", "mprotect", "pkey_mprotect", "shmat"):
            flt.add_rule(seccomp.ALLOW, name)
    flt.load()
    return count


def inner(args: argparse.Namespace) -> int:
    """In the new mount namespace: private /proc, then the filter, then exec ccserd."""
    subprocess.run(["mount", "-t", "proc", "-o", "subset=pid,hidepid=invisible", "proc",
                    "/proc"], check=True)
    n = install_filter(not args.no_mdwe, args.kill, args.readd.split(",") if args.readd else [])
    print(f"sandbox: {n} system calls allowed (others: {'SIGSYS' if args.kill else 'EPERM'}), "
          f"MemoryDenyWriteExecute={'no' if args.no_mdwe else 'yes'}, /proc subset=pid",
          flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    os.execve(args.ccserd, [args.ccserd, "--source", args.audio, "--no-realtime",
                            "--publish", "tcp://127.0.0.1:5599", "--status-interval", "1"], env)
    return 1  # not reached


def security(unit_text: str, ccserd: str) -> str:
    """`systemd-analyze security --offline` of a unit text (ExecStart pointed at ccserd)."""
    with tempfile.TemporaryDirectory() as tmp:
        unit = Path(tmp) / "ccserd.service"
        unit.write_text(unit_text.replace("/opt/ccser/bin/ccserd", ccserd))
        out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                             capture_output=True, text=True).stdout
    match = re.search(r"Overall exposure level for \S+: ([\d.]+)", out)
    return match.group(1) if match else "?"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--audio", help="file to replay (default: generated speech-like audio)")
    p.add_argument("--ccserd", default=str(ROOT / ".venv" / "bin" / "ccserd"))
    p.add_argument("--no-mdwe", action="store_true", help="without MemoryDenyWriteExecute")
    p.add_argument("--readd", default=",".join(READD),
                   help="comma-separated calls allowed again after the deny list "
                        f"(default {','.join(READD)}; '' for none)")
    p.add_argument("--kill", action="store_true",
                   help="filtered calls kill the process (systemd's default) instead of EPERM")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        return inner(args)
    if os.geteuid() != 0 or shutil.which("systemd-analyze") is None:
        print("needs root and systemd-analyze", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        audio = args.audio or _speech(Path(tmp) / "speech.wav", args.ccserd)
        cmd = ["unshare", "--mount", "--propagation", "private", sys.executable,
               __file__, "--inner", "--audio", audio, "--ccserd", args.ccserd,
               "--readd", args.readd]
        cmd += ["--no-mdwe"] * args.no_mdwe + ["--kill"] * args.kill
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print(proc.stdout.strip())
    tail = "\n".join(proc.stderr.strip().splitlines()[-4:])
    print(f"ccserd exit status {proc.returncode}; last log lines:\n{tail}")
    print(f"systemd-analyze security exposure of {UNIT.relative_to(ROOT)}: "
          f"{security(UNIT.read_text(), args.ccserd)}")
    return 0 if proc.returncode == 0 and "stopped after" in proc.stderr else 1


def _speech(path: Path, ccserd: str) -> str:
    """Speech-like test audio, written by the venv's Python (numpy, soundfile)."""
    python = Path(ccserd).with_name("python")
    code = ("import sys; sys.path.insert(0, 'tests/daemon'); import numpy as np; "
            "from daemon_helpers import speech_like, silence, write_wav; "
            f"write_wav(__import__('pathlib').Path({str(path)!r}), "
            "*[p for i in range(6) for p in (silence(1.0, seed=i), speech_like(3.0, seed=i))])")
    subprocess.run([str(python), "-c", code], check=True, cwd=ROOT)
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
