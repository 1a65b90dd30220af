"""`python benchmarks/predict_rate.py SOURCE MODEL FOLDER [--rounds N] [--no-preprocess]`:
images/s of prediction over a folder of image files with the `mnist_exp` package found in the
source tree SOURCE (this repository, or an older commit's tree that `predict_bench` unpacks),
so that two versions of the pipeline are timed alike, each in its own process. Prints one JSON
line: {"package": ..., "images_per_second": [one per round], "accuracy": ...}.

The model's runtime runs on all cores, as `mnist-exp-predict` runs it (for a TensorFlow
model, the runtime's own default, which older versions left it at); each version decodes in
batches of its own default size. Run as a script (not `-m`), so that SOURCE, put first on
sys.path, is the package imported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/predict_rate.py", description=__doc__)
    parser.add_argument("source", type=Path, help="a source tree holding mnist_exp/")
    parser.add_argument("model", type=Path, help="a run directory or model file")
    parser.add_argument("folder", type=Path, help="image files named NNNNN_LABEL.png")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-preprocess", action="store_true")
    arguments = parser.parse_args(argv)
    sys.path.insert(0, str(arguments.source.resolve()))
    import mnist_exp
    from mnist_exp.serving.predict import find_images, predict_images
    from mnist_exp.serving.predictors import load_predictor

    package = Path(mnist_exp.__file__).resolve().parent
    if not package.is_relative_to(arguments.source.resolve()):
        raise SystemExit(f"imported {package}, not the package in {arguments.source}")
    predictor = load_predictor(arguments.model, len(os.sched_getaffinity(0)))
    paths, _ = find_images([str(arguments.folder)])
    preprocess = not arguments.no_preprocess
    list(predict_images(predictor, paths[:512], preprocess=preprocess))  # warm-up, not timed
    rates, results = [], []
    for _ in range(arguments.rounds):
        started = time.perf_counter()
        results = list(predict_images(predictor, paths, preprocess=preprocess))
        rates.append(len(paths) / (time.perf_counter() - started))
    right = [
        int(result.probabilities.argmax()) == int(Path(result.path).stem.split("_")[1])
        for result in results
        if result.probabilities is not None
    ]
    accuracy = sum(right) / len(paths)
    print(json.dumps({"package": str(package), "images_per_second": rates, "accuracy": accuracy}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
