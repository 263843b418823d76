"""The `raygraph` command's parser (no Ray): subcommands, and `serve`'s options and defaults."""

from __future__ import annotations

import pytest

from raygraph import cli


def test_serve_defaults_bind_loopback_and_take_the_token_from_the_environment(monkeypatch):
    monkeypatch.setenv(cli.TOKEN_ENV, "from-env")
    args = cli.build_parser().parse_args(["serve", "export/"])
    assert (args.command, args.export_dir, args.host, args.port, args.replicas) == (
        "serve",
        "export/",
        "127.0.0.1",
        8501,
        1,
    )
    assert args.token == "from-env" and args.handler is cli.run_serve


def test_serve_options():
    args = cli.build_parser().parse_args(
        [
            "serve",
            "m",
            "--port",
            "9000",
            "--replicas",
            "2",
            "--host",
            "0.0.0.0",
            "--token",
            "t",
            "--max-body-mb",
            "1",
        ]
    )
    assert (args.port, args.replicas, args.host, args.token, args.max_body_mb) == (
        9000,
        2,
        "0.0.0.0",
        "t",
        1.0,
    )


def test_a_command_is_required_and_help_lists_serve(capsys):
    assert cli.main([]) == 2  # no command: the help, and a failing status
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "serve" in capsys.readouterr().out


def test_the_dockerfile_serves_with_options_the_cli_knows():
    """cluster/Dockerfile cannot be built here (no docker): its command and copied paths are checked."""
    import os
    import re
    import shlex

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "cluster", "Dockerfile")) as f:
        text = f.read()
    command = re.search(r'exec (raygraph serve [^"]*?)\\"\$MODEL_NAME\\"', text).group(1) + "model"
    args = cli.build_parser().parse_args(shlex.split(command)[1:])
    assert (args.export_dir, args.host, args.port, args.name) == ("/model", "0.0.0.0", 8501, "model")
    assert "EXPOSE 8501" in text and "USER raygraph" in text
    for path in re.findall(r"^COPY (?:--chown=\S+ )?(.+) \S+$", text, re.M):
        for p in path.split():
            assert os.path.exists(os.path.join(root, p)), p
