"""The trainer's checkpoint methods: what it saves after an epoch, and how it resumes.

The file layout, writing and reading live in `pyg_negdiff.checkpoint`; this mixin
connects them to a `pyg_negdiff.train.Trainer`'s model, sampler, optimizer,
random streams, environments and penalty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pyg_negdiff import checkpoint, distributed
from pyg_negdiff.checkpoint import read_checkpoint


class CheckpointMixin:
    """Checkpoint writing, loading and resuming of `pyg_negdiff.train.Trainer`.

    It reads the trainer's ``model``, ``sampler``, ``optimizer``, ``generator``,
    ``environments``, ``penalty``, ``checkpoint_path``, ``device``, ``rank``,
    ``world_size`` and ``config()``.
    """

    def _state(self, epoch: int) -> dict[str, Any]:
        return checkpoint.snapshot(epoch, self.model, self.sampler, self.optimizer)

    def _load_state(self, state: dict[str, Any]) -> None:
        checkpoint.restore(state, self.model, self.sampler, self.optimizer)

    def _describe_good_state(self) -> str:
        epoch = self._good_state["epoch"] if self._good_state else -1
        where = "initial weights" if epoch < 0 else f"end of epoch {epoch}"
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            where += f"; checkpoint {self.checkpoint_path} holds it and the last complete epoch"
        return where

    def _gather_rank_states(self) -> dict[str, list[Tensor]] | None:
        """Every rank's own random streams (a collective), ``None`` in one process.

        The training generator, the model and the optimizer are the same on
        every rank; the neighbour sampling and the global stream are each rank's own.
        """
        if self.world_size == 1:
            return None
        sampling = distributed.sampling_generator(self._propagate)
        return {
            "sampling": distributed.gather_states(sampling.get_state(), self.device),
            "torch_rng": distributed.gather_states(torch.get_rng_state(), self.device),
        }

    def _write_checkpoint(
        self,
        good: dict[str, Any] | None,
        loop: dict[str, Any],
        ranks: dict[str, list[Tensor]] | None = None,
    ) -> None:
        resume = checkpoint.resume_payload(
            self.model,
            self.sampler,
            self.optimizer,
            loop,
            generator=self.generator,
            config=self.config(),
            world_size=self.world_size,
            ranks=ranks,
            environments=self.environments,
            penalty=self.penalty,
        )
        checkpoint.write_checkpoint(
            self.checkpoint_path, good or self._state(loop["epoch"]), resume
        )

    def load_checkpoint(self, path: str | Path) -> int:
        """Loads the best weights of a checkpoint written by this trainer.

        The file is read with ``torch.load(weights_only=True)``: it holds state
        dicts only, so a checkpoint from elsewhere cannot run code.

        Args:
            path (str or Path): The checkpoint file.

        Returns:
            int: The epoch of the loaded weights.
        """
        state = read_checkpoint(path, self.device)
        self._load_state(state)
        return int(state["epoch"])

    def resume_state(self) -> dict[str, Any]:
        """Loads ``checkpoint_path`` to go on from its last epoch (`fit` with ``resume=True``).

        Returns:
            dict: The loop state: ``epoch`` (the last complete one), ``history``,
            ``best_value``, ``best_epoch``, ``best_val``, ``bad_evals``, ``stopped_early``.

        Raises:
            FileNotFoundError: There is no checkpoint to resume.
            ValueError: The checkpoint was written by a run with other settings.
        """
        if self.checkpoint_path is None:
            raise ValueError("resuming needs the trainer's checkpoint_path")
        self._good_state, saved = checkpoint.read_resumable(
            self.checkpoint_path, self.config(), self.world_size, self.device
        )
        self._load_state(saved)
        sampling = distributed.sampling_generator(self._propagate) if self.world_size > 1 else None
        checkpoint.restore_resume_state(
            saved,
            generator=self.generator,
            rank=self.rank,
            sampling=sampling,
            environments=self.environments,
            penalty=self.penalty,
        )
        return saved["loop"]
