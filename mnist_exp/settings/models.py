"""Model settings: one class per built-in option (conf/model/NAME.yaml), whose fields are the
keyword arguments of the builder it names, or the user's own builder (`model._target_`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from omegaconf import DictConfig, OmegaConf

from mnist_exp.settings.schema import (
    OptionSettings,
    check_positive,
    check_positive_list,
    check_rate,
    parse_option,
    require,
)


@dataclass(kw_only=True)
class ModelSettings(OptionSettings, group="model"):
    """A built-in model: `builder` ("module.function") is called with the fields (but `name`)
    as keyword arguments, besides the input shape and class count the data gives."""

    builder: ClassVar[str]

    l2_regularization: float

    def __post_init__(self):
        require(
            self.l2_regularization >= 0,
            f"model.l2_regularization={self.l2_regularization} must be >= 0.",
        )

    def arguments(self) -> dict:
        """The builder's keyword arguments."""
        arguments = asdict(self)
        arguments.pop("name")
        return arguments


@dataclass(kw_only=True)
class MlpSettings(ModelSettings, option="mlp"):
    builder = "mnist_exp.models.mlp.build_model"
    hidden_units: list[int]
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.hidden_units", self.hidden_units)
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(kw_only=True)
class CnnSmallSettings(ModelSettings, option="cnn_small"):
    builder = "mnist_exp.models.cnn_small.build_model"
    filters: list[int]
    dense_units: int
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive("model.dense_units", self.dense_units, zero_means="none")
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(kw_only=True)
class CnnSettings(ModelSettings, option="cnn"):
    builder = "mnist_exp.models.cnn.build_model"
    filters: list[int]
    dense_units: int
    conv_dropout_rate: float
    dense_dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive("model.dense_units", self.dense_units)
        check_rate("model.conv_dropout_rate", self.conv_dropout_rate)
        check_rate("model.dense_dropout_rate", self.dense_dropout_rate)


@dataclass(kw_only=True)
class CnnBnSettings(ModelSettings, option="cnn_bn"):
    builder = "mnist_exp.models.cnn_bn.build_model"
    filters: list[int]
    convs_per_block: int
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive("model.convs_per_block", self.convs_per_block)
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(kw_only=True)
class ResnetSettings(ModelSettings, option="resnet"):
    builder = "mnist_exp.models.resnet.build_model"
    filters: list[int]
    blocks_per_stage: int
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive("model.blocks_per_stage", self.blocks_per_stage)
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(kw_only=True)
class FastCnnSettings(ModelSettings, option="fast_cnn"):
    builder = "mnist_exp.models.fast_cnn.build_model"
    filters: list[int]
    kernel_sizes: list[int]
    dense_units: int
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive_list("model.kernel_sizes", self.kernel_sizes)
        require(
            len(self.kernel_sizes) == len(self.filters),
            f"model.kernel_sizes={self.kernel_sizes} needs one kernel size per entry of "
            f"model.filters={self.filters}.",
        )
        check_positive("model.dense_units", self.dense_units, zero_means="none")
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(kw_only=True)
class StridedCnnSettings(ModelSettings, option="strided_cnn"):
    builder = "mnist_exp.models.strided_cnn.build_model"
    filters: list[int]
    head_filters: int
    dropout_rate: float

    def __post_init__(self):
        super().__post_init__()
        check_positive_list("model.filters", self.filters)
        check_positive("model.head_filters", self.head_filters)
        check_rate("model.dropout_rate", self.dropout_rate)


@dataclass(frozen=True)
class BuilderSettings:
    """A model from the user's own function (`model._target_: module.function`); every other
    key of the option is one of its keyword arguments."""

    builder: str
    name: str
    keyword_arguments: dict

    def arguments(self) -> dict:
        return dict(self.keyword_arguments)


def parse_model(cfg: DictConfig) -> ModelSettings | BuilderSettings:
    """The `model` section: a built-in option by `name`, or the user's `_target_`."""
    if "_target_" in cfg.get("model", {}):
        return _builder_settings(cfg)
    name = cfg.get("model", {}).get("name")
    require(
        name in ModelSettings.options,
        f"model.name={name!r}: expected one of {', '.join(sorted(ModelSettings.options))}, or "
        "a model._target_ naming your own builder function.",
    )
    return parse_option(cfg, ModelSettings)


def _builder_settings(cfg: DictConfig) -> BuilderSettings:
    from mnist_exp.models.builders import FRAMEWORK_ARGUMENTS, find_module

    arguments = OmegaConf.to_container(cfg.model, resolve=True)
    target = arguments.pop("_target_")
    require(
        isinstance(target, str) and bool(target),
        f"model._target_={target!r} must be a string: module.function.",
    )
    supplied = [key for key in FRAMEWORK_ARGUMENTS if key in arguments]
    require(
        not supplied,
        f"model.{supplied[0] if supplied else ''} is supplied by mnist_exp (from the data); "
        "remove it from the model option.",
    )
    find_module(target)
    name = arguments.pop("name", None) or target.rpartition(".")[2]
    return BuilderSettings(builder=target, name=str(name), keyword_arguments=arguments)
