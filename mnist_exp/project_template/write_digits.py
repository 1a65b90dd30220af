"""Writes 100 of MNIST's test digits per class into my_digits/CLASS/*.png, named in words,
to try the folder dataset: python write_digits.py"""

from pathlib import Path

from PIL import Image

from mnist_exp.data.sources import load_dataset

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
data = load_dataset("mnist")
for label, name in enumerate(NAMES):
    folder = Path("my_digits") / name
    folder.mkdir(parents=True, exist_ok=True)
    for index in (data.y_test == label).nonzero()[0][:100]:
        Image.fromarray(255 - data.x_test[index]).save(folder / f"{index}.png")  # ink on paper
