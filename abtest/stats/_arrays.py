"""Input validation and result-table helpers shared by the ``abtest.stats`` modules.

Every statistics function takes arrays of sufficient statistics with arms along axis 0
(control = index 0) and any number of independent comparisons along the remaining axes.
The helpers here turn user input into broadcast float arrays and fail early with a
message a marketer can act on, so no NaN ever reaches a results table silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")

FloatArray = NDArray[np.float64]


def as_float(x: ArrayLike, name: str, *, nonnegative: bool = True) -> FloatArray:
    """Return ``x`` as a float64 array, rejecting NaN, infinities and (optionally) negatives."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers, got {x!r}") from exc
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name}: missing or infinite value at position {tuple(int(i) for i in bad)}; "
            "fill or drop it before testing"
        )
    if nonnegative and np.any(arr < 0):
        bad = np.argwhere(arr < 0)[0]
        raise ValueError(
            f"{name}: negative value {arr[tuple(bad)]!r} at position "
            f"{tuple(int(i) for i in bad)}; counts and sums of non-negative metrics cannot be < 0"
        )
    return arr


def broadcast_arms(**arrays: FloatArray) -> dict[str, FloatArray]:
    """Broadcast the named arrays together and check there is a control plus >= 1 treatment."""
    try:
        shaped = np.broadcast_arrays(*arrays.values())
    except ValueError as exc:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"inputs do not have compatible shapes: {shapes}") from exc
    out = {k: np.array(v, dtype=np.float64) for k, v in zip(arrays, shaped, strict=True)}
    first = next(iter(out.values()))
    if first.ndim == 0 or first.shape[0] < 2:
        raise ValueError(
            "need at least two arms along axis 0 (control first, then one or more "
            f"treatments); got shape {first.shape}"
        )
    return out


def check_positive(arr: FloatArray, name: str, what: str = "units") -> None:
    """Raise if any arm has zero (or fewer) units: nothing can be estimated from no traffic."""
    if np.any(arr <= 0):
        idx = np.argwhere(arr <= 0)[0]
        raise ValueError(
            f"{name}: arm {int(idx[0])} has no {what} (value {arr[tuple(idx)]!r} at position "
            f"{tuple(int(i) for i in idx)}); drop the arm or wait for traffic"
        )


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    return alpha


def check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def check_level(level: float, name: str = "ci_level") -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {level}")
    return level


def text_column(codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """A pandas ``str`` column ``labels[codes]`` built in Arrow (repeat or dictionary decode; a list of
    10k Python strings costs more than the statistics it labels)."""
    import pyarrow as pa  # already loaded by pandas' default string dtype

    codes = np.asarray(codes).reshape(-1)
    dictionary = pa.array([str(v) for v in labels], pa.large_string())
    if len(dictionary) == 1:
        arr = pa.repeat(dictionary[0], codes.size)
    else:
        arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                             dictionary).dictionary_decode()
    return pd.array(arr, dtype=pd.StringDtype(na_value=np.nan))


def comparison_frame(
    columns: Mapping[str, ArrayLike],
    *,
    n_arms: int,
    batch_shape: tuple[int, ...],
    constants: Mapping[str, object] | None = None,
    include_control: bool = False,
) -> pd.DataFrame:
    """Flatten per-arm result arrays of shape ``(arms, *batch)`` into a tidy table.

    Rows are ordered by comparison (the C-order flattened batch index), then arm. Columns
    ``comparison`` and ``arm`` come first, then ``constants`` (e.g. method, alpha), then the
    result columns in the order given.
    """
    first_arm = 0 if include_control else 1
    arms = np.arange(first_arm, n_arms)
    n_batch = int(np.prod(batch_shape, dtype=np.int64)) if batch_shape else 1
    data: dict[str, object] = {
        "comparison": np.repeat(np.arange(n_batch), arms.size),
        "arm": np.tile(arms, n_batch),
    }
    rows = n_batch * arms.size
    for key, value in (constants or {}).items():
        data[key] = text_column(np.zeros(rows, np.int8), (value,)) if isinstance(value, str) \
            else np.full(rows, value)
    for key, value in columns.items():
        arr = np.asarray(value)
        arr = arr.reshape((arr.shape[0], n_batch))
        data[key] = arr.T.reshape(-1)
    return pd.DataFrame(data)
