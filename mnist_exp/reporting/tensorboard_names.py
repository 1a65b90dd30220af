"""Names that tell runs apart where only a name is shown: TensorBoard's run list."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from mnist_exp import safe_files
from mnist_exp.runs import artifacts, record

MAX_LABEL_LENGTH = 96
SWEEP_HPARAMS_DIR = "sweep-hparams"  # a sweep's HParams columns, a named run in TensorBoard
# The runs below a run's events folder: Keras' two, then where the final values are drawn.
TEST_RUN, BEST_VALIDATION_RUN = "test", "validation_best"
SUBRUNS = ("train", "validation", TEST_RUN, BEST_VALIDATION_RUN)
SWEPT_KEYS_FILE = ".swept_keys.json"  # at a sweep's root: the keys its jobs differ in
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9._=,+-]+")
_SHOWN_FIRST = ("model", "seed", "resume")


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def run_label(
    model: str, seed: int, overrides: Sequence[str], keys: Collection[str] | None = None
) -> str:
    """`cnn_bn-seed0`, then the run's other command-line overrides (only those of `keys`
    when given: in a sweep, the swept ones), e.g. `cnn-seed1,optimizer.learning_rate=0.01`.
    Safe as a directory name, at most MAX_LABEL_LENGTH characters. Interpolations stay as
    typed (`${oc.env:X}` is never resolved here): values from the environment never show."""
    others = [
        override.lstrip("+~")
        for override in overrides
        if _key(override) not in _SHOWN_FIRST and (keys is None or _key(override) in keys)
    ]
    label = ",".join([f"{model}-seed{seed}", *others])
    return _NOT_IN_A_NAME.sub("_", label)[:MAX_LABEL_LENGTH]


def write_swept_keys(sweep_dir: Path, keys: Collection[str]) -> None:
    safe_files.write_text_atomically(Path(sweep_dir) / SWEPT_KEYS_FILE, json.dumps(sorted(keys)))


def _swept_keys(sweep_dir: Path) -> set[str] | None:
    try:
        return set(json.loads((Path(sweep_dir) / SWEPT_KEYS_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def tensorboard_dir(run_dir: Path, model: str, seed: int) -> Path:
    """Where a run's TensorBoard events go: `tensorboard/LABEL/` (train/ and validation/
    beneath), so TensorBoard lists `.../tensorboard/cnn_bn-seed0/train` rather than an
    anonymous `.../tensorboard/train`. A job of a sweep is named by the swept keys only (the
    overrides all jobs share would hide the rest of the name). A continued run keeps the
    name it started with."""
    run_dir = Path(run_dir)
    events = run_dir / artifacts.TENSORBOARD_DIR
    started = sorted(path for path in events.iterdir() if path.is_dir()) if events.is_dir() else []
    if started:
        return started[0]
    return events / new_label(run_dir, model, seed)


def shown_name(logdir: Path, events_dir: Path) -> Path:
    """The name under which `mnist-exp-board` lists the events in `events_dir` (a folder below
    `logdir`): the path without `tensorboard/LABEL`, the run folder named by its label, and a
    sweep's job by its number and the overrides it was swept with, as typed:
    `3-model=cnn,seed=1/train` rather than `3/tensorboard/cnn-seed1/train`. Split names
    (train, validation, ...) stay as they are."""
    parts = Path(events_dir).relative_to(logdir).parts
    if artifacts.TENSORBOARD_DIR not in parts[:-1]:
        return Path(*parts)
    at = parts.index(artifacts.TENSORBOARD_DIR)
    above, label, split = parts[:at], parts[at + 1], parts[at + 2 :]
    run_dir = Path(logdir).joinpath(*above)
    keys = _swept_keys(run_dir.parent) if above else None
    if keys is None:
        return Path(*above, label, *split)
    swept = [
        override.lstrip("+~")
        for override in record.read_overrides(run_dir)
        if _key(override) in keys
    ]
    name = _NOT_IN_A_NAME.sub("_", "-".join([above[-1], ",".join(swept)]) if swept else above[-1])
    return Path(*above[:-1], name[:MAX_LABEL_LENGTH], *split)


def new_label(run_dir: Path, model: str, seed: int) -> str:
    """The name the events of the run in `run_dir` get (see `tensorboard_dir`)."""
    keys = _swept_keys(Path(run_dir).parent)
    return run_label(model, seed, record.read_overrides(run_dir), keys)
