"""End-to-end tests of the annotation app in headless Chromium, driven by Playwright.

They need the distribution's Chromium package (``apt-get install chromium``,
which ``.ci/run`` installs) and skip with that reason when it is missing.
With ``XSUP_UPDATE_SCREENSHOTS=1`` they write the documentation's
screenshots into ``docs/images/``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from xsup import ExplanationSupervisedClassifier
from xsup.app import create_project, load_annotations, set_estimator

httpx = pytest.importorskip("httpx")
try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (fails in continuous integration) and says why
    expect = None

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "images"
NAN = np.nan


@pytest.fixture(scope="module")
def sequences(tmp_path_factory, threaded_app_server):
    """A served project of raster sequences: 3 samples of 3 frames of 1 x 12 x 12."""
    X = np.random.default_rng(0).normal(size=(3, 3, 1, 12, 12)).astype("float32")
    folder = create_project(tmp_path_factory.mktemp("app") / "sequences", X, y=[0, 1, 0])
    return folder, threaded_app_server(folder)


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert not errors, errors


def open_app(page, server, hash_="#/annotate/0"):
    page.goto(server.first_url + hash_)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def drag(page, points, selector="#overlay"):
    """Press the mouse at the first point (fractions of the canvas) and move through the others."""
    box = page.locator(selector).bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for point in at[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def screenshot(page, name, tmp_path):
    folder = SCREENSHOTS if os.environ.get("XSUP_UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))
    assert (folder / name).stat().st_size > 1000


def test_a_stroke_is_saved_survives_a_reload_and_is_on_disk(page, sequences, tmp_path):
    folder, server = sequences
    open_app(page, server)
    expect(page.locator("#stage")).to_have_class(re.compile(r"\bmissing\b"))  # not annotated yet
    page.keyboard.press("1")
    drag(page, [(0.2, 0.2), (0.5, 0.3), (0.6, 0.6)])
    expect(page.locator("#save-status")).to_have_text("saved")
    E = load_annotations(folder, "default")
    assert E[0, 0, 2, 2] == 1 and E[0, 0, 11, 11] == 0 and np.isnan(E[0, 1:]).all()

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    pixel = page.evaluate("""() => Array.from(document.querySelector('#overlay').getContext('2d')
                                 .getImageData(2, 2, 1, 1).data)""")
    assert pixel[1] > 200 and pixel[3] > 0  # green: should matter
    expect(page.locator("#frame-strip .frame").nth(0)).to_have_class("frame drawn current")
    expect(page.locator("#sample-list .row.current .dot")).to_have_class("dot partial")
    screenshot(page, "app-annotate.png", tmp_path)


def test_fill_gaps_then_mark_a_frame_not_annotated_then_undo(page, sequences):
    folder, server = sequences
    open_app(page, server, "#/annotate/2")
    drag(page, [(0.1, 0.1), (0.3, 0.1)])  # frame 0
    page.locator("#frame-strip .frame").nth(2).click()
    drag(page, [(0.1, 0.5), (0.3, 0.5)])  # frame 2
    page.locator("#fill-gaps").click()
    expect(page.locator("#frame-strip .frame").nth(1)).to_have_class("frame filled")
    expect(page.locator("#save-status")).to_have_text("saved")
    E = load_annotations(folder, "default")[2]
    assert 0 < E[1][1, 1] < 1 and E[1][6, 1] > 0  # a blend of frames 0 and 2
    assert _filled(folder, 2) == [1]

    page.locator("#frame-strip .frame").nth(1).click()
    page.keyboard.press("x")  # frame 1: not annotated
    expect(page.locator("#frame-strip .frame").nth(1)).to_have_class("frame missing current")
    expect(page.locator("#save-status")).to_have_text("saved")
    assert np.isnan(load_annotations(folder, "default")[2, 1]).all() and _filled(folder, 2) == []

    page.keyboard.press("Control+z")
    expect(page.locator("#frame-strip .frame").nth(1)).to_have_class("frame filled current")
    expect(page.locator("#save-status")).to_have_text("saved")
    assert _filled(folder, 2) == [1] and np.isfinite(load_annotations(folder, "default")[2, 1]).all()
    frame0 = load_annotations(folder, "default")[2, 0].copy()
    page.keyboard.press("Control+z")  # the fill
    page.keyboard.press("Control+z")  # the stroke on frame 2
    expect(page.locator("#save-status")).to_have_text("saved")
    E = load_annotations(folder, "default")[2]
    np.testing.assert_array_equal(E[0], frame0)
    assert np.isnan(E[1:]).all()


def _filled(folder, sample):
    with np.load(folder / "annotations" / "default" / f"{sample}.npz") as record:
        return np.flatnonzero(record["filled"]).tolist()


def test_a_stale_second_tab_gets_the_conflict_and_can_reload(browser, page, sequences):
    folder, server = sequences
    open_app(page, server, "#/annotate/1")
    stale = browser.new_page()
    try:
        open_app(stale, server, "#/annotate/1")
        drag(page, [(0.1, 0.1), (0.9, 0.1)])
        expect(page.locator("#save-status")).to_have_text("saved")
        page.keyboard.press("2")
        drag(stale, [(0.1, 0.9), (0.9, 0.9)])
        expect(stale.locator("#save-status")).to_have_text("conflict")
        expect(stale.locator("#conflict-dialog")).to_be_visible()
        E = load_annotations(folder, "default")[1, 0]
        assert E[1, 1] == 1 and E[10, 1] == 0  # the first tab's save stands
        stale.locator("#conflict-reload").click()
        expect(stale.locator("#save-status")).to_have_text("saved")
        version = stale.evaluate("window.xsupApp.session.annotation.version")
        assert version == 1
    finally:
        stale.close()


@pytest.fixture
def images(tmp_path, threaded_app_server):
    """A served project of its own: 2 images of 1 x 12 x 12, nothing annotated."""
    X = np.random.default_rng(1).normal(size=(2, 1, 12, 12)).astype("float32")
    folder = create_project(tmp_path / "images", X, y=[0, 1])
    return folder, threaded_app_server(folder)


def test_keep_mine_overwrites_the_newer_save_and_download_gives_my_copy(browser, page, images):
    folder, server = images
    open_app(page, server)
    mine = browser.new_page()
    try:
        open_app(mine, server)
        drag(page, [(0.1, 0.1), (0.9, 0.1)])
        expect(page.locator("#save-status")).to_have_text("saved")
        drag(mine, [(0.1, 0.9), (0.9, 0.9)])
        expect(mine.locator("#conflict-dialog")).to_be_visible()
        with mine.expect_download() as download:
            mine.locator("#conflict-download").click()
        copy = json.loads(Path(download.value.path()).read_text())
        assert copy["shape"] == [12, 12] and copy["version"] == 0
        assert copy["data"][10 * 12 + 5] == 1 and copy["data"][1 * 12 + 5] == 0
        mine.locator("#conflict-overwrite").click()
        expect(mine.locator("#save-status")).to_have_text("saved")
        E = load_annotations(folder, "default")[0]
        assert E[10, 5] == 1 and E[1, 5] == 0  # mine, over the other tab's version 1
        assert mine.evaluate("window.xsupApp.session.annotation.version") == 2
    finally:
        mine.close()


def test_a_failed_save_keeps_a_draft_that_the_next_visit_restores(browser, page, images):
    folder, server = images
    open_app(page, server, "#/annotate/1")
    page.route("**/api/samples/1/annotation*", lambda route: route.abort()
               if route.request.method == "PUT" else route.continue_())
    drag(page, [(0.1, 0.5), (0.9, 0.5)])
    expect(page.locator("#save-status")).to_contain_text("save failed")
    with pytest.raises(ValueError, match="annotators: none"):
        load_annotations(folder, "default")  # nothing reached the disk
    page.close()  # the tab is gone, its retries with it

    later = browser.new_page()
    try:
        open_app(later, server, "#/annotate/1")
        expect(later.locator("#banner")).to_contain_text("Unsaved changes of this sample")
        later.locator("#draft-restore").click()
        expect(later.locator("#save-status")).to_have_text("saved")
        E = load_annotations(folder, "default")[1]
        assert E[6, 5] == 1 and E[1, 5] == 0
        later.reload()
        expect(later.locator("body")).to_have_attribute("data-ready", "true")
        expect(later.locator("#banner")).to_be_hidden()  # the draft went with the save
    finally:
        later.close()


def test_time_series_are_annotated_as_boxes_of_time_steps_by_features(page, threaded_app_server,
                                                                      tmp_path_factory):
    X = np.random.default_rng(1).normal(size=(2, 20, 4)).astype("float32")  # (N, T, F)
    folder = create_project(tmp_path_factory.mktemp("ts") / "series", X,
                            feature_names=["price", "volume", "rate", "spread"])
    open_app(page, threaded_app_server(folder))
    expect(page.locator("#tool-box")).to_have_class("active")
    drag(page, [(0.26, 0.3), (0.49, 0.7)])  # time steps 5-9, features 1-2
    expect(page.locator("#save-status")).to_have_text("saved")
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + 0.42 * box["width"], box["y"] + 0.6 * box["height"])
    expect(page.locator("#hover")).to_have_text("t=8 feature=rate · annotation 1.00")
    E = load_annotations(folder)[0]
    expected = np.zeros((20, 4))
    expected[5:10, 1:3] = 1
    np.testing.assert_array_equal(E, expected)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, threaded_app_server, app_token):
    """Decoy digits with a few annotations and one finished round."""
    from xsup.datasets import load_decoy_digits

    X, y, E, *_ = load_decoy_digits(random_state=0, train_size=48)
    folder = create_project(tmp_path_factory.mktemp("app") / "digits", X[:48], y[:48])
    set_estimator(folder, ExplanationSupervisedClassifier(max_epochs=2, batch_size=16, loss="rrr",
                                                          train_split=None, random_state=0))
    server = threaded_app_server(folder)
    headers = {"Authorization": f"Bearer {app_token}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        for sample in range(8):
            data = [None if np.isnan(v) else float(v) for v in E[sample].ravel()]
            client.put(f"/api/samples/{sample}/annotation", headers={"If-Match": "0"},
                       json={"shape": [8, 8], "data": data, "version": 0, "strokes": 2})
        assert client.post("/api/rounds", json={}).status_code == 202
        for _ in range(600):
            rounds = client.get("/api/rounds").json()["rounds"]
            if rounds[0]["status"] not in ("starting", "training", "explaining"):
                break
            time.sleep(0.1)
    assert rounds[0]["status"] == "done", rounds
    return folder, server


def test_review_shows_the_saliency_overlay_after_a_round_and_records_ratings(page, reviewed,
                                                                             tmp_path, app_token):
    folder, server = reviewed
    open_app(page, server, "#/review/3")
    expect(page.locator("#review-panel")).to_be_visible()
    expect(page.locator("#review-facts")).to_contain_text("round 1")
    heat = page.locator("canvas.saliency")
    expect(heat).to_be_visible()
    alpha = page.evaluate("""() => { const c = document.querySelector('canvas.saliency');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")
    assert alpha == 64  # every cell of the 8 x 8 map is drawn
    for button in ("#rate-right", "#rate-wrong", "#rate-unsure"):  # nothing pre-selected
        expect(page.locator(button)).to_have_attribute("aria-pressed", "false")
    page.locator("#opacity").fill("0.8")
    page.locator("#rate-wrong").click()
    expect(page.locator("#rate-wrong")).to_have_attribute("aria-pressed", "true")
    headers = {"Authorization": f"Bearer {app_token}"}
    detail = httpx.get(f"{server.url}/api/samples/3", headers=headers).json()
    assert detail["review"]["rating"] == "wrong"
    page.locator("#sort").select_option("iou")
    expect(page.locator("#list-count")).to_have_text("48 of 48 samples")
    screenshot(page, "app-review.png", tmp_path)

    drag(page, [(0.1, 0.9), (0.3, 0.9)])  # the correction brush works from the review screen
    expect(page.locator("#save-status")).to_have_text("saved")
    assert load_annotations(folder)[3, 7, 1] == 1
    page.locator(".tab[data-tab=rounds]").click()
    expect(page.locator("#rounds-table tbody tr")).to_have_count(1)
    expect(page.locator("#rounds-table tbody tr .round-status")).to_have_text("done")
    screenshot(page, "app-rounds.png", tmp_path)
