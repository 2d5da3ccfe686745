"""Memory-mapped and lazily read inputs stream through fit, predict and explain, never read whole."""

from __future__ import annotations

import numpy as np
import pytest

from xsup import ExplanationSupervisedClassifier

N_SAMPLES = 96
MAX_ROWS = 16  # a read of more rows than this at once counts as materialising


class RowLimitedArray:
    """An array read by rows that refuses to be converted whole and records its reads."""

    def __init__(self, array: np.ndarray, max_rows: int = MAX_ROWS) -> None:
        self._array = array
        self.max_rows = max_rows
        self.largest_read = 0
        self.rows_read = 0

    shape = property(lambda self: self._array.shape)
    ndim = property(lambda self: self._array.ndim)
    dtype = property(lambda self: self._array.dtype)

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, index):
        rows = len(range(*index.indices(len(self)))) if isinstance(index, slice) else 1
        if not isinstance(index, (slice, int, np.integer)):
            rows = len(np.arange(len(self))[index])
        if rows > self.max_rows:
            raise AssertionError(f"read {rows} rows at once (limit {self.max_rows})")
        self.largest_read = max(self.largest_read, rows)
        self.rows_read += rows
        return np.array(self._array[index])

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole array was converted")


@pytest.fixture
def small_chunks(monkeypatch):
    """Validate in chunks smaller than the data, as a large data set would be."""
    import xsup.validation

    monkeypatch.setattr(xsup.validation, "CHUNK_ROWS", MAX_ROWS)


def _images(tmp_path, dtype_E="float32"):
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype="float32",
                                  shape=(N_SAMPLES, 1, 8, 8))
    X[:] = rng.normal(size=X.shape)
    y = (np.asarray(X[:, 0, :4, :4]).mean(axis=(1, 2)) > 0).astype(int)
    E = np.lib.format.open_memmap(tmp_path / "E.npy", mode="w+", dtype=dtype_E,
                                  shape=(N_SAMPLES, 8, 8))
    E[:] = 0
    E[:, :4, :4] = 1
    X.flush(), E.flush()
    return (np.load(tmp_path / "X.npy", mmap_mode="r"), y,
            np.load(tmp_path / "E.npy", mmap_mode="r"))


def _classifier(**kwargs):
    params = dict(loss="gradia", max_epochs=2, batch_size=MAX_ROWS, verbose=0, random_state=0,
                  device="cpu")
    return ExplanationSupervisedClassifier(**{**params, **kwargs})


def test_lazy_arrays_train_predict_and_explain_without_a_full_read(tmp_path, small_chunks):
    X, y, E = _images(tmp_path)
    lazy_X, lazy_E = RowLimitedArray(X), RowLimitedArray(E)
    clf = _classifier().fit(lazy_X, y, lazy_E)
    assert lazy_E.rows_read >= N_SAMPLES  # E was read, by rows
    assert 0 < lazy_X.largest_read <= MAX_ROWS
    assert clf.predict(lazy_X).shape == (N_SAMPLES,)
    maps = clf.explain(lazy_X)
    assert maps.shape == (N_SAMPLES, 8, 8) and np.isfinite(maps).all()
    assert "train_explanation" in clf.history[-1]


@pytest.mark.filterwarnings("error:The given NumPy array is not writable")
def test_memmap_fit_equals_in_memory_fit(tmp_path):
    X, y, E = _images(tmp_path)
    from_disk = _classifier().fit(X, y, E)
    in_memory = _classifier().fit(np.array(X), y, np.array(E))
    np.testing.assert_allclose(from_disk.explain(X), in_memory.explain(np.array(X)), atol=1e-6)
    np.testing.assert_allclose(from_disk.history[:, "train_loss"],
                               in_memory.history[:, "train_loss"], rtol=1e-6)


def test_memmap_stays_a_memmap_through_validation(tmp_path):
    from xsup.spec import InputSpec
    from xsup.validation import check_annotation, check_input

    X, _, E = _images(tmp_path, dtype_E="bool")
    assert check_input(X) is X
    spec = InputSpec("images", (1, 8, 8), 2)
    assert check_annotation(E, X, spec) is E  # bool kept: batches are converted as read


def test_boolean_memmap_annotation_trains_like_float(tmp_path):
    X, y, E = _images(tmp_path, dtype_E="bool")
    as_bool = _classifier(max_epochs=1).fit(X, y, E)
    as_float = _classifier(max_epochs=1).fit(X, y, np.asarray(E, dtype="float32"))
    np.testing.assert_allclose(as_bool.history[:, "train_explanation"],
                               as_float.history[:, "train_explanation"], rtol=1e-6)


def test_lazy_array_with_bad_values_is_rejected(small_chunks):
    X = np.zeros((40, 3), dtype="float32")
    X[35, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        _classifier().fit(RowLimitedArray(X), np.arange(40) % 2)


def test_tune_gives_each_fold_a_view_of_a_memory_map(tmp_path):
    from optuna.distributions import FloatDistribution

    from xsup.tuning import tune
    from xsup.tuning._tune import RowView, _take

    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype="float32",
                                  shape=(40, 1, 8, 8))
    X[:] = rng.normal(size=X.shape)
    X.flush()
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = (np.asarray(X[:, 0, :4, :4]).mean(axis=(1, 2)) > 0).astype(int)
    view = _take(X, np.array([3, 0, 7]))
    assert isinstance(view, RowView) and view.shape == (3, 1, 8, 8)
    assert np.array_equal(view[1:], X[[0, 7]]) and np.array_equal(view[0], X[3])
    study = tune(ExplanationSupervisedClassifier(module="cnn", max_epochs=1, verbose=0,
                                                 train_split=None),
                 X, y, n_trials=1, cv=2,
                 param_distributions={"lr": FloatDistribution(1e-3, 1e-2, log=True)})
    assert len(study.trials) == 1 and study.trials[0].state.name == "COMPLETE"
