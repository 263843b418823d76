"""The `raygraph` command: one subcommand per job, each in a module of its own.

    raygraph devices [--address ADDR] [--json]     what a Session would run on here
    raygraph graph MODEL [--svg F | --dot F | --text]
    raygraph bench [workload ...] [--rounds R]     python -m bench, from a checkout
    raygraph version
    raygraph serve EXPORT_DIR [--port 8501] [--replicas 1] [--token T]   Ray Serve, TF Serving's REST API

`main()` builds an argparse parser with one subparser per command. A command
module contributes `register(subparsers)`, which adds its subparsers and sets
`func` (called with the parsed arguments; its return value is the exit status),
and `passthrough` (a list) when the command hands unknown options on to another program,
so adding a command touches one line of `COMMANDS` here. Installed as the
`raygraph` script (pyproject.toml's [project.scripts]); `python -m raygraph.cli`
runs it too.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("raygraph.cli_commands", "raygraph.cli_serve")
"""Modules with a `register(subparsers)` function, each adding its subcommands."""


def parser() -> argparse.ArgumentParser:
    """The `raygraph` argument parser, with every command module's subcommands."""
    top = argparse.ArgumentParser(prog="raygraph", description="raygraph: TensorFlow 1.x graphs on Ray.")
    subparsers = top.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return top


def main(argv: list[str] | None = None) -> int:
    """Runs one `raygraph` command; returns its exit status."""
    p = parser()
    args, extra = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    if extra:  # a command that passes its arguments on (bench) takes options argparse does not know
        if not hasattr(args, "passthrough"):
            p.error(f"unrecognized arguments: {' '.join(extra)}")
        args.passthrough = [*args.passthrough, *extra]
    if getattr(args, "func", None) is None:
        p.print_help()
        return 2
    return int(args.func(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The parser (the name raygraph.serving's tests and the Dockerfile check use)."""
    return parser()


def __getattr__(name: str):  # the serve command's names, where its first version kept them
    if name in ("TOKEN_ENV", "run_serve", "add_serve"):
        return getattr(importlib.import_module("raygraph.cli_serve"), name)
    raise AttributeError(f"module 'raygraph.cli' has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
