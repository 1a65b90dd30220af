"""What a trained model takes: the size and channels of its images, and the recipe that turns
a user's image file into one. Every run records it (metrics.json "input"); predict, serve,
export and the ensemble read it, so a new image is prepared as the run's images were."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# "digits": MNIST's recipe (grey, inverted to light ink on black when needed, cropped to the
#           ink, fitted into 20x20 and centred by mass in 28x28), for handwritten digits;
# "as_is":  the image's own content, in the run's colour mode, scaled to the run's size
#           keeping its aspect ratio (the longer side cropped, centred), for everything else.
RECIPES = ("as_is", "digits")
COLOR_MODES = {"grayscale": 1, "rgb": 3}


@dataclass(frozen=True)
class InputSpec:
    height: int
    width: int
    channels: int  # 1: grayscale, 3: RGB
    recipe: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @property
    def color_mode(self) -> str:
        return "rgb" if self.channels == 3 else "grayscale"

    def describe(self) -> str:
        """What the model takes, in words (metrics.json's `input_convention`)."""
        if self.recipe == "digits":
            return (
                "28x28 grayscale, raw pixel values 0-255 (uint8 or float), light ink on a black "
                "background, the object fitted into 20x20 and centred by its centre of mass "
                "(MNIST)"
            )
        return (
            f"{self.height}x{self.width} {'RGB' if self.channels == 3 else 'grayscale'}, raw "
            "pixel values 0-255 (uint8 or float), each image as it is: scaled keeping its "
            "aspect ratio, the longer side centre-cropped"
        )

    @property
    def caption(self) -> str:
        """A few words for the page: '28x28, light ink on black', '48x48 RGB, as it is'."""
        if self.recipe == "digits":
            return f"{self.height}x{self.width}, light ink on black"
        return f"{self.height}x{self.width} {self.color_mode.replace('rgb', 'RGB')}, as it is"

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict | None) -> InputSpec:
        """The recorded input; a run recorded before inputs were (None) took MNIST's."""
        if not record:
            return MNIST_INPUT
        return cls(
            height=int(record["height"]),
            width=int(record["width"]),
            channels=int(record["channels"]),
            recipe=str(record["recipe"]),
        )


MNIST_INPUT = InputSpec(28, 28, 1, "digits")
# A model input shape that is MNIST's: (28, 28, 1), or (28, 28) for a model without the axis.
MNIST_SHAPES = (MNIST_INPUT.shape, MNIST_INPUT.shape[:2])
