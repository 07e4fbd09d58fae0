"""`ccser-listen`: show a ccserd publisher's events live, or as JSON lines for scripts."""

from __future__ import annotations

import argparse
import json
import sys

from ccser_core.client import DEFAULT_ADDRESS, EventError, subscribe
from ccser_core.events import TOPICS, Event, StatusEvent, VadEvent


def human(event: Event) -> str:
    """One terminal line per event."""
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ccser-listen",
                                description="Print the events of a running ccserd.")
    p.add_argument("--connect", default=DEFAULT_ADDRESS,
                   help=f"publisher address (default {DEFAULT_ADDRESS})")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--count", type=int, default=0, help="exit after N events (0: never)")
    p.add_argument("--topic", action="append", choices=TOPICS, default=[],
                   help="only these topics (repeatable; default: all)")
    p.add_argument("--timeout", type=float, default=None,
                   help="exit with status 1 if no event arrives for this many seconds")
    args = p.parse_args(argv)
    seen, last_seq = 0, None
    try:
        for event in subscribe(args.connect, args.topic, timeout_s=args.timeout):
            if not args.topic and last_seq is not None and event.seq != last_seq + 1:
                print(f"warning: {event.seq - last_seq - 1} event(s) missed", file=sys.stderr)
            last_seq = event.seq
            print(json.dumps(event.to_dict()) if args.json else human(event), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                return 0
    except EventError as exc:
        print(f"ccser-listen: invalid event: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    if args.timeout is not None:
        print(f"ccser-listen: no event for {args.timeout} s on {args.connect}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
