"""scikit-learn's 8 x 8 digits with a label-coded decoy patch in the training images."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from xsup.datasets._checks import check_bool, check_int, check_real, generator

__all__ = ["load_decoy_digits"]

_SIDE = 8  # the digits are 8 x 8
_N_CLASSES = 10
_CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
_CODES = ("pattern", "intensity")
_TEST_DECOYS = ("shuffled", "absent")


def _corner_origin(corner: int, size: int) -> tuple[int, int]:
    """Top-left cell of a ``size`` patch in corner ``corner`` (index into ``_CORNERS``)."""
    far = _SIDE - size
    return (far if corner >= 2 else 0), (far if corner % 2 else 0)


def _patches(codes: np.ndarray, size: int, code: str) -> np.ndarray:
    """``(N, size, size)`` decoy patches coding the class indices ``codes``.

    "pattern": the patch is cut into 2 x 2 quadrants (row-major); quadrant q is
    lit (1) when bit q of ``code + 1`` is set, dark (0) otherwise.
    "intensity": the whole patch takes the grey level ``1 - code / 10``.
    """
    if code == "intensity":
        levels = 1.0 - codes / _N_CLASSES
        return np.broadcast_to(levels[:, None, None], (len(codes), size, size)).astype(np.float32)
    second_half = (np.arange(size) >= (size + 1) // 2).astype(int)
    quadrant = 2 * second_half[:, None] + second_half[None, :]  # (size, size) in 0..3
    bits = ((codes[:, None, None] + 1) >> quadrant[None]) & 1
    return bits.astype(np.float32)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _check_position(position: Any, size: int) -> tuple[int, int] | int | None:
    """A fixed ``(row, col)`` origin, a corner index, or None for a random corner."""
    if isinstance(position, str):
        if position == "random_corner":
            return None
        if position in _CORNERS:
            return _CORNERS.index(position)
    elif (
        isinstance(position, tuple) and len(position) == 2
        and all(isinstance(v, Integral) and not isinstance(v, bool) for v in position)
        and all(0 <= v <= _SIDE - size for v in position)
    ):
        return int(position[0]), int(position[1])
    raise ValueError(
        f"patch_position must be one of {', '.join(_CORNERS)}, random_corner, or a (row, col) "
        f"tuple of ints in [0, {_SIDE - size}] (the patch's top-left pixel); got {position!r}."
    )


def _check_size(name: str, value: Any, n_total: int) -> float | int:
    """A split size as scikit-learn takes it: a share in (0, 1) or a count in [1, n_total)."""
    is_int = isinstance(value, Integral) and not isinstance(value, bool)
    is_real = isinstance(value, Real) and not isinstance(value, bool)
    if is_int and 1 <= value < n_total:
        return int(value)
    if not is_int and is_real and 0 < value < 1:
        return float(value)
    raise ValueError(
        f"{name} must be a float in (0, 1) or an int in [1, {n_total - 1}]; got {value!r}."
    )


def _add_decoy(
    X: np.ndarray, E: np.ndarray, codes: np.ndarray, origins: np.ndarray, size: int, code: str
) -> None:
    """Paste the patches coding ``codes`` at ``origins`` (``(N, 2)``); mark them -1 in E."""
    patches = _patches(codes, size, code)
    offsets = np.arange(size)
    rows = (origins[:, 0, None] + offsets)[:, :, None]  # (N, size, 1)
    cols = (origins[:, 1, None] + offsets)[:, None, :]  # (N, 1, size)
    index = np.arange(len(X))[:, None, None]
    X[index, 0, rows, cols] = patches
    E[index, rows, cols] = -1.0


def load_decoy_digits(
    random_state: Any = None,
    *,
    test_size: float | int = 0.3,
    train_size: float | int | None = None,
    patch_size: int = 2,
    patch_position: str | tuple[int, int] = "bottom_left",
    code: str = "pattern",
    test_decoy: str = "shuffled",
    train_decoy: bool = True,
    annotated_fraction: float = 1.0,
    stroke_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the 8 x 8 digits with a decoy patch that codes the label in training.

    scikit-learn's bundled digits (1797 images, 10 classes, no download) are
    scaled to [0, 1] and split, stratified, into training and test sets. Every
    training image gets a small patch whose content codes its label, a
    shortcut that predicts the label perfectly; in the test images the patch
    is shuffled or absent, so a model that learned the shortcut fails there
    (the Decoy-MNIST setting of Ross et al., 2017, on the small digits).

    The default decoy is a 2 x 2 binary pattern (the binary code of the label
    + 1) in the bottom-left corner, the corner with the least ink in these
    digits (it covers a stroke pixel in about 1% of them). It fools the
    default residual CNN: trained without explanation supervision
    (``loss="none"``, 10 epochs), its accuracy on the decoy-shuffled test set
    falls to about 40%, against about 98% for the same network trained on the
    clean images. The Decoy-MNIST recipe, a grey level coding the label in a
    random corner (``code="intensity", patch_position="random_corner"``),
    leaves this CNN as accurate as the clean one: its global average pooling
    drowns a grey level in the digit's ink.

    The annotations ``E`` mark the digit's strokes (pixels brighter than
    ``stroke_threshold``) 1, should matter, and the decoy patch -1, should not
    matter; everything else is 0.

    Parameters
    ----------
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed of the split, the random corners, the shuffled test codes and the
        annotated subset; an int gives the same data on every call.
    test_size : float or int, default=0.3
        Share in (0, 1) or number of test images.
    train_size : float, int or None, default=None
        Share or number of training images; None takes all that the test set
        leaves (use e.g. 100 for the small training sets of RES).
    patch_size : int, default=2
        Side of the square decoy patch, in [1, 4] ([2, 4] with ``code="pattern"``).
    patch_position : str or tuple of int, default="bottom_left"
        ``"top_left"``, ``"top_right"``, ``"bottom_left"``, ``"bottom_right"``,
        ``"random_corner"`` (a corner drawn per image, train and test), or the
        ``(row, col)`` of the patch's top-left pixel.
    code : {"pattern", "intensity"}, default="pattern"
        How the patch codes the label ``k``. "pattern": the patch is cut into
        2 x 2 quadrants (row-major) and quadrant ``q`` is lit (1) where bit
        ``q`` of ``k + 1`` is set, dark (0) elsewhere. "intensity": the whole
        patch is grey level ``1 - k / 10`` (Decoy-MNIST's ``255 - 25 k``).
    test_decoy : {"shuffled", "absent"}, default="shuffled"
        "shuffled": every test image gets the patch coding the label of another
        test image (the test labels in random order), so the patch carries no
        information; "absent": the test images are clean.
    train_decoy : bool, default=True
        False leaves the training images clean (and E without -1): the control
        that shows what the network reaches without the shortcut. Everything
        else, the test set included, stays as with True.
    annotated_fraction : float, default=1.0
        Share in [0, 1] of training images that are annotated: exactly
        ``round(annotated_fraction * n_train)``, drawn at random; the others
        get an all-NaN E (missing). Test annotations are always complete.
    stroke_threshold : float, default=0.5
        Pixels brighter than this, in [0, 1), are strokes (E = 1).

    Returns
    -------
    X_train : numpy.ndarray of shape (n_train, 1, 8, 8)
        float32 images in [0, 1].
    y_train : numpy.ndarray of shape (n_train,)
        int64 digits.
    E_train : numpy.ndarray of shape (n_train, 8, 8)
        float32 annotations: 1 strokes, -1 decoy, 0 else, NaN if not annotated.
    X_test : numpy.ndarray of shape (n_test, 1, 8, 8)
    y_test : numpy.ndarray of shape (n_test,)
    E_test : numpy.ndarray of shape (n_test, 8, 8)
        As for training; -1 marks the shuffled patch, none with "absent".

    Raises
    ------
    ValueError
        An option out of range; the message names it.

    Examples
    --------
    >>> X, y, E, X_test, y_test, E_test = load_decoy_digits(random_state=0)
    >>> X.shape, E.shape, X_test.shape, X.dtype
    ((1257, 1, 8, 8), (1257, 8, 8), (540, 1, 8, 8), dtype('float32'))
    >>> X[y == 2][0, 0, 6:, :2]  # 2 + 1 = 0b11: the top quadrants are lit
    array([[1., 1.],
           [0., 0.]], dtype=float32)
    >>> E[0, 6:, :2]
    array([[-1., -1.],
           [-1., -1.]], dtype=float32)
    >>> bool((X_test[:, 0, 6:, :2].sum(axis=(1, 2)) > 0).all())  # shuffled, still there
    True
    """
    digits = load_digits()
    n_total = len(digits.target)
    test_size = _check_size("test_size", test_size, n_total)
    if train_size is not None:
        train_size = _check_size("train_size", train_size, n_total)
    patch_size = check_int("patch_size", patch_size, 1)
    code = _check_choice("code", code, _CODES)
    lowest = 2 if code == "pattern" else 1
    if not lowest <= patch_size <= _SIDE // 2:
        raise ValueError(
            f"patch_size must be in [{lowest}, {_SIDE // 2}] with code={code!r}; got {patch_size}."
        )
    position = _check_position(patch_position, patch_size)
    test_decoy = _check_choice("test_decoy", test_decoy, _TEST_DECOYS)
    train_decoy = check_bool("train_decoy", train_decoy)
    annotated_fraction = check_real("annotated_fraction", annotated_fraction, 0, 1)
    stroke_threshold = check_real("stroke_threshold", stroke_threshold, 0, 1, open_ends="h")
    rng = generator(random_state)

    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, train_size=train_size, stratify=labels,
        random_state=int(rng.integers(2**31 - 1)),
    )
    E_train = (X_train[:, 0] > stroke_threshold).astype(np.float32)
    E_test = (X_test[:, 0] > stroke_threshold).astype(np.float32)

    # Every random draw happens whatever the options, so that options change nothing else.
    origins = []
    for n in (len(y_train), len(y_test)):
        corners = rng.integers(0, len(_CORNERS), size=n)
        if position is None:
            origin = np.array([_corner_origin(c, patch_size) for c in corners])
        else:
            fixed = (
                position if isinstance(position, tuple)
                else _corner_origin(position, patch_size)
            )
            origin = np.tile(fixed, (n, 1))
        origins.append(origin.reshape(n, 2))
    shuffled = rng.permutation(y_test)
    n_missing = len(y_train) - round(annotated_fraction * len(y_train))
    missing = rng.permutation(len(y_train))[:n_missing]

    if train_decoy:
        _add_decoy(X_train, E_train, y_train, origins[0], patch_size, code)
    if test_decoy == "shuffled":
        _add_decoy(X_test, E_test, shuffled, origins[1], patch_size, code)
    E_train[missing] = np.nan
    return X_train, y_train, E_train, X_test, y_test, E_test
