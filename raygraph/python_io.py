"""`tf.python_io`: TFRecord files (TFRecordWriter, tf_record_iterator); see raygraph.tfrecord.

with tf.python_io.TFRecordWriter("data.tfrecord") as writer:
    writer.write(example.SerializeToString())
records = list(tf.python_io.tf_record_iterator("data.tfrecord"))
"""

from raygraph.tfrecord import (
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)

__all__ = ["TFRecordCompressionType", "TFRecordOptions", "TFRecordWriter", "tf_record_iterator"]
