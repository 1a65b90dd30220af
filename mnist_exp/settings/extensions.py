"""What a user adds to a run by `_target_`, as model builders are named: callbacks
(`callbacks.NAME`), metrics (`metrics.NAME`) and the loss (`loss`). Checked here, before
TensorFlow starts (the shape of each entry, and that its module exists and binds its name,
read from its source: `targets.find_target`); made into
objects by `mnist_exp.training.extensions`."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from mnist_exp.settings.schema import EPOCH_LOG_KEYS, check_log_key, require

# Columns a metric may not take: the run's own.
_TAKEN = {key.removeprefix("val_") for key in EPOCH_LOG_KEYS} | {"learning_rate"}


@dataclass(frozen=True, kw_only=True)
class TargetSettings:
    """One object named in config: `key` (e.g. `callbacks.my_log`) names it in messages;
    `target` is `module.Name`, called with `keyword_arguments`."""

    key: str
    target: str
    keyword_arguments: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.key.rpartition(".")[2]


def _parse_target(node, key: str) -> TargetSettings:
    from mnist_exp.targets import find_target

    require(
        isinstance(node, dict) and isinstance(node.get("_target_"), str) and node["_target_"],
        f"{key}={node!r} must name a class or function: {key}._target_=module.Name "
        f"(e.g. +{key}._target_=keras.callbacks.CSVLogger), its arguments beside it.",
    )
    arguments = dict(node)
    target = arguments.pop("_target_")
    find_target(target, f"{key}._target_")
    return TargetSettings(key=key, target=target, keyword_arguments=arguments)


def _section(cfg: DictConfig, section: str) -> dict:
    node = cfg.get(section)
    node = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    require(
        node is None or isinstance(node, dict),
        f"{section}={node!r} must be a mapping of names to _target_ entries: "
        f"+{section}.NAME._target_=module.Name.",
    )
    return node or {}


def parse_named_targets(cfg: DictConfig, section: str) -> tuple[TargetSettings, ...]:
    """The entries of `callbacks` or `metrics`, in the config's order; an entry set to null
    (`callbacks.NAME=null`) is left out."""
    entries = tuple(
        _parse_target(node, f"{section}.{name}")
        for name, node in _section(cfg, section).items()
        if node is not None
    )
    if section == "metrics":
        for entry in entries:
            require(
                entry.name not in _TAKEN and not entry.name.startswith("val_"),
                f"{entry.key}: the run's own columns are {', '.join(sorted(_TAKEN))} (and val_ "
                "ones); name your metric otherwise.",
            )
    else:
        metrics = [name for name, node in _section(cfg, "metrics").items() if node is not None]
        for entry in entries:
            _check_monitor(entry, (*metrics, *(f"val_{name}" for name in metrics)))
    return entries


def _check_monitor(entry: TargetSettings, metric_columns: tuple[str, ...]) -> None:
    """A callback's `monitor` names a column of the history, and its `mode` agrees with it:
    Keras only warns, at each epoch's end, about a monitor it does not find."""
    monitor = entry.keyword_arguments.get("monitor")
    if monitor is None:
        return
    check_log_key(f"{entry.key}.monitor", monitor, metric_columns)
    mode = entry.keyword_arguments.get("mode", "auto")
    expected = EPOCH_LOG_KEYS.get(monitor)
    require(
        mode == "auto" or expected in (None, mode),
        f"{entry.key}.mode={mode!r}: {monitor} improves towards {expected}; set "
        f"{entry.key}.mode={expected}.",
    )


def parse_loss(cfg: DictConfig) -> TargetSettings | None:
    """The user's loss, or None for the built-in one (sparse categorical cross-entropy,
    smoothed by `trainer.label_smoothing`)."""
    node = _section(cfg, "loss")
    if node.get("_target_") is None:
        require(
            not {key for key in node if key != "_target_"},
            f"loss={node}: arguments without loss._target_; the built-in loss takes "
            "trainer.label_smoothing only.",
        )
        return None
    smoothing = OmegaConf.select(cfg, "trainer.label_smoothing", default=0.0)
    require(
        not smoothing,
        f"trainer.label_smoothing={smoothing} smooths the built-in loss, and loss._target_ "
        "names another: pass the smoothing to your loss (+loss.label_smoothing=...) instead.",
    )
    return _parse_target(node, "loss")
