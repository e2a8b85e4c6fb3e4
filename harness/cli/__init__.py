"""The ``hubrig`` command line.

Each area of the harness adds its own sub-commands from a small module with a
``register(subparsers)`` function; this file only lists those modules and dispatches.
A sub-command's handler receives the parsed arguments and returns the exit status.
Errors a user can fix are reported as one clear message (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, what it adds). A module that is not there yet is skipped.
COMMAND_MODULES = [
    "hubrig.harness.cli.gbcs",  # hubrig gbcs decode|encode
    "hubrig.harness.cli.rig",  # hubrig rig check
    "hubrig.harness.cli.journal",  # hubrig journal show
    "hubrig.harness.cli.tsat",  # hubrig tsat check
    "hubrig.harness.cli.run",  # hubrig run, hubrig results list|show
    "hubrig.harness.cli.lease",  # hubrig lease list|release|history
]


class UserError(Exception):
    """A problem the user can fix (bad file, bad argument); printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubrig", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"hubrig: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hubrig: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
