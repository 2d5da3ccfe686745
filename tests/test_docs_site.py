"""The documentation site builds with every warning treated as an error.

``mkdocs build --strict`` fails on a nav entry or link to a missing page, a
broken anchor, a page left out of the nav, and on every problem mkdocstrings
and griffe report while generating the API reference from the numpydoc
docstrings (a section they cannot parse, a parameter without a type, a
cross-reference that does not resolve).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason='the docs need the "docs" extra: pip install -e ".[docs]"')
pytest.importorskip("material", reason='the docs need the "docs" extra: pip install -e ".[docs]"')
pytest.importorskip("mkdocstrings_handlers.python", reason='the docs need the "docs" extra')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    log = result.stdout + result.stderr
    if result.returncode != 0 or "WARNING" in log:
        pytest.fail(f"mkdocs build --strict failed (exit {result.returncode}):\n{log}", pytrace=False)
    return out


def test_site_builds_without_warnings(site: Path) -> None:
    assert (site / "index.html").is_file()


@pytest.mark.parametrize(
    ("page", "identifier"),
    [
        ("api/estimators", "xsup.ExplanationSupervisedClassifier.explain"),
        ("api/plugins", "xsup.plugins.register"),
        ("api/base", "xsup.base.ExplanationLoss"),
        ("api/base", "xsup.batch.ExplanationBatch"),
        ("api/testing", "xsup.testing.ExplanationLossContract"),
        ("api/metrics", "xsup.metrics.explanation_iou"),
        ("api/datasets", "xsup.datasets.make_spatiotemporal_events"),
        ("api/losses", "xsup.losses.STESLoss"),
        ("api/tuning", "xsup.tuning.tune"),
    ],
)
def test_api_reference_is_generated_from_docstrings(site: Path, page: str, identifier: str) -> None:
    html = (site / page / "index.html").read_text()
    assert f'id="{identifier}"' in html


def test_sphinx_roles_become_links(site: Path) -> None:
    html = (site / "api" / "tuning" / "index.html").read_text()
    assert ":func:`" not in html and ":class:`" not in html
    assert 'href="#xsup.tuning.search_space"' in html


def test_every_page_in_docs_is_built(site: Path) -> None:
    pages = [p.relative_to(ROOT / "docs") for p in (ROOT / "docs").rglob("*.md")]
    missing = [str(p) for p in pages if not (site / p.with_suffix("") / "index.html").is_file()
               and not (p.name == "index.md" and (site / p.parent / "index.html").is_file())]
    assert not missing


QUOTE = re.compile(r'^```\w+ title="(?P<path>[^"]+)"\n(?P<body>.*?)^```', flags=re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", ["plugins.md"])
def test_quoted_files_are_excerpts_of_the_real_files(page: str) -> None:
    """A code block titled with a repository path quotes that file verbatim."""
    quotes = list(QUOTE.finditer((ROOT / "docs" / page).read_text()))
    assert quotes
    for quote in quotes:
        source = ROOT / quote["path"]
        assert source.is_file(), f"{page} quotes {quote['path']}, which does not exist"
        assert quote["body"] in source.read_text(), f"{page}: the quote of {quote['path']} has drifted"
