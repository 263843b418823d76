"""TensorFlow's error classes, raised by `Session.run` and graph construction.

Every `OpError` names the node it came from and, when the node is known, the line
of user code that created it, so an error points at the user's program rather than
at raygraph's internals:

    InvalidArgumentError: MatMul 'dense/MatMul' (created at train.py:31):
        inner dimensions differ: a is [32, 784], b is [100, 10]
"""

from __future__ import annotations

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class OpError(Exception):
    """An error while running the graph; `op` is the Operation that failed, if known."""

    error_code = UNKNOWN

    def __init__(self, node_def=None, op=None, message: str = "", *args):
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message

    def __reduce__(self):
        return type(self), (None, None, self.message)

    def __str__(self) -> str:
        return self.message


def _error(name: str, code: int, doc: str) -> type:
    cls = type(name, (OpError,), {"error_code": code, "__doc__": doc})
    cls.__module__ = __name__
    return cls


CancelledError = _error("CancelledError", CANCELLED, "The run was cancelled.")
UnknownError = _error("UnknownError", UNKNOWN, "An error of no other class.")
InvalidArgumentError = _error(
    "InvalidArgumentError", INVALID_ARGUMENT, "An op got an argument it cannot work with."
)
DeadlineExceededError = _error("DeadlineExceededError", DEADLINE_EXCEEDED, "A deadline passed.")
NotFoundError = _error("NotFoundError", NOT_FOUND, "A file, tensor or device does not exist.")
AlreadyExistsError = _error("AlreadyExistsError", ALREADY_EXISTS, "The entity already exists.")
PermissionDeniedError = _error("PermissionDeniedError", PERMISSION_DENIED, "Not permitted.")
UnauthenticatedError = _error("UnauthenticatedError", UNAUTHENTICATED, "Not authenticated.")
ResourceExhaustedError = _error(
    "ResourceExhaustedError", RESOURCE_EXHAUSTED, "Memory or another resource ran out."
)
FailedPreconditionError = _error(
    "FailedPreconditionError",
    FAILED_PRECONDITION,
    "The system is not in a state to run the op, e.g. a variable is uninitialized.",
)
AbortedError = _error("AbortedError", ABORTED, "The operation was aborted.")
OutOfRangeError = _error("OutOfRangeError", OUT_OF_RANGE, "Iterated past the end of input.")
UnimplementedError = _error("UnimplementedError", UNIMPLEMENTED, "Not implemented.")
InternalError = _error("InternalError", INTERNAL, "An invariant of raygraph broke.")
UnavailableError = _error("UnavailableError", UNAVAILABLE, "A device or service is unavailable.")
DataLossError = _error("DataLossError", DATA_LOSS, "Data was lost or corrupted.")

_BY_CODE = {cls.error_code: cls for cls in OpError.__subclasses__()}
_BY_NAME = {cls.__name__: cls for cls in OpError.__subclasses__()}


def exception_type_from_error_code(code: int) -> type:
    """The OpError subclass for a TensorFlow error code."""
    return _BY_CODE.get(code, UnknownError)


def error_class(name: str) -> type:
    """The OpError subclass called `name` (UnknownError if none is)."""
    return _BY_NAME.get(name, UnknownError)
