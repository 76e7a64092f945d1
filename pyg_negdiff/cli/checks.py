"""What ``tune`` and ``run`` check before any study, data or training (issue 24's checks).

Kept apart from `pyg_negdiff.cli.tune` so that each stays small: these functions read only the
parsed arguments, the registries and the search space.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pyg_negdiff.cli.common import CommandError, check_writable, option_name

__all__ = [
    "check_export",
    "check_environment_options",
    "refuse_tuned_settings",
    "check_run_samplers",
]


def check_export(path: Path, option: str, study_name: str, overwrite: bool) -> Path:
    """Refuses, before any work, to replace a file that is not this study's own earlier export.

    Re-running a command resumes its study, and the new export supersedes the old one (the
    study holds at least the trials it had), so that file may be replaced; any other file
    needs ``--overwrite``. Only regular files are guarded: writing to a device such as
    ``/dev/null`` (the usual "keep no export") replaces nothing.
    """
    path = check_writable(path, option)
    if overwrite or not path.exists() or not path.is_file():
        return path
    try:
        earlier = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        earlier = None
    if isinstance(earlier, dict) and earlier.get("study") == study_name:
        return path
    raise CommandError(
        f"{option} {path} already exists and is not an export of study {study_name!r}; "
        f"choose another name with {option}, or add --overwrite to replace it"
    )


class _ProbeTrial:
    """Stands in for an Optuna trial to list what a search space suggests (no study needed)."""

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> float:
        return low

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> int:
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return choices[0]


def refuse_tuned_settings(args: argparse.Namespace, space, base) -> None:
    """Refuses a setting the search space tunes: the trials would silently replace it.

    ``tune --lr 0.5 --dim 8`` searched over both without a word. A setting is either fixed
    (then it is kept, and recorded in the study's attributes) or searched; never both.
    """
    from pyg_negdiff.experiment import RunConfig

    suggested = space(_ProbeTrial())
    tuned = [k for k in suggested if k not in ("model", "sampler", "sampler_kwargs")]
    defaults = RunConfig().to_dict()
    given = [k for k in tuned if base.to_dict()[k] != defaults[k]]
    given += [f"{k}" for k in base.sampler_kwargs if k in suggested["sampler_kwargs"]]
    if given:
        names = [option_name(k) if k in defaults else f"--sampler-arg {k}" for k in given]
        searched = [option_name(k) for k in tuned] + [
            f"--sampler-arg {k}" for k in suggested["sampler_kwargs"]
        ]
        size = " (keep --dim and --layers fixed with --fixed-size)" if space.tune_size else ""
        raise CommandError(
            f"{', '.join(names)}: tune searches this setting, so the value given would be "
            f"replaced by each trial's; drop it{size}. The search space tunes "
            f"{', '.join(searched)}"
        )


def check_run_samplers(args: argparse.Namespace) -> None:
    """Checks ``--samplers`` and ``--heuristics`` of ``run`` before any work.

    A heuristic row is the reference the diffusion samplers are compared with, so only the
    heuristic samplers may stand there (``--heuristics cnsdiff`` trained CNSDiff twice and
    called it the best heuristic).
    """
    from pyg_negdiff.bench.rows import HEURISTICS
    from pyg_negdiff.sampling import SAMPLERS

    for option, names in (("--samplers", args.samplers), ("--heuristics", args.heuristics)):
        for sampler in names:
            if sampler.lower() not in SAMPLERS:
                raise CommandError(
                    f"{option} {sampler}: unknown sampler; choose from {', '.join(SAMPLERS)}"
                )
        if len(set(names)) < len(names):
            raise CommandError(f"{option} {' '.join(names)}: a sampler is named twice")
    for sampler in args.heuristics:
        if sampler.lower() not in HEURISTICS:
            raise CommandError(
                f"--heuristics {sampler}: not a heuristic sampler; the heuristics are "
                f"{', '.join(HEURISTICS)} (compare other samplers with --samplers)"
            )
    both = set(args.samplers) & set(args.heuristics) | ({"uniform"} & set(args.samplers))
    if both:
        raise CommandError(
            f"--samplers {' '.join(sorted(both))}: already trained as uniform or with "
            f"--heuristics; name each sampler once"
        )


def check_environment_options(args: argparse.Namespace, *, tuned: bool = False) -> None:
    """Refuses ``--environments`` / ``--num-environments`` that nothing would use.

    Environments are built only for ``--penalty`` and ``--condition-on-environment`` (or when
    ``tune --tune-penalty`` tunes the penalty): given without them they were accepted and
    ignored, even an unknown strategy, and the result recorded them as if used.

    Args:
        args (argparse.Namespace): Arguments of `add_run_arguments`.
        tuned (bool): The penalty is tuned, so the environments are used.

    Raises:
        CommandError: Naming the option and what makes it apply.
    """
    from pyg_negdiff.causal import STRATEGIES
    from pyg_negdiff.experiment.config import RunConfig
    from pyg_negdiff.sampling import SAMPLERS

    if args.environments.lower() not in STRATEGIES:
        raise CommandError(
            f"--environments {args.environments}: unknown environment strategy; choose from "
            f"{', '.join(STRATEGIES)}"
        )
    used = tuned or args.penalty_weight > 0 or args.condition_on_environment
    for key in ("environments", "num_environments"):
        default = getattr(RunConfig, key)
        if not used and getattr(args, key) != default:
            raise CommandError(
                f"{option_name(key)} {getattr(args, key)}: environments are used only with "
                f"--penalty > 0 or --condition-on-environment; add one, or drop "
                f"{option_name(key)}"
            )
    penalty = getattr(args, "penalty", RunConfig.penalty)
    if penalty != RunConfig.penalty and not (tuned or args.penalty_weight > 0):
        raise CommandError(
            f"--penalty-kind {penalty}: applies only with --penalty > 0 (its weight); add "
            f"--penalty, or drop --penalty-kind"
        )
    sampler = SAMPLERS.get(args.sampler.lower())
    if args.condition_on_environment and sampler is not None:
        import inspect

        if "num_environments" not in inspect.signature(sampler).parameters:
            raise CommandError(
                f"--condition-on-environment: sampler {args.sampler!r} has no denoiser to "
                f"condition; use --sampler cnsdiff or adar"
            )
