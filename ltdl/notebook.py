"""The one-line setup of a chapter: ``ltdl.setup_chapter()`` as the first statement after the imports.

Every chapter ran the same four lines (one torch thread, float64, a seed, the book's plot style) and
kept a timer of its own; one call now does all of it and restarts the clock that the closing
``ltdl.provenance()`` cell reports as "elapsed", so a chapter needs no timer cell.
"""

from __future__ import annotations

import torch

from . import _checks, plots
from .provenance import restart_clock


def setup_chapter(*, seed: int = 0, threads: int = 1) -> None:
    """Configure this process for a chapter of the book.

    Sets ``torch.set_num_threads(threads)`` (one thread: the chapters' tensors are small, and one
    thread was measured faster than two), ``torch.set_default_dtype(torch.float64)`` (theorem
    checks run in double precision), ``torch.manual_seed(seed)`` (cells that draw with the global
    generator are reproducible; the library's own draws take explicit seeds), the book's
    matplotlib style, and restarts the execution clock of :func:`ltdl.provenance`.
    """
    _checks.seed("seed", seed)
    _checks.integer("threads", threads)
    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(seed)
    plots.use_style()
    restart_clock()
