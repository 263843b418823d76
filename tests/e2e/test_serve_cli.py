"""`raygraph serve` as a user runs it: a process that serves until SIGTERM, then shuts Serve down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import ray

from tests.e2e.test_serving import digits  # noqa: F401 - the module's exported model
from tests.serving_cases import TOKEN, good_request, send
from tests.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_cluster")]


@pytest.mark.timeout(300)
def test_raygraph_serve_command(digits):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address, "RAYGRAPH_SERVE_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "raygraph.cli",
        "serve",
        digits.base,
        "--port",
        str(port),
        "--num-cpus",
        "0",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        first = process.stdout.readline()
        while first and not first.startswith("raygraph serve: "):
            first = process.stdout.readline()
        assert first.startswith(f"raygraph serve: http://127.0.0.1:{port}/v1/models/digits"), first
        status, body = send("127.0.0.1", port, good_request(digits.images[:4]))
        assert status == 200
        got = [p["probs"] for p in json.loads(body)["predictions"]]
        np.testing.assert_allclose(got, digits.probs[:4], rtol=1e-5, atol=1e-6)
        unauthorized = good_request(digits.images[:1])
        unauthorized.headers = {"content-type": "application/json"}
        assert send("127.0.0.1", port, unauthorized)[0] == 401
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=120)[0]
        assert process.returncode == 0, rest[-3000:]
    wait_until(lambda: _refused(port), timeout=60, what="the HTTP proxy stopping after SIGTERM")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True
