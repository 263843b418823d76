"""`tf.logging`: TensorFlow 1.x's logging functions, on Python's `logging`.

    tf.logging.set_verbosity(tf.logging.INFO)
    tf.logging.info("step %d: loss %.3f", step, loss)
    tf.logging.log_every_n(tf.logging.INFO, "still training", 100)

Everything goes to one `logging.Logger` named "raygraph" (TensorFlow's is named
"tensorflow"), so the usual `logging` configuration applies to it. As in
TensorFlow, the logger is set up on first use: if the root logger has no
handler then, the "raygraph" logger gets its own stderr handler with
`logging.BASIC_FORMAT` ("INFO:raygraph:message"); if the root logger has one
(absl's, once `tf.app.run` has started; or the program's own), records go there.
The verbosity is the logger's level; unset, it is the root's (WARNING), so
`info` prints nothing until `set_verbosity(INFO)`, as in TensorFlow.

Records name the user's file and line, not this module's (`findCaller` skips the
frames of this file), and `log_every_n`/`log_first_n` count per calling line.

State: the logger (made once, under a lock) and the per-line counters of
`log_every_n`/`log_first_n` (not thread-safe, as in TensorFlow).
"""

from __future__ import annotations

import logging as _logging
import sys
import threading
import traceback
from logging import DEBUG, ERROR, FATAL, INFO, WARN, WARNING

__all__ = [
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "WARN",
    "WARNING",
    "TaskLevelStatusMessage",
    "debug",
    "error",
    "fatal",
    "flush",
    "get_logger",
    "get_verbosity",
    "info",
    "log",
    "log_every_n",
    "log_first_n",
    "log_if",
    "set_verbosity",
    "vlog",
    "warn",
    "warning",
]

LOGGER_NAME = "raygraph"

_logger: _logging.Logger | None = None
_lock = threading.Lock()
_counts: dict[tuple[str, int], int] = {}


_SKIPPED = frozenset({__file__, _logging.__file__})


def _caller_frame():
    """The innermost frame outside this file and Python's logging (the user's call), or None."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _SKIPPED:
        frame = frame.f_back
    return frame


def _find_caller(stack_info: bool = False, stacklevel: int = 1):
    """`Logger.findCaller` for the "raygraph" logger: the user's file, line and function."""
    frame = _caller_frame()
    sinfo = "".join(traceback.format_stack(frame)) if stack_info and frame else None
    if frame is None:
        return "(unknown file)", 0, "(unknown function)", sinfo
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, sinfo


def get_logger() -> _logging.Logger:
    """The "raygraph" `logging.Logger` that every `tf.logging` function writes to.

    >>> tf.logging.get_logger().setLevel(tf.logging.ERROR)
    """
    global _logger
    with _lock:
        if _logger is None:
            logger = _logging.getLogger(LOGGER_NAME)
            logger.findCaller = _find_caller
            if not _logging.getLogger().handlers:
                handler = _logging.StreamHandler(sys.stderr)
                handler.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT))
                logger.addHandler(handler)
            _logger = logger
    return _logger


def set_verbosity(v: int) -> None:
    """Logs messages at level `v` and above: `tf.logging.set_verbosity(tf.logging.INFO)`."""
    get_logger().setLevel(v)


def get_verbosity() -> int:
    """The level below which messages are dropped (the logger's effective level)."""
    return get_logger().getEffectiveLevel()


def log(level: int, msg, *args, **kwargs) -> None:
    """Logs `msg % args` at `level`: `tf.logging.log(tf.logging.INFO, "x=%d", 3)`."""
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg, *args, **kwargs) -> None:
    """Logs at DEBUG."""
    get_logger().debug(msg, *args, **kwargs)


def info(msg, *args, **kwargs) -> None:
    """Logs at INFO: `tf.logging.info("step %d", step)`."""
    get_logger().info(msg, *args, **kwargs)


def warning(msg, *args, **kwargs) -> None:
    """Logs at WARNING (== WARN)."""
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg, *args, **kwargs) -> None:
    """Logs at ERROR."""
    get_logger().error(msg, *args, **kwargs)


def fatal(msg, *args, **kwargs) -> None:
    """Logs at FATAL (== CRITICAL). Like TensorFlow's, it does not exit."""
    get_logger().critical(msg, *args, **kwargs)


def vlog(level: int, msg, *args, **kwargs) -> None:
    """Logs at `level` (TensorFlow's verbose log is a plain log at that level)."""
    get_logger().log(level, msg, *args, **kwargs)


def log_if(level: int, msg, condition, *args) -> None:
    """Logs `msg % args` at `level` if `condition` holds."""
    if condition:
        get_logger().log(level, msg, *args)


def _next_count() -> int:
    """How many times the calling line has counted before (0 the first time)."""
    frame = _caller_frame()
    where = (frame.f_code.co_filename, frame.f_lineno) if frame else ("<unknown>", 0)
    _counts[where] = _counts.get(where, -1) + 1
    return _counts[where]


def log_every_n(level: int, msg, n: int, *args) -> None:
    """Logs on the 1st, (n+1)th, (2n+1)th... call from the same line.

    >>> for step in range(1000):
    ...     tf.logging.log_every_n(tf.logging.INFO, "step %d", 100, step)  # steps 0, 100, ...
    """
    log_if(level, msg, _next_count() % n == 0, *args)


def log_first_n(level: int, msg, n: int, *args) -> None:
    """Logs only the first `n` calls from the same line."""
    log_if(level, msg, _next_count() < n, *args)


def TaskLevelStatusMessage(msg) -> None:  # noqa: N802 - TensorFlow's name
    """Logs `msg` at ERROR, as TensorFlow does."""
    error(msg)


def flush() -> None:
    """Flushes the logger's handlers (TensorFlow's raises NotImplementedError)."""
    for handler in get_logger().handlers + _logging.getLogger().handlers:
        handler.flush()
