"""The training loop: BPR with any sampler, optional environment penalty, early stopping."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from pyg_negdiff import checkpoint, distributed
from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.loss import bpr_loss, l2_regularization
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.optim import build_optimizer
from pyg_negdiff.propagation import BatchEmbeddings, FullPropagation, Propagation
from pyg_negdiff.results import EpochStats, NonFiniteLossError, StepStats, TrainResult
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState
from pyg_negdiff.sampling.fhn import FHNRatio
from pyg_negdiff.train.checkpoints import CheckpointMixin
from pyg_negdiff.train.early_stopping import EarlyStopping
from pyg_negdiff.train.protocols import Environments, EpochCallback
from pyg_negdiff.validation import check_integer


class Trainer(CheckpointMixin):
    r"""Trains a backbone with BPR on negatives from any sampler.

    Each step draws a batch $\mathcal{B}$ of training interactions $(u, i)$,
    asks the ``propagation`` strategy for the embeddings the batch needs (by
    default `FullPropagation`: once over the whole normalized adjacency; or
    `NeighborPropagation`: over the batch's sampled subgraph, with the
    sampler's candidate items drawn first and embedded too), asks the sampler
    for a negative $j$ (an item or a synthesized embedding) and minimizes

    $$
    \mathcal{L} = \frac{1}{|\mathcal{B}|}\sum_{(u,i) \in \mathcal{B}} -\log\sigma(s_{ui} - s_{uj})
      + \frac{\lambda_{2}}{2|\mathcal{B}|}\big(\lVert \mathbf{E}^{(0)}_{\mathcal{B}} \rVert^2\big)
      + \mathcal{L}_{\text{aux}}
    $$

    where $\mathbf{E}^{(0)}_{\mathcal{B}}$ are the layer-0 embeddings of the
    batch's users, positives and (item) negatives, and $\mathcal{L}_{\text{aux}}$
    is the sampler's own term (diffusion, contrastive). With ``environments``
    and ``penalty``, the mean BPR term is replaced by the penalty's
    $\frac{1}{|E|}\sum_e R_e + \lambda\,\mathrm{Var}_e(R_e)$.

    Model selection uses the validation part only: after every
    ``eval_every`` epochs the ``monitor`` metric is computed on ``"val"``, the
    best weights are kept, and training stops after ``patience`` evaluations
    without improvement. The test parts are read once, at the best epoch.

    A non-finite loss stops training with `NonFiniteLossError`; the model
    is first restored to the last good checkpoint (the best so far, or the
    start of the failing epoch).

    Args:
        model (Recommender): The backbone.
        sampler (NegativeSampler): The negative sampler.
        data (InteractionData): Training data; ``"val"`` drives early stopping.
        lr (float): Adam learning rate.
        l2 (float): Weight $\lambda_2$ of the batch L2 term.
        batch_size (int): Training interactions per step.
        epochs (int): Maximum number of epochs.
        eval_every (int): Evaluate on validation every this many epochs.
        patience (int, optional): Evaluations without improvement before stopping
            (``None`` disables early stopping).
        monitor (str): Validation metric to maximize, e.g. ``"ndcg@20"``.
        evaluator (Evaluator, optional): Defaults to ``Evaluator(data)``.
        environments (optional): Environment assignment of the training
            interactions (see `pyg_negdiff.causal`): read by ``penalty`` and
            passed to the sampler as `SamplerState.environments` (an
            environment-conditioned diffusion sampler needs it, with or
            without a penalty).
        penalty (callable, optional): Maps per-interaction losses and
            environments to the risk (see `pyg_negdiff.causal`); needs
            ``environments``.
        fhn_reference (PairSet, optional): True positives for the
            false-hard-negative ratio logged each epoch.
        device (str or torch.device, optional): Where to train. (default: CPU)
        seed (int): Seeds model initialization, batching and sampling.
        checkpoint_path (str or Path, optional): Where to write the best checkpoint.
        callbacks (Sequence[callable]): Called as ``fn(epoch, val_metrics)`` after
            every evaluation (an Optuna objective reports and prunes here).
        progress (bool): Show tqdm progress bars.
        propagation (Propagation, optional): How a step computes embeddings
            (see `pyg_negdiff.propagation`), built on ``data.train``.
            (default: `FullPropagation`)

    Under ``torchrun`` (or in any initialized `torch.distributed` process
    group) the trainer is data-parallel (see `pyg_negdiff.distributed`): the
    ranks split each batch's propagation, gradients are averaged by
    `DistributedDataParallel`, and only rank 0 evaluates, writes the
    checkpoint and calls ``callbacks``; ``fit`` returns test metrics on rank 0
    only. When rank 0 raises after an epoch (a callback's
    `optuna.TrialPruned`, any exception), it re-raises it and the other ranks
    raise `pyg_negdiff.distributed.RankZeroAborted`. Every rank gets the same
    ``checkpoint_path``: rank 0 writes it (with every rank's own
    neighbour-sampling and global random state) and every rank reads it to
    resume, on the same number of ranks.
    """

    def __init__(
        self,
        model: Recommender,
        sampler: NegativeSampler,
        data: InteractionData,
        *,
        lr: float = 3e-3,
        l2: float = 1e-4,
        batch_size: int = 2048,
        epochs: int = 100,
        eval_every: int = 1,
        patience: int | None = 15,
        monitor: str = "ndcg@20",
        evaluator: Evaluator | None = None,
        environments: Environments | None = None,
        penalty: Callable[..., Tensor] | None = None,
        fhn_reference: PairSet | None = None,
        device: str | torch.device | None = None,
        seed: int = 0,
        checkpoint_path: str | Path | None = None,
        callbacks: Sequence[EpochCallback] = (),
        progress: bool = True,
        propagation: Propagation | None = None,
    ) -> None:
        if penalty is not None and environments is None:
            raise ValueError(
                "a 'penalty' needs 'environments' (see pyg_negdiff.causal.EnvironmentInference)"
            )
        for name, value in (
            ("batch_size", batch_size),
            ("epochs", epochs),
            ("eval_every", eval_every),
        ):
            check_integer(name, value)  # names the argument: "epochs=0: must be ..."
        self.device = torch.device(device if device is not None else "cpu")
        self.data = data
        self.model = model.to(self.device)
        self.sampler = sampler.to(self.device)
        self.sampler.train_pairs.to(self.device)
        self.lr, self.l2, self.batch_size, self.epochs = lr, l2, batch_size, epochs
        self.eval_every, self.patience, self.monitor = eval_every, patience, monitor
        self.evaluator = evaluator or Evaluator(data)
        metric, _, k = monitor.partition("@")
        if (
            metric not in self.evaluator.metrics
            or not k.isdigit()
            or int(k) not in self.evaluator.ks
        ):
            raise ValueError(
                f"monitor {monitor!r} is not computed by the evaluator "
                f"(metrics {self.evaluator.metrics}, ks {self.evaluator.ks})"
            )
        self.environments, self.penalty = environments, penalty
        self.fhn_reference = fhn_reference.to(self.device) if fhn_reference is not None else None
        self.seed = seed
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.callbacks, self.progress = list(callbacks), progress
        #: Further settings recorded in `config` and checked on resume (`from_config` sets them).
        self.run_config: dict[str, Any] = {}

        self.train_index = data.train.to(self.device)
        if propagation is None:
            propagation = FullPropagation(
                bipartite_edge_index(data.train, data.num_users), data.num_users, data.num_items
            )
        if (propagation.num_users, propagation.num_items) != (data.num_users, data.num_items):
            raise ValueError(
                f"the propagation's graph has {propagation.num_users} users and "
                f"{propagation.num_items} items, the data {data.num_users} and {data.num_items}"
            )
        if propagation.needs_candidates and not sampler.subgraph_ready:
            raise ValueError(
                f"{type(sampler).__name__} draws its negatives outside uniform_candidates "
                f"and cannot run on a sampled subgraph: use full propagation"
            )
        propagation.check(self.model)
        self.propagation = propagation.to(self.device)
        distributed.init_from_env()
        self.rank, self.world_size = distributed.rank_and_world()
        if self.rank != 0:
            # Rank 0 evaluates, writes and reports; every rank reads a checkpoint to resume.
            self.callbacks, self.progress = [], False
        self._propagate = distributed.wrap(self.model, self.propagation, seed)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        params = list(self.model.parameters()) + list(self.sampler.joint_parameters())
        self.optimizer = build_optimizer(
            params, lr, sparse=self.propagation.sparse_parameters(self.model)
        )
        self._good_state: dict[str, Any] | None = None

    @classmethod
    def from_config(
        cls,
        config: Any,
        model: Recommender,
        sampler: NegativeSampler,
        data: InteractionData,
        **kwargs: Any,
    ) -> "Trainer":
        """A trainer with the settings of a `pyg_negdiff.experiment.RunConfig`.

        Args:
            config (RunConfig): Gives ``lr``, ``l2``, ``batch_size``, ``epochs``, ``eval_every``,
                ``patience``, ``monitor``, ``device`` and ``seed``; all of ``config.to_dict()``
                is recorded in `config` (result files) and checked on resume.
            model (Recommender): The backbone.
            sampler (NegativeSampler): The negative sampler.
            data (InteractionData): The training data.
            **kwargs: The constructor's other arguments (``propagation``, ``environments``, ...).
        """
        keys = "lr l2 batch_size epochs eval_every patience monitor device seed".split()
        settings = {key: getattr(config, key) for key in keys}
        trainer = cls(model, sampler, data, **settings, **kwargs)
        trainer.run_config = config.to_dict()
        return trainer

    # ----------------------------------------------------------- embeddings
    def embeddings(self) -> Embeddings:
        """Embeddings of all users and items in eval mode, without gradients."""
        was_training = self.model.training
        self.model.eval()
        emb = self.propagation.embeddings(self.model)
        self.model.train(was_training)
        return emb

    # ------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> EpochStats:
        """Runs one pass over the training interactions and returns its statistics.

        Args:
            epoch (int): The epoch, counted from 0 (samplers' schedules read it).

        Returns:
            EpochStats: The epoch's losses, time and mean sampler logs.
        """
        self.model.train()
        self.sampler.train()
        self.sampler.start_epoch(epoch, self.epochs)
        if self.environments is not None:
            self.environments.maybe_update(epoch, self.embeddings())
        num = self.train_index.size(1)
        perm = torch.randperm(num, generator=self.generator, device=self.device)
        total = bpr_total = 0.0
        fhn = FHNRatio(self.fhn_reference) if self.fhn_reference is not None else None
        logs: dict[str, list[float]] = {}
        start = time.perf_counter()
        batches = range(0, num, self.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not self.progress)
        for b, offset in enumerate(bar):
            index = perm[offset : offset + self.batch_size]
            step = self.train_step(index, epoch, where=f"epoch {epoch}, batch {b}")
            total += step.loss * index.numel()
            bpr_total += step.bpr_sum
            for key, value in step.logs.items():
                logs.setdefault(key, []).append(float(value))
            if fhn is not None and step.probe_items is not None:
                fhn.update(self.train_index[0, index], step.probe_items)
            if self.progress and b % 20 == 0:
                bar.set_postfix(loss=f"{total / (offset + index.numel()):.4f}")
        bar.close()
        return EpochStats(
            epoch=epoch,
            loss=total / num,
            bpr=bpr_total / num,
            train_time=time.perf_counter() - start,
            fhn_ratio=fhn.compute() if fhn is not None and fhn.count else None,
            sampler_logs={k: float(np.mean(v)) for k, v in logs.items()},
        )

    def train_step(self, index: Tensor, epoch: int, *, where: str = "") -> StepStats:
        """One optimizer step on the training interactions ``index``.

        Args:
            index (torch.Tensor): ``[B]`` positions in ``data.train``.
            epoch (int): The current epoch (read by samplers' schedules).
            where (str): Where the step is, for the error message of a non-finite loss.

        Returns:
            StepStats: The step's loss and diagnostics.
        """
        users, pos = self.train_index[0, index], self.train_index[1, index]
        env = self.environments.batch_environments(index) if self.environments is not None else None
        batch, neg = self._embed_and_sample(users, pos, env, epoch)
        emb = batch.emb
        pos_score = emb.score(batch.users, batch.pos_items)
        neg_score = emb.score_embeddings(batch.users, neg.emb)
        per_sample = bpr_loss(pos_score, neg_score, neg.weight)
        if self.penalty is not None:
            # IRM rescales the score margin; with K negatives it is recovered from the loss.
            margin = pos_score - neg_score if neg_score.dim() == 1 else None
            risk = self.penalty(per_sample, env, margin=margin)
        else:
            risk = per_sample.mean()
        # Layer-0 rows of the batch (the ego embeddings), taken from the propagated tables so
        # that their gradient flows the same way as the rest (sparse in neighbour mode).
        user0, pos0 = emb.user_layers[batch.users, 0], emb.item_layers[batch.pos_items, 0]
        neg0 = emb.item_layers[neg.items, 0] if neg.items is not None else None
        loss = risk + self.l2 * l2_regularization(user0, pos0, neg0)
        if neg.aux_loss is not None:
            loss = loss + neg.aux_loss
        if not torch.isfinite(loss):
            if self._good_state is not None:
                self._load_state(self._good_state)
            raise NonFiniteLossError(
                f"loss became {loss.item()} at {where or f'epoch {epoch}'}; the model was restored to the "
                f"last good checkpoint ({self._describe_good_state()}). Lower the learning rate, raise l2, "
                f"or check the sampler's auxiliary loss."
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return StepStats(
            loss=loss.item(),
            bpr_sum=per_sample.detach().sum().item(),
            logs=dict(neg.logs),
            probe_items=batch.global_items(neg.probe_items),
        )

    def _embed_and_sample(
        self, users: Tensor, pos: Tensor, env: Tensor | None, epoch: int
    ) -> tuple[BatchEmbeddings, NegativeSample]:
        """The batch's embeddings and its negatives (item ids as rows of ``batch.emb``)."""
        # A subgraph must hold the sampler's candidates: draw them first, with the same
        # generator, so forward finds the stream where full propagation leaves it.
        cand = (
            self.sampler.candidate_items(users, pos, self.generator)
            if self.propagation.needs_candidates
            else None
        )
        batch = self._propagate(users, pos, cand, self.generator)
        state = SamplerState(
            emb=batch.emb,
            epoch=epoch,
            num_epochs=self.epochs,
            generator=self.generator,
            environments=env,
        )
        if not batch.is_subgraph:
            return batch, self.sampler(users, pos, state)
        with self.sampler.subgraph(batch.candidates, batch.local_pairs(self.sampler.train_pairs)):
            return batch, self.sampler(batch.users, batch.pos_items, state)

    # ---------------------------------------------------------------- fit
    def fit(self, resume: bool = False) -> TrainResult:
        """Trains with early stopping on validation, restores the best weights, tests once.

        With a ``checkpoint_path``, the state at the end of every epoch is written
        there (beside the best weights), so an interrupted run can go on.

        Args:
            resume (bool): Continue from ``checkpoint_path`` (see `resume_state`):
                model, optimizer, sampler (with a denoiser's own optimizer), random
                streams, environment assignment, penalty warm-up, history and
                early-stopping counters are restored, and training starts at the
                epoch after the saved one. A resumed run gives the same result as
                one that was never interrupted. Under ``torchrun`` every rank
                resumes from the same file and restores its own random streams;
                the world size must be the one that wrote it.

        Returns:
            TrainResult: History, best epoch and the test metrics at that epoch.

        Raises:
            NonFiniteLossError: The loss diverged; its ``result`` holds the
                history so far and the test metrics of the restored weights.
            RankZeroAborted: On ranks other than 0, when rank 0 raised after
                an epoch (in evaluation, the checkpoint write or a callback);
                rank 0 raises its own exception. The checkpoint, if any, holds
                the last epoch rank 0 wrote.
        """
        has_val = "val" in self.data.parts and self.rank == 0
        loop = self.resume_state() if resume else checkpoint.initial_loop()
        history = [EpochStats(**h) for h in loop["history"]]
        stop = EarlyStopping.from_loop(self.patience, loop)
        best_state = self._good_state if stop.best_epoch >= 0 else None
        if best_state is None:
            self._good_state = self._state(loop["epoch"])
        first = loop["epoch"] + 1
        bar = tqdm(
            range(first, self.epochs if not stop.stopped_early else first),
            desc="training",
            initial=first,
            total=self.epochs,
            disable=not self.progress,
        )
        Decision = distributed.EpochDecision
        try:
            for epoch in bar:
                stats = self.train_epoch(epoch)
                # A collective: gathered here, where every rank is, for rank 0 to write.
                ranks = self._gather_rank_states() if self.checkpoint_path is not None else None
                try:
                    evaluate = has_val and (
                        (epoch + 1) % self.eval_every == 0 or epoch + 1 == self.epochs
                    )
                    if evaluate:
                        t0 = time.perf_counter()
                        stats.val = self.evaluator.evaluate(self.embeddings(), "val")
                        stats.eval_time = time.perf_counter() - t0
                        value = stats.val[self.monitor]
                        if stop.update(epoch, stats.val, value):
                            best_state = self._state(epoch)
                            self._good_state = best_state
                        best = f"{stop.best_value:.4f}"
                        bar.set_postfix({self.monitor: f"{value:.4f}", "best": best})
                    elif not has_val:
                        # Without validation there is nothing to select on: keep the last epoch.
                        stop.best_epoch, best_state = epoch, self._state(epoch)
                        self._good_state = best_state
                    history.append(stats)
                    if self.checkpoint_path is not None and self.rank == 0:
                        loop = stop.loop_state(epoch, history)
                        self._write_checkpoint(self._good_state, loop, ranks)
                    if evaluate:
                        for callback in self.callbacks:
                            callback(epoch, stats.val)
                except BaseException:
                    # The other ranks wait in the broadcast below: release them, then raise here.
                    # A failing broadcast must not hide the exception that matters.
                    with contextlib.suppress(Exception):
                        distributed.broadcast_decision(Decision.ABORT, self.device)
                    raise
                bar.set_description(f"training (loss {stats.loss:.4f})")
                decision = distributed.broadcast_decision(
                    Decision.STOP if stop.stopped_early else Decision.CONTINUE, self.device
                )
                if decision == Decision.ABORT:
                    raise distributed.RankZeroAborted(
                        f"rank 0 stopped the run with an exception after epoch {epoch} (rank 0's own "
                        f"error says which); rank {self.rank} left training without a result"
                    )
                if decision == Decision.STOP:
                    stop.stopped_early = True
                    break
        except NonFiniteLossError as exc:
            # The model already holds the last good state: test it, so the run is not lost.
            exc.result = self._finish(history, stop, diverged=str(exc))
            raise
        finally:
            bar.close()
        if best_state is not None:
            self._load_state(best_state)
        return self._finish(history, stop)

    def _finish(
        self,
        history: list[EpochStats],
        stop: EarlyStopping,
        diverged: str | None = None,
    ) -> TrainResult:
        final = self.embeddings() if self.rank == 0 else None
        test = {
            part: self.evaluator.evaluate(final, part)
            for part in self.data.eval_parts
            if part != "val" and self.rank == 0
        }
        return TrainResult(
            history=history,
            best_epoch=stop.best_epoch,
            best_val=stop.best_val,
            test=test,
            stopped_early=stop.stopped_early,
            config=self.config(),
            diverged=diverged,
        )

    def config(self) -> dict[str, Any]:
        """The run's settings, for result files."""
        return {
            "model": repr(self.model),
            "sampler": repr(self.sampler),
            "data": self.data.name,
            "lr": self.lr,
            "l2": self.l2,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "monitor": self.monitor,
            "seed": self.seed,
            "device": str(self.device),
            "penalty": repr(self.penalty) if self.penalty is not None else None,
            "propagation_strategy": repr(self.propagation),
            **self.run_config,
        }
