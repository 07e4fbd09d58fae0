"""`ccser-listen`: show a ccserd publisher's events live, or as JSON lines for scripts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ccser_core.client import DEFAULT_ADDRESS, EventError, Subscriber, parse
from ccser_core.errors import CcserError
from ccser_core.events import TOPICS, Event, StatusEvent, VadEvent
from ccser_core.usage import Parser


def human(event: Event) -> str:
    """One terminal line per event, led by its daemon's name when it has one."""
    return (f"[{event.source}] " if event.source else "") + _line(event)


def _line(event: Event) -> str:
    d = event.to_dict()
    if event.type in ("emotion", "utterance"):
        bars = "  ".join(f"{e} {p:4.0%}" for e, p in sorted(
            d["probabilities"].items(), key=lambda kv: -kv[1]))
        label = "UTTERANCE" if event.type == "utterance" else "window   "
        return (f"{label} #{d['utterance_id']:<4} {d['t_start']:8.2f}-{d['t_end']:8.2f}s  "
                f"{d['emotion']:>10} {d['confidence']:4.0%}   {bars}")
    if isinstance(event, VadEvent):
        return f"speech {event.state:5} #{event.utterance_id:<4} at {event.t:8.2f}s"
    assert isinstance(event, StatusEvent)
    return (f"status {event.state}: audio {event.audio_s:.1f}s, uptime {event.uptime_s:.0f}s, "
            f"overflows {event.overflows}, dropped windows {event.dropped_windows}, "
            f"dropped messages {event.dropped_messages}, queue {event.queue_depth}"
            + (f" ({event.message})" if event.message else ""))


#: Seconds without any event before ccser-listen says something may be wrong
#: (ccserd sends a status heartbeat every 5 s by default).
WARN_AFTER_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="ccser-listen", description="Print the events of a running ccserd.",
        epilog="While nothing arrives it says so on stderr (after --warn-after seconds), "
               "with whether anything accepted the connection. On stderr too: missed events "
               "(gaps in a daemon's seq), a daemon's restart (its seq going back), and "
               "messages that are not valid events (the first described, the rest counted; "
               "they never end the listener).")
    p.add_argument("--connect", default=DEFAULT_ADDRESS,
                   help=f"publisher address (default {DEFAULT_ADDRESS})")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--count", type=int, default=0, help="exit after N events (0: never)")
    p.add_argument("--topic", action="append", choices=TOPICS, default=[],
                   help="only these topics (repeatable; default: all)")
    p.add_argument("--source", action="append", default=[], metavar="NAME",
                   help="only events of these daemons (their --name; repeatable; default: all), "
                        "e.g. behind a ccser-proxy")
    p.add_argument("--timeout", type=float, default=None,
                   help="exit with status 1 if no event arrives for this many seconds")
    p.add_argument("--warn-after", type=float, default=WARN_AFTER_S,
                   help=f"warn on stderr after this many seconds without events "
                        f"(default {WARN_AFTER_S:g})")
    p.add_argument("--curve-server-key", type=Path, metavar="FILE",
                   help="the daemon's public key (its NAME.key) when it uses CURVE")
    p.add_argument("--curve-secret-key", type=Path, metavar="FILE",
                   help="this client's NAME.key_secret (its NAME.key must be in the "
                        "daemon's --curve-authorized-keys folder)")
    return p


def seq_note(source: str, last: int | None, seq: int, all_topics: bool) -> str | None:
    """What to say on stderr about `seq` following `last` from one source: a restart
    (seq going back, e.g. to 0 after the daemon restarted) or, when every topic is
    received, missed events."""
    who = f" from {source}" if source else ""
    if last is None:
        return None
    if seq <= last:
        return (f"ccser-listen: seq went back from {last} to {seq}{who}: "
                "the daemon restarted")
    if all_topics and seq > last + 1:
        return f"warning: {seq - last - 1} event(s) missed{who}"
    return None


class InvalidCount:
    """Invalid messages: the first is described on stderr, the rest only counted."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, problem: str) -> None:
        self.count += 1
        if self.count == 1:
            print(f"ccser-listen: ignored an invalid message ({problem[:300]}); further "
                  "ones are counted and reported at exit", file=sys.stderr, flush=True)

    def report(self) -> None:
        if self.count:
            print(f"ccser-listen: {self.count} invalid message(s) ignored", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    invalid = InvalidCount()
    try:
        return _listen(args, invalid)
    except CcserError as exc:
        print(f"ccser-listen: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    finally:
        invalid.report()


def _listen(args: argparse.Namespace, invalid: InvalidCount) -> int:
    seen, last_seq = 0, {}  # last seq per source: each daemon numbers its own events
    with Subscriber(args.connect, args.topic, args.curve_server_key,
                    args.curve_secret_key) as sub:
        print(f"ccser-listen: waiting for events from {args.connect} (Ctrl-C stops)",
              file=sys.stderr, flush=True)
        quiet_since, warned = time.monotonic(), False
        while True:
            waited = time.monotonic() - quiet_since
            limits = [args.timeout - waited] if args.timeout is not None else []
            if not warned:
                limits.append(args.warn_after - waited)
            try:
                message = sub.receive(max(0.0, min(limits)) if limits else None)
                event = None if message is None else parse(*message)
            except EventError as exc:  # one bad message never ends the listener
                invalid.add(str(exc))
                continue
            if event is None:
                waited = time.monotonic() - quiet_since
                if args.timeout is not None and waited >= args.timeout:
                    print(f"ccser-listen: no event for {args.timeout:g} s on "
                          f"{args.connect} ({sub.state})", file=sys.stderr)
                    return 1
                if not warned and waited >= args.warn_after:
                    print(f"ccser-listen: no events for {waited:.0f} s from "
                          f"{args.connect}: {sub.state}. Is ccserd running and "
                          "publishing there?", file=sys.stderr, flush=True)
                    warned = True
                continue
            quiet_since, warned = time.monotonic(), False
            if args.source and event.source not in args.source:
                continue
            note = seq_note(event.source, last_seq.get(event.source), event.seq, not args.topic)
            if note:
                print(note, file=sys.stderr, flush=True)
            last_seq[event.source] = event.seq
            print(json.dumps(event.to_dict()) if args.json else human(event), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                return 0


if __name__ == "__main__":
    sys.exit(main())
