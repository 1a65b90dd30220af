"""`python -m benchmarks.small_folders [--seeds 0,1,2] [--out DIR]`: what the folder dataset
scores with no options at all on small folders of users' kind, against the same runs with
MNIST's trainer defaults kept (`dataset.small_below=0`), each run as users type it
(`python -m mnist_exp dataset=folder dataset.path=DIR seed=S`). Prints one row per folder and
setting: the test accuracy of each seed, their minimum and the training time.

The folders, written fresh with fixed seeds:
- `shapes`: 4 classes of drawn outlines (ring, bar, cross, triangle), 75 each, 64x64 grey.
- `colours`: 3 classes told apart by colour only (blobs on light backgrounds), 60 each, RGB,
  48x48 with every fourth image 64x40.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tabulate import tabulate

SETTINGS = {"defaults": [], "MNIST's trainer defaults": ["dataset.small_below=0"]}


def _outline(draw: ImageDraw.ImageDraw, kind: str, box, width: int) -> None:
    left, top, right, bottom = box
    middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
    if kind == "ring":
        draw.ellipse(box, outline=0, width=width)
    elif kind == "bar":
        draw.line([(middle_x, top), (middle_x, bottom)], fill=0, width=width)
    elif kind == "cross":
        draw.line([(middle_x, top), (middle_x, bottom)], fill=0, width=width)
        draw.line([(left, middle_y), (right, middle_y)], fill=0, width=width)
    else:
        draw.polygon([(middle_x, top), (right, bottom), (left, bottom)], outline=0, width=width)


def write_shapes(root: Path, per_class: int = 75, side: int = 64) -> None:
    rng = np.random.default_rng(1)
    for kind in ("ring", "bar", "cross", "triangle"):
        (root / kind).mkdir(parents=True)
        for index in range(per_class):
            image = Image.new("L", (side, side), 255)
            size = int(rng.integers(side // 4, side // 2))
            left, top = (int(v) for v in rng.integers(0, side - size, 2))
            box = (left, top, left + size, top + size)
            _outline(ImageDraw.Draw(image), kind, box, max(2, size // 10))
            image.save(root / kind / f"{index}.png")


def write_colours(root: Path, per_class: int = 60) -> None:
    rng = np.random.default_rng(0)
    colours = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            width, height = (64, 40) if index % 4 == 0 else (48, 48)
            background = tuple(int(v) for v in rng.integers(200, 256, 3))
            image = Image.new("RGB", (width, height), background)
            left, top = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
            box = (
                left,
                top,
                left + int(rng.integers(10, width // 2)),
                top + int(rng.integers(10, height // 2)),
            )
            jitter = rng.integers(-30, 31, 3)
            fill = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter, strict=True))
            draw = ImageDraw.Draw(image)
            (draw.ellipse if index % 2 else draw.rectangle)(box, fill=fill)
            image.save(root / name / f"{index}.png")


def run(folder: Path, seed: int, overrides: list[str], out: Path) -> dict:
    run_dir = out / "runs" / f"{folder.name}-{seed}-{len(overrides)}"
    command = [sys.executable, "-m", "mnist_exp", "dataset=folder", f"dataset.path={folder}"]
    command += [f"seed={seed}", f"hydra.run.dir={run_dir}", *overrides]
    subprocess.run(command, check=True, capture_output=True, cwd=out)
    return json.loads((run_dir / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, help="where folders and runs go (default: a temp dir)")
    arguments = parser.parse_args()
    seeds = [int(seed) for seed in arguments.seeds.split(",")]
    out = arguments.out or Path(tempfile.mkdtemp(prefix="small_folders-"))
    folders = {"shapes": write_shapes, "colours": write_colours}
    rows = []
    for name, write in folders.items():
        write(out / name)
        for setting, overrides in SETTINGS.items():
            metrics = [run(out / name, seed, overrides, out) for seed in seeds]
            accuracies = [m["test_accuracy"] for m in metrics]
            rows.append([
                name,
                setting,
                " ".join(f"{a:.3f}" for a in accuracies),
                f"{min(accuracies):.3f}",
                f"{sum(m['train_seconds'] for m in metrics) / len(metrics):.1f}",
            ])  # fmt: skip
            print(tabulate(rows[-1:], tablefmt="plain", disable_numparse=True), flush=True)
    headers = ["folder", "setting", f"test accuracy (seeds {arguments.seeds})", "min", "train s"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    print(f"folders and runs: {out}")


if __name__ == "__main__":
    main()
