"""A training driver that saves after every step, to be SIGKILLed at random moments.

    python -m tests.chaos.saver_driver CKPT_DIR [SAVES]

Restores the latest checkpoint of CKPT_DIR (or initializes), then trains and saves
(tf.train.Saver, max_to_keep=3, adopting the checkpoints its killed predecessors
listed), printing `SAVING k` before and `SAVED k` after each save of step k.
With SAVES it stops after that many saves; without, it runs until killed.
Training is deterministic: the state after step k is `reference(k)`'s.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import raygraph as tf

BIG = 1 << 20  # a 4 MB variable: a save takes long enough to be killed in the middle


def build():
    """(train_op, global_step, {name: variable}) of a small regression plus a large counter."""
    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(32, 8).astype(np.float32))
    y = tf.constant(rng.randn(32, 1).astype(np.float32))
    w = tf.Variable(np.zeros((8, 1), np.float32), name="w")
    b = tf.Variable(np.zeros((1,), np.float32), name="b")
    big = tf.Variable(tf.zeros([BIG]), name="big")
    step = tf.train.get_or_create_global_step()
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    minimize = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss, global_step=step)
    with tf.control_dependencies([minimize]):
        train = tf.group(big.assign_add(tf.ones([BIG])))
    return train, step, {v.op.name: v for v in tf.global_variables()}


def reference(steps: int) -> list[dict]:
    """The state after 0, 1, ..., `steps` steps of an uninterrupted run."""
    with tf.Graph().as_default():
        train, _, variables = build()
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            states = [sess.run(variables)]
            for _ in range(steps):
                sess.run(train)
                states.append(sess.run(variables))
    return states


def restored(prefix: str) -> dict:
    """The variables' values restored from checkpoint `prefix` into a fresh graph."""
    with tf.Graph().as_default():
        _, _, variables = build()
        with tf.Session("local") as sess:
            tf.train.Saver().restore(sess, prefix)
            return sess.run(variables)


def main(directory: str, saves: int | None) -> None:
    train, step, _ = build()
    saver = tf.train.Saver(max_to_keep=3)
    with tf.Session("local") as sess:
        state = tf.train.get_checkpoint_state(directory)
        if state is None:
            sess.run(tf.global_variables_initializer())
        else:
            saver.restore(sess, state.model_checkpoint_path)
            saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        print(f"READY {sess.run(step)}", flush=True)
        done = 0
        while saves is None or done < saves:
            sess.run(train)
            k = int(sess.run(step))
            start = time.perf_counter()
            print(f"SAVING {k}", flush=True)
            saver.save(sess, f"{directory}/model.ckpt", global_step=k)
            print(f"SAVED {k} {time.perf_counter() - start:.4f}", flush=True)
            done += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
