"""Killing the server at any moment leaves every acknowledged save readable on disk."""

from __future__ import annotations

import numpy as np
import pytest

from xsup.app import create_project

pytest.importorskip("uvicorn", reason='the app needs the "app" extra: pip install -e ".[app]"')
httpx = pytest.importorskip("httpx")



@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_during_saves_loses_no_acknowledged_save(tmp_path, seed, kill_during_saves):
    project = create_project(tmp_path / "p", np.zeros((4, 1, 64, 64), dtype="float32"))
    outcome = kill_during_saves(project, seed)
    assert outcome["acknowledged"] >= 6
    assert (outcome["lost"], outcome["unreadable"], outcome["database_ok"]) == (0, 0, 1)


def test_a_restarted_server_serves_what_the_killed_one_acknowledged(tmp_path, app_server,
                                                                   app_token):
    project = create_project(tmp_path / "p", np.zeros((2, 3)))
    headers = {"Authorization": f"Bearer {app_token}"}
    first = app_server(project)
    answer = httpx.put(f"{first.url}/api/samples/1/annotation", headers={**headers, "If-Match": "0"},
                       json={"shape": [3], "data": [1, -1, None], "version": 0})
    assert answer.json() == {"version": 1}
    first.kill()
    second = app_server(project)
    body = httpx.get(f"{second.url}/api/samples/1/annotation", headers=headers).json()
    assert body == {"shape": [3], "data": [1, -1, None], "version": 1, "filled": []}
    table = httpx.get(f"{second.url}/api/samples", headers=headers).json()
    assert table["status"] == ["unannotated", "annotated"]
    from xsup.app import serve

    with pytest.raises(ValueError, match="another 'xsup app' is already serving"):
        serve(project, port=0)  # a second server on the project would race on versions
