"""The random control: saliency maps that rank the cells at random."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup import plugins
from xsup.base import Explainer
from xsup.constraints import InstanceOf, SubclassOf
from xsup.explainers._posthoc import RANDOM_STATE, check_target, seeded
from xsup.spec import InputSpec


class RandomSaliency(Explainer):
    """Random saliency maps, the control every method is compared with.

    Ismail et al. (2020) build their random baseline by taking a saliency
    method's map and permuting its values, which keeps the values but makes
    the ranking arbitrary. With ``base`` set (the default), each sample's map
    from ``base`` is shuffled by its own uniformly random permutation of all of
    its cells (frames and time steps included), so every order is equally
    likely and the values (which percent-of-saliency masking reads) are those
    of a real method. With ``base=None`` the cells are i.i.d. U[0, 1) and the
    model is run only for its output.

    Parameters
    ----------
    base : str, Explainer or None, default="gradient"
        The explainer whose values are permuted: a registered name (built
        with its defaults) or an instance; None draws U[0, 1) values.
    random_state : int, RandomState or None, default=None
        Seeds the permutations (or values); an int gives the same draws on
        every call.

    Examples
    --------
    >>> import torch
    >>> from xsup.spec import InputSpec
    >>> model = torch.nn.Linear(4, 2)
    >>> X, target, spec = torch.ones(2, 4), torch.tensor([0, 1]), InputSpec("tabular", (4,), 2)
    >>> _, maps = RandomSaliency(random_state=0).explain(model, X, target, spec)
    >>> _, uniform = RandomSaliency(base=None).explain(model, X, target, spec)
    >>> maps.shape, uniform.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    >>> torch.equal(maps.sort(dim=1).values, model.weight.abs()[target].sort(dim=1).values)
    True
    """

    differentiable: ClassVar[bool] = False
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "base": [None, InstanceOf(str, description="a registered explainer name"),
                 SubclassOf(Explainer, instances=True)],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, base: Any = "gradient", random_state: Any = None) -> None:
        self.base = base
        self.random_state = random_state

    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the model output and random maps shaped like E (``create_graph`` is ignored)."""
        base = None if self.base is None else plugins.resolve("explainers", self.base, spec=spec)
        if base is None:
            with torch.no_grad():
                output = model(X.detach())
            check_target(output, target)
        else:
            output, maps = base.explain(model, X.detach(), target, spec)
            output, maps = output.detach(), maps.detach()
        shape = (len(X), *spec.annotation_shape)
        with seeded(self.random_state, X.device) as generator:
            if base is None:
                return output, torch.rand(shape, generator=generator).to(X)
            flat = maps.reshape(len(X), -1)
            order = torch.rand(flat.shape, generator=generator).argsort(dim=1).to(flat.device)
        return output, flat.gather(1, order).reshape(shape)
