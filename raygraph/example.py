"""`tf.train.Example` and its parts as protobuf messages, byte-compatible with TensorFlow's.

TensorFlow declares them in tensorflow/core/example/{feature,example}.proto:

    message BytesList { repeated bytes value = 1; }
    message FloatList { repeated float value = 1 [packed = true]; }
    message Int64List { repeated int64 value = 1 [packed = true]; }
    message Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                                   Int64List int64_list = 3; } }
    message Features { map<string, Feature> feature = 1; }
    message FeatureList { repeated Feature feature = 1; }
    message FeatureLists { map<string, FeatureList> feature_list = 1; }
    message Example { Features features = 1; }
    message SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }

This module builds the same descriptors in Python (descriptor_pb2) and makes the
message classes with the `protobuf` package's message factory, so nothing is
generated at install time and no protoc is needed. The descriptors live in a pool
of their own: their full names are TensorFlow's ("tensorflow.Example"), and a
process that also imports TensorFlow keeps both without a clash. Same fields and
numbers, so `SerializeToString()` of one parses with the other.

    >>> ex = tf.train.Example(features=tf.train.Features(feature={
    ...     "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[3]))}))
    >>> tf.train.Example.FromString(ex.SerializeToString()).features.feature["label"].int64_list.value
    [3]

The module imports only protobuf, so the op kernels that parse examples
(ops.parsing) use it as they use any other data format.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = [
    "BytesList",
    "Example",
    "Feature",
    "FeatureList",
    "FeatureLists",
    "Features",
    "FloatList",
    "Int64List",
    "SequenceExample",
]

_PACKAGE = "tensorflow"
_Field = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, label: int = _Field.LABEL_OPTIONAL, type_name: str = ""):
    field = _Field(name=name, number=number, type=kind, label=label, json_name=_camel(name))
    if type_name:
        field.type_name = f".{_PACKAGE}.{type_name}"
    return field


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _list_message(name: str, kind: int) -> descriptor_pb2.DescriptorProto:
    """BytesList, FloatList, Int64List: one repeated `value` (scalars packed, as proto3 does)."""
    value = _field("value", 1, kind, _Field.LABEL_REPEATED)
    if kind != _Field.TYPE_BYTES:
        value.options.packed = True
    return descriptor_pb2.DescriptorProto(name=name, field=[value])


def _map_message(name: str, field_name: str, value_type: str) -> descriptor_pb2.DescriptorProto:
    """A message holding `map<string, value_type> field_name = 1`, as protoc lays out a map."""
    entry_name = _camel(field_name)[0].upper() + _camel(field_name)[1:] + "Entry"
    entry = descriptor_pb2.DescriptorProto(
        name=entry_name,
        field=[
            _field("key", 1, _Field.TYPE_STRING),
            _field("value", 2, _Field.TYPE_MESSAGE, type_name=value_type),
        ],
    )
    entry.options.map_entry = True
    message = descriptor_pb2.DescriptorProto(name=name, nested_type=[entry])
    message.field.append(
        _field(field_name, 1, _Field.TYPE_MESSAGE, _Field.LABEL_REPEATED, f"{name}.{entry_name}")
    )
    return message


def _feature_file() -> descriptor_pb2.FileDescriptorProto:
    feature = descriptor_pb2.DescriptorProto(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (field_name, type_name) in enumerate(
        [("bytes_list", "BytesList"), ("float_list", "FloatList"), ("int64_list", "Int64List")], 1
    ):
        field = _field(field_name, number, _Field.TYPE_MESSAGE, type_name=type_name)
        field.oneof_index = 0
        feature.field.append(field)
    feature_list = descriptor_pb2.DescriptorProto(
        name="FeatureList",
        field=[_field("feature", 1, _Field.TYPE_MESSAGE, _Field.LABEL_REPEATED, "Feature")],
    )
    return descriptor_pb2.FileDescriptorProto(
        name="tensorflow/core/example/feature.proto",
        package=_PACKAGE,
        syntax="proto3",
        message_type=[
            _list_message("BytesList", _Field.TYPE_BYTES),
            _list_message("FloatList", _Field.TYPE_FLOAT),
            _list_message("Int64List", _Field.TYPE_INT64),
            feature,
            _map_message("Features", "feature", "Feature"),
            feature_list,
            _map_message("FeatureLists", "feature_list", "FeatureList"),
        ],
    )


def _example_file() -> descriptor_pb2.FileDescriptorProto:
    example = descriptor_pb2.DescriptorProto(
        name="Example", field=[_field("features", 1, _Field.TYPE_MESSAGE, type_name="Features")]
    )
    sequence_example = descriptor_pb2.DescriptorProto(
        name="SequenceExample",
        field=[
            _field("context", 1, _Field.TYPE_MESSAGE, type_name="Features"),
            _field("feature_lists", 2, _Field.TYPE_MESSAGE, type_name="FeatureLists"),
        ],
    )
    return descriptor_pb2.FileDescriptorProto(
        name="tensorflow/core/example/example.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=["tensorflow/core/example/feature.proto"],
        message_type=[example, sequence_example],
    )


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_feature_file())
_POOL.Add(_example_file())


def _message_class(name: str) -> type:
    cls = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
    cls.__module__ = __name__
    return cls


BytesList = _message_class("BytesList")
FloatList = _message_class("FloatList")
Int64List = _message_class("Int64List")
Feature = _message_class("Feature")
Features = _message_class("Features")
FeatureList = _message_class("FeatureList")
FeatureLists = _message_class("FeatureLists")
Example = _message_class("Example")
SequenceExample = _message_class("SequenceExample")
