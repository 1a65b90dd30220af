"""The best trial as an experiment preset: a `# @package _global_` file listing only what
differs from the default config, so `python -m mnist_exp +experiment=NAME` reruns it."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from omegaconf import DictConfig, OmegaConf

from mnist_exp.tuning.overrides import TUNING_ROOTS

# compose(overrides) -> (training config, Hydra group choices)
Composer = Callable[[list[str]], tuple[DictConfig, dict]]


def _leaves(node, prefix: str = "") -> dict:
    """Dotted key -> value; lists are values, not branches."""
    if not isinstance(node, dict):
        return {prefix: node}
    leaves = {}
    for key, value in node.items():
        leaves.update(
            _leaves(value, f"{prefix}{key}." if isinstance(value, dict) else prefix + key)
        )
    return leaves


def _nested(leaves: dict) -> dict:
    tree: dict = {}
    for dotted, value in leaves.items():
        *parents, last = dotted.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return tree


def _is_training_group(group: str) -> bool:
    return group.split("/")[0] not in TUNING_ROOTS and group != "experiment"


def preset_text(compose: Composer, overrides: list[str], header: str) -> str:
    """The YAML of a preset that composes to what `overrides` compose to.

    Args:
        compose: composes the training config for a list of overrides.
        overrides: the winning configuration, as overrides of the default config.
        header: comment lines (without '#') put on top: how it was found, what it scored.
    """
    target, target_choices = compose(overrides)
    _, default_choices = compose([])
    groups = {
        group: choice
        for group, choice in target_choices.items()
        if _is_training_group(group) and choice != default_choices.get(group)
    }
    reference, _ = compose([f"{group}={choice}" for group, choice in groups.items()])
    # Unresolved: a value read from the environment stays `${oc.env:...}` in the preset.
    target_leaves = _leaves(OmegaConf.to_container(target, resolve=False))
    reference_leaves = _leaves(OmegaConf.to_container(reference, resolve=False))
    changed = {
        key: value
        for key, value in target_leaves.items()
        if key not in reference_leaves or reference_leaves[key] != value
    }
    body: dict = {}
    if groups:
        body["defaults"] = [{f"override /{group}": choice} for group, choice in groups.items()]
    body.update(_nested(changed))
    comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return (
        "# @package _global_\n"
        + comments
        + yaml.dump(body, Dumper=_FlowListDumper, sort_keys=False)
    )


class _FlowListDumper(yaml.SafeDumper):
    """Lists of scalars on one line (filters: [32, 64, 128]), as in conf/."""


def _represent_list(dumper, data):
    flow = all(not isinstance(item, (list, dict)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowListDumper.add_representer(list, _represent_list)
