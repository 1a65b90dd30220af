"""`python -m benchmarks.user_digits RUN_DIR [--per-set N] [--seed S] [--write DIR]`: how well a
trained model reads digits as users send them, on proxy sets made from MNIST's *test* digits
(writers the model never trained on), each reproducible from its seed:

    low_res       written at 8x8 and scaled up to 112x112 (old scans, small crops)
    thick_pen     strokes widened 2-3x (felt pens, markers)
    thin_pen      strokes thinned to a hairline (ballpoints, fine liners)
    blurred       out of focus (a Gaussian blur of 2-4 px at 4x size)
    uneven_light  a light gradient and paper noise across the image
    off_centre    small, anywhere in a large margin
    photo_like    grey paper, a shadow, a slight turn, noise and JPEG compression

Every image is dark ink on light paper at user-like sizes; each goes through
`mnist-exp-predict`'s recipe (`mnist_exp.imaging.preprocess.mnist_style`) before the model.
Prints accuracy per set beside the run's MNIST test accuracy; --write keeps the images as PNGs.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tabulate import tabulate

from benchmarks import targets
from mnist_exp.imaging.preprocess import mnist_style

Maker = Callable[[np.ndarray, np.random.Generator], Image.Image]


def _paper(ink: Image.Image) -> Image.Image:
    """MNIST's light-on-dark digit as dark ink on white paper."""
    return Image.eval(ink.convert("L"), lambda value: 255 - value)


def _scaled(digit: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR)


def low_res(digit, rng):
    small = Image.fromarray(digit).resize((8, 8), Image.Resampling.BOX)
    return _paper(small.resize((112, 112), Image.Resampling.BILINEAR))


def thick_pen(digit, rng):
    width = int(rng.choice([5, 7, 9]))
    return _paper(_scaled(digit, 112).filter(ImageFilter.MaxFilter(width)))


def thin_pen(digit, rng):
    big = np.asarray(_scaled(digit, 112).filter(ImageFilter.MinFilter(int(rng.choice([5, 7])))))
    return _paper(Image.fromarray(np.where(big > 60, 255, 0).astype(np.uint8)))


def blurred(digit, rng):
    radius = float(rng.uniform(2.0, 4.0))
    return _paper(_scaled(digit, 112).filter(ImageFilter.GaussianBlur(radius)))


def uneven_light(digit, rng):
    ink = np.asarray(_scaled(digit, 112), np.float64) / 255
    ramp = np.linspace(rng.uniform(0.35, 0.6), 1.0, 112)
    light = np.outer(ramp, np.ones(112)) if rng.random() < 0.5 else np.outer(np.ones(112), ramp)
    paper = light * (1 - 0.75 * ink) + rng.normal(0, 0.03, ink.shape)
    return Image.fromarray(np.clip(paper * 255, 0, 255).astype(np.uint8))


def off_centre(digit, rng):
    canvas = Image.new("L", (200, 200), 255)
    size = int(rng.integers(40, 70))
    x, y = (int(v) for v in rng.integers(0, 200 - size, 2))
    canvas.paste(_paper(_scaled(digit, size)), (x, y))
    return canvas


def photo_like(digit, rng):
    ink = _scaled(digit, 140).rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
    ink = np.asarray(ink, np.float64) / 255
    grey = rng.uniform(0.6, 0.85)
    shadow = np.clip(np.linspace(-0.4, 1.2, 140) + rng.uniform(-0.3, 0.3), 0.55, 1.0)
    paper = grey * np.outer(np.ones(140), shadow) * (1 - 0.7 * ink)
    paper += rng.normal(0, 0.04, paper.shape)
    image = Image.fromarray(np.clip(paper * 255, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(40, 75)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


PROXY_SETS: dict[str, Maker] = {
    "low_res": low_res,
    "thick_pen": thick_pen,
    "thin_pen": thin_pen,
    "blurred": blurred,
    "uneven_light": uneven_light,
    "off_centre": off_centre,
    "photo_like": photo_like,
}


def proxy_set(name: str, digits: np.ndarray, seed: int) -> list[Image.Image]:
    """The images of proxy set `name` for `digits` (28x28 uint8, light on dark)."""
    rng = np.random.default_rng([seed, list(PROXY_SETS).index(name)])
    return [PROXY_SETS[name](digit, rng) for digit in digits]


def as_model_input(images: list[Image.Image]) -> np.ndarray:
    """predict's recipe applied to each image: [N, 28, 28] uint8."""
    return np.stack([mnist_style(np.asarray(image, np.float64) / 255).pixels for image in images])


def chosen_digits(x_test, y_test, per_set: int, seed: int):
    """`per_set` test digits, the same number of each class, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    per_class = max(1, per_set // 10)
    indices = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_test == label), per_class, replace=False)
            for label in range(10)
        ]
    )
    return x_test[indices], y_test[indices]


def score(predictor, x_test, y_test, per_set: int, seed: int, write: Path | None) -> list[list]:
    digits, labels = chosen_digits(x_test, y_test, per_set, seed)
    rows = []
    for name in PROXY_SETS:
        images = proxy_set(name, digits, seed)
        predicted = predictor.predict(as_model_input(images)).argmax(axis=1)
        rows.append([name, len(images), float(np.mean(predicted == labels))])
        if write is not None:
            folder = write / name
            folder.mkdir(parents=True, exist_ok=True)
            for index, (image, label) in enumerate(zip(images, labels, strict=True)):
                image.save(folder / f"{label}_{index:04d}.png")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.user_digits", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="a finished run trained on MNIST")
    parser.add_argument("--per-set", type=int, default=1000, help="images per set (1000)")
    parser.add_argument("--seed", type=int, default=0, help="which digits and distortions (0)")
    parser.add_argument("--write", type=Path, help="also write the images here, as PNGs")
    arguments = parser.parse_args(argv)

    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.runs.load import open_finished_run
    from mnist_exp.serving.predictors import load_predictor

    run = open_finished_run(arguments.run_dir)
    splits = prepare_splits(run.settings().dataset, run.settings().seed)
    predictor = load_predictor(str(run.directory))
    rows = score(
        predictor, splits.x_test, splits.y_test, arguments.per_set, arguments.seed, arguments.write
    )
    mnist_accuracy = run.metrics["test_accuracy"]
    accuracies = {name: accuracy for name, _, accuracy in rows}
    rows.append(["MNIST test set (as is)", len(splits.y_test), mnist_accuracy])
    print(tabulate(rows, headers=["set", "images", "accuracy"], floatfmt=".4f"))
    print()
    print(targets.table([targets.users_digits(accuracies, mnist_accuracy)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
