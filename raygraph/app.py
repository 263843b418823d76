"""`tf.app`: TensorFlow 1.x's entry point, `tf.app.run`, and `tf.app.flags`.

    FLAGS = tf.app.flags.FLAGS
    tf.app.flags.DEFINE_integer("steps", 100, "Training steps.")

    def main(argv):          # argv: sys.argv less the flags that were parsed
        ...
        return 0             # the process's exit status

    if __name__ == "__main__":
        tf.app.run()

`run` is absl's `app.run` with TensorFlow's flag parser: flags that no one
defined stay in `argv` for `main` instead of being an error (absl's default).
absl does the rest: `--help`/`--helpfull`, absl's logging handler, and
`sys.exit` with `main`'s return value.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import app as _absl_app

from raygraph import flags

__all__ = ["flags", "run"]


def _parse_known_flags(argv: list[str]) -> list[str]:
    """Parses the flags that are defined; returns argv[0] and what was not parsed."""
    return flags.FLAGS(argv, known_only=True)


def run(main: Callable | None = None, argv: list[str] | None = None):
    """Parses flags from `argv` (default `sys.argv`), calls `main(argv)`, exits with its return.

    `main` defaults to the `main` function of the `__main__` module. Never returns.

    >>> tf.app.run()                 # calls __main__.main(sys.argv less parsed flags)
    >>> tf.app.run(main=train, argv=["prog", "--steps=10"])
    """
    main = main or sys.modules["__main__"].main
    _absl_app.run(main=main, argv=argv, flags_parser=_parse_known_flags)
