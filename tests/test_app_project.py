"""The annotation app's project folder: creation, annotation layers, merging, import and export."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from xsup import ExplanationSupervisedClassifier
from xsup.app import (
    add_model,
    create_project,
    export_annotations,
    export_png_masks,
    import_label_studio,
    import_png_masks,
    load_annotations,
    set_estimator,
)
from xsup.app._annotations import AnnotationStore, StaleVersion
from xsup.app._project import Project
from xsup.app._rle import decode_rle, rle_mask

NAN = np.nan


@pytest.fixture
def images(tmp_path):
    X = np.random.default_rng(0).normal(size=(4, 1, 6, 5)).astype("float32")
    return create_project(tmp_path / "images", X, y=[0, 1, 0, 1])


@pytest.fixture
def frames(tmp_path):
    X = np.zeros((3, 4, 1, 6, 5), dtype="float32")
    return create_project(tmp_path / "frames", X, y=["a", "b", "a"])


@pytest.mark.parametrize(("shape", "kind", "annotation"), [
    ((3, 7), "tabular", (7,)), ((3, 9, 2), "time_series", (9, 2)),
    ((3, 2, 6, 5), "images", (6, 5)), ((3, 4, 2, 6, 5), "raster_sequences", (4, 6, 5)),
])
def test_create_project_describes_every_input_kind(tmp_path, shape, kind, annotation):
    folder = create_project(tmp_path / "p", np.ones(shape, dtype="float32"))
    project = Project(folder)
    assert (project.kind, project.annotation_shape, project.has_labels) == (kind, annotation, False)
    assert isinstance(project.X, np.memmap) and project.X.shape == shape
    E = load_annotations(folder)
    assert E.shape == (3, *annotation) and E.dtype == np.float32 and np.isnan(E).all()


def test_create_project_copies_a_memory_map_and_keeps_string_labels(tmp_path):
    source = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype="float64",
                                       shape=(5, 3))
    source[:] = np.arange(15).reshape(5, 3)
    folder = create_project(tmp_path / "p", source, y=np.array(["x", "y", "x", "y", "z"],
                                                                  dtype=object))
    project = Project(folder)
    np.testing.assert_array_equal(project.X, source)
    assert project.X.dtype == np.float64 and project.y.tolist() == ["x", "y", "x", "y", "z"]


def test_create_project_stores_E_as_version_1_of_the_annotator(tmp_path):
    E = np.full((3, 4, 6, 5), NAN, dtype="float32")
    E[0, 1] = 1
    E[2] = -1
    folder = create_project(tmp_path / "p", np.zeros((3, 4, 1, 6, 5)), E=E, annotator="alice")
    np.testing.assert_array_equal(load_annotations(folder, "alice"), E)
    store = AnnotationStore(Project(folder))
    assert [store.read("alice", i).version for i in range(3)] == [1, 0, 1]
    assert store.status("alice")[0] == ["partial", "unannotated", "annotated"]
    store.close()


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"X": np.zeros((2,))}, ValueError, "X must have 2 .* dimensions; got shape \\(2,\\)"),
    ({"X": np.array([["a"]])}, TypeError, "X must hold real numbers"),
    ({"X": np.zeros((0, 3))}, ValueError, "X must not be empty"),
    ({"X": np.zeros((2, 3)), "y": [1, 2, 3]}, ValueError, "y must have shape \\(2,\\)"),
    ({"X": np.zeros((2, 3)), "y": [object(), 1]}, TypeError, "y must hold numbers"),
    ({"X": np.zeros((2, 1, 4, 4)), "E": np.zeros((2, 1, 4, 4))}, ValueError,
     "E must have shape \\(2, 4, 4\\)"),
    ({"X": np.zeros((2, 3)), "annotator": "../x"}, ValueError, "annotator must be"),
    ({"X": np.zeros((2, 3)), "feature_names": ["a", "b"]}, ValueError,
     "feature_names must be 3 distinct non-empty strings, one per feature of X with shape "
     "\\(2, 3\\); got \\['a', 'b'\\]"),
    ({"X": np.zeros((2, 5, 2)), "feature_names": ["a", "a"]}, ValueError,
     "feature_names must be 2 distinct"),
    ({"X": np.zeros((2, 1, 4, 4)), "feature_names": ["a"]}, ValueError,
     "feature_names name the features of tabular data or time series; X holds images"),
])
def test_create_project_refuses_bad_arguments_with_one_line(tmp_path, arguments, error, message):
    with pytest.raises(error, match=message) as caught:
        create_project(tmp_path / "p", **arguments)
    assert "\n" not in str(caught.value)


def test_feature_names_are_kept_in_the_project(tmp_path):
    folder = create_project(tmp_path / "p", np.zeros((2, 6, 3)),
                            feature_names=("open", "high", "low"))
    assert Project(folder).feature_names == ["open", "high", "low"]
    assert Project(create_project(tmp_path / "q", np.zeros((2, 3)))).feature_names is None
    manifest = folder / "project.json"
    manifest.write_text(manifest.read_text().replace('"low"', '"high"'))
    with pytest.raises(ValueError, match=r"project.json: feature_names must be 3 distinct"):
        Project(folder)


def test_create_project_never_writes_into_a_folder_with_files(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already holds files"):
        create_project(tmp_path / "p", np.zeros((2, 3)))
    assert os.listdir(tmp_path / "p") == ["notes.txt"]


def test_a_folder_without_project_json_is_not_a_project(tmp_path):
    with pytest.raises(ValueError, match="not an xsup app project"):
        load_annotations(tmp_path)


def test_saves_count_versions_and_a_stale_save_is_refused(images):
    store = AnnotationStore(Project(images))
    data = np.zeros((6, 5), dtype="float32")
    data[1, 1] = 1
    assert store.write("bob", 2, data, expected_version=0, strokes=3) == 1
    assert store.write("bob", 2, -data, expected_version=1) == 2
    with pytest.raises(StaleVersion) as stale:
        store.write("bob", 2, data, expected_version=1)
    assert stale.value.current == 2
    record = store.read("bob", 2)
    np.testing.assert_array_equal(record.data, -data)
    assert record.version == 2
    assert store.database.count_events("save") == 3
    store.close()


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((5, 6)), "annotation must have shape \\[6, 5\\]"),
    (np.full((6, 5), 2.0), "values must lie in \\[-1, 1\\]"),
    (np.full((6, 5), np.inf), "values must lie in \\[-1, 1\\]"),
])
def test_a_save_checks_shape_and_values(images, data, message):
    store = AnnotationStore(Project(images))
    with pytest.raises(ValueError, match=message):
        store.write("bob", 0, data, expected_version=0)
    assert store.read("bob", 0).version == 0
    store.close()


def test_layers_merge_by_mean_or_majority_and_ignore_missing_cells(images):
    store = AnnotationStore(Project(images))
    a = np.zeros((6, 5), dtype="float32")
    b = np.zeros((6, 5), dtype="float32")
    a[0, 0], b[0, 0] = 1, 1
    a[0, 1], b[0, 1] = 1, -1
    a[0, 2], b[0, 2] = 1, NAN
    a[0, 3], b[0, 3] = -1, 0
    store.write("ann", 0, a, expected_version=0)
    store.write("ben", 0, b, expected_version=0)
    store.write("ben", 1, b, expected_version=0)
    store.close()
    mean = load_annotations(images)
    np.testing.assert_array_equal(mean[0, 0, :4], [1, 0, 1, -0.5])
    np.testing.assert_array_equal(load_annotations(images, merge="majority")[0, 0, :4], [1, 0, 1, -1])
    np.testing.assert_array_equal(load_annotations(images, annotator="ann")[0], a)
    np.testing.assert_array_equal(load_annotations(images, annotator=["ben"])[1], b)
    assert np.isnan(mean[2:]).all()
    with pytest.raises(ValueError, match="annotator 'carl' has no annotations .* ann, ben"):
        load_annotations(images, annotator="carl")
    with pytest.raises(ValueError, match="merge must be one of mean, majority"):
        load_annotations(images, merge="median")


def test_the_index_is_rebuilt_from_the_files_after_a_crash(images):
    store = AnnotationStore(Project(images))
    store.write("bob", 1, np.ones((6, 5)), expected_version=0)
    store.database.connection().execute("DELETE FROM annotation_index")  # as if killed before
    (store.file("bob", 1).parent / ".3.npz.abc.partial").write_bytes(b"torn")  # a torn write
    store.close()
    reader = AnnotationStore(Project(images))  # e.g. load_annotations while a server runs
    assert reader.status("bob") == (["unannotated", "annotated", "unannotated", "unannotated"],
                                    [0, 1, 0, 0])
    assert len(list(reader.file("bob", 1).parent.glob("*.partial"))) == 1  # maybe a live save's
    reader.close()
    server = AnnotationStore(Project(images), clean=True)  # the project's one server
    assert not list(server.file("bob", 1).parent.glob("*.partial"))
    server.close()


def test_export_writes_the_merged_annotations_as_npy(images, tmp_path):
    E = np.full((4, 6, 5), NAN, dtype="float32")
    E[3] = 1
    store = AnnotationStore(Project(images))
    store.import_layer("default", E)
    store.close()
    out = export_annotations(images, tmp_path / "E.npy")
    np.testing.assert_array_equal(np.load(out), E)


def test_set_estimator_stores_json_parameters_and_refuses_objects(images):
    config = set_estimator(images, ExplanationSupervisedClassifier(loss="gradia", lr=0.01))
    assert config == {"estimator": "classifier", "params": {"loss": "gradia", "lr": 0.01}}
    assert json.loads((images / "estimator.json").read_text()) == config
    with pytest.raises(TypeError, match="module=.* cannot be stored"):
        set_estimator(images, ExplanationSupervisedClassifier(module=np.ndarray))
    with pytest.raises(TypeError, match="must be an ExplanationSupervisedClassifier"):
        set_estimator(images, object())


def test_add_model_stores_parameter_files_that_load_without_pickle(images):
    from xsup.app._estimator import load_model

    project = Project(images)
    net = ExplanationSupervisedClassifier(max_epochs=1, train_split=None, verbose=0,
                                          random_state=0).fit(project.X, project.y)
    folder = add_model(images, net)
    assert sorted(path.name for path in folder.iterdir()) == ["interpolator.pt", "loss.pt",
                                                              "params.pt"]
    loaded = load_model(project, folder)
    np.testing.assert_allclose(loaded.predict_proba(project.X), net.predict_proba(project.X))
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        add_model(images, ExplanationSupervisedClassifier(max_epochs=1, verbose=0,
                                                          train_split=None).fit(
            np.zeros((4, 3), dtype="float32"), [0, 1, 0, 1]))


def test_png_masks_round_trip_and_binary_masks_paint_one_value(frames, tmp_path):
    from PIL import Image

    store = AnnotationStore(Project(frames))
    E = np.full((4, 6, 5), NAN, dtype="float32")
    E[1] = 0
    E[1, 2:4, 1:3] = 1
    E[1, 0, 0] = -1
    store.write("default", 0, E, expected_version=0)
    store.close()
    assert export_png_masks(frames, tmp_path / "png") == 1
    assert sorted(os.listdir(tmp_path / "png")) == ["0_1.png"]
    assert import_png_masks(frames, tmp_path / "png", annotator="copy", encoding="signed") == 1
    np.testing.assert_array_equal(load_annotations(frames, "copy")[0], E)

    binary = tmp_path / "binary"
    binary.mkdir()
    mask = np.zeros((6, 5), dtype=np.uint8)
    mask[5, 4] = 255
    Image.fromarray(mask).save(binary / "0_1.png")
    import_png_masks(frames, binary, annotator="copy", value=-1.0)
    merged = load_annotations(frames, "copy")[0, 1]
    assert merged[5, 4] == -1 and merged[2, 1] == 1  # painted cell set, the rest kept


@pytest.mark.parametrize(("name", "size", "message"), [
    ("mask.png", (5, 6), "must be named SAMPLE.png or SAMPLE_FRAME.png"),
    ("0.png", (5, 6), "masks of this project are named SAMPLE_FRAME.png"),
    ("0_9.png", (5, 6), "frame must be in \\[0, 3\\]"),
    ("0_1.png", (6, 6), "the mask is 6x6; frames are 5x6"),
])
def test_png_import_names_the_file_that_does_not_fit(frames, tmp_path, name, size, message):
    from PIL import Image

    Image.new("L", size).save(tmp_path / name)
    with pytest.raises(ValueError, match=message):
        import_png_masks(frames, tmp_path)


def test_png_masks_need_an_image_project(tmp_path):
    folder = create_project(tmp_path / "p", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="holds image masks; the project holds tabular"):
        import_png_masks(folder, tmp_path)


# ---------------------------------------------------------------------- Label Studio brush RLE
def test_rle_decoder_reads_a_hand_made_code():
    # 32 bits: 8 values; 5 bits: word size 8; 4 x 4 bits: run-length sizes 2, 2, 3, 3;
    # run 1: repeated (1), size index 00 (2 bits), length-1 = 3, value 7;
    # run 2: literal (0), size index 10 (3 bits), length-1 = 3, values 1, 2, 3, 4.
    bits = (f"{8:032b}" + "00111" + "0001" + "0001" + "0010" + "0010"
            + "1" + "00" + "11" + f"{7:08b}"
            + "0" + "10" + "011" + "".join(f"{v:08b}" for v in (1, 2, 3, 4)))
    bits += "0" * (-len(bits) % 8)
    code = [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]
    np.testing.assert_array_equal(decode_rle(code), [7, 7, 7, 7, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="truncated"):
        decode_rle(code[:-3])
    with pytest.raises(ValueError, match="list of integers from 0 to 255"):
        decode_rle([256])


def test_rle_decoder_reads_label_studios_own_encoding():
    # label-studio-sdk 2.1.2's brush.mask2rle of a 5 x 6 mask: a 2 x 3 block and one corner pixel
    code = [0, 0, 0, 120, 57, 27, 254, 27, 0, 183, 255, 108, 2, 223, 254, 51, 0, 143, 252]
    expected = np.zeros((5, 6), dtype=bool)
    expected[1:3, 1:4] = expected[4, 5] = True
    np.testing.assert_array_equal(rle_mask(code, 5, 6), expected)


def _encode_literal_rgba(mask):
    """A valid brush RLE of a mask: runs of one repeated RGBA byte, longest 2**8."""
    values = np.repeat(np.where(mask, 255, 0).astype(np.uint8).ravel(), 4)
    bits = f"{values.size:032b}" + "00111" + "0111" * 4  # word 8 bits, every size 8 bits
    i = 0
    while i < values.size:
        j = i
        while j < values.size and values[j] == values[i] and j - i < 256:
            j += 1
        bits += "1" + "00" + f"{j - i - 1:08b}" + f"{int(values[i]):08b}"
        i = j
    bits += "0" * (-len(bits) % 8)
    return [int(bits[k : k + 8], 2) for k in range(0, len(bits), 8)]


def test_label_studio_export_is_imported_with_labels_and_sample_keys(frames, tmp_path):
    mask = np.zeros((6, 5), dtype=bool)
    mask[1:3, 2:4] = True
    rle = _encode_literal_rgba(mask)
    np.testing.assert_array_equal(rle_mask(rle, 6, 5), mask)

    def result(label):
        return {"type": "brushlabels", "original_width": 5, "original_height": 6,
                "value": {"format": "rle", "rle": rle, "brushlabels": [label]}}

    tasks = [
        {"id": 11, "data": {"sample": 2, "frame": 3}, "annotations": [{"result": [result("Evidence")]}]},
        {"id": 12, "data": {"sample": 0, "frame": 0}, "annotations": [{"result": [
            result("Decoy"), {"type": "rectanglelabels", "value": {}}]}]},
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    assert import_label_studio(frames, export, labels={"Evidence": 1, "Decoy": -1}) == 2
    E = load_annotations(frames)
    np.testing.assert_array_equal(E[2, 3], np.where(mask, 1.0, 0.0))
    np.testing.assert_array_equal(E[0, 0], np.where(mask, -1.0, 0.0))
    assert np.isnan(E[2, :3]).all() and np.isnan(E[1]).all()

    with pytest.raises(ValueError, match="label 'Decoy' is not in labels"):
        import_label_studio(frames, export, labels={"Evidence": 1})
    tasks[0]["data"] = {}
    export.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match="task 11 has no data\\['sample'\\]"):
        import_label_studio(frames, export)
    assert import_label_studio(frames, export, samples={11: (1, 2), 12: (1, 0)},
                               annotator="mapped") == 1
    np.testing.assert_array_equal(load_annotations(frames, "mapped")[1, 2], mask.astype("float32"))


def test_a_model_added_to_the_project_is_reviewed_as_a_round(images, monkeypatch):
    from xsup.app._annotations import AnnotationStore as Store
    from xsup.app._rounds import Rounds
    from xsup.app._train import run_round

    project = Project(images)
    net = ExplanationSupervisedClassifier(max_epochs=1, train_split=None, verbose=0,
                                          random_state=0).fit(project.X, project.y)
    add_model(images, net)
    monkeypatch.setattr(Rounds, "_launch", lambda self, k: run_round(self.project.path, k))
    store = Store(project)
    rounds = Rounds(store)
    info = rounds.start(source="model")  # run here rather than in a process of its own
    store.close()
    assert info["status"] == "done" and info["source"] == "model"
    results = rounds.results(info["round"])
    np.testing.assert_allclose(results["outputs"], net.predict_proba(project.X), rtol=1e-5)
    np.testing.assert_allclose(results["saliency"], net.explain(project.X), atol=1e-3)
    assert results["classes"] == [0, 1] and np.isnan(results["iou"]).all()
