"""`tf.compat.v1`: raygraph itself, so `tf.compat.v1.Session` and friends resolve.

Programs written for TensorFlow 2's `tf.compat.v1` run by changing
`import tensorflow as tf` to `import raygraph as tf`.
"""

import raygraph as v1  # noqa: F401 - raygraph is being initialized; the module object is complete later

# -- text and bytes, as tf.compat has them ------------------------------------------


def as_bytes(bytes_or_text, encoding="utf-8") -> bytes:
    """`bytes_or_text` as bytes: str is encoded, bytes (and bytearray) come back as they are.

    >>> tf.compat.as_bytes("héllo")
    b'h\\xc3\\xa9llo'
    """
    if isinstance(bytes_or_text, bytearray):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def as_text(bytes_or_text, encoding="utf-8") -> str:
    """`bytes_or_text` as str: bytes are decoded, str comes back as it is.

    >>> tf.compat.as_str(b"model.ckpt")
    'model.ckpt'
    """
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


as_str = as_text
as_unicode = as_text


def as_str_any(value, encoding="utf-8") -> str:
    """`value` as str: bytes are decoded, anything else goes through str()."""
    if isinstance(value, bytes):
        return as_str(value, encoding)
    return str(value)


def path_to_str(path):
    """A path-like object (pathlib.Path) as str; anything else as it is."""
    import os

    return os.fspath(path) if hasattr(path, "__fspath__") else path
