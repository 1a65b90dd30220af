"""Names that tell runs apart where only a name is shown: TensorBoard's run list."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from mnist_exp.runs import artifacts

MAX_LABEL_LENGTH = 96
SWEEP_HPARAMS_DIR = "sweep-hparams"  # a sweep's HParams columns, a named run in TensorBoard
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9._=,+-]+")
_SHOWN_FIRST = ("model", "seed", "resume")


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def run_label(model: str, seed: int, overrides: Sequence[str]) -> str:
    """`cnn_bn-seed0`, then the run's other command-line overrides, e.g.
    `cnn-seed1,optimizer.learning_rate=0.01`: safe as a directory name, at most
    MAX_LABEL_LENGTH characters. Interpolations stay as typed (`${oc.env:X}` is never
    resolved here), so values read from the environment never reach the name."""
    others = [override.lstrip("+~") for override in overrides if _key(override) not in _SHOWN_FIRST]
    label = ",".join([f"{model}-seed{seed}", *others])
    return _NOT_IN_A_NAME.sub("_", label)[:MAX_LABEL_LENGTH]


def tensorboard_dir(run_dir: Path, label: str) -> Path:
    """Where a run's TensorBoard events go: `tensorboard/LABEL/` (train/ and validation/
    beneath), so TensorBoard lists `.../tensorboard/cnn_bn-seed0/train` instead of an
    anonymous `.../tensorboard/train`. A run begun before runs were named keeps its layout
    when it is continued."""
    events = Path(run_dir) / artifacts.TENSORBOARD_DIR
    if (events / "train").is_dir():
        return events
    return events / label
