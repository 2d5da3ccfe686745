"""The ``xsup`` command line: ``xsup plugins``, ``xsup demo``.

Each command lives in its own module with an ``add_parser(subparsers)`` that
declares its options and a ``run(args) -> int`` that carries it out;
:func:`xsup.cli.main.main` dispatches between them.
"""

from xsup.cli.main import main

__all__ = ["main"]
