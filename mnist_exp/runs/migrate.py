"""Runs recorded by earlier versions of mnist_exp, read and continued as current ones, in one
place.

metrics.json carries `run_format`; a run without it has format 1, whose differences are:
- its saved config lacks keys that options gained since (read with the values it ran with);
- history.csv numbers epochs from 0 (now from 1);
- TensorBoard events sit in tensorboard/ itself (train/, validation/ and the run's own
  record; now in tensorboard/LABEL/, named for the run);
- metrics.json has no class_names (its dataset's own names).

A saved config of any format may also hold settings that moved since (early stopping from
the trainer into the callbacks presets, the plateau schedule into a callback, a built-in
model's or schedule's builder named by its option alone): read in their current places.

Readers get the current form without writing (`upgraded_config`, `class_names`); `migrate`
rewrites the files of a run that is being continued, by the process that holds it.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mnist_exp import safe_files
from mnist_exp.runs import artifacts
from mnist_exp.settings.schema import EPOCH_LOG_KEYS

RUN_FORMAT = 2
FORMAT_KEY = "run_format"

# Keys options gained after runs had recorded their configs, with the values those runs had
# (option None: every option of the group).
_FULL_RESOLUTION = {"low_resolution_probability": 0.0, "low_resolution_side": 8}
ADDED_KEYS = {
    ("strategy", "default"): {"cpu_devices": 1},
    ("augment", "none"): _FULL_RESOLUTION,
    ("augment", "light"): {"erasing_probability": 0.0, "erasing_size": 0.0, **_FULL_RESOLUTION},
    ("augment", "strong"): _FULL_RESOLUTION,
    ("augment", None): {
        "elastic_alpha": 0.0,
        "elastic_sigma": 4.0,
        "plain_final_share": 0.0,
        "horizontal_flip": 0.0,
        "brightness": 0.0,
        "contrast": 0.0,
        "saturation": 0.0,
        "fill_mode": "constant",
    },
    ("model", "fast_cnn"): {"crop": 0},
    ("trainer", None): {"label_smoothing": 0.0},
    ("dataset", "folder"): {
        "recipe": "digits",
        "image_size": None,
        "color_mode": None,
        "small_below": 0,
        "memory_budget_mb": 2048,
    },
}

# Top-level keys added since, with the values that mean "nothing of the user's".
ADDED_TOP_LEVEL_KEYS = {
    "callbacks": {},
    "metrics": {},
    "loss": {"_target_": None},
    "logger": {"name": "tensorboard"},
}


def run_format(metrics: dict) -> int:
    return int(metrics.get(FORMAT_KEY, 1))


def upgraded_config(config: DictConfig) -> DictConfig:
    """`config` with its moved settings in their places and the keys its options gained since
    it was recorded (a copy when any)."""
    upgraded = OmegaConf.to_container(config, resolve=False)
    moved = _move_settings(upgraded)
    added = _add_keys(upgraded)
    named = _name_the_builder(upgraded)
    return OmegaConf.create(upgraded) if moved or added or named else config


# Built-in options that name their builder (`_target_`) since they are built as users' are;
# before, the option's name did.
BUILDERS = {
    "model": "mnist_exp.models.{}.build_model",
    "schedule": "mnist_exp.training.schedules.{}",
}


def _name_the_builder(config: dict) -> bool:
    named = False
    for group, builder in BUILDERS.items():
        option = config.get(group)
        if isinstance(option, dict) and "_target_" not in option:
            config[group] = {"_target_": builder.format(option["name"]), **option}
            named = True
    return named


def _add_keys(config: dict) -> bool:
    missing = {
        (group, key): value
        for (group, option), added in ADDED_KEYS.items()
        if isinstance(config.get(group), dict) and option in (None, config[group].get("name"))
        for key, value in added.items()
        if key not in config[group]
    }
    for (group, key), value in missing.items():
        config[group][key] = value
    missing_top = {key: value for key, value in ADDED_TOP_LEVEL_KEYS.items() if key not in config}
    config.update(missing_top)
    return bool(missing or missing_top)


def _move_settings(config: dict) -> bool:
    """trainer.early_stopping became the callbacks preset `early_stopping` (its
    restore_best_weights trainer.restore_best_weights), and schedule=reduce_on_plateau the
    preset `reduce_lr_on_plateau` beside a constant rate."""
    presets = {}
    stopping = config.get("trainer", {}).pop("early_stopping", None)
    if stopping is not None:
        config["trainer"]["restore_best_weights"] = stopping.get("restore_best_weights", True)
        if stopping.get("enabled", True):
            presets["early_stopping"] = _monitoring(
                "keras.callbacks.EarlyStopping",
                stopping["monitor"],
                patience=stopping["patience"],
                min_delta=stopping["min_delta"],
            )
    schedule = config.get("schedule", {})
    if schedule.get("name") == "reduce_on_plateau":
        config["schedule"] = {"name": "constant"}
        presets["reduce_lr_on_plateau"] = _monitoring(
            "keras.callbacks.ReduceLROnPlateau",
            schedule["monitor"],
            factor=schedule["factor"],
            patience=schedule["patience"],
            min_lr=schedule["min_learning_rate"],
        )
    if presets:
        config["callbacks"] = {**presets, **(config.get("callbacks") or {})}
    return stopping is not None or bool(presets)


def _monitoring(target: str, monitor: str, **keys) -> dict:
    """A callbacks preset as conf/callbacks/ writes it: its class, the history column it
    watches and the direction that column improves in, then its own keys."""
    return {"_target_": target, "monitor": monitor, "mode": EPOCH_LOG_KEYS[monitor], **keys}


def class_names(metrics: dict, config: DictConfig) -> tuple[str, ...]:
    """The run's class names: recorded by the run, or its dataset's (format 1)."""
    if names := metrics.get("class_names"):
        return tuple(names)
    from mnist_exp.data.arrays import DIGIT_NAMES, FASHION_NAMES

    dataset = config.get("dataset", {}).get("name")
    return FASHION_NAMES if dataset == "fashion_mnist" else DIGIT_NAMES


def migrate(run_dir: Path, metrics: dict, label: str) -> dict:
    """Brings the files of the run in `run_dir` to the current format; call it while holding
    the run, before continuing it.

    Args:
        run_dir: the run.
        metrics: its metrics.json.
        label: the name its TensorBoard events get (`reporting.tensorboard_names.run_label`).

    Returns:
        `metrics` as the current format writes them.
    """
    if run_format(metrics) >= RUN_FORMAT:
        return metrics
    run_dir = Path(run_dir)
    _number_history_from_one(run_dir / artifacts.HISTORY_FILE)
    events = run_dir / artifacts.TENSORBOARD_DIR
    if (events / "train").is_dir():  # everything in tensorboard/ is this run's
        parts = list(events.iterdir())
        (events / label).mkdir()
        for part in parts:
            part.rename(events / label / part.name)
    return {**metrics, FORMAT_KEY: RUN_FORMAT}


def _number_history_from_one(path: Path) -> None:
    if not path.is_file():
        return
    with open(path, newline="") as stream:  # keep CSVLogger's \r\n line ends as they are
        header, *rows = stream.readlines()
    if not rows or not rows[0].startswith("0,"):
        return
    numbered = (row.split(",", 1) for row in rows)
    renumbered = [f"{int(number) + 1},{rest}" for number, rest in numbered]
    safe_files.write_text_atomically(path, header + "".join(renumbered))
