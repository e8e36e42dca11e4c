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
    """A decorator adding ``parameters`` to a command; ``build(**their values)`` is passed as ``target``."""
    names = [p.name for p in parameters]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != target]

        @functools.wraps(command)
        def with_group(*args: Any, **kwargs: Any) -> Any:
            bundled = build(**{name: kwargs.pop(name) for name in names})
            return command(*args, **{target: bundled}, **kwargs)

        combined = [*own, *parameters]
        with_group.__signature__ = signature.replace(parameters=combined)  # type: ignore[attr-defined]
        with_group.__annotations__ = {p.name: p.annotation for p in combined}
        return with_group  # type: ignore[return-value]

    return decorate


def keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """A keyword-only parameter for an option group."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
