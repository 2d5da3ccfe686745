"""Public contract tests for xsup plugins, one class per plugin kind.

Subclass a contract in a pytest module (under a name starting with ``Test``)
and override its one required fixture, ``plugin_class``; the optional fixture
``plugin_params`` gives keyword arguments to build the plugin. The checks run
small random tensors through xsup's own tiny backbones and explainers, in
seconds on a CPU. A loss or explainer declines an input kind by raising
``ValueError`` from ``setup(spec)`` or ``explain``: the checks of that kind are
then skipped with its message, and at least one kind must work. Needs pytest
(and Optuna for the search-space check).

Examples
--------
In ``tests/test_my_loss.py`` of a plugin package::

    import pytest
    from xsup.testing import ExplanationLossContract
    from my_package import MyLoss

    class TestMyLoss(ExplanationLossContract):
        @pytest.fixture
        def plugin_class(self):
            return MyLoss
"""

from __future__ import annotations

import contextlib
import math
import pickle
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import torch
from sklearn.base import clone
from torch import nn

from xsup import plugins
from xsup.base import Backbone, Explainer, ExplanationLoss, Interpolator, Plugin
from xsup.batch import ExplanationBatch, annotated_frames
from xsup.constraints import InvalidParameterError, invalid_values
from xsup.objective import ExplanationObjective
from xsup.spec import InputKind, InputSpec

__all__ = ["INPUT_KINDS", "SAMPLE_SHAPES", "BackboneContract", "ExplainerContract",
           "ExplanationLossContract", "InterpolatorContract", "random_annotation", "tiny_backbone",
           "tiny_spec"]

PluginClass = type[Plugin]
Params = dict[str, Any]

#: Every input kind, in the order the checks visit them.
INPUT_KINDS: tuple[InputKind, ...] = ("tabular", "time_series", "images", "raster_sequences")
#: Shape of one sample of the checks' random inputs, per input kind.
SAMPLE_SHAPES: dict[InputKind, tuple[int, ...]] = {
    "tabular": (6,), "time_series": (5, 3), "images": (2, 8, 8), "raster_sequences": (3, 1, 8, 8),
}
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
N_SAMPLES, N_OUTPUTS = 4, 3


def tiny_spec(kind: InputKind) -> InputSpec:
    """The :class:`~xsup.spec.InputSpec` of the checks' random data of one kind."""
    return InputSpec(kind, SAMPLE_SHAPES[kind], N_OUTPUTS)


def tiny_backbone(spec: InputSpec) -> Backbone:
    """A small built-in backbone for ``spec``: MLP, TCN, CNN or CNN+GRU."""
    from xsup.modules import CNN, CNNGRU, MLP, TCN

    shape, n_outputs = spec.sample_shape, spec.n_outputs
    if spec.kind == "tabular":
        return MLP(shape, n_outputs, hidden=(8,))
    if spec.kind == "time_series":
        return TCN(shape, n_outputs, channels=(4, 4))
    if spec.kind == "images":
        return CNN(shape, n_outputs, channels=(4, 4))
    return CNNGRU(shape, n_outputs, channels=(4,), hidden=4)


def random_annotation(spec: InputSpec, n_samples: int = N_SAMPLES) -> torch.Tensor:
    """Random E in {-1, 0, 1} with a positive cell in every target (last) frame.

    One cell of sample 1 is NaN; for sequences, frame 0 of sample 0 is missing (all NaN).
    """
    codes = torch.randint(-1, 2, (n_samples, *spec.annotation_shape)).float()
    flat = codes.view(n_samples, -1)
    frame_size = math.prod(spec.annotation_shape[1:]) if spec.is_sequence else flat.shape[1]
    flat[:, flat.shape[1] - frame_size] = 1.0
    flat[1, -1] = float("nan")
    if spec.is_sequence:
        codes[0, 0] = float("nan")
    return codes


def _assert_trains(value: torch.Tensor, module: nn.Module, what: str) -> None:
    """``value`` has finite gradients, not all zero, reaching ``module``'s parameters."""
    gradients: list[torch.Tensor | None] = []
    if value.requires_grad:
        parameters = [p for p in module.parameters() if p.requires_grad]
        gradients = list(torch.autograd.grad(value, parameters, allow_unused=True, retain_graph=True))
    found = [g for g in gradients if g is not None]
    assert found, f"{what} has no gradient reaching the parameters of {type(module).__name__}."
    assert all(bool(torch.isfinite(g).all()) for g in found), f"{what} has non-finite gradients."
    assert any(bool(g.abs().sum() > 0) for g in found), f"{what} has only zero gradients."


def _assert_finite_scalar(value: Any, what: str) -> None:
    assert isinstance(value, torch.Tensor), f"{what} must be a tensor; got {type(value).__name__}."
    assert value.dim() == 0, f"{what} must be a scalar; got shape {tuple(value.shape)}."
    assert value.dtype.is_floating_point, f"{what} must be floating point; got {value.dtype}."
    assert bool(torch.isfinite(value)), f"{what} must be finite; got {value.item()}."


def _hooks_left(model: nn.Module) -> list[str]:
    return [f"{name or 'model'}.{attribute}" for name, module in model.named_modules()
            for attribute in HOOK_DICTS if getattr(module, attribute, None)]


class _PluginContract:
    """Checks shared by every plugin kind."""

    #: The plugin kind, as :mod:`xsup.plugins` names it.
    kind: ClassVar[str] = ""
    base_class: ClassVar[PluginClass] = Plugin
    #: Boolean class attributes the kind declares.
    flags: ClassVar[tuple[str, ...]] = ()
    #: Parameters the estimator sets itself, never tuned.
    fixed_parameters: ClassVar[tuple[str, ...]] = ()

    @pytest.fixture
    def plugin_class(self) -> PluginClass:
        """The plugin class under test: override this fixture."""
        raise NotImplementedError(f"{type(self).__name__} must override the plugin_class fixture.")

    @pytest.fixture
    def plugin_params(self) -> Params:
        """Keyword arguments that build the plugin (default: none)."""
        return {}

    def build(self, plugin_class: PluginClass, plugin_params: Params) -> Plugin:
        """Instantiate the plugin under test."""
        return plugin_class(**plugin_params)

    def test_derives_from_base_class(self, plugin_class: PluginClass) -> None:
        base = self.base_class
        assert isinstance(plugin_class, type) and issubclass(plugin_class, base), (
            f"{plugin_class!r} must derive from {base.__module__}.{base.__name__}."
        )
        assert not getattr(plugin_class, "__abstractmethods__", None), "abstract methods are left."
        for flag in self.flags:
            assert isinstance(getattr(plugin_class, flag), bool), f"{flag} must be a bool."

    def test_get_params_round_trip_through_clone(
        self, plugin_class: PluginClass, plugin_params: Params
    ) -> None:
        plugin = self.build(plugin_class, plugin_params)
        params = plugin.get_params(deep=False)
        assert sorted(params) == sorted(plugin_class._get_param_names())
        cloned = clone(plugin)  # raises when __init__ alters or drops an argument
        assert type(cloned) is plugin_class
        assert sorted(cloned.get_params(deep=False)) == sorted(params)
        for name, value in plugin_params.items():
            assert params[name] is value, f"__init__ must store {name!r} as given."

    def test_pickles(self, plugin_class: PluginClass, plugin_params: Params) -> None:
        plugin = self.build(plugin_class, plugin_params)
        restored = pickle.loads(pickle.dumps(plugin))
        assert type(restored) is plugin_class
        assert sorted(restored.get_params(deep=False)) == sorted(plugin.get_params(deep=False))

    def test_declares_constraints_for_every_parameter(self, plugin_class: PluginClass) -> None:
        own = set(plugin_class._get_param_names()) - set(self.fixed_parameters)
        declared = set(plugin_class.parameter_constraints)
        assert own <= declared, (
            f"parameter_constraints of {plugin_class.__name__} must declare every __init__ "
            f"parameter; missing: {sorted(own - declared)}."
        )
        assert declared <= own | set(self.fixed_parameters), (
            f"parameter_constraints of {plugin_class.__name__} declares unknown parameters "
            f"{sorted(declared - own - set(self.fixed_parameters))}."
        )

    def test_defaults_satisfy_the_constraints(
        self, plugin_class: PluginClass, plugin_params: Params
    ) -> None:
        plugin = self.build(plugin_class, plugin_params)
        params = {k: v for k, v in plugin.get_params(deep=False).items()
                  if k not in self.fixed_parameters}
        plugins.configure(self.kind, plugin_class, params)  # raises for a refused value

    def test_invalid_option_values_are_refused(
        self, plugin_class: PluginClass, plugin_params: Params
    ) -> None:
        prefix = plugins.KINDS[self.kind].prefix
        for name, allowed in plugin_class.parameter_constraints.items():
            if name in self.fixed_parameters:
                continue
            for value in invalid_values(allowed):
                with pytest.raises(InvalidParameterError, match=rf"^{prefix}__{name} must be "):
                    plugins.configure(self.kind, plugin_class, {**plugin_params, name: value})

    def test_search_space_names_tunable_parameters(self, plugin_class: PluginClass) -> None:
        distributions = pytest.importorskip("optuna.distributions", reason="needs optuna")
        space = plugin_class.search_space()
        assert isinstance(space, dict), f"search_space() must return a dict; got {type(space)}."
        own = set(plugin_class._get_param_names()) - set(self.fixed_parameters)
        for name, distribution in space.items():
            assert name in own or name in plugins.SHARED_PARAMETERS, (
                f"search_space() key {name!r} is neither an __init__ parameter of "
                f"{plugin_class.__name__} ({sorted(own)}) nor one of {plugins.SHARED_PARAMETERS}."
            )
            assert isinstance(distribution, distributions.BaseDistribution), (
                f"search_space()[{name!r}] must be an Optuna distribution; got {distribution!r}."
            )


class _KindContract(_PluginContract):
    """A contract whose checks run once per input kind."""

    @pytest.fixture(params=INPUT_KINDS)
    def input_kind(self, request: pytest.FixtureRequest) -> InputKind:
        """Each input kind in turn."""
        return request.param

    def try_kind(self, plugin: Plugin, kind: InputKind) -> None:
        """Use ``plugin`` on ``kind``; a ``ValueError`` means it declines the kind."""
        plugin.setup(tiny_spec(kind))

    def declined(self, plugin: Plugin, kind: InputKind) -> str | None:
        """The plugin's ``ValueError`` message if it declines ``kind``, else None."""
        try:
            self.try_kind(plugin, kind)
        except ValueError as exc:
            return str(exc) or type(exc).__name__
        return None

    def skip_declined(self, plugin: Plugin, kind: InputKind) -> None:
        reason = self.declined(plugin, kind)
        if reason is not None:
            pytest.skip(f"{type(plugin).__name__} does not take {kind} input: {reason}")

    def test_supports_an_input_kind(self, plugin_class: PluginClass, plugin_params: Params) -> None:
        plugin = self.build(plugin_class, plugin_params)
        reasons = {kind: self.declined(plugin, kind) for kind in INPUT_KINDS}
        assert None in reasons.values(), f"no input kind works: {reasons}"


class ExplanationLossContract(_KindContract):
    """Contract of :class:`xsup.base.ExplanationLoss` plugins (override ``plugin_class``).

    The loss sees an :class:`~xsup.batch.ExplanationBatch` built as the
    estimator builds it: a tiny backbone in training mode, Grad-CAM (images,
    raster sequences) or input-gradient saliency normalised per sample, and
    inputs that require grad when the loss asks for input gradients.
    """

    kind = "losses"
    base_class = ExplanationLoss
    flags = ("requires_annotation", "requires_saliency", "requires_input_gradient")

    @pytest.fixture
    def loss(self, plugin_class: PluginClass, plugin_params: Params, input_kind: InputKind) -> Plugin:
        """The loss, set up for ``input_kind`` (the test is skipped if it declines the kind)."""
        loss = self.build(plugin_class, plugin_params)
        self.skip_declined(loss, input_kind)
        return loss

    @staticmethod
    def objective(loss: Any, kind: InputKind) -> ExplanationObjective:
        """The estimators' own objective around ``loss``, on a tiny backbone in training mode.

        Grad-CAM explains images and raster sequences, input gradients the
        other kinds; missing frames are not filled.
        """
        from xsup.explainers import GradCAM, InputGradient
        from xsup.interpolators import NoInterpolation

        torch.manual_seed(0)
        spec = tiny_spec(kind)
        explainer = GradCAM() if kind in ("images", "raster_sequences") else InputGradient()
        return ExplanationObjective(tiny_backbone(spec).train(), nn.CrossEntropyLoss(), loss,
                                    explainer, NoInterpolation(), spec, check_plugins=True)

    @classmethod
    def make_batch(cls, loss: Any, kind: InputKind, annotation: str = "random",
                   sample_weight: torch.Tensor | None = None) -> ExplanationBatch:
        """A batch of random data built as the estimators build it.

        ``annotation`` is "random", "missing" (all NaN) or "none".
        """
        objective = cls.objective(loss, kind)
        X, y, E = cls._data(objective.spec, annotation)
        batch, _ = objective.batch(X, y, y, E, training=True, sample_weight=sample_weight)
        return batch

    @staticmethod
    def _data(spec: InputSpec, annotation: str) -> tuple[torch.Tensor, torch.Tensor, Any]:
        X = torch.randn(N_SAMPLES, *spec.sample_shape)
        y = torch.arange(N_SAMPLES) % N_OUTPUTS
        E = None if annotation == "none" else random_annotation(spec)
        if annotation == "missing":
            E = torch.full_like(E, float("nan"))
        return X, y, E

    def test_objective_checks_pass_and_total_is_finite(self, loss: Any, input_kind: InputKind) -> None:
        """The estimators' first-batch checks of the loss's output pass, with sample weights too."""
        objective = self.objective(loss, input_kind)
        X, y, E = self._data(objective.spec, "random")
        weight = torch.tensor([1.0, 0.0, 2.0, 1.0])
        with torch.enable_grad():
            terms = objective(X, y, y, E, training=True, sample_weight=weight)
        _assert_finite_scalar(terms.total, "The objective")


    def test_value_is_a_finite_scalar(self, loss: Any, input_kind: InputKind) -> None:
        _assert_finite_scalar(loss(self.make_batch(loss, input_kind)), "The loss")

    def test_explanation_term_trains_the_model(self, loss: Any, input_kind: InputKind) -> None:
        if not (loss.requires_saliency or loss.requires_input_gradient):
            pytest.skip("reads neither saliency nor input gradients: nothing to train through")
        batch = self.make_batch(loss, input_kind)
        _assert_trains(loss(batch), batch.model, "The loss")

    def test_all_missing_annotation_adds_nothing(self, loss: Any, input_kind: InputKind) -> None:
        value = loss(self.make_batch(loss, input_kind, annotation="missing"))
        _assert_finite_scalar(value, "The loss of an all-NaN E")
        if loss.requires_annotation:
            assert abs(value.item()) < 1e-6, f"an all-missing E must add 0; got {value.item()}."

    def test_fit_without_annotation(self, plugin_class: PluginClass, plugin_params: Params) -> None:
        """``requires_annotation`` losses make ``fit`` without E raise; others train without E."""
        from xsup import ExplanationSupervisedClassifier

        loss = self.build(plugin_class, plugin_params)
        kind = next(k for k in INPUT_KINDS if self.declined(loss, k) is None)
        X = torch.randn(8, *SAMPLE_SHAPES[kind], generator=torch.Generator().manual_seed(0))
        options = {f"loss__{name}": value for name, value in plugin_params.items()}
        net = ExplanationSupervisedClassifier(loss=plugin_class, max_epochs=1, batch_size=4,
                                              train_split=None, verbose=0, random_state=0, **options)
        if plugin_class.requires_annotation:
            with pytest.raises(ValueError, match=r"\bE\b"):
                net.fit(X.numpy(), [0, 1] * 4)
        else:
            history = net.fit(X.numpy(), [0, 1] * 4).history
            assert math.isfinite(history[-1, "train_explanation"])
            _assert_finite_scalar(loss(self.make_batch(loss, kind, "none")), "The loss with E=None")


class ExplainerContract(_KindContract):
    """Contract of :class:`xsup.base.Explainer` plugins (override ``plugin_class``)."""

    kind = "explainers"
    base_class = Explainer
    flags = ("differentiable",)

    def try_kind(self, plugin: Any, kind: InputKind, create_graph: bool = False) -> Any:
        """Explain a tiny model (eval mode) on random data; returns model, output, saliency."""
        torch.manual_seed(0)
        spec = tiny_spec(kind)
        model = tiny_backbone(spec).eval()
        X = torch.randn(N_SAMPLES, *spec.sample_shape)
        target = torch.arange(N_SAMPLES) % N_OUTPUTS
        return (model, *plugin.explain(model, X, target, spec, create_graph=create_graph))

    @pytest.fixture
    def explainer(self, plugin_class: PluginClass, plugin_params: Params, input_kind: InputKind) -> Plugin:
        """The explainer (the test is skipped if it declines ``input_kind``)."""
        explainer = self.build(plugin_class, plugin_params)
        self.skip_declined(explainer, input_kind)
        return explainer

    def test_maps_have_annotation_shape(self, explainer: Any, input_kind: InputKind) -> None:
        _, output, saliency = self.try_kind(explainer, input_kind)
        expected = (N_SAMPLES, *tiny_spec(input_kind).annotation_shape)
        assert tuple(output.shape) == (N_SAMPLES, N_OUTPUTS), f"output {tuple(output.shape)}"
        assert tuple(saliency.shape) == expected, f"saliency {tuple(saliency.shape)}; E {expected}"
        assert bool(torch.isfinite(saliency).all()), "saliency must be finite."
        assert bool((saliency >= 0).all()), "saliency must be non-negative."

    def test_differentiable_maps_train_the_model(self, explainer: Any, input_kind: InputKind) -> None:
        if not explainer.differentiable:
            pytest.skip("post-hoc explainer (differentiable = False)")
        model, _, saliency = self.try_kind(explainer, input_kind, create_graph=True)
        _assert_trains(saliency.sum(), model, "A differentiable explainer's saliency")

    def test_leaves_no_hooks(self, explainer: Any, input_kind: InputKind) -> None:
        """No hooks remain: after explain, after a bad target, after a failing forward."""
        model, _, _ = self.try_kind(explainer, input_kind)
        assert not _hooks_left(model), f"hooks left after explain: {_hooks_left(model)}"
        spec = tiny_spec(input_kind)
        X = torch.randn(N_SAMPLES, *spec.sample_shape)
        with contextlib.suppress(Exception):
            explainer.explain(model, X, torch.full((N_SAMPLES,), N_OUTPUTS + 5), spec)
        assert not _hooks_left(model), f"hooks left after an error: {_hooks_left(model)}"

        def fail(*_: Any) -> None:
            raise RuntimeError("forward failed on purpose")

        handle = list(model.modules())[-1].register_forward_hook(fail)
        try:
            with contextlib.suppress(Exception):
                explainer.explain(model, X, torch.zeros(N_SAMPLES, dtype=torch.long), spec)
        finally:
            handle.remove()
        assert not _hooks_left(model), f"hooks left after a failed forward: {_hooks_left(model)}"

    def test_gradcheck(self, plugin_class: PluginClass, plugin_params: Params) -> None:
        """float64 ``gradcheck`` of a differentiable map on a smooth tiny network."""
        if not plugin_class.differentiable:
            pytest.skip("post-hoc explainer (differentiable = False)")
        explainer, target = self.build(plugin_class, plugin_params), torch.tensor([0, 1])
        torch.manual_seed(0)
        for kind, sample_shape, model in (
            ("tabular", (3,), nn.Sequential(nn.Linear(3, 4), nn.Softplus(), nn.Linear(4, 2))),
            ("images", (1, 4, 4), nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Softplus(),
                                                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))),
        ):
            spec, model = InputSpec(kind, sample_shape, 2), model.double()
            X = torch.randn(2, *sample_shape, dtype=torch.float64, requires_grad=True)

            def saliency_of(X: torch.Tensor) -> torch.Tensor:
                return explainer.explain(model, X, target, spec, create_graph=True)[1]

            try:
                saliency_of(X)
            except ValueError:
                continue  # declines this kind
            assert torch.autograd.gradcheck(saliency_of, (X,), atol=1e-4)
            return
        pytest.skip("takes neither tabular nor image input")


class InterpolatorContract(_PluginContract):
    """Contract of :class:`xsup.base.Interpolator` plugins (override ``plugin_class``)."""

    kind = "interpolators"
    base_class = Interpolator

    @pytest.fixture(params=("time_series", "raster_sequences"))
    def interpolator(self, request: pytest.FixtureRequest, plugin_class: PluginClass,
                     plugin_params: Params) -> tuple[Any, InputSpec]:
        """The interpolator, set up for each sequence kind, and that kind's spec."""
        torch.manual_seed(0)
        spec = tiny_spec(request.param)
        interpolator = self.build(plugin_class, plugin_params)
        interpolator.setup(spec)
        return interpolator, spec

    @staticmethod
    def gappy_annotation(spec: InputSpec) -> tuple[torch.Tensor, torch.Tensor]:
        """Random {0, 1} E with missing frames (all NaN; one all zero) and its ``missing`` mask."""
        E = random_annotation(spec).clamp(min=0.0)
        E[1, :2] = float("nan")
        E[2, -1] = 0.0
        return E, ~annotated_frames(E, spec)

    def test_fills_without_touching_annotated_frames(self, interpolator: Any) -> None:
        plugin, spec = interpolator
        E, missing = self.gappy_annotation(spec)
        original = E.clone()
        filled, reconstruction = plugin(E, missing)
        torch.testing.assert_close(E, original, equal_nan=True, msg="the input E was modified")
        assert filled.shape == E.shape, f"filled {tuple(filled.shape)}; E {tuple(E.shape)}"
        torch.testing.assert_close(filled[~missing], E[~missing], equal_nan=True,
                                   msg="annotated frames must stay unchanged")
        known = filled[torch.isfinite(filled)]
        assert bool(((known >= -1) & (known <= 1)).all()), "filled values must lie in [-1, 1]."
        if reconstruction is not None:
            _assert_finite_scalar(reconstruction, "The reconstruction loss")

    def test_reconstruction_trains_the_interpolator(self, interpolator: Any) -> None:
        plugin, spec = interpolator
        _, reconstruction = plugin(*self.gappy_annotation(spec))
        if reconstruction is None or not list(plugin.parameters()):
            pytest.skip("no learnable parts")
        _assert_trains(reconstruction, plugin, "The reconstruction loss")


class BackboneContract(_PluginContract):
    """Contract of :class:`xsup.base.Backbone` plugins (override ``plugin_class``)."""

    kind = "modules"
    base_class = Backbone
    fixed_parameters = ("input_shape", "n_outputs")

    def build(self, plugin_class: Any, plugin_params: Params, kind: InputKind | None = None) -> Any:
        """Instantiate the backbone for one of its input kinds (default: the first)."""
        kind = kind or plugin_class.input_kinds[0]
        return plugin_class(SAMPLE_SHAPES[kind], N_OUTPUTS, **plugin_params)

    def each_kind(self, plugin_class: Any, plugin_params: Params) -> Iterator[tuple[Any, torch.Tensor]]:
        """``(model, X)`` for every declared input kind, seeded."""
        for kind in plugin_class.input_kinds:
            torch.manual_seed(0)
            yield self.build(plugin_class, plugin_params, kind), torch.randn(3, *SAMPLE_SHAPES[kind])

    def test_declares_input_kinds(self, plugin_class: Any) -> None:
        kinds = plugin_class.input_kinds
        assert kinds and set(kinds) <= set(INPUT_KINDS), f"input_kinds must name some of {INPUT_KINDS}"

    def test_output_shape(self, plugin_class: Any, plugin_params: Params) -> None:
        for model, X in self.each_kind(plugin_class, plugin_params):
            output = model(X)
            assert tuple(output.shape) == (len(X), N_OUTPUTS), f"output {tuple(output.shape)}"
            assert bool(torch.isfinite(output).all())

    def test_gradcam_layer_resolves(self, plugin_class: Any, plugin_params: Params) -> None:
        if plugin_class.gradcam_layer is None:
            pytest.skip("no Grad-CAM layer")
        for model, _ in self.each_kind(plugin_class, plugin_params):
            assert isinstance(model.get_submodule(plugin_class.gradcam_layer), nn.Module)

    def test_double_backward(self, plugin_class: Any, plugin_params: Params) -> None:
        for model, X in self.each_kind(plugin_class, plugin_params):
            output = model(X.requires_grad_(True))
            weights = torch.rand(output.shape, generator=torch.Generator().manual_seed(0))
            (gradient,) = torch.autograd.grad((output * weights).sum(), X, create_graph=True)
            _assert_trains(gradient.pow(2).sum(), model, "The input gradient")

    def test_samples_are_independent_in_eval_mode(self, plugin_class: Any, plugin_params: Params) -> None:
        for model, X in self.each_kind(plugin_class, plugin_params):
            with torch.no_grad():
                together = model.eval()(X)
                alone = torch.cat([model(X[i : i + 1]) for i in range(len(X))])
            torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
