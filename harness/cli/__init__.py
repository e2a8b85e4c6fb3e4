"""The hubrig command line.

Each area of the harness adds its sub-commands from a small module with a
``register(subparsers)`` function. :data:`COMMANDS` names, for each top-level command, the module
that registers it and a one-line summary, so ``hubrig --help`` imports no command module and
``hubrig tsat check`` imports only ``cli.tsat`` (start-up time: docs/performance.md).
A sub-command's handler receives the parsed arguments and returns the exit status.
Errors a user can fix are reported as one clear message (exit 2), never as a traceback; output
cut short by a closed pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "gbcs": ("hubrig.harness.cli.gbcs", "decode and encode GBCS messages"),
    "rig": ("hubrig.harness.cli.rig", "rig files: check one; rig pools: add, list, health"),
    "journal": ("hubrig.harness.cli.journal", "read a run's frame journal"),
    "tsat": ("hubrig.harness.cli.tsat", "TSAT (SEC Schedule 11) version rules"),
    "run": ("hubrig.harness.cli.run", "run the standard test plans on a rig and write the results and report"),
    "results": ("hubrig.harness.cli.run", "runs kept in the results store: list, show, trend, compare"),
    "lease": ("hubrig.harness.cli.lease", "rig leases in the database: list, release, history"),
    "bench": ("hubrig.harness.cli.bench", "serve a virtual rig's devices as a real bench in a process of their own"),
    "han": ("hubrig.harness.cli.han", "the HAN stick: serve the virtual one on a pty or loopback TCP"),
}
"""command -> (module that registers it, summary for ``hubrig --help``)."""

DESCRIPTION = "hubrig: hardware-in-the-loop test harness for SMETS2 Comms Hubs and ESME."


class UserError(Exception):
    """A problem the user can fix (bad file, bad argument); printed without a traceback."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("hubrig")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Version(argparse.Action):
    """``--version`` without importing importlib.metadata unless asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print hubrig's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"hubrig {version()}")
        parser.exit()


def _chosen(argv: list[str]) -> str | None:
    """The top-level command named in ``argv`` (its first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the named command's module registers its parsers; every other
    command is a summary line only (``argv=None``: every command module is loaded)."""
    parser = argparse.ArgumentParser(prog="hubrig", description=DESCRIPTION)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = None if argv is None else _chosen(argv)
    modules = dict.fromkeys(module for module, _ in COMMANDS.values()) if argv is None else (
        {COMMANDS[chosen][0]: None} if chosen else {})
    for module in modules:
        importlib.import_module(module).register(sub)
    for name, (_, summary) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"hubrig: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hubrig: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): say nothing more, and keep Python's exit-time flush
        # of stdout from failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
