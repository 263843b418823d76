"""tf.flags, tf.app.flags and tf.app.run: absl's, with TensorFlow 1.x's parsing rules.

Flags live in absl's one global registry and app.run exits the process, so each
scenario runs as a small script in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from absl import flags as absl_flags

import raygraph as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_script(tmp_path, code: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": ROOT},
        cwd=tmp_path,
    )


def test_the_namespaces_are_absl_flags():
    assert tf.app.flags is tf.flags
    assert tf.flags.FlagValues is absl_flags.FlagValues
    for name in ("DEFINE_enum", "DEFINE_list", "DEFINE_multi_string", "mark_flag_as_required", "FlagValues"):
        assert hasattr(tf.flags, name), name
    assert callable(tf.flags.DEFINE_bool) and callable(tf.flags.DEFINE_boolean)


def test_app_run_parses_flags_and_passes_the_rest_to_main(tmp_path):
    done = run_script(
        tmp_path,
        """
        import raygraph as tf
        flags = tf.app.flags
        flags.DEFINE_string("name", "world", "who")
        flags.DEFINE_integer("count", 1, "how many")
        flags.DEFINE_float("rate", 0.5, "a rate")
        flags.DEFINE_boolean("loud", False, "shout")
        flags.DEFINE_list("items", ["a"], "a list")
        flags.DEFINE_enum("mode", "train", ["train", "eval"], "mode")
        flags.DEFINE_multi_string("tag", [], "tags")
        FLAGS = flags.FLAGS

        def main(argv):
            print(FLAGS.name, FLAGS.count, FLAGS.rate, FLAGS.loud, FLAGS.items, FLAGS.mode, FLAGS.tag)
            print("rest", argv[1:])
            return 3

        if __name__ == "__main__":
            tf.app.run()
        """,
        "--name=ray",
        "--count",
        "4",
        "--loud",
        "--items=x,y",
        "--mode=eval",
        "--tag=a",
        "--tag=b",
        "--undefined=1",
        "positional",
    )
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ray 4 0.5 True ['x', 'y'] eval ['a', 'b']"
    assert lines[1] == "rest ['--undefined=1', 'positional']"  # TF1: unknown flags reach main


def test_flags_read_before_app_run_parse_sys_argv(tmp_path):
    done = run_script(
        tmp_path,
        """
        import raygraph as tf
        tf.flags.DEFINE_string(flag_name="color", default_value="green", docstring="old keyword names")
        tf.flags.DEFINE_bool("big", False, "")
        print(tf.flags.FLAGS.color, tf.flags.FLAGS.big, tf.flags.FLAGS.is_parsed())
        """,
        "--color=red",
        "--big",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["red", "True", "True"]


def test_app_run_with_explicit_main_and_argv(tmp_path):
    done = run_script(
        tmp_path,
        """
        import raygraph as tf
        tf.app.flags.DEFINE_integer("n", 0, "")
        def go(argv):
            print("n", tf.app.flags.FLAGS.n, argv)
        tf.app.run(main=go, argv=["prog", "--n=7", "extra"])
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "n 7 ['prog', 'extra']"


def test_a_required_flag_that_is_missing_fails(tmp_path):
    done = run_script(
        tmp_path,
        """
        import raygraph as tf
        tf.flags.DEFINE_string("out", None, "output")
        tf.flags.mark_flag_as_required("out")
        def main(argv):
            print("ran")
        tf.app.run()
        """,
    )
    assert done.returncode != 0
    assert "ran" not in done.stdout
    assert "--out" in done.stderr


def test_the_wrapper_parses_only_once_and_only_on_a_flag_read(monkeypatch):
    values = absl_flags.FlagValues()
    absl_flags.DEFINE_integer("k", 1, "", flag_values=values)
    wrapped = tf.flags._ParsingOnFirstRead(values)
    monkeypatch.setattr(sys, "argv", ["prog", "--k=5"])
    assert not wrapped.is_parsed()  # a FlagValues method: no parse
    assert "k" in wrapped and len(wrapped) >= 1
    assert wrapped.k == 5 and wrapped.is_parsed()
    wrapped.k = 9
    assert wrapped["k"].value == 9
    with pytest.raises(AttributeError):
        _ = wrapped.no_such_flag
