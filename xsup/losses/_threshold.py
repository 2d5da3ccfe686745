"""RES's adaptive threshold (Algorithm 1 of Gao et al., 2022), batched, in O(m log m)."""

from __future__ import annotations

import torch

__all__ = ["adaptive_threshold"]


@torch.no_grad()
def adaptive_threshold(
    saliency: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> torch.Tensor:
    """The threshold ``a`` that satisfies the most RES inequality constraints, per row.

    Each positive cell asks for ``a <= M_j`` (it should be kept, eq. 3) and
    each negative cell for ``a >= M_j`` (it should be dropped). As in
    Algorithm 1, the candidates are the annotated values themselves and a
    candidate ``v`` is scored by the number of constraints it satisfies::

        count(v) = #{positive j : M_j >= v} + #{negative j : M_j <= v}

    The candidates are visited as Algorithm 1 visits them (negatives in
    ascending order, then positives in descending order) and the first strict
    maximum wins: the smallest negative value with the best count if there is
    one, else the largest positive value with the best count. Counts come from
    one sort of the row and running sums over it (equal values counted
    together), so a row of ``m`` cells costs O(m log m); rows are
    independent and solved together.

    Parameters
    ----------
    saliency : torch.Tensor
        Saliency values ``M``, shape ``(N, m)``.
    positive, negative : torch.Tensor
        Boolean ``(N, m)``: the annotated positive (``F``) and negative
        (``C``) cells; a cell is at most one of the two.

    Returns
    -------
    torch.Tensor
        ``(N,)`` thresholds, without gradient; 0 for a row with no annotated
        cell (Algorithm 1's initial value).

    Examples
    --------
    >>> M = torch.tensor([[0.1, 0.2, 0.8, 0.9], [0.3, 0.6, 0.5, 0.0]])
    >>> F = torch.tensor([[False, False, True, True], [False, True, False, False]])
    >>> C = torch.tensor([[True, True, False, False], [True, False, True, False]])
    >>> adaptive_threshold(M, F, C)  # row 2: a = 0.5 keeps 0.3, 0.5 low and 0.6 high
    tensor([0.2000, 0.5000])
    """
    values, order = saliency.detach().sort(dim=1)
    negative, positive = negative.gather(1, order), positive.gather(1, order)
    # cells with equal values form a tie group [first, last] of sorted positions
    position = torch.arange(values.shape[1], device=values.device).expand_as(order)
    starts = torch.ones_like(negative)
    starts[:, 1:] = values[:, 1:] != values[:, :-1]
    ends = torch.ones_like(negative)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, position, 0).cummax(dim=1).values
    last = torch.where(ends, position, values.shape[1]).flip(1).cummin(dim=1).values.flip(1)
    negatives_at_or_below = negative.cumsum(dim=1).gather(1, last)
    positives_below = (positive.cumsum(dim=1) - positive.long()).gather(1, first)
    positives_at_or_above = positive.sum(dim=1, keepdim=True) - positives_below
    annotated = positive | negative
    count = torch.where(annotated, negatives_at_or_below + positives_at_or_above, -1)
    best = count.max(dim=1, keepdim=True).values
    winners = count == best
    negative_winners = negative & winners
    positive_winners = positive & winners
    inf = torch.full_like(values, float("inf"))
    smallest_negative = torch.where(negative_winners, values, inf).amin(dim=1)
    largest_positive = torch.where(positive_winners, values, -inf).amax(dim=1)
    threshold = torch.where(negative_winners.any(dim=1), smallest_negative, largest_positive)
    return torch.where(annotated.any(dim=1), threshold, torch.zeros_like(threshold))
