"""tf.logging: TensorFlow 1.x's levels and functions on the "raygraph" logger."""

from __future__ import annotations

import logging

import pytest

import raygraph as tf


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]


@pytest.fixture
def recorded():
    logger = tf.logging.get_logger()
    level = logger.level
    handler = Recorder()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_levels_are_pythons():
    assert (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.WARNING) == (10, 20, 30, 30)
    assert (tf.logging.ERROR, tf.logging.FATAL) == (40, 50)
    assert tf.logging.get_logger().name == "raygraph"


def test_verbosity_filters_messages(recorded):
    tf.logging.set_verbosity(tf.logging.INFO)
    assert tf.logging.get_verbosity() == tf.logging.INFO
    tf.logging.debug("hidden")
    tf.logging.info("step %d", 3)
    tf.logging.warn("careful")
    tf.logging.warning("careful %s", "too")
    tf.logging.error("bad")
    tf.logging.fatal("worse")
    tf.logging.log(tf.logging.DEBUG, "hidden too")
    tf.logging.vlog(tf.logging.ERROR, "v%d", 1)
    assert recorded.messages == ["step 3", "careful", "careful too", "bad", "worse", "v1"]
    assert [r.levelno for r in recorded.records] == [20, 30, 30, 40, 50, 40]
    tf.logging.set_verbosity(tf.logging.DEBUG)
    tf.logging.debug("shown")
    assert recorded.messages[-1] == "shown"


def test_records_name_the_callers_line(recorded):
    tf.logging.set_verbosity(tf.logging.INFO)
    tf.logging.info("here")
    tf.logging.log_if(tf.logging.INFO, "there", True)
    assert [r.filename for r in recorded.records] == ["test_logging.py"] * 2
    assert [r.funcName for r in recorded.records] == ["test_records_name_the_callers_line"] * 2


def test_log_every_n_and_first_n_count_per_line(recorded):
    tf.logging.set_verbosity(tf.logging.INFO)
    for i in range(7):
        tf.logging.log_every_n(tf.logging.INFO, "every %d", 3, i)
        tf.logging.log_first_n(tf.logging.INFO, "first %d", 2, i)
    assert recorded.messages == ["every 0", "first 0", "first 1", "every 3", "every 6"]


def test_log_if_and_task_level_status(recorded):
    tf.logging.log_if(tf.logging.ERROR, "no", False)
    tf.logging.log_if(tf.logging.ERROR, "yes %s", True, "indeed")
    tf.logging.TaskLevelStatusMessage("status")
    assert recorded.messages == ["yes indeed", "status"]
    assert recorded.records[-1].levelno == tf.logging.ERROR
