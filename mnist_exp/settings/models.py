"""Model settings: one class per built-in option (conf/model/NAME.yaml), whose fields are the
keyword arguments of the builder it names, or the user's own builder (`model._target_`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar

from omegaconf import DictConfig, OmegaConf

from mnist_exp.settings.schema import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_LIST,
    POSITIVE_OR_NONE,
    RATE,
    OptionSettings,
    require,
)


@dataclass(kw_only=True)
class ModelSettings(OptionSettings, group="model"):
    """A built-in model: `builder` ("module.function") is called with the fields (but `name`)
    as keyword arguments, besides the input shape and class count the data gives."""

    builder: ClassVar[str]
    other_choices = ", or a model._target_ naming your own builder function"

    l2_regularization: float = field(metadata=NON_NEGATIVE)

    def arguments(self) -> dict:
        """The builder's keyword arguments."""
        arguments = asdict(self)
        arguments.pop("name")
        return arguments


@dataclass(kw_only=True)
class MlpSettings(ModelSettings, option="mlp"):
    builder = "mnist_exp.models.mlp.build_model"
    hidden_units: list[int] = field(metadata=POSITIVE_LIST)
    dropout_rate: float = field(metadata=RATE)


@dataclass(kw_only=True)
class CnnSmallSettings(ModelSettings, option="cnn_small"):
    builder = "mnist_exp.models.cnn_small.build_model"
    filters: list[int] = field(metadata=POSITIVE_LIST)
    dense_units: int = field(metadata=POSITIVE_OR_NONE)
    dropout_rate: float = field(metadata=RATE)


@dataclass(kw_only=True)
class CnnSettings(ModelSettings, option="cnn"):
    builder = "mnist_exp.models.cnn.build_model"
    filters: list[int] = field(metadata=POSITIVE_LIST)
    dense_units: int = field(metadata=POSITIVE)
    conv_dropout_rate: float = field(metadata=RATE)
    dense_dropout_rate: float = field(metadata=RATE)


@dataclass(kw_only=True)
class CnnBnSettings(ModelSettings, option="cnn_bn"):
    builder = "mnist_exp.models.cnn_bn.build_model"
    filters: list[int] = field(metadata=POSITIVE_LIST)
    convs_per_block: int = field(metadata=POSITIVE)
    dropout_rate: float = field(metadata=RATE)


@dataclass(kw_only=True)
class ResnetSettings(ModelSettings, option="resnet"):
    builder = "mnist_exp.models.resnet.build_model"
    filters: list[int] = field(metadata=POSITIVE_LIST)
    blocks_per_stage: int = field(metadata=POSITIVE)
    dropout_rate: float = field(metadata=RATE)


@dataclass(kw_only=True)
class FastCnnSettings(ModelSettings, option="fast_cnn"):
    builder = "mnist_exp.models.fast_cnn.build_model"
    crop: int = field(metadata=NON_NEGATIVE)
    filters: list[int] = field(metadata=POSITIVE_LIST)
    kernel_sizes: list[int] = field(metadata=POSITIVE_LIST)
    dense_units: int = field(metadata=POSITIVE_OR_NONE)
    dropout_rate: float = field(metadata=RATE)

    def __post_init__(self):
        super().__post_init__()
        require(
            len(self.kernel_sizes) == len(self.filters),
            f"model.kernel_sizes={self.kernel_sizes} needs one kernel size per entry of "
            f"model.filters={self.filters}.",
        )


@dataclass(kw_only=True)
class StridedCnnSettings(ModelSettings, option="strided_cnn"):
    builder = "mnist_exp.models.strided_cnn.build_model"
    filters: list[int] = field(metadata=POSITIVE_LIST)
    head_filters: int = field(metadata=POSITIVE)
    dropout_rate: float = field(metadata=RATE)


@dataclass(frozen=True)
class BuilderSettings:
    """A model from the user's own function (`model._target_: module.function`); every other
    key of the option is one of its keyword arguments."""

    builder: str
    name: str
    keyword_arguments: dict

    def arguments(self) -> dict:
        return dict(self.keyword_arguments)


def parse_builder(cfg: DictConfig) -> BuilderSettings:
    """The `model` section that names the user's own builder (`model._target_`)."""
    from mnist_exp.models.builders import FRAMEWORK_ARGUMENTS, TARGET_KEY
    from mnist_exp.targets import find_module

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
    find_module(target, TARGET_KEY)
    name = arguments.pop("name", None) or target.rpartition(".")[2]
    return BuilderSettings(builder=target, name=str(name), keyword_arguments=arguments)
