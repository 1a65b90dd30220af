"""What a builder's keyword arguments must be (a model's, a learning-rate schedule's), written
on its parameters (`dropout_rate: Rate`) so that a wrong value in the config is one message
naming the key before TensorFlow starts: `mnist_exp.settings.builders` reads these names from
the builder's source without importing it. The built-in builders use them; yours may too."""

from typing import Annotated

Rate = Annotated[float, "a number in [0, 1)"]
Fraction = Annotated[float, "a number in [0, 1]"]
NonNegative = Annotated[float, "a number >= 0"]
PositiveNumber = Annotated[float, "a number > 0"]
Positive = Annotated[int, "an integer >= 1"]
Count = Annotated[int, "an integer >= 0 (0: none)"]
Sizes = Annotated[list[int], "a non-empty list of integers >= 1"]
Numbers = Annotated[list[float], "a list of numbers"]
