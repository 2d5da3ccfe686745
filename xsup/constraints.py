"""Declared parameter constraints: what each option of an estimator or plugin accepts.

Every estimator and plugin class lists, in one ``parameter_constraints``
mapping, the values each of its ``__init__`` parameters accepts: a list of
constraints, any one of which admits a value. :func:`validate_parameters`
checks a set of parameters against such a declaration and raises an
:class:`InvalidParameterError` naming the first bad one; the estimators run it
once per fit, for themselves and for every plugin they build. Because the
declaration is data, the public contract tests (:mod:`xsup.testing`) derive
invalid values from it for every option of every plugin, third-party ones
included.

A constraint is an instance of one of the classes below, or ``None`` (the
value ``None`` is accepted). Subclasses extend a parent's declaration with
``{**Parent.parameter_constraints, "new_option": [...]}``.

Examples
--------
>>> constraints = {"gamma": [Interval("real", 0, None, closed="neither")],
...                "mode": [Options("sample", "batch")], "kernel_sigma": [None, Interval("real", 0, None)]}
>>> validate_parameters({"gamma": 5.0, "mode": "batch", "kernel_sigma": None}, constraints)
>>> validate_parameters({"gamma": -1}, constraints, prefix="loss__")
Traceback (most recent call last):
...
xsup.constraints.InvalidParameterError: loss__gamma must be a positive finite number; got -1.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

__all__ = [
    "Constraint",
    "Device",
    "InstanceOf",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RandomStateLike",
    "SequenceOf",
    "SubclassOf",
    "invalid_values",
    "validate_parameters",
]

#: What a declaration maps each parameter name to.
ConstraintList = list[Any]


class InvalidParameterError(ValueError, TypeError):
    """A parameter value that its declaration does not admit.

    Derives from both ``ValueError`` and ``TypeError``, as scikit-learn's
    error of the same name does, so either ``except`` clause catches it.
    """


class Constraint(ABC):
    """One kind of admissible value of a parameter."""

    @abstractmethod
    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is admitted."""

    @abstractmethod
    def __str__(self) -> str:
        """What is admitted, as the tail of "x must be ...", e.g. ``"a number in [0, 1]"``."""

    def invalid_values(self) -> list[Any]:
        """Values this constraint refuses (the contract tests try them); may be empty."""
        return ["not-a-valid-value", object()]


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


class Interval(Constraint):
    """A finite real number or an int within bounds.

    Parameters
    ----------
    kind : {"real", "int"}
        ``"real"`` admits any finite real number (ints included, booleans
        not); ``"int"`` admits integers (numpy integers included unless
        ``python_int``).
    low, high : float or None
        Bounds; None leaves that side open.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.
    python_int : bool, default=False
        Admit only Python ``int`` (for values handed to torch's DataLoader).
    description : str or None, default=None
        Replaces the generated description.

    Examples
    --------
    >>> str(Interval("real", 0, None)), str(Interval("int", 1, None))
    ('a finite non-negative number', 'an int >= 1')
    >>> Interval("real", 0, 1).is_satisfied_by(float("nan"))
    False
    """

    def __init__(
        self,
        kind: Literal["real", "int"],
        low: float | None,
        high: float | None,
        *,
        closed: Literal["both", "left", "right", "neither"] = "both",
        python_int: bool = False,
        description: str | None = None,
    ) -> None:
        if kind not in ("real", "int"):
            raise ValueError(f"kind must be 'real' or 'int'; got {kind!r}.")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither'; got {closed!r}.")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.python_int, self.description = python_int, description

    def _left_closed(self) -> bool:
        return self.closed in ("both", "left")

    def _right_closed(self) -> bool:
        return self.closed in ("both", "right")

    def is_satisfied_by(self, value: Any) -> bool:
        if self.kind == "int":
            if not (type(value) is int if self.python_int else _is_int(value)):
                return False
        elif not (_is_real(value) and math.isfinite(value)):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self._left_closed())):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not self._right_closed())):
            return False
        return True

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        what = ("a Python int" if self.python_int else "an int") if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            left = "[" if self._left_closed() else "("
            right = "]" if self._right_closed() else ")"
            return f"{what} in {left}{self.low:g}, {self.high:g}{right}"
        if self.kind == "real" and self.low == 0 and self.high is None:
            return "a finite non-negative number" if self._left_closed() else "a positive finite number"
        finite = "a finite number" if self.kind == "real" else what
        if self.low is not None:
            return f"{finite} {'>=' if self._left_closed() else '>'} {self.low:g}"
        if self.high is not None:
            return f"{finite} {'<=' if self._right_closed() else '<'} {self.high:g}"
        return finite

    def invalid_values(self) -> list[Any]:
        values: list[Any] = ["not-a-number"]
        if self.kind == "int":
            values.append(0.5 if self.low is None else self.low + 0.5)
        else:
            values.append(float("nan"))
        if self.low is not None:
            values.append(self.low - 1 if self._left_closed() else self.low)
        if self.high is not None:
            values.append(self.high + 1 if self._right_closed() else self.high)
        return values


class Options(Constraint):
    """One of a fixed set of values (compared by type and value: ``True`` is not ``1``).

    Examples
    --------
    >>> str(Options("mean", "sum")), Options("mean", "sum").is_satisfied_by("max")
    ("one of 'mean', 'sum'", False)
    """

    def __init__(self, *values: Any, description: str | None = None) -> None:
        if not values:
            raise ValueError("Options needs at least one value.")
        self.values, self.description = values, description

    def is_satisfied_by(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.values)

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        if len(self.values) == 1:
            return repr(self.values[0])
        return "one of " + ", ".join(map(repr, self.values))

    def invalid_values(self) -> list[Any]:
        return ["not-an-option", object()]


class InstanceOf(Constraint):
    """An instance of one of the given types.

    Examples
    --------
    >>> str(InstanceOf(bool)), InstanceOf(bool).is_satisfied_by(1)
    ('a bool', False)
    """

    def __init__(self, *types: type, description: str | None = None) -> None:
        if not types:
            raise ValueError("InstanceOf needs at least one type.")
        self.types, self.description = types, description

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        names = [t.__name__ for t in self.types]
        article = "an" if names[0][0].lower() in "aeiou" else "a"
        return f"{article} {' or '.join(names)}"

    def invalid_values(self) -> list[Any]:
        return [value for value in ("not-an-instance", object(), 1.5)
                if not isinstance(value, self.types)]


class SubclassOf(Constraint):
    """A class deriving from ``base`` (or, with ``instances=True``, also an instance of it).

    Examples
    --------
    >>> import torch
    >>> SubclassOf(torch.optim.Optimizer).is_satisfied_by(torch.optim.SGD)
    True
    """

    def __init__(self, base: type, *, instances: bool = False, description: str | None = None) -> None:
        self.base, self.instances, self.description = base, instances, description

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, type):
            return issubclass(value, self.base)
        return self.instances and isinstance(value, self.base)

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        name = f"{self.base.__module__}.{self.base.__qualname__}"
        return f"a {name} subclass{' or instance' if self.instances else ''}"

    def invalid_values(self) -> list[Any]:
        return ["not-a-class", int]


class SequenceOf(Constraint):
    """A list or tuple whose items all satisfy ``item`` (a string is not a sequence here).

    Examples
    --------
    >>> channels = SequenceOf(Interval("int", 1, None))
    >>> str(channels), channels.is_satisfied_by((16, 32)), channels.is_satisfied_by((16, 0))
    ('a list or tuple of items, each an int >= 1', True, False)
    """

    def __init__(self, item: Constraint, *, min_length: int = 1, description: str | None = None) -> None:
        self.item, self.min_length, self.description = item, min_length, description

    def is_satisfied_by(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= self.min_length
                and all(self.item.is_satisfied_by(v) for v in value))

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        return f"a list or tuple of items, each {self.item}"

    def invalid_values(self) -> list[Any]:
        bad_items = [v for v in self.item.invalid_values() if not isinstance(v, str)][:1]
        return ["not-a-sequence", [], *([bad_items] if bad_items else [])]


class RandomStateLike(Constraint):
    """None, an int in [0, 2**32 - 1] or a ``numpy.random.RandomState`` (scikit-learn's seeds)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            value is None
            or isinstance(value, np.random.RandomState)
            or (_is_int(value) and 0 <= value < 2**32)
        )

    def __str__(self) -> str:
        return "None, an int in [0, 2**32 - 1] or a numpy RandomState"

    def invalid_values(self) -> list[Any]:
        return ["seed", -1, 1.5]


class Device(Constraint):
    """``"auto"``, or a device torch knows that is available here (``"cpu"``, ``"cuda:0"``, ...).

    ``"meta"`` holds no data and is refused; ``"cuda"``, ``"mps"`` and other
    accelerators only where torch reports them available.

    Examples
    --------
    >>> Device().is_satisfied_by("cpu"), Device().is_satisfied_by("meta")
    (True, False)
    """

    def is_satisfied_by(self, value: Any) -> bool:
        import torch

        if isinstance(value, str) and value == "auto":
            return True
        if not isinstance(value, (str, torch.device)):
            return False
        try:
            device = torch.device(value)
        except (RuntimeError, TypeError, ValueError):
            return False
        if device.type == "cpu":
            return True
        if device.type == "cuda":
            return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
        if device.type == "mps":
            return torch.backends.mps.is_available()
        backend = getattr(torch, device.type, None) if device.type != "meta" else None
        return bool(backend is not None and getattr(backend, "is_available", lambda: False)())

    def __str__(self) -> str:
        return (f"'auto' (CUDA when present), a device available here "
                f"({', '.join(map(repr, _available_devices()))})")

    def invalid_values(self) -> list[Any]:
        return ["meta", "gpu0", 3]


def _available_devices() -> list[str]:
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _admits(constraints: Iterable[Any], value: Any) -> bool:
    return any(value is None if c is None else c.is_satisfied_by(value) for c in constraints)


def _describe(constraints: list[Any]) -> str:
    parts = ["None" if c is None else str(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def validate_parameters(
    params: Mapping[str, Any], constraints: Mapping[str, ConstraintList], *, prefix: str = ""
) -> None:
    """Check every declared parameter present in ``params``.

    Parameters
    ----------
    params : mapping
        Parameter name to value (e.g. ``get_params(deep=False)``).
    constraints : mapping
        Parameter name to a list of constraints, any of which admits a value.
        Parameters without a declaration are not checked.
    prefix : str, default=""
        Put before names in messages, e.g. ``"loss__"``.

    Raises
    ------
    InvalidParameterError
        The first parameter whose value no constraint admits, named with its
        prefix, what it accepts and what it got.
    """
    for name, allowed in constraints.items():
        if name in params and not _admits(allowed, params[name]):
            raise InvalidParameterError(
                f"{prefix}{name} must be {_describe(list(allowed))}; got {params[name]!r}."
            )


def invalid_values(allowed: ConstraintList) -> list[Any]:
    """Values that no constraint of ``allowed`` admits, for tests of the error path.

    Examples
    --------
    >>> invalid_values([Interval("int", 1, None), Options(-1)])[:3]
    ['not-a-number', 1.5, 0]
    """
    candidates = [value for c in allowed if c is not None for value in c.invalid_values()]
    return [value for value in candidates if not _admits(allowed, value)]
