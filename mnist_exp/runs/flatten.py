"""A config as flat `dotted.key -> scalar` pairs, for HParams records and run tables."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig, OmegaConf

SECRET_MARKER = "oc.env"


def _is_secret(node, key) -> bool:
    raw = node._get_node(key)._value() if hasattr(node, "_get_node") else None
    return isinstance(raw, str) and SECRET_MARKER in raw


def flatten_config(cfg: DictConfig, prefix: str = "") -> dict[str, object]:
    """Scalar leaves keyed by dotted path; lists become strings; values read from the
    environment (`${oc.env:...}`, where secrets live) and Hydra's own `hydra` key are left out.
    """
    flat: dict[str, object] = {}
    for key in cfg:
        if not prefix and key == "hydra":
            continue
        name = f"{prefix}{key}"
        if _is_secret(cfg, key) or OmegaConf.is_missing(cfg, key):
            continue  # secrets never reach a record; `???` (e.g. an unused resume=) has no value
        value = cfg._get_node(key)
        if isinstance(value, DictConfig):
            flat.update(flatten_config(value, prefix=f"{name}."))
        elif isinstance(value, ListConfig):
            flat[name] = str(OmegaConf.to_container(value, resolve=True))
        else:
            flat[name] = cfg[key]
    return flat


def with_group_choices(flat: dict[str, object], choices: dict | None) -> dict[str, object]:
    """Adds Hydra's group choices (model=cnn_bn, optimizer=adam) under the group's name and
    drops the `GROUP.name` and `GROUP._target_` keys they stand for. Hydra's own groups
    (hydra/...) are left out."""
    merged = dict(flat)
    for group, choice in (choices or {}).items():
        if group.startswith("hydra") or choice is None:
            continue
        merged.pop(f"{group}.name", None)
        merged.pop(f"{group}._target_", None)
        merged[group] = choice
    return merged
