"""``python -m ltdl`` and the ``ltdl`` console script (see :mod:`ltdl.cli`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .cli import main as _main

    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
