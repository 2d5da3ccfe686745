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
    sorting and binary search, so a row of ``m`` cells costs O(m log m);
    rows are independent and solved together.

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
    values = saliency.detach()
    inf = torch.full_like(values, float("inf"))
    sorted_negative = torch.where(negative, values, inf).sort(dim=1).values
    sorted_positive = torch.where(positive, values, inf).sort(dim=1).values
    n_positive = positive.sum(dim=1, keepdim=True)
    # +inf padding sorts last: it is never <= a finite candidate and is ignored by both counts
    negatives_at_or_below = torch.searchsorted(sorted_negative, values.contiguous(), right=True)
    positives_at_or_above = n_positive - torch.searchsorted(sorted_positive, values.contiguous())
    annotated = positive | negative
    count = torch.where(annotated, negatives_at_or_below + positives_at_or_above, -1)
    best = count.max(dim=1, keepdim=True).values
    winners = count == best
    negative_winners = negative & winners
    positive_winners = positive & winners
    smallest_negative = torch.where(negative_winners, values, inf).amin(dim=1)
    largest_positive = torch.where(positive_winners, values, -inf).amax(dim=1)
    threshold = torch.where(negative_winners.any(dim=1), smallest_negative, largest_positive)
    return torch.where(annotated.any(dim=1), threshold, torch.zeros_like(threshold))
