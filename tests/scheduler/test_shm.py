"""Shared-memory feeds when things go wrong: a full /dev/shm, a name someone else took,
a driver killed with SIGKILL, a slot left large by one big feed (scheduler.shell.shm).

The full /dev/shm is real where this process may mount: a 4 MB tmpfs over /dev/shm in a
private mount namespace (`unshare -m`, as root), in a child process. Elsewhere, and for
sessions on Ray actors, a full /dev/shm is simulated by a posix_fallocate that fails
with ENOSPC, which is what the kernel answers.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import raygraph as tf
from scheduler.shell import shm
from tests.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 1 << 20


@pytest.fixture(autouse=True)
def fresh_warning(monkeypatch):
    monkeypatch.setattr(shm, "_warned", set())


def _ours() -> list[str]:
    return sorted(n for n in os.listdir(shm.SHM_DIR) if n.startswith(f"{shm.PREFIX}{os.getpid()}-"))


def _on_actor_thread(packed):
    """What the actor does with a ShmTensor: unpickles it on its connection's thread."""
    out = []
    thread = threading.Thread(target=lambda: out.append(pickle.loads(pickle.dumps(packed))))
    thread.start()
    thread.join()
    return out[0]


def _can_mount_private_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /dev/shm"], capture_output=True
    )
    return probe.returncode == 0


# -- a full /dev/shm ---------------------------------------------------------------------

FULL_SHM_SCRIPT = """
import warnings
import numpy as np
from scheduler.shell import shm

arena = shm.FeedArena()
big = np.arange(4 * 1024 * 1024, dtype=np.float32)  # 16 MB, more than the 4 MB tmpfs
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(3 * shm.SLOTS):
        arena.begin([big])
        assert arena.pack(big) is None  # goes through the socket
    small = np.ones(256 * 1024, np.float32)  # 1 MB fits
    arena.begin([small])
    packed = arena.pack(small)
    assert packed is not None
print(len([w for w in caught if "shared-memory file" in str(w.message)]))
arena.close()
"""


@pytest.mark.skipif(not _can_mount_private_tmpfs(), reason="needs root and unshare -m")
def test_a_feed_larger_than_a_real_full_dev_shm_falls_back_without_sigbus(tmp_path):
    script = tmp_path / "full.py"
    script.write_text(FULL_SHM_SCRIPT)
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=4m tmpfs /dev/shm && exec {sys.executable} {script}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=60,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -7 was SIGBUS
    assert done.stdout.strip() == "1"  # one warning, whatever the number of runs


def test_no_room_in_dev_shm_sends_the_feeds_through_the_socket_with_one_warning(monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shm.os, "posix_fallocate", full)
    arena = shm.FeedArena()
    big = np.ones(MB, np.float32)
    with pytest.warns(RuntimeWarning, match="shared-memory file") as caught:
        for _ in range(2 * shm.SLOTS):
            arena.begin([big])
            assert arena.pack(big) is None
    assert len([w for w in caught if "shared-memory file" in str(w.message)]) == 1
    assert not _ours()  # the files that could not be filled were removed
    arena.close()


# -- names -------------------------------------------------------------------------------


def test_a_name_taken_by_someone_else_is_retried_with_new_random_digits(monkeypatch):
    taken = os.path.join(shm.SHM_DIR, f"{shm.PREFIX}{os.getpid()}-{'0' * 16}")
    tokens = iter(["0" * 16, "1" * 16])
    monkeypatch.setattr(shm.secrets, "token_hex", lambda n: next(tokens))
    with open(taken, "w") as squatter:
        squatter.write("someone else's")
    arena = shm.FeedArena()
    try:
        arena.begin([np.ones(MB, np.float32)])
        packed = arena.pack(np.ones(MB, np.float32))
        assert packed.path.endswith("1" * 16)
        assert open(taken).read() == "someone else's"  # untouched
        assert os.stat(packed.path).st_mode & 0o777 == 0o600
    finally:
        arena.close()
        os.unlink(taken)


def test_names_are_unpredictable():
    arena = shm.FeedArena()
    paths = set()
    for _ in range(3):
        arena.close()
        arena.begin([np.ones(MB, np.float32)])
        paths.add(arena.slots[arena.turn].path)
    arena.close()
    digits = {p.rsplit("-", 1)[1] for p in paths}
    assert len(digits) == 3 and all(len(d) == 16 for d in digits)


def test_when_every_name_is_taken_the_feed_goes_through_the_socket(monkeypatch):
    monkeypatch.setattr(shm.secrets, "token_hex", lambda n: "f" * 16)
    taken = os.path.join(shm.SHM_DIR, f"{shm.PREFIX}{os.getpid()}-{'f' * 16}")
    open(taken, "w").close()
    arena = shm.FeedArena()
    try:
        with pytest.warns(RuntimeWarning, match="shared-memory file"):
            arena.begin([np.ones(MB, np.float32)])
        assert arena.pack(np.ones(MB, np.float32)) is None
    finally:
        arena.close()
        os.unlink(taken)


# -- lifetimes -----------------------------------------------------------------------------


def test_a_file_is_unlinked_once_the_actor_has_mapped_it():
    arena = shm.FeedArena()
    feed = np.arange(MB // 4, dtype=np.float32)
    arena.begin([feed])
    packed = arena.pack(feed)
    assert os.path.exists(packed.path)
    got = _on_actor_thread(packed)
    assert not os.path.exists(packed.path)  # both ends hold it: the name is gone
    np.testing.assert_array_equal(got, feed)
    arena.close()


def test_the_actor_keeps_reading_a_slot_after_its_name_is_gone():
    import queue

    arena = shm.FeedArena()
    inbox: queue.Queue = queue.Queue()
    replies: queue.Queue = queue.Queue()

    def actor():  # one connection's thread: a request in, a reply out
        for packed in iter(inbox.get, None):
            replies.put(float(pickle.loads(pickle.dumps(packed))[0]))
        shm.release_thread_maps()

    thread = threading.Thread(target=actor)
    thread.start()
    got = []
    for i in range(3 * shm.SLOTS):
        feed = np.full(MB // 4, i, np.float32)
        arena.begin([feed])
        inbox.put(arena.pack(feed))
        got.append(replies.get(timeout=10))
        assert not _ours()  # every file the actor mapped is already unlinked
    inbox.put(None)
    thread.join()
    assert got == list(range(3 * shm.SLOTS))
    arena.close()


def test_slots_shrink_back_after_a_large_feed():
    arena = shm.FeedArena()
    arena.begin([np.ones(64 * MB // 4, np.float32)])  # one 64 MB feed
    assert arena.slots[arena.turn].size >= 64 * MB
    for _ in range(shm.SLOTS):
        arena.begin([np.ones(MB // 4, np.float32)])  # then 1 MB feeds
    assert all(slot.size <= 4 * MB for slot in arena.slots), [s.size for s in arena.slots]
    for _ in range(shm.SLOTS):
        arena.begin([])  # runs with small feeds only
    assert all(slot.size <= shm.MIN_FILE_BYTES for slot in arena.slots)
    arena.close()


def test_files_of_a_dead_driver_are_swept_by_the_next_one(monkeypatch):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    stale = os.path.join(shm.SHM_DIR, f"{shm.PREFIX}{pid}-{'a' * 16}")
    alive = os.path.join(shm.SHM_DIR, f"{shm.PREFIX}{os.getppid()}-{'b' * 16}")
    for path in (stale, alive):
        open(path, "w").close()
    monkeypatch.setattr(shm, "_swept", False)
    try:
        shm.FeedArena().close()
        assert not os.path.exists(stale)
        assert os.path.exists(alive)  # its driver lives
    finally:
        for path in (stale, alive):
            if os.path.exists(path):
                os.unlink(path)


# -- on Ray actors ---------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_a_session_with_no_room_in_dev_shm_still_runs(monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shm.os, "posix_fallocate", full)
    x = tf.placeholder(tf.float32, [None])
    y = tf.reduce_sum(x)
    with tf.Session() as sess:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(6):
                feed = np.full(MB, i, np.float32)
                assert sess.run(y, {x: feed}) == pytest.approx(i * MB)
    assert len([w for w in caught if "shared-memory file" in str(w.message)]) == 1


KILLED_DRIVER_SCRIPT = """
import sys
import numpy as np
import ray
import raygraph as tf

ray.init(address=sys.argv[1], logging_level="ERROR")
x = tf.placeholder(tf.float32, [None])
y = tf.reduce_sum(x)
sess = tf.Session(config=tf.ConfigProto(device_count={"GPU": 0}))  # the test cluster may list a fake GPU
for i in range(20):
    sess.run(y, {x: np.full(1 << 20, i, np.float32)})  # 4 MB feeds through /dev/shm
print("ready", flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(180)
def test_a_driver_killed_with_sigkill_leaves_nothing_in_dev_shm(tmp_path):
    import ray

    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(KILLED_DRIVER_SCRIPT))
    driver = subprocess.Popen(
        [sys.executable, str(script), ray.get_runtime_context().gcs_address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    try:
        line = driver.stdout.readline().strip()
        if line != "ready":
            driver.kill()
            pytest.fail(f"the driver did not start: {driver.stderr.read()[-3000:]}")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    prefix = f"{shm.PREFIX}{driver.pid}-"
    wait_until(
        lambda: not [n for n in os.listdir(shm.SHM_DIR) if n.startswith(prefix)],
        timeout=10,
        what="no shared-memory file of the killed driver",
    )
