"""`tf.data.Iterator`: reads a dataset element by element inside Session.run.

An iterator is a handle (a scalar string naming the pipeline kept on the
device, see ops.data) plus the element structure. `get_next()` builds an
IteratorGetNext op whose outputs are packed as that structure; each run of it
advances the iterator, and a run past the end raises tf.errors.OutOfRangeError.

    it = dataset.make_initializable_iterator()
    x = it.get_next()
    sess.run(it.initializer, {filenames: ["a.tfrecord"]})
    while True:
        try:
            sess.run(train_op)          # reads x
        except tf.errors.OutOfRangeError:
            break

The ops that make and read an iterator are colocated with its handle, so the
pipeline and its readers are on one device.
"""

from __future__ import annotations

from ops.registry import build
from raygraph import dtypes
from raygraph.data import structure as st
from raygraph.graph import Tensor, convert_to_tensor, get_default_graph, name_scope


def _attrs(structure) -> dict:
    specs = st.flatten(structure)
    return {"output_types": [s.dtype for s in specs], "output_shapes": [s.shape for s in specs]}


class Iterator:
    """Reads the elements of a dataset; see the module docstring."""

    def __init__(self, handle: Tensor, initializer, structure, colocate: bool = True):
        self._handle = handle
        self._initializer = initializer
        self._structure = structure
        self._colocate = colocate

    # -- TF1's constructors --
    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None):
        """An iterator not bound to a dataset: `make_initializer(dataset)` binds one.

        >>> it = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
        >>> train_init, test_init = it.make_initializer(train), it.make_initializer(test)
        """
        structure = st.from_types_and_shapes(output_types, output_shapes)
        attrs = dict(_attrs(structure), shared_name=shared_name or "")
        handle = build("IteratorV2", [], attrs, name="Iterator")
        return Iterator(handle, None, structure)

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None):
        """An iterator that reads whichever iterator `string_handle` (a fed string) names.

        >>> handle = tf.placeholder(tf.string, [])
        >>> it = tf.data.Iterator.from_string_handle(handle, ds.output_types, ds.output_shapes)
        >>> sess.run(it.get_next(), {handle: sess.run(train_it.string_handle())})
        """
        structure = st.from_types_and_shapes(output_types, output_shapes)
        handle = convert_to_tensor(string_handle, dtype=dtypes.string)
        return Iterator(handle, None, structure, colocate=False)

    # -- what it yields --
    @property
    def output_types(self):
        """The dtype of each component of an element, in its structure."""
        return st.map_structure(lambda s: s.dtype, self._structure)

    @property
    def output_shapes(self):
        """The static shape of each component of an element, in its structure."""
        return st.map_structure(lambda s: s.shape, self._structure)

    @property
    def output_classes(self):
        """The class of each component (tf.Tensor), in the element's structure."""
        return st.map_structure(lambda s: Tensor, self._structure)

    @property
    def initializer(self):
        """The op that (re)starts the iterator at the beginning of its dataset."""
        if self._initializer is None:
            raise ValueError(
                "Iterator does not have an initializer: make it with make_initializable_iterator(), "
                "or use make_initializer(dataset)."
            )
        return self._initializer

    def make_initializer(self, dataset, name=None):
        """An op that starts this iterator over `dataset` (of the same types and structure)."""
        if not st.same_structure(self._structure, dataset._structure):
            raise TypeError(
                f"Expected output types {self.output_types} but got dataset with output types {dataset.output_types}."
            )
        for mine, theirs in zip(st.flatten(self._structure), dataset._specs):
            if mine.dtype != theirs.dtype:
                raise TypeError(
                    f"Expected output types {self.output_types} but got dataset with output types "
                    f"{dataset.output_types}."
                )
            if not mine.shape.is_compatible_with(theirs.shape):
                raise TypeError(
                    f"Expected output shapes compatible with {self.output_shapes} but got dataset with "
                    f"output shapes {dataset.output_shapes}."
                )
        stage, tensors, functions = dataset._describe()
        with get_default_graph().colocate_with(self._handle.op):
            return build(
                "MakeIterator",
                [self._handle, tensors],
                {"dataset": stage, "functions": functions},
                name=name or "MakeIterator",
            )

    def get_next(self, name=None):
        """The next element, as graph tensors in the dataset's structure."""
        graph = get_default_graph()
        with graph.colocate_with(self._handle.op) if self._colocate else name_scope(None):
            outputs = build(
                "IteratorGetNext", [self._handle], _attrs(self._structure), name=name or "IteratorGetNext"
            )
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for t, spec in zip(outputs, st.flatten(self._structure)):
            t.set_shape(spec.shape)
        return st.pack(self._structure, outputs)

    def string_handle(self, name=None):
        """A string tensor naming this iterator, to feed to from_string_handle's placeholder."""
        return self._handle


def initializable(dataset, shared_name=None) -> Iterator:
    stage, tensors, functions = dataset._describe()
    attrs = dict(_attrs(dataset._structure), shared_name=shared_name or "")
    handle = build("IteratorV2", [], attrs, name="Iterator")
    with get_default_graph().colocate_with(handle.op):
        init = build(
            "MakeIterator", [handle, tensors], {"dataset": stage, "functions": functions}, name="MakeIterator"
        )
    return Iterator(handle, init, dataset._structure)


def one_shot(dataset) -> Iterator:
    for t in dataset._describe()[1]:
        if t.op.type == "Placeholder" and t.graph is get_default_graph():
            raise ValueError(
                f"Failed to create a one-shot iterator for a dataset that reads placeholder "
                f"{t.op.name!r}: `make_one_shot_iterator()` does not support datasets that capture "
                "placeholders; use `make_initializable_iterator()` and feed it when running its initializer."
            )
    stage, tensors, functions = dataset._describe()
    attrs = dict(_attrs(dataset._structure), dataset=stage, functions=functions)
    handle = build("OneShotIterator", [tensors], attrs, name="OneShotIterator")
    return Iterator(handle, None, dataset._structure)


def make_one_shot_iterator(dataset) -> Iterator:
    """tf.compat.v1.data.make_one_shot_iterator(dataset)."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset, shared_name=None) -> Iterator:
    """tf.compat.v1.data.make_initializable_iterator(dataset)."""
    return dataset.make_initializable_iterator(shared_name)


def get_output_types(dataset_or_iterator):
    """tf.compat.v1.data.get_output_types: the dtypes of a dataset's or iterator's elements."""
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator):
    """tf.compat.v1.data.get_output_shapes: the static shapes of the elements."""
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator):
    """tf.compat.v1.data.get_output_classes: the classes (tf.Tensor) of the components."""
    return dataset_or_iterator.output_classes
