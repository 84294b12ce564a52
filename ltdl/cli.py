"""Command-line interface: ``ltdl list``, ``ltdl run NAME [options]`` and ``ltdl sweep NAME``.

What one run writes (figures, ``results.json``, ``manifest.json``), how an interrupted run is
marked and which exit status means what: :mod:`ltdl.runner`.

    ltdl list
    ltdl run erm-sweep --T 1,2,4,8,16,32 --lam 1 --K 10 --out out/erm
    ltdl run integral-turnpike --T 4,8 --lam 0.1 --beta 1 --out out/turnpike
    ltdl sweep erm-sweep --grid T=1,4,16 lam=1e-2,1e-3 --out out/grid

A thin dispatcher, on top of the modules that do the work: :mod:`ltdl.experiments` (the registry
of ``ltdl run``: what each experiment computes), :mod:`ltdl.runner` (the protocol of one run:
staging, manifest, signals, exit statuses) and :mod:`ltdl.grid` (``ltdl sweep``, whose points are
``ltdl run`` commands run by :mod:`ltdl.runner`). This module imports them; none of them imports
it, so the imports form no circle (``tests/test_house.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from . import grid, runner
from .experiments import EXPERIMENTS, _example_summary, _examples
from .runner import _Parser

__all__ = ["EXPERIMENTS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ltdl", description="Experiments of 'Large-time asymptotics in deep learning'.")
    sub = p.add_subparsers(dest="command", metavar="{list,run,sweep}", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="list the experiments and their defaults")
    runner.add_parser(sub)  # ``ltdl run``: ltdl/runner.py
    grid.add_parser(sub)  # ``ltdl sweep``: a grid of ``ltdl run`` points (ltdl/grid.py)
    return p


def _list(stream: TextIO) -> None:
    print("Experiments (ltdl run NAME --out DIR [options]):", file=stream)
    for e in EXPERIMENTS.values():
        d = {k: v for k, v in {**e.defaults, **e.extra}.items() if v is not None and v != []}  # [] = not used
        print(f"  {e.name:20s} {e.summary}", file=stream)
        print(f"  {'':20s} defaults: " + ", ".join(f"{k}={v}" for k, v in d.items()), file=stream)
    ex = _examples()
    if ex:
        print("Examples (ltdl run NAME --out DIR [--size SIZE] [--seed S]):", file=stream)
        for name, obj in ex.items():
            print(f"  {name:20s} {_example_summary(obj)}", file=stream)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ltdl`` console script; returns the exit status.

    Ctrl-C (or SIGTERM) during a run marks its manifest ``interrupted``; then the command line
    exits with status 130, while a call from Python with an explicit ``argv`` (a sweep) gets the
    ``KeyboardInterrupt`` back, so that it stops as well.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        _list(sys.stdout)
        return 0
    if args.command == "sweep":
        return grid.command(args)
    return runner.run(args, argv)
