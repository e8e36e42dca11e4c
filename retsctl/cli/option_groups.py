"""Option groups: one set of options declared once and added to many Typer commands.

Typer builds a command's options from its function signature, so a group is a decorator that
extends the signature with the group's parameters and hands their values, bundled into one object,
to the command under a single name (for example ``conn: ConnectionOptions``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def option_group(target: str, parameters: Sequence[inspect.Parameter], build: Callable[..., Any]) -> Callable[[F], F]:
    """A decorator adding ``parameters`` to a command; ``build(**their values)`` is passed as ``target``.

    The ``target`` parameter's annotation is never evaluated, so its type may be imported for type
    checkers only.
    """
    names = [p.name for p in parameters]

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = [p.replace(annotation=_evaluated(p.annotation, command))
               for p in signature.parameters.values() if p.name != target]

        @functools.wraps(command)
        def with_group(*args: Any, **kwargs: Any) -> Any:
            bundled = build(**{name: kwargs.pop(name) for name in names})
            return command(*args, **{target: bundled}, **kwargs)

        combined = [*own, *parameters]
        with_group.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=combined, return_annotation=_evaluated(signature.return_annotation, command)
        )
        with_group.__annotations__ = {p.name: p.annotation for p in combined}
        return with_group  # type: ignore[return-value]

    return decorate


def deferred_option_group(
    target: str, load: Callable[[], tuple[Sequence[inspect.Parameter], Callable[..., Any]]]
) -> Callable[[F], F]:
    """Like :func:`option_group`, with ``load() -> (parameters, build)`` run only when Typer first
    reads the command's signature or calls it, for a group whose source is costly to import."""

    def decorate(command: F) -> F:
        return _DeferredGroupCommand(command, lambda: option_group(target, *load())(command))  # type: ignore[return-value]

    return decorate


class _DeferredGroupCommand:
    """A command standing in for its grouped self until Typer inspects or calls it."""

    def __init__(self, command: Callable[..., Any], group: Callable[[], Callable[..., Any]]) -> None:
        self.__name__ = command.__name__
        self.__qualname__ = command.__qualname__
        self.__module__ = command.__module__
        self.__doc__ = command.__doc__
        self._group = group

    @functools.cached_property
    def _grouped(self) -> Callable[..., Any]:
        return self._group()

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self._grouped)

    @property
    def __annotations__(self) -> dict[str, Any]:
        return self._grouped.__annotations__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._grouped(*args, **kwargs)


def _evaluated(annotation: Any, command: Callable[..., Any]) -> Any:
    """A postponed (string) annotation evaluated in the command's module, as ``inspect`` does."""
    return eval(annotation, command.__globals__) if isinstance(annotation, str) else annotation  # type: ignore[attr-defined]


def keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """A keyword-only parameter for an option group."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
