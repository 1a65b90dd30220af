"""`mnist-exp-predict MODEL IMAGES... [--format table|json|csv] [--top-k K]`
(`python -m mnist_exp.cli.predict`): classify your own images with a trained model.

MODEL: a run directory, a .keras file, a SavedModel directory, a .tflite or .onnx file.
IMAGES: files, folders (searched recursively) and globs; PNG, JPEG, BMP, GIF, WebP, TIFF, any
size and colour mode. Each image is prepared as the run's images were: for a model of
MNIST-style digits, made MNIST-style (grayscale, light ink on black, cropped to the ink,
fitted into 20x20, centred by mass in 28x28; --no-preprocess skips that for images already
in MNIST's form); for a run on images as they are (a folder's), put in its colour mode and
scaled to its size keeping the aspect ratio. Unreadable files are named and skipped; the
exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import DONE, PARTLY, REFUSED, reader_gone, run_stoppable
from mnist_exp.imaging.decode import MAX_PIXELS
from mnist_exp.progress import Progress
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.serving.predict import BATCH, find_images, model_threads, predict_images
from mnist_exp.serving.prediction_output import Output, result_row, save_preprocessed
from mnist_exp.serving.predictors import MODEL_SOURCES, load_predictor
from mnist_exp.text import printable

PROGRESS_FROM = 500  # images: fewer finish before a progress line would help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=shown("predict"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help=MODEL_SOURCES)
    parser.add_argument("images", nargs="+", help="image files, folders, glob patterns")
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (default, for the terminal), json or csv",
    )
    parser.add_argument("--top-k", type=at_least_one, default=3, help="classes shown per image (3)")
    parser.add_argument(
        "--no-preprocess",
        action="store_true",
        help="for a digits model: images are already 28x28 MNIST-style, no centring or "
        "inverting (default: the MNIST recipe)",
    )
    parser.add_argument(
        "--save-preprocessed",
        type=Path,
        metavar="DIR",
        help="write the images the model saw here (default: not written)",
    )
    parser.add_argument(
        "--batch-size",
        type=at_least_one,
        default=BATCH,
        help=f"images decoded and predicted together (default {BATCH})",
    )
    parser.add_argument(
        "--threads", type=at_least_one, help="decoding threads (default: cores - 1)"
    )
    parser.add_argument(
        "--model-threads",
        type=at_least_one,
        help="threads of the model's runtime (default: all cores; for a .tflite, the cores "
        "decoding leaves)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        help=f"refuse larger images (default {MAX_PIXELS:,} pixels)",
    )
    return parser


def at_least_one(text: str) -> int:
    """argparse's type for a count: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return value


def main(argv=None) -> int:
    """Exit status: 0 all images predicted (blank ones flagged), 1 some could not be used,
    2 bad input (model, arguments), 141 the reader of the output went away (a closed pipe)."""
    quiet_tensorflow_start()
    return run_stoppable(shown("predict"), lambda: _predict_or_pipe_closed(argv))


def _predict_or_pipe_closed(argv) -> int:
    try:
        return _predict(build_parser().parse_args(argv))
    except BrokenPipeError:
        return reader_gone()


def _predict(arguments) -> int:
    name = shown("predict")
    try:
        threads = arguments.model_threads or model_threads(arguments.model, arguments.threads)
        predictor = load_predictor(arguments.model, threads)
    except MnistExpError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return REFUSED
    spec = predictor.facts.input
    if arguments.no_preprocess and spec.recipe != "digits":
        print(f"{name}: --no-preprocess skips the digit recipe, and this model takes images "
              f"as they are ({spec.caption}): there is none to skip. Leave it out.",
              file=sys.stderr)  # fmt: skip
        return REFUSED
    paths, unmatched = find_images(arguments.images)
    for problem in unmatched:
        print(f"{name}: {problem}", file=sys.stderr)
    if not paths:
        print(f"{name}: no images to predict.", file=sys.stderr)
        return REFUSED
    if arguments.save_preprocessed:
        arguments.save_preprocessed.mkdir(parents=True, exist_ok=True)
    names = predictor.facts.class_names
    output = Output(arguments.format, names, max(1, min(arguments.top_k, len(names))))
    failures, blank = len(unmatched), 0
    results = predict_images(
        predictor,
        paths,
        preprocess=not arguments.no_preprocess,
        max_pixels=arguments.max_pixels,
        batch_size=arguments.batch_size,
        threads=arguments.threads,
        on_batch=(
            Progress(shown("predict"), len(paths), "images")
            if len(paths) >= PROGRESS_FROM
            else None
        ),
    )
    for index, result in enumerate(results):
        if result.error is not None:
            failures += 1
            print(f"{name}: skipped {printable(result.error)}", file=sys.stderr)
            continue
        blank += result.blank
        output.add(result_row(result, names, output.top_k))
        if arguments.save_preprocessed:
            save_preprocessed(result, arguments.save_preprocessed, index)
    output.finish()
    if blank:
        print(f"{name}: {blank} blank image(s): no digit found, so no prediction is claimed "
              "(marked blank above).", file=sys.stderr)  # fmt: skip
    if failures:
        print(f"{name}: {failures} input(s) could not be used (named above).", file=sys.stderr)
    return PARTLY if failures else DONE


if __name__ == "__main__":
    sys.exit(main())
