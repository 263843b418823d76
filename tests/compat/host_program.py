"""A TF1 program that uses tf.app.run, tf.flags, tf.logging and tf.gfile (run as a script).

tests/compat/test_host_programs_vs_tf.py runs it twice, with `import raygraph as tf`
and with `import tensorflow.compat.v1 as tf` (the first line of main below is the
only one that differs: RAYGRAPH_TF picks the module), and compares what it prints,
logs, writes and returns.
"""

import os
import sys

if os.environ.get("RAYGRAPH_TF") == "tensorflow":
    import tensorflow.compat.v1 as tf

    tf.disable_eager_execution()
    TARGET = ""
else:
    import raygraph as tf

    TARGET = "local"

flags = tf.app.flags
flags.DEFINE_string("out_dir", "out", "Where to write.")
flags.DEFINE_integer("steps", 3, "Training steps.")
flags.DEFINE_float("learning_rate", 0.1, "Learning rate.")
flags.DEFINE_boolean("verbose", False, "Log debug messages.")
FLAGS = flags.FLAGS

print(f"before run: steps={FLAGS.steps}")  # read before tf.app.run: TF1 parses sys.argv here
sys.stdout.flush()


def main(argv):
    tf.logging.set_verbosity(tf.logging.DEBUG if FLAGS.verbose else tf.logging.INFO)
    if tf.gfile.Exists(FLAGS.out_dir):
        tf.gfile.DeleteRecursively(FLAGS.out_dir)
    tf.gfile.MakeDirs(os.path.join(FLAGS.out_dir, "logs"))

    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(1.0)
    loss = tf.reduce_mean(tf.square(w * x - 2.0 * x))
    train = tf.train.GradientDescentOptimizer(FLAGS.learning_rate).minimize(loss)
    with tf.Session(TARGET) as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(FLAGS.steps):
            _, value = sess.run([train, loss], {x: [1.0, 2.0, 3.0]})
            tf.logging.info("step %d loss %.3f", step, value)
            tf.logging.log_every_n(tf.logging.INFO, "every-2 %d", 2, step)
            with tf.gfile.GFile(os.path.join(FLAGS.out_dir, "logs", "loss.txt"), "a") as f:
                f.write(f"{step} {value:.3f}\n")

    tf.logging.debug("debug: only with --verbose")
    tf.logging.warning("unparsed: %s", argv[1:])
    summary = os.path.join(FLAGS.out_dir, "summary.txt")
    with tf.gfile.GFile(summary, "w") as f:
        f.write(f"steps={FLAGS.steps} learning_rate={FLAGS.learning_rate:g}\n")
    tf.gfile.Copy(summary, os.path.join(FLAGS.out_dir, "summary.bak"))
    tf.gfile.Rename(os.path.join(FLAGS.out_dir, "summary.bak"), os.path.join(FLAGS.out_dir, "old.txt"))
    print(sorted(tf.gfile.ListDirectory(FLAGS.out_dir)))
    print(sorted(tf.gfile.Glob(os.path.join(FLAGS.out_dir, "*.txt"))))
    print(tf.gfile.Stat(summary).length, tf.gfile.IsDirectory(FLAGS.out_dir))
    for directory, subdirs, files in tf.gfile.Walk(FLAGS.out_dir):
        print(directory, sorted(subdirs), sorted(files))
    with tf.gfile.Open(os.path.join(FLAGS.out_dir, "logs", "loss.txt")) as f:
        print("lines", len(f.readlines()))
    tf.gfile.MkDir(FLAGS.out_dir)  # exists already: not an error
    for make, path in [(tf.gfile.MakeDirs, summary), (tf.gfile.MkDir, os.path.join(FLAGS.out_dir, "a", "b"))]:
        try:
            make(path)
        except tf.errors.OpError as e:
            print(type(e).__name__)
    try:
        tf.gfile.Rename(summary, os.path.join(FLAGS.out_dir, "old.txt"))
    except tf.errors.AlreadyExistsError:
        print("AlreadyExistsError")
    try:
        tf.gfile.GFile(os.path.join(FLAGS.out_dir, "missing")).read()
    except tf.errors.NotFoundError:
        print("NotFoundError")
    return 3


if __name__ == "__main__":
    tf.app.run()
