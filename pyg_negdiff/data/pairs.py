"""Vectorized lookups over sets of (user, item) pairs.

Every membership test in the library (is this sampled negative a training
positive? is this chosen negative a held-out positive?) goes through
`PairSet`, so there is one implementation to trust and to test.
"""

from __future__ import annotations

import torch
from torch import Tensor


def pair_keys(users: Tensor, items: Tensor, num_items: int) -> Tensor:
    r"""Encodes (user, item) pairs as one ``int64`` key $u \cdot I + i$."""
    return users.long() * num_items + items.long()


class PairSet:
    r"""A set of (user, item) pairs with batched membership tests.

    Pairs are stored as sorted ``int64`` keys $u \cdot I + i$; a lookup of
    $B$ pairs costs $O(B \log |P|)$ through `torch.searchsorted`,
    and memory is $O(|P|)$: no dense users x items matrix is ever built.

    It also exposes each user's positives in CSR form (``rowptr``, ``col``), which
    the evaluator uses to mask seen items and the samplers use to count them.

    Args:
        index (torch.Tensor): Pairs as a ``[2, P]`` tensor (row 0 users, row 1 items).
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.

    Examples:
        >>> import torch
        >>> s = PairSet(torch.tensor([[0, 0, 1], [2, 1, 0]]), num_users=2, num_items=3)
        >>> s.contains(torch.tensor([0, 1, 1]), torch.tensor([2, 0, 2])).tolist()
        [True, True, False]
        >>> s.degree().tolist()
        [2, 1]
    """

    def __init__(self, index: Tensor, num_users: int, num_items: int) -> None:
        if index.dim() != 2 or index.size(0) != 2:
            raise ValueError(f"'index' must have shape [2, P], got {tuple(index.shape)}")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        keys = torch.unique(pair_keys(index[0], index[1], self.num_items))  # sorted
        self.keys = keys
        self.col = keys % self.num_items
        users = keys // self.num_items
        counts = torch.bincount(users, minlength=self.num_users)
        self.rowptr = torch.zeros(self.num_users + 1, dtype=torch.long, device=keys.device)
        self.rowptr[1:] = torch.cumsum(counts, 0)
        # q_j = p_j - j is non-decreasing inside a user; offset by u * I it is sorted
        # globally. Built once: `sample_complement` runs every training batch.
        local = torch.arange(keys.numel(), device=keys.device) - self.rowptr[users]
        self.shifted_keys = keys - local

    def __len__(self) -> int:
        return self.keys.numel()

    def to(self, device: torch.device | str) -> "PairSet":
        """Moves the index to ``device``, in place.

        Args:
            device (torch.device or str): The target device.

        Returns:
            PairSet: ``self``.
        """
        for name in ("keys", "col", "rowptr", "shifted_keys"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        """Returns a boolean tensor of ``users.shape``: is each pair in the set?

        Args:
            users (torch.Tensor): User ids, any shape.
            items (torch.Tensor): Item ids, the same shape.
        """
        q = pair_keys(users, items, self.num_items).to(self.keys.device)
        if self.keys.numel() == 0:
            return torch.zeros_like(q, dtype=torch.bool)
        pos = torch.searchsorted(self.keys, q.reshape(-1)).clamp_(max=self.keys.numel() - 1)
        return (self.keys[pos] == q.reshape(-1)).view(q.shape)

    def degree(self) -> Tensor:
        """Number of items of each user, ``[U]``."""
        return self.rowptr[1:] - self.rowptr[:-1]

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """The pairs of the given users as ``(batch_row, item)``.

        ``batch_row[k]`` is the position in ``users`` of the user owning ``item[k]``:
        the COO index into a ``[len(users), I]`` score matrix, built without loops.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
        """
        users = users.to(self.rowptr.device)
        start, end = self.rowptr[users], self.rowptr[users + 1]
        counts = end - start
        batch_row = torch.repeat_interleave(
            torch.arange(users.numel(), device=users.device), counts
        )
        # Offset of every output slot inside its own row.
        offsets = torch.arange(int(counts.sum()), device=users.device)
        offsets = offsets - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        return batch_row, self.col[torch.repeat_interleave(start, counts) + offsets]

    def complement_counts(self, users: Tensor) -> Tensor:
        """Number of items each user has *not* interacted with, ``[B]``.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
        """
        return self.num_items - self.degree()[users.to(self.rowptr.device)]

    def sample_complement(
        self, users: Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""Draws items uniformly from each user's non-positives, exactly and without rejection.

        A rank $r \sim \mathcal{U}\{0, \ldots, I - d_u - 1\}$ is drawn per
        sample and mapped to the $r$-th item the user has not interacted
        with. With the user's sorted positives $p_0 < p_1 < \ldots$, that item
        is $r + k$ where $k = |\{j : p_j - j \le r\}|$, found by one
        batched `torch.searchsorted` over all users at once.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            num_samples (int): Draws per user $M$.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            torch.Tensor: ``[B, M]`` item ids, none of them a pair in this set.
        """
        users = users.to(self.rowptr.device)
        free = self.complement_counts(users)
        if bool((free <= 0).any()):
            bad = users[free <= 0][:5].tolist()
            raise ValueError(f"users {bad} have interacted with every item: no negative exists")
        gen_device = generator.device if generator is not None else users.device
        u = torch.rand(users.numel(), num_samples, generator=generator, device=gen_device).to(
            users.device
        )
        rank = (u * free.unsqueeze(-1)).long().clamp_(max=(free - 1).unsqueeze(-1))
        query = users.unsqueeze(-1) * self.num_items + rank
        k = torch.searchsorted(self.shifted_keys, query, right=True) - self.rowptr[users].unsqueeze(
            -1
        )
        return rank + k
