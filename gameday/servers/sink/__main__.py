"""``python -m gameday.servers.sink``: serve the telemetry sink (OTLP in, Tempo API, webhook sink).

Prints ``{"ready": true, "port": N, "pid": P, ...}`` on stdout once it accepts connections;
exits 0 on SIGTERM/SIGINT after a graceful shutdown, 2 on bad options.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from gameday.errors import StackUnavailable
from gameday.servers.sink.receiver import MAX_BODY_BYTES, ReceiverLimits
from gameday.servers.sink.server import TOKEN_ENV, SinkOptions, serve
from gameday.servers.sink.store import DEFAULT_MAX_SPANS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gameday.servers.sink",
        description="gameday telemetry sink: OTLP/HTTP spans, Tempo query API, "
        "Alertmanager webhook sink.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument(
        "--max-spans",
        type=int,
        default=DEFAULT_MAX_SPANS,
        help=f"spans kept before the oldest traces are evicted ({DEFAULT_MAX_SPANS})",
    )
    parser.add_argument("--max-notifications", type=int, default=10_000)
    parser.add_argument(
        "--max-inflight", type=int, default=8, help="concurrent OTLP exports before answering 503"
    )
    parser.add_argument(
        "--max-spans-per-second",
        type=float,
        default=None,
        help="accepted span rate before answering 429 (default: unlimited)",
    )
    parser.add_argument(
        "--token", default=None, help=f"require 'Authorization: Bearer TOKEN' (or set {TOKEN_ENV})"
    )
    return parser


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores this handler, then re-raises
    # the signal; ending here turns that into exit code 0 instead of death by signal.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Parse options and serve until signalled; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.max_spans < 1:
        print("gameday.servers.sink: --max-spans must be at least 1", file=sys.stderr)
        return 2
    options = SinkOptions(
        max_spans=args.max_spans,
        max_notifications=args.max_notifications,
        token=args.token or os.environ.get(TOKEN_ENV) or None,
        limits=ReceiverLimits(MAX_BODY_BYTES, args.max_inflight, args.max_spans_per_second),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    try:
        serve(args.host, args.port, options)
    except StackUnavailable as exc:
        print(f"gameday.servers.sink: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"gameday.servers.sink: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
