"""How the estimators read data: rows of memory maps, and the ``device="auto"`` setting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from skorch.dataset import Dataset

__all__ = ["RowDataset", "resolve_device"]


class RowDataset(Dataset):
    """skorch's Dataset, copying each row read from a read-only array (a memory map opened "r").

    torch would otherwise wrap the read-only row without a copy and warn; one row is cheap.
    """

    def transform(self, X: Any, y: Any) -> tuple[Any, Any]:
        X, y = super().transform(X, y)
        if isinstance(X, Mapping):
            return {key: _writable(value) for key, value in X.items()}, y
        return _writable(X), y


def _writable(row: Any) -> Any:
    return np.array(row) if isinstance(row, np.ndarray) and not row.flags.writeable else row


def resolve_device(device: Any) -> Any:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass."""
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
