"""Predictions of a fitted estimator or an nn.Module, and their error against the targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.metrics import log_loss, mean_squared_error

__all__ = ["choose", "predict_all", "scorer"]


def choose(value: Any, name: str, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}.")
    return value


def scorer(model: Any, task: Any, y: Any) -> tuple[str, Callable[[np.ndarray], np.ndarray],
                                                   Callable[[np.ndarray], float]]:
    """The task, a batch predictor (probabilities or values) and the error of full predictions."""
    if isinstance(model, torch.nn.Module):
        task = choose(task, "task (needed for an nn.Module)", ("classification", "regression"))
        parameter = next(iter(model.parameters()), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        dtype = parameter.dtype if parameter is not None else torch.float32

        def predict(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = model(torch.as_tensor(batch, device=device, dtype=dtype)).double()
            if task == "classification":
                if out.ndim != 2 or out.shape[1] < 2:
                    raise ValueError(
                        "a classification nn.Module must output logits of shape (N, n_classes) "
                        f"with at least 2 classes; got shape {tuple(out.shape)}."
                    )
                out = torch.softmax(out, dim=1)
            return out.cpu().numpy()

        labels = None
    else:
        try:
            classifier = is_classifier(model)
        except AttributeError:  # not a scikit-learn estimator
            classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        inferred = "classification" if classifier else "regression"
        method = "predict_proba" if inferred == "classification" else "predict"
        if not callable(getattr(model, method, None)):
            raise TypeError(
                "model must be a fitted xsup estimator (or another scikit-learn estimator with "
                f"predict_proba or predict) or a torch nn.Module; got {type(model).__name__}."
            )
        if task is not None and task != inferred:
            raise ValueError(f"task must be None or {inferred!r} for {type(model).__name__}; "
                             f"got {task!r}.")
        task, predict = inferred, getattr(model, method)
        labels = getattr(model, "classes_", None)
    y = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)

    def error(outputs: np.ndarray) -> float:
        if len(y) != len(outputs):
            raise ValueError(f"y must hold one target per sample of X ({len(outputs)}); "
                             f"got {len(y)}.")
        if task == "regression":
            values = outputs.reshape(len(outputs), -1)
            if y.ndim == 1 and values.shape[1] == 1:
                values = values[:, 0]
            if y.shape != values.shape:
                raise ValueError(f"y must have the shape of the model's predictions "
                                 f"{values.shape}; got {y.shape}.")
            return float(mean_squared_error(y, values))
        known = np.arange(outputs.shape[1]) if labels is None else np.asarray(labels)
        if y.ndim != 1 or not np.isin(y, known).all():
            raise ValueError(
                f"y must hold class labels among {known.tolist()} (one per sample); "
                f"got {np.unique(y)[:10].tolist()}."
            )
        return float(log_loss(y, outputs, labels=known))

    return task, predict, error


def predict_all(predict: Callable[[np.ndarray], np.ndarray], n_samples: int, batch_size: int,
                batch: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Predictions for all samples, ``batch(start, stop)`` building the inputs of each batch."""
    return np.concatenate([np.asarray(predict(batch(start, min(start + batch_size, n_samples))))
                           for start in range(0, n_samples, batch_size)])
