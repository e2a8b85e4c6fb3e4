"""``hubrig bench serve RIGFILE``: a virtual rig's devices in a process of their own, reached as a
real bench (see :mod:`hubrig.harness.virtual.serve` and docs/rigs.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hubrig.harness.cli import UserError


def _serve(args: argparse.Namespace) -> int:
    from hubrig.harness.rig.file import RigFileError
    from hubrig.harness.virtual.serve import serve

    rigfile = Path(args.rigfile)
    rig_out = Path(args.rig_out) if args.rig_out else rigfile.with_name(rigfile.stem + "-bench.yaml")
    log = Path(args.log) if args.log else rig_out.with_suffix(".log.jsonl")

    def ready(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        print(f"hubrig bench: serving {rigfile} as {rig_out}; ground truth in {log}; stop with Ctrl-C or SIGTERM",
              file=sys.stderr, flush=True)

    try:
        serve(rigfile, log_path=log, rig_out=rig_out, state_dir=Path(args.state_dir) if args.state_dir else None,
              ready=ready)
    except (RigFileError, ValueError, OSError) as exc:
        raise UserError(str(exc)) from None
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="serve a virtual rig's devices as a real bench (another process)")
    sub = bench.add_subparsers(dest="bench_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the virtual devices of RIGFILE behind loopback TCP / a pty until "
                                         "stopped; print the kind: real rig file that reaches them")
    serve.add_argument("rigfile", help="a kind: virtual rig file (its bench: section sets ports and faults)")
    serve.add_argument("--rig-out", help="where to write the kind: real rig file (default <rigfile>-bench.yaml)")
    serve.add_argument("--log", help="ground-truth log, JSON lines (default <rig-out>.log.jsonl)")
    serve.add_argument("--state-dir", help="state_dir for the real rig file (mains marker and run lock)")
    serve.set_defaults(handler=_serve)
