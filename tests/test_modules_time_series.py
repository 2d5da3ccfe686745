"""Time-series backbones: lstm, input_cell_lstm, transformer, tcn."""

from __future__ import annotations

import math

import pytest
import torch

from xsup import ExplanationSupervisedClassifier
from xsup.datasets import make_ts_benchmark
from xsup.modules import LSTM, TCN, InputCellLSTM, Transformer
from xsup.modules.transformer import sinusoidal_positional_encoding

SMALL = {
    "lstm": (LSTM, {}),
    "input_cell_lstm": (InputCellLSTM, {"attention_size": 8}),
    "transformer": (Transformer, {"n_layers": 2, "d_ff": 16}),
    "tcn": (TCN, {"channels": (4, 4)}),
}
#: The layer that an input-gradient penalty must reach in each network.
FIRST_LAYER = {
    "lstm": "lstm.weight_ih_l0",
    "input_cell_lstm": "attention.first.weight",
    "transformer": "encoder.layers.0.self_attn.in_proj_weight",
    "tcn": "blocks.0.conv1.weight",
}


def build(name: str, shape: tuple[int, int] = (7, 6), n_outputs: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    cls, options = SMALL[name]
    return cls(shape, n_outputs, **options)


@pytest.fixture(scope="module")
def easy_task():
    """Middle box on a 10 x 10 grid: 120 training and 80 held-out series."""
    X, y, _, _ = make_ts_benchmark("middle", n_samples=200, random_state=0, n_steps=10, n_features=10)
    return X[:120], y[:120], X[120:], y[120:]


@pytest.mark.parametrize("name", list(SMALL))
def test_backbone_maps_series_to_one_output_row_per_sample(name):
    model = build(name)
    output = model(torch.randn(4, 7, 6))
    assert output.shape == (4, 3)
    assert bool(torch.isfinite(output).all())


def test_benchmark_sizes_have_the_expected_parameter_counts():
    def count(model):
        return sum(p.numel() for p in model.parameters())

    lstm = 4 * 5 * (50 + 5) + 2 * 4 * 5 + (5 * 2 + 2)
    assert count(LSTM((50, 50), 2)) == lstm
    assert count(InputCellLSTM((50, 50), 2)) == lstm + 50 * 50 + 50 * 10
    layer = (4 * 50 * 50 + 4 * 50) + (50 * 400 + 400 + 400 * 50 + 50) + 2 * 2 * 50
    assert count(Transformer((50, 50), 2)) == 6 * layer + 2 * 50 + (50 * 2 + 2)
    tcn = TCN((50, 50), 2, channels=(5, 5, 50), kernel_size=4, dropout=0.1)
    blocks = (50 * 5 * 4 + 5 + 5 * 5 * 4 + 5 + 50 * 5 + 5) + (2 * (5 * 5 * 4 + 5)) + (
        5 * 50 * 4 + 50 + 50 * 50 * 4 + 50 + 5 * 50 + 50)
    assert count(tcn) == blocks + 50 * 2 + 2


@pytest.mark.parametrize("name", list(SMALL))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_input_gradient_penalty_reaches_the_first_layer(name, mode):
    model = getattr(build(name), mode)()
    X = torch.randn(4, 7, 6, requires_grad=True)
    torch.manual_seed(1)  # same dropout masks for every backbone
    output = model(X)
    (gradient,) = torch.autograd.grad(output[:, 0].sum(), X, create_graph=True)
    parameter = model.get_parameter(FIRST_LAYER[name])
    (second,) = torch.autograd.grad(gradient.pow(2).sum(), parameter)
    assert bool(torch.isfinite(second).all()) and float(second.abs().sum()) > 0


@pytest.mark.parametrize("name", list(SMALL))
def test_backbone_trains_with_a_gradient_explanation_loss(name):
    X, y, E, _ = make_ts_benchmark("middle", n_samples=16, random_state=0, n_steps=10, n_features=10)
    _, options = SMALL[name]
    prefixed = {f"module__{key}": value for key, value in options.items()}
    clf = ExplanationSupervisedClassifier(
        module=name, loss="rrr", explainer="gradient", max_epochs=1, batch_size=8,
        train_split=None, verbose=0, random_state=0, **prefixed,
    )
    clf.fit(X, y, E)
    explanation = clf.history[-1, "train_explanation"]
    assert math.isfinite(explanation) and explanation > 0
    assert all(bool(torch.isfinite(p).all()) for p in clf.module_.parameters())
    assert clf.explain(X[:3]).shape == (3, 10, 10)


@pytest.mark.parametrize("name", list(SMALL))
def test_backbone_learns_an_easy_box_task(name, easy_task):
    X_train, y_train, X_test, y_test = easy_task
    _, options = SMALL[name]
    prefixed = {f"module__{key}": value for key, value in options.items()}
    if name == "tcn":  # the benchmark's configuration
        prefixed = {"module__channels": (5, 5, 50), "module__kernel_size": 4,
                    "module__dropout": 0.1, "module__weight_norm": True}
    clf = ExplanationSupervisedClassifier(
        module=name, max_epochs=10, lr=1e-2, batch_size=16, train_split=None, verbose=0,
        random_state=0, **prefixed,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9


def test_input_cell_attention_equals_the_step_by_step_loop():
    model = build("input_cell_lstm").eval()
    attention = model.attention
    X = torch.randn(3, 7, 6)
    steps = []
    for t in range(X.shape[1]):
        seen = X[:, : t + 1]  # (N, t + 1, F)
        weights = torch.softmax(attention.second(torch.tanh(attention.first(seen))), dim=1)
        steps.append((weights.transpose(1, 2) @ seen).mean(dim=1))  # (N, r, F) -> (N, F)
    torch.testing.assert_close(attention(X), torch.stack(steps, dim=1))


def test_input_cell_attention_weights_are_causal_and_sum_to_one():
    weights = build("input_cell_lstm").attention.weights(torch.randn(2, 7, 6))
    assert bool((weights.triu(1) == 0).all())
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 7))


@pytest.mark.parametrize("t", [0, 3, 5])
def test_input_cell_attention_at_step_t_ignores_later_inputs(t):
    attention = build("input_cell_lstm").attention
    X = torch.randn(2, 7, 6)
    changed = X.clone()
    changed[:, t + 1 :] = torch.randn(2, 6 - t, 6) * 5
    torch.testing.assert_close(attention(changed)[:, : t + 1], attention(X)[:, : t + 1])


@pytest.mark.parametrize("t", [0, 3, 5])
def test_transformer_step_t_ignores_later_inputs(t):
    model = build("transformer").eval()
    X = torch.randn(2, 7, 6)
    changed = X.clone()
    changed[:, t + 1 :] = torch.randn(2, 6 - t, 6) * 5
    with torch.no_grad():
        torch.testing.assert_close(model.encode(changed)[:, : t + 1], model.encode(X)[:, : t + 1])
        # the output does see the later steps: the max over time pools every step
        assert not torch.allclose(model(changed), model(X))


def test_positional_encoding_pairs_sine_and_cosine_of_one_frequency():
    pe = sinusoidal_positional_encoding(4, 6)
    for position in range(4):
        for pair in range(3):
            angle = position / 10000 ** (2 * pair / 6)
            assert pe[position, 2 * pair].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[position, 2 * pair + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    odd = sinusoidal_positional_encoding(3, 5)
    assert odd[2, 4].item() == pytest.approx(math.sin(2 / 10000 ** (4 / 5)), abs=1e-6)


def test_transformer_uses_the_features_as_tokens_by_default():
    model = Transformer((7, 50), 2)
    assert isinstance(model.projection, torch.nn.Identity)
    assert model.encoder.layers[0].self_attn.num_heads == 5
    assert Transformer((7, 3), 2).encoder.layers[0].self_attn.num_heads == 3
    assert Transformer((7, 7), 2).encoder.layers[0].self_attn.num_heads == 1
    projected = Transformer((7, 3), 2, d_model=8, n_heads=4)
    assert isinstance(projected.projection, torch.nn.Linear)
    assert projected(torch.randn(2, 7, 3)).shape == (2, 2)


def test_transformer_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match=r"n_heads must divide d_model; got n_heads=4 and d_model=6"):
        Transformer((7, 6), 2, n_heads=4)
    with pytest.raises(ValueError, match=r"n_heads=3 and d_model=8\."):
        Transformer((7, 6), 2, d_model=8, n_heads=3)
    with pytest.raises(ValueError, match="d_model must be at least 2"):
        Transformer((7, 1), 2)


def test_tcn_dropout_and_weight_norm_are_options():
    X = torch.randn(3, 7, 6)
    plain = build("tcn")
    torch.manual_seed(0)
    dropped = TCN((7, 6), 3, channels=(4, 4), dropout=0.5)
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    torch.testing.assert_close(plain(X), dropped.eval()(X))
    assert not torch.allclose(dropped.train()(X), plain(X))
    normalised = TCN((7, 6), 3, channels=(4, 4), weight_norm=True)
    assert "blocks.0.conv1.parametrizations.weight.original0" in normalised.state_dict()
    assert normalised(X).shape == (3, 3)
