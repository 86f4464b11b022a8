"""The register API's view of the signing service, which a reload of the backend may replace.

The listener is built once, the signing service again with every reload of the backend: the
API holds a :class:`SigningProxy`, which asks for the current service on every call. Each
operation is forwarded by name from :class:`~tsed.signing.operations.SigningOperations`, so
its signature is spelled once, in the Protocol, and mypy checks the forwarding against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, Generic, ParamSpec, TypeVar, overload

from tsed.signing.operations import SigningOperations

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Forward(Generic[_P, _R]):
    """A proxy's operation: the current service's method of the same name."""

    def __init__(self, operation: Callable[Concatenate[SigningOperations, _P], _R]) -> None:
        self.name = operation.__name__

    def __set_name__(self, owner: type[SigningProxy], name: str) -> None:
        if name != self.name:  # update and finish look alike to mypy: names must match too
            raise TypeError(f"{owner.__name__}.{name} forwards {self.name}")

    @overload
    def __get__(self, proxy: None, owner: type[SigningProxy]) -> _Forward[_P, _R]: ...
    @overload
    def __get__(self, proxy: SigningProxy, owner: type[SigningProxy]) -> Callable[_P, _R]: ...
    def __get__(
        self, proxy: SigningProxy | None, owner: type[SigningProxy]
    ) -> _Forward[_P, _R] | Callable[_P, _R]:
        if proxy is None:
            return self
        method: Callable[_P, _R] = getattr(proxy.current(), self.name)
        return method


class SigningProxy:
    """The signing operations of whichever service ``current`` returns at the time of a call."""

    def __init__(self, current: Callable[[], SigningOperations]) -> None:
        self.current = current

    start_transaction = _Forward(SigningOperations.start_transaction)
    update_transaction = _Forward(SigningOperations.update_transaction)
    finish_transaction = _Forward(SigningOperations.finish_transaction)
    cancel_transaction = _Forward(SigningOperations.cancel_transaction)
    sign_receipt = _Forward(SigningOperations.sign_receipt)
    get_transaction = _Forward(SigningOperations.get_transaction)
    list_transactions = _Forward(SigningOperations.list_transactions)
    status = _Forward(SigningOperations.status)


_: type[SigningOperations] = SigningProxy  # mypy: the proxy forwards every operation
