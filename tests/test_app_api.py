"""The annotation app's JSON API through Starlette's TestClient: security, samples, saves, review."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason='the app needs the "app" extra: pip install -e ".[app]"')
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.app import create_app, create_project, load_annotations, set_estimator

TOKEN = "api-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(folder, host="127.0.0.1"):
    return TestClient(create_app(folder, token=TOKEN, host=host, port=8765),
                      base_url="http://127.0.0.1:8765")


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 1, 8, 8)).astype("float32")
    y = np.array([0, 1] * 6)
    X[y == 1, 0, :3, :3] += 2.0  # the class shows in the top-left corner
    folder = create_project(tmp_path / "digits", X, y)
    set_estimator(folder, ExplanationSupervisedClassifier(
        loss="rrr", max_epochs=2, batch_size=6, train_split=None, random_state=0))
    return folder


@pytest.fixture
def client(project):
    with client_for(project) as client:  # runs the app's start-up and shut-down
        yield client


def corner(value=1.0):
    data = np.zeros((8, 8))
    data[:3, :3] = value
    return data.ravel().tolist()


def put(client, sample, data, version, annotator="default", **extra):
    return client.put(f"/api/samples/{sample}/annotation", params={"annotator": annotator},
                      headers={**AUTH, "If-Match": str(version)},
                      json={"shape": [8, 8], "data": data, "version": version, **extra})


def wait_for_round(client, number):
    for _ in range(600):  # the round runs in its own process; poll its state
        info = client.get("/api/rounds", headers=AUTH).json()["rounds"][number - 1]
        if info["status"] not in ("starting", "training", "explaining"):
            return info
        time.sleep(0.1)
    raise AssertionError(f"round {number} did not finish: {info}")


# ---------------------------------------------------------------------- the gate
def test_requests_without_the_token_get_401_and_with_a_wrong_one_403(client):
    assert client.get("/api/samples").status_code == 401
    assert client.get("/api/samples", headers={"Authorization": "Bearer nope-nope"}).status_code == 403
    assert client.get("/?token=wrong-token").status_code == 403
    assert client.get("/api/samples", headers=AUTH).status_code == 200


def test_the_token_in_the_url_becomes_an_httponly_strict_cookie(client):
    answer = client.get(f"/?token={TOKEN}&x=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/?x=1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"xsup_app_8765={TOKEN};") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = client.get("/")  # the client kept the cookie
    assert page.status_code == 200 and '<script type="module" src="/static/main.js">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:8765", "192.168.1.9"])
def test_a_foreign_host_header_is_refused_against_dns_rebinding(client, host):
    answer = client.get("/api/samples", headers={**AUTH, "Host": host})
    assert answer.status_code == 403 and "Host" in answer.text


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:8765", "[::1]:8765"])
def test_loopback_host_headers_are_served(client, host):
    assert client.get("/api/project", headers={**AUTH, "Host": host}).status_code == 200


def test_the_host_given_to_bind_is_accepted(project):
    client = client_for(project, host="10.1.2.3")
    assert client.get("/api/project", headers={**AUTH, "Host": "10.1.2.3:8765"}).status_code == 200
    assert client.get("/api/project", headers={**AUTH, "Host": "10.1.2.4:8765"}).status_code == 403


def test_a_short_or_unsafe_token_is_refused(project):
    for token in ("short", "has space in it", "semi;colon-token"):
        with pytest.raises(ValueError, match="token must be 8 to 256"):
            create_app(project, token=token)


def test_static_files_are_served_by_name_only(client):
    assert client.get("/static/main.js", headers=AUTH).headers["content-type"].startswith(
        "text/javascript")
    for name in ("../_server.py", "..%2F_server.py", "%2e%2e/_files.py", "/etc/passwd"):
        assert client.get(f"/static/{name}", headers=AUTH).status_code == 404


# ---------------------------------------------------------------------- samples and saves
def test_sample_list_gives_ids_kind_shape_and_status(client):
    put(client, 4, corner(), 0)
    table = client.get("/api/samples", headers=AUTH).json()
    assert (table["n_samples"], table["kind"], table["shape"]) == (12, "images", [1, 8, 8])
    assert table["ids"] == list(range(12)) and table["label"][:2] == [0, 1]
    assert table["status"][4] == "annotated" and table["status"][3] == "unannotated"
    assert table["version"][4] == 1 and table["round"] is None
    first = client.get("/api/samples", headers=AUTH, params={"sort": "unannotated"}).json()
    assert first["ids"][-1] == 4
    only = client.get("/api/samples", headers=AUTH, params={"filter": "annotated"}).json()
    assert only["ids"] == [4]


def test_annotation_is_version_0_and_all_null_before_the_first_save(client):
    body = client.get("/api/samples/0/annotation", headers=AUTH).json()
    assert body == {"shape": [8, 8], "data": [None] * 64, "version": 0, "filled": []}


def test_put_answers_the_new_version_and_a_stale_put_gets_409(client, project):
    first = put(client, 2, corner(), 0, strokes=2)
    assert first.status_code == 200 and first.json() == {"version": 1}
    assert first.headers["etag"] == '"1"'
    stale = put(client, 2, corner(-1), 0)
    assert stale.status_code == 409 and stale.json()["version"] == 1
    data = corner()
    data[-1] = None  # NaN travels as null
    assert put(client, 2, data, 1).json() == {"version": 2}
    body = client.get("/api/samples/2/annotation", headers=AUTH).json()
    assert body["version"] == 2 and body["data"][-1] is None and body["data"][0] == 1
    E = load_annotations(project)
    assert E[2, 0, 0] == 1 and np.isnan(E[2, 7, 7]) and np.isnan(E[3]).all()


def test_annotators_have_their_own_layers_and_versions(client, project):
    assert put(client, 1, corner(), 0, annotator="alice").json() == {"version": 1}
    assert put(client, 1, corner(-1), 0, annotator="bob").json() == {"version": 1}
    assert load_annotations(project, "alice")[1, 0, 0] == 1
    assert load_annotations(project)[1, 0, 0] == 0  # mean of 1 and -1
    detail = client.get("/api/samples/1", headers=AUTH).json()
    assert detail["annotations"] == {"alice": 1, "bob": 1}


@pytest.mark.parametrize(("body", "headers", "message"), [
    ({"shape": [8, 7], "data": [0] * 56, "version": 0}, {}, "shape must be \\[8, 8\\]"),
    ({"shape": [8, 8], "data": [0] * 63, "version": 0}, {}, "data must be a list of 64 values"),
    ({"shape": [8, 8], "data": ["x"] * 64, "version": 0}, {}, "numbers and null only"),
    ({"shape": [8, 8], "data": [3] * 64, "version": 0}, {}, "must lie in \\[-1, 1\\]"),
    ({"shape": [8, 8], "data": [0] * 64}, {}, "send the version"),
    ({"shape": [8, 8], "data": [0] * 64, "version": 0}, {"If-Match": "*"}, "If-Match must be"),
    ({"shape": [8, 8], "data": [0] * 64, "version": 0, "strokes": -1}, {}, "strokes must be"),
    ({"shape": [8, 8], "data": [0] * 64, "version": 0, "filled": [0]}, {},
     "filled applies to raster sequences only"),
])
def test_a_bad_save_gets_400_with_its_reason(client, body, headers, message):
    answer = client.put("/api/samples/0/annotation", headers={**AUTH, **headers}, json=body)
    assert answer.status_code == 400
    import re

    assert re.search(message, answer.json()["error"])


@pytest.mark.parametrize(("url", "message"), [
    ("/api/samples/12", "sample index must be in \\[0, 11\\]"),
    ("/api/samples/x1/annotation", "sample index must be a non-negative integer"),
    ("/api/samples/0/annotation?annotator=../../etc", "annotator must be"),
    ("/api/samples?sort=random", "sort must be one of"),
    ("/api/samples?filter=wrong", "need a finished round"),
    ("/api/samples/0/input?frame=1", "frame applies to raster sequences only"),
    ("/api/samples/0/saliency", "no round has finished yet"),
])
def test_bad_requests_get_400_with_their_reason(client, url, message):
    import re

    answer = client.get(url, headers=AUTH)
    assert answer.status_code == 400 and re.search(message, answer.json()["error"])


def test_a_body_that_is_not_json_is_refused(client):
    answer = client.put("/api/samples/0/annotation", headers={**AUTH, "content-type": "text/plain"},
                        content=b"{}")
    assert answer.status_code == 400 and "Content-Type: application/json" in answer.json()["error"]


def test_input_comes_as_float32_bytes_with_its_shape(client, project):
    answer = client.get("/api/samples/5/input", headers=AUTH)
    assert answer.headers["x-array-shape"] == "1,8,8"
    from xsup.app._project import Project

    np.testing.assert_array_equal(np.frombuffer(answer.content, "<f4").reshape(1, 8, 8),
                                  Project(project).X[5])


def test_raster_frames_are_served_one_at_a_time(tmp_path):
    X = np.arange(2 * 3 * 2 * 4 * 5, dtype="float32").reshape(2, 3, 2, 4, 5)
    client = client_for(create_project(tmp_path / "seq", X))
    answer = client.get("/api/samples/1/input", headers=AUTH, params={"frame": 2})
    assert answer.headers["x-array-shape"] == "2,4,5"
    np.testing.assert_array_equal(np.frombuffer(answer.content, "<f4").reshape(2, 4, 5), X[1, 2])
    assert client.get("/api/samples/1/input", headers=AUTH, params={"frame": 3}).status_code == 400
    body = {"shape": [3, 4, 5], "data": [None] * 20 + [0] * 40, "version": 0, "filled": [1]}
    assert client.put("/api/samples/0/annotation", headers=AUTH, json=body).status_code == 200
    assert client.get("/api/samples/0/annotation", headers=AUTH).json()["filled"] == [1]
    assert client.get("/api/samples", headers=AUTH).json()["status"][0] == "unannotated"


# ---------------------------------------------------------------------- rounds and review
def test_a_round_trains_in_its_own_process_resumes_then_review_sorts_rates_and_compares(client, project):
    for sample in range(1, 12, 2):
        put(client, sample, corner(), 0, strokes=1)
    started = client.post("/api/rounds", headers=AUTH, json={})
    assert started.status_code == 202 and started.json()["round"] == 1
    busy = client.post("/api/rounds", headers=AUTH, json={})  # while round 1 starts up
    assert busy.status_code == 409 and "still running" in busy.json()["error"]
    cancelled = client.post("/api/rounds/1/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    resumed = client.post("/api/rounds/1/resume", headers=AUTH)  # from its folder and checkpoints
    assert resumed.status_code == 200 and resumed.json()["status"] == "starting"
    info = wait_for_round(client, 1)
    assert info["status"] == "done", info
    assert client.post("/api/rounds/1/resume", headers=AUTH).status_code == 400
    assert (info["n_annotated"], info["n_supervised"], info["strokes"]) == (6, 6, 6)
    assert 0 <= info["scores"]["accuracy"] <= 1 and info["scores"]["n_iou"] == 6
    assert (project / "rounds" / "1" / "model" / "params.pt").is_file()

    table = client.get("/api/samples", headers=AUTH, params={"sort": "iou"}).json()
    iou = table["iou"]
    assert table["round"] == 1 and all(value is not None for value in iou[:6])
    assert iou[:6] == sorted(iou[:6]) and iou[6:] == [None] * 6
    wrong = sorted(i for i, correct in zip(table["ids"], table["correct"]) if correct is False)
    assert client.get("/api/samples", headers=AUTH,
                      params={"filter": "misclassified"}).json()["ids"] == wrong
    for sort in ("error", "uncertainty"):
        column = client.get("/api/samples", headers=AUTH, params={"sort": sort}).json()[sort]
        assert column == sorted(column, reverse=True)
    saliency = client.get("/api/samples/3/saliency", headers=AUTH)
    values = np.frombuffer(saliency.content, "<f4")
    assert saliency.headers["x-array-shape"] == "8,8" and 0 <= values.min() <= values.max() <= 1

    worst = table["ids"][0]
    rated = client.put(f"/api/samples/{worst}/rating", headers=AUTH,
                       json={"round": 1, "rating": "wrong"})
    assert rated.json() == {"round": 1, "rating": "wrong"}
    assert client.get(f"/api/samples/{worst}", headers=AUTH).json()["review"]["rating"] == "wrong"
    wrong = client.get("/api/samples", headers=AUTH, params={"filter": "wrong"}).json()
    assert wrong["ids"] == [worst]
    bad = client.put("/api/samples/0/rating", headers=AUTH, json={"round": 1, "rating": "yes"})
    assert bad.status_code == 400 and "rating must be one of right, wrong, unsure" in bad.text

    second = client.post("/api/rounds", headers=AUTH, json={"wrong_reason_only": True})
    assert second.status_code == 202
    info = wait_for_round(client, 2)
    assert info["status"] == "done" and info["n_supervised"] == 1 and info["ratings"] == 1
    supervised = np.load(project / "rounds" / "2" / "supervised.npy")
    assert np.flatnonzero(supervised).tolist() == [worst]

    maps = client.get(f"/api/samples/{worst}/compare", headers=AUTH).json()["maps"]
    assert [m["label"] for m in maps] == ["A", "B"] and sorted(m["round"] for m in maps) == [1, 2]
    assert {m["round"]: m["rating"] for m in maps} == {1: "wrong", 2: None}
    again = client.get(f"/api/samples/{worst}/compare", headers=AUTH).json()["maps"]
    assert again == maps  # the same order on every visit


def test_a_regressor_project_trains_a_round_and_sorts_by_error(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 1, 8, 8)).astype("float32")
    y = X[:, 0, :3, :3].mean(axis=(1, 2))  # the target lives in the top-left corner
    folder = create_project(tmp_path / "corners", X, y)
    set_estimator(folder, ExplanationSupervisedRegressor(
        loss="gradia", max_epochs=2, batch_size=6, train_split=None, random_state=0))
    with client_for(folder) as client:
        for sample in range(4):
            put(client, sample, corner(), 0)
        assert client.post("/api/rounds", headers=AUTH, json={}).status_code == 202
        info = wait_for_round(client, 1)
        assert info["status"] == "done", info
        assert "accuracy" not in info["scores"] and info["scores"]["n_iou"] == 4
        table = client.get("/api/samples", headers=AUTH, params={"sort": "error"}).json()
        errors = table["error"]
        assert errors == sorted(errors, reverse=True)
        np.testing.assert_allclose(errors, np.abs(np.ravel(table["prediction"]) - y[table["ids"]]),
                                   rtol=1e-5)
        assert set(table["correct"]) == {None}
        assert client.get("/api/samples", headers=AUTH,
                          params={"filter": "misclassified"}).json()["ids"] == []


def test_round_requests_are_checked(client, project):
    for body, message in [({"merge": "median"}, "merge must be one of"),
                          ({"annotators": "alice"}, "annotators must be a list"),
                          ({"wrong_reason_only": "yes"}, "wrong_reason_only must be true or false"),
                          ({"epochs": 3}, "unknown field 'epochs'"),
                          ({"source": "model"}, "no model/params.pt"),
                          ({"wrong_reason_only": True}, "no finished round has been rated")]:
        answer = client.post("/api/rounds", headers=AUTH, json=body)
        assert answer.status_code == 400 and message in answer.json()["error"], body
    assert client.post("/api/rounds/7/cancel", headers=AUTH).status_code == 404
    assert not (project / "rounds").exists() or not any((project / "rounds").iterdir())


def test_a_failed_round_reports_a_one_line_reason(client, project):
    (project / "estimator.json").write_text('{"estimator": "classifier", "params": {"lr": "fast"}}')
    assert client.post("/api/rounds", headers=AUTH, json={}).status_code == 202
    info = wait_for_round(client, 1)
    assert info["status"] == "failed" and "\n" not in info["message"] and info["message"]
    assert client.post("/api/rounds/1/cancel", headers=AUTH).status_code == 400


def test_export_downloads_the_merged_annotations(client):
    put(client, 0, corner(), 0)
    answer = client.get("/api/export.npy", headers=AUTH)
    assert 'attachment; filename="digits-E.npy"' == answer.headers["content-disposition"]
    import io

    E = np.load(io.BytesIO(answer.content))
    assert E.shape == (12, 8, 8) and E[0, 0, 0] == 1 and np.isnan(E[1]).all()


# ---------------------------------------------------------------------- the command
@pytest.mark.parametrize(("argv", "message"), [
    (["app", "missing-folder"], "is not an xsup app project"),
    (["app", ".", "--port", "70000"], "--port must be at most 65535"),
    (["app", ".", "--port", "-1"], "must be a non-negative integer"),
    (["app", ".", "--token", "short"], "token must be 8 to 256"),
])
def test_xsup_app_reports_bad_arguments_on_one_line(tmp_path, monkeypatch, capsys, argv, message):
    from xsup.cli.main import main

    create_project(tmp_path / "p", np.zeros((2, 3)))
    monkeypatch.chdir(tmp_path / "p")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and err.startswith("xsup")
