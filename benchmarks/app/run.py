"""Measure the annotation app against the issue's targets; write results.md and results.json here.

Targets:
- a 10,000-sample project: the sample list loads in < 1 s; opening a 512 x 512 frame < 200 ms;
- brush: < 16 ms per stroke segment on a 512 x 512 frame in headless Chromium (timed in the page);
- killing the server during saves, 50 tries: 0 acknowledged saves lost or unreadable.

Needs the test extra and Chromium (as the browser tests). It writes a 10,000 x 1 x 512 x 512
float16 project (5.2 GB) to a temporary folder and deletes it at the end; ``--samples`` makes
it smaller. Run from the repository root::

    python benchmarks/app/run.py [--samples 10000] [--kill-tries 50]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from xsup import ExplanationSupervisedClassifier
from xsup.app import create_project, set_estimator
from xsup.app._annotations import AnnotationStore
from xsup.app._project import Project

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def harness():
    """The browser tests' helpers (server subprocess, Chromium flags, the kill-during-saves check)."""
    spec = importlib.util.spec_from_file_location("app_test_harness", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary(values):
    values = sorted(values)
    return {"n": len(values), "median": statistics.median(values),
            "p95": values[min(len(values) - 1, int(0.95 * len(values)))], "max": values[-1]}


def big_project(folder: Path, n: int) -> Path:
    """n samples of 1 x 512 x 512 (float16), a fifth of them annotated with a disc."""
    X = np.lib.format.open_memmap(folder / "source.npy", mode="w+", dtype=np.float16,
                                  shape=(n, 1, 512, 512))
    rng = np.random.default_rng(0)
    for start in range(0, n, 256):
        stop = min(n, start + 256)
        X[start:stop] = rng.standard_normal((stop - start, 1, 512, 512), dtype=np.float32)
    project = create_project(folder / "project", X, y=np.arange(n) % 2)
    (folder / "source.npy").unlink()
    yy, xx = np.mgrid[:512, :512]
    disc = np.where((yy - 256) ** 2 + (xx - 256) ** 2 < 80**2, 1.0, 0.0).astype(np.float32)
    store = AnnotationStore(Project(project))
    store.write_many("default", {i: disc for i in range(0, n, 5)})
    store.close()
    return project


def small_round_project(folder: Path, n: int) -> Path:
    """n samples of 1 x 16 x 16 with one finished round, for the list with review columns."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 1, 16, 16)).astype("float32")
    y = np.arange(n) % 2
    X[y == 1, 0, :4, :4] += 1
    E = np.full((n, 16, 16), np.nan, dtype="float32")
    E[::5] = 0
    E[::5, :4, :4] = 1
    project = create_project(folder / "round", X, y, E)
    set_estimator(project, ExplanationSupervisedClassifier(max_epochs=1, batch_size=256, loss="rrr",
                                                           train_split=None, random_state=0))
    return project


def browser_numbers(h, project: Path, round_project: Path, playwright) -> dict:
    import httpx

    results: dict = {}
    context = playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="xsup-bench-"), executable_path=h.chromium_path(),
        args=h.CHROMIUM_FLAGS, headless=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    server = h.AppServer(project)
    try:
        headers = {"Authorization": f"Bearer {h.APP_TOKEN}"}
        api = []
        for _ in range(5):
            started = time.perf_counter()
            httpx.get(f"{server.url}/api/samples", headers=headers, timeout=60).raise_for_status()
            api.append(1000 * (time.perf_counter() - started))
        results["list_api_ms"] = summary(api)
        page.goto(server.first_url)
        page.wait_for_selector("body[data-ready=true]", timeout=120000)
        results["list_page_ms"] = summary([page.evaluate(
            "async () => { const t = performance.now(); await window.xsupApp.loadList(); "
            "return performance.now() - t; }") for _ in range(5)])
        opening = [page.evaluate(
            f"async () => {{ const t = performance.now(); await window.xsupApp.openSample({i}); "
            "return performance.now() - t; }") for i in list(range(1, 40, 2)) + list(range(0, 100, 5))]
        results["open_frame_ms"] = summary(opening)
        for size in (8, 32, 64):
            page.evaluate("() => { window.xsupPerf.brush.length = 0; "
                          "document.querySelector('#size').max = '128'; }")
            page.fill("#size", str(size))
            page.dispatch_event("#size", "input")
            box = page.locator("#overlay").bounding_box()
            page.mouse.move(box["x"] + 20, box["y"] + 20)
            page.mouse.down()
            for k in range(200):  # a zigzag over the whole frame
                page.mouse.move(box["x"] + 20 + (k % 20) * box["width"] / 22,
                                box["y"] + 20 + k * (box["height"] - 40) / 200)
            page.mouse.up()
            times = page.evaluate("window.xsupPerf.brush.slice()")
            results[f"brush_segment_ms_size_{size}"] = summary(times)
        page.wait_for_selector("#save-status.saved", timeout=60000)
    finally:
        server.stop()
    server = h.AppServer(round_project)
    try:
        headers = {"Authorization": f"Bearer {h.APP_TOKEN}"}
        httpx.post(f"{server.url}/api/rounds", headers=headers, json={}).raise_for_status()
        for _ in range(3000):
            info = httpx.get(f"{server.url}/api/rounds", headers=headers).json()["rounds"][0]
            if info["status"] not in ("starting", "training", "explaining"):
                break
            time.sleep(0.2)
        results["round_seconds"] = info.get("seconds")
        api = []
        for _ in range(5):
            started = time.perf_counter()
            httpx.get(f"{server.url}/api/samples", headers=headers,
                      params={"sort": "iou"}, timeout=60).raise_for_status()
            api.append(1000 * (time.perf_counter() - started))
        results["list_api_with_round_sorted_by_iou_ms"] = summary(api)
    finally:
        server.stop()
        context.close()
    return results


def kill_numbers(h, folder: Path, tries: int) -> dict:
    outcomes = []
    for seed in range(tries):
        project = create_project(folder / f"kill-{seed}", np.zeros((3, 1, 512, 512), "float16"))
        outcomes.append(h.kill_during_saves_once(project, seed))
        shutil.rmtree(project)
    return {"tries": tries, "acknowledged_saves": sum(o["acknowledged"] for o in outcomes),
            "lost": sum(o["lost"] for o in outcomes),
            "unreadable": sum(o["unreadable"] for o in outcomes),
            "database_checks_ok": sum(o["database_ok"] for o in outcomes)}


def write_report(results: dict) -> None:
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    r = results
    lines = [
        "# Annotation app: measured against the targets", "",
        (f"Machine: {r['machine']}. Browser: headless {r['chromium']}. "
         f"Project: {r['samples']} samples of 1 x 512 x 512 (float16), every fifth annotated."), "",
        "| measure | target | median | p95 | max |", "|---|---|---|---|---|",
    ]
    rows = [("sample list, page (fetch + parse + render)", "< 1 s", "list_page_ms"),
            ("sample list, API alone", "", "list_api_ms"),
            ("open a 512 x 512 frame (sample, input, annotation, draw)", "< 200 ms", "open_frame_ms"),
            ("brush segment, size 8", "< 16 ms", "brush_segment_ms_size_8"),
            ("brush segment, size 32", "< 16 ms", "brush_segment_ms_size_32"),
            ("brush segment, size 64", "< 16 ms", "brush_segment_ms_size_64"),
            (f"sample list sorted by IoU, {r['round_samples']} samples with a round (API)", "",
             "list_api_with_round_sorted_by_iou_ms")]
    for text, target, key in rows:
        s = r[key]
        lines.append(f"| {text} | {target} | {s['median']:.1f} ms | {s['p95']:.1f} ms | "
                     f"{s['max']:.1f} ms |")
    k = r["kill"]
    lines += ["", (f"Kill test: {k['tries']} tries of SIGKILL during saves from 3 clients, "
                   f"{k['acknowledged_saves']} acknowledged saves: **{k['lost']} lost, "
                   f"{k['unreadable']} unreadable**; the SQLite integrity check passed "
                   f"{k['database_checks_ok']} of {k['tries']} times (target: 0 lost or "
                   "unreadable)."), ""]
    lines += [
        "What is timed:", "",
        ("- *sample list, page*: `loadList()` in the page, from the request to the rendered virtual "
        "list; *API alone*: a fresh HTTP client's GET of `/api/samples` (connection set-up and "
        "JSON decoding in Python included)."),
        ("- *open a frame*: `openSample(i)` in the page for 40 samples (a fifth annotated): the "
        "sample's facts, its input (1 MiB of float32) and its annotation (262,144 values as "
        "JSON) fetched in parallel, then the input and annotation layers drawn."),
        ("- *brush segment*: the work of one pointer-move event of a stroke (the cells within the "
        "brush along the segment, and redrawing that rectangle with `putImageData`), timed with "
        "`performance.now()` in the page over a 200-segment zigzag across the frame; the "
        "browser's compositing of the next frame is not included."),
        (f"- the round behind the last row trained and explained {r['round_samples']} samples of "
        f"1 x 16 x 16 in {r['round_seconds']:.0f} s."),
        ("- the kill test is `tests/conftest.py`'s `kill_during_saves_once` (512 x 512 "
        "annotations), as in `tests/test_app_kill.py`, 50 times."), "",
        "The machine was shared with other work while this ran; the numbers are indicative.", ""]
    (HERE / "results.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--round-samples", type=int, default=10_000)
    parser.add_argument("--kill-tries", type=int, default=50)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    h = harness()
    folder = Path(tempfile.mkdtemp(prefix="xsup-app-bench-"))
    try:
        results = {"samples": args.samples, "round_samples": args.round_samples,
                   "machine": f"{platform.machine()}, {platform.system()}, Python "
                              f"{platform.python_version()}"}
        project = big_project(folder, args.samples)
        round_project = small_round_project(folder, args.round_samples)
        with sync_playwright() as playwright:
            results.update(browser_numbers(h, project, round_project, playwright))
        version = subprocess.run([h.chromium_path(), "--version"], capture_output=True, text=True,
                                 check=True)
        results["chromium"] = version.stdout.split(" built")[0].strip()
        shutil.rmtree(project)
        results["kill"] = kill_numbers(h, folder, args.kill_tries)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    write_report(results)
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
