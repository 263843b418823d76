"""examples/train_digits.py runs unchanged as a Ray job.

Starts a second, private Ray cluster with `ray start --head --block` (its own ports
and temp dir), submits the example with `ray job submit --working-dir .`, waits for
SUCCEEDED and finds the accuracy line in the job's logs. The test runs inside the
loopback namespace like the whole suite, so the cluster binds 127.0.0.1 only; it
stops exactly the processes it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from tests.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Starting the head node, the job and stopping it take about a minute here; the job's
# own limit (ray job submit) is 600 s.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(900)]


def _ray_bin() -> str:
    path = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    if not os.path.exists(path):
        pytest.fail("the `ray` command is not installed (pip install 'ray[default]')")
    return path


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture
def head_node(tmp_path):
    ray = _ray_bin()
    temp_dir = f"/tmp/rg-job-{os.getpid()}"
    dashboard_port = 8365
    cmd = [
        ray,
        "start",
        "--head",
        "--block",
        "--port=6480",
        f"--dashboard-port={dashboard_port}",
        "--dashboard-host=127.0.0.1",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--object-store-memory=200000000",
        f"--temp-dir={temp_dir}",
        "--include-dashboard=true",
        "--ray-client-server-port=10101",
        "--min-worker-port=11000",
        "--max-worker-port=11999",
        "--dashboard-agent-listen-port=52466",
        "--metrics-export-port=8181",
    ]
    log = open(tmp_path / "ray-start.log", "w")
    proc = subprocess.Popen(
        cmd, env=_env(tmp_path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        _wait_for_dashboard(ray, address, tmp_path, proc)
        yield address
    finally:
        # `ray start` alone gets SIGTERM and stops its node in a few seconds; the whole
        # group at once leaves it waiting on children that died first (30 s here).
        # Whatever is left in the group (dashboard helpers) is then killed.
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_dashboard(ray, address, tmp_path, proc, timeout=90):
    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail("ray start exited early:\n" + (tmp_path / "ray-start.log").read_text()[-3000:])
        listed = subprocess.run(
            [ray, "job", "list", "--address", address], env=_env(tmp_path), capture_output=True, text=True
        )
        return listed.returncode == 0

    try:
        wait_until(up, timeout, "the head node's dashboard coming up", interval=1.0)
    except TimeoutError as e:
        pytest.fail(f"{e}:\n" + (tmp_path / "ray-start.log").read_text()[-3000:])


def test_train_digits_as_a_ray_job(head_node, tmp_path):
    ray = _ray_bin()
    result = subprocess.run(
        [
            ray,
            "job",
            "submit",
            "--address",
            head_node,
            "--working-dir",
            ".",
            "--",
            "python",
            "examples/train_digits.py",
            "--epochs",
            "30",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
        ],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    job_id = re.search(r"Job '(raysubmit_\w+)'", output).group(1)
    status = subprocess.run(  # the job's status, as the Jobs API reports it
        [
            sys.executable,
            "-c",
            "import sys; from ray.job_submission import JobSubmissionClient as C; "
            "print(C(sys.argv[1]).get_job_status(sys.argv[2]).value)",
            head_node,
            job_id,
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert status.stdout.strip() == "SUCCEEDED", status.stdout + status.stderr
    logs = subprocess.run(
        [ray, "job", "logs", "--address", head_node, job_id],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"test accuracy: ([0-9.]+)", logs)
    assert match, logs[-4000:]
    assert float(match.group(1)) >= 0.97
