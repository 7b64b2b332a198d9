"""Plain JSON values from what the ML stack returns (numpy scalars, NaN, tuples, ...)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """`value` as JSON-safe Python: numbers as int/float, NaN and inf as None, string keys."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    # numpy scalars and arrays, without importing numpy here.
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    return str(value)


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False, **kwargs)
