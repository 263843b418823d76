"""`tf.flags` and `tf.app.flags`: absl's flags, with TensorFlow 1.x's two differences.

    flags = tf.app.flags
    flags.DEFINE_string("data_dir", "/tmp/data", "Where the data is.")
    flags.DEFINE_integer("steps", 100, "Training steps.")
    FLAGS = flags.FLAGS

    def main(argv):
        print(FLAGS.data_dir, FLAGS.steps)

    tf.app.run()   # parses sys.argv, then calls main

This module is absl.flags (every DEFINE_*, `mark_flag_as_required`, validators,
`FlagValues`...) and shares absl's one global `FLAGS`, so flags defined by absl
libraries and by the program parse together, as they did in TensorFlow 1.x. What
differs from plain absl, as in TensorFlow:

- `FLAGS` parses `sys.argv` the first time a flag's value is read before anything
  parsed the command line (absl raises UnparsedFlagAccessError there). Programs
  that never call `tf.app.run` but read `FLAGS.x` keep working.
- DEFINE_string/integer/float/boolean/bool take the pre-absl keyword names
  `flag_name`, `default_value` and `docstring` (with a warning), as well as
  absl's `name`, `default`, `help`.

State: none of its own; the flag registry is absl's `absl.flags.FLAGS`.
"""

from __future__ import annotations

import functools
import logging
import sys

import absl.flags as _absl_flags
from absl.flags import *  # noqa: F403 - this module is absl.flags, as TensorFlow's was

_absl_flags.disclaim_key_flags()  # --helpshort lists the program's flags, not these

_OLD_KEYWORDS = {"flag_name": "name", "default_value": "default", "docstring": "help"}


def _accepting_old_keywords(define):
    """`define`, also taking TensorFlow's old keyword names for name, default and help."""

    @functools.wraps(define)
    def wrapper(*args, **kwargs):
        old = [k for k in _OLD_KEYWORDS if k in kwargs]
        for k in old:
            kwargs[_OLD_KEYWORDS[k]] = kwargs.pop(k)
        if old:
            logging.getLogger("raygraph").warning(
                "The keyword names flag_name, default_value and docstring are deprecated; "
                "use name, default and help."
            )
        return define(*args, **kwargs)

    return wrapper


DEFINE_string = _accepting_old_keywords(_absl_flags.DEFINE_string)
DEFINE_boolean = _accepting_old_keywords(_absl_flags.DEFINE_boolean)
DEFINE_bool = DEFINE_boolean
DEFINE_float = _accepting_old_keywords(_absl_flags.DEFINE_float)
DEFINE_integer = _accepting_old_keywords(_absl_flags.DEFINE_integer)


class _ParsingOnFirstRead:
    """absl's FLAGS, except that reading a flag before parsing parses `sys.argv` first.

    Methods and attributes of the FlagValues object itself (`FLAGS(argv)`,
    `is_parsed`, `FLAGS["name"]`, iteration...) come straight from absl's object;
    only a flag's value, which absl looks up in `FlagValues.__getattr__`, comes
    through this class's `__getattr__`, which parses first if nothing has.
    """

    def __init__(self, flag_values: _absl_flags.FlagValues):
        self.__dict__["_wrapped"] = flag_values

    def __getattribute__(self, name: str):
        if name == "__dict__":
            return object.__getattribute__(self, name)
        return self.__dict__["_wrapped"].__getattribute__(name)  # AttributeError: __getattr__

    def __getattr__(self, name: str):
        wrapped = self.__dict__["_wrapped"]
        if not wrapped.is_parsed():
            wrapped(sys.argv)
        return wrapped.__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        self.__dict__["_wrapped"].__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__["_wrapped"].__delattr__(name)

    def __dir__(self):
        return self.__dict__["_wrapped"].__dir__()

    def __getitem__(self, name: str):
        return self.__dict__["_wrapped"][name]

    def __setitem__(self, name: str, flag) -> None:
        self.__dict__["_wrapped"][name] = flag

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__["_wrapped"]

    def __len__(self) -> int:
        return len(self.__dict__["_wrapped"])

    def __iter__(self):
        return iter(self.__dict__["_wrapped"])

    def __str__(self) -> str:
        return str(self.__dict__["_wrapped"])

    def __call__(self, *args, **kwargs):
        return self.__dict__["_wrapped"](*args, **kwargs)


FLAGS = _ParsingOnFirstRead(_absl_flags.FLAGS)
