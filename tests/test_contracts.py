"""Every registered plugin, installed third-party ones included, through the public contracts."""

from __future__ import annotations

import pytest

from xsup import plugins
from xsup.base import Plugin
from xsup.testing import (
    BackboneContract,
    ExplainerContract,
    ExplanationLossContract,
    InterpolatorContract,
)


def _plugin_fixture(kind: str):
    """A ``plugin_class`` fixture parametrised over every usable plugin of ``kind``."""
    names = plugins.available(kind)

    @pytest.fixture(params=names, ids=names)
    def plugin_class(self, request: pytest.FixtureRequest) -> type[Plugin]:
        return plugins.get(kind, request.param)

    return plugin_class


def test_every_kind_has_registered_plugins() -> None:
    for kind in plugins.KINDS:
        assert plugins.available(kind), f"no {kind} plugin is registered"


class TestLosses(ExplanationLossContract):
    plugin_class = _plugin_fixture("losses")


class TestExplainers(ExplainerContract):
    plugin_class = _plugin_fixture("explainers")


class TestInterpolators(InterpolatorContract):
    plugin_class = _plugin_fixture("interpolators")


class TestBackbones(BackboneContract):
    plugin_class = _plugin_fixture("modules")
