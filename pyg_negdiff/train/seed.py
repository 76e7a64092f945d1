"""One seed for every random stream a run draws from."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and PyTorch so that a run can be repeated.

    Example:
        >>> seed_everything(0); a = torch.rand(2)
        >>> seed_everything(0); bool((a == torch.rand(2)).all())
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
