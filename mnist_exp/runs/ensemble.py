"""An ensemble of finished runs: the average of their saved models' softmax on their common
test set, with each model's and the ensemble's accuracy.

Every run must have scored the same test images (same dataset and test subsample); the
models are loaded with Keras' safe mode on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mnist_exp.errors import MnistExpError
from mnist_exp.runs.load import open_finished_run

log = logging.getLogger("mnist_exp.ensemble")


def _test_set_key(run, settings) -> tuple:
    """What decides a run's test images: the data, its subset, the held-out share of a
    folder without test/ (drawn by the seed), and the input they were made for."""
    dataset = settings.dataset
    path = getattr(dataset, "path", None)
    carved = dataset.name == "folder" and not (Path(path).expanduser() / "test").is_dir()
    seed = settings.seed if dataset.max_test_examples or carved else None
    held_out = dataset.test_fraction if carved else None
    return (dataset.name, path, dataset.max_test_examples, seed, held_out, run.input_spec)


def _described(key: tuple) -> str:
    """A test set's key (`_test_set_key`) as the config keys that made it."""
    name, path, max_test, seed, held_out, spec = key
    parts = [
        f"dataset={name}",
        f"dataset.path={path}" if path else "",
        f"dataset.max_test_examples={max_test}" if max_test else "",
        f"seed={seed}" if seed is not None else "",
        f"dataset.test_fraction={held_out}" if held_out is not None else "",
        f"images {spec.height}x{spec.width}x{spec.channels} ({spec.recipe})",
    ]
    return ", ".join(part for part in parts if part)


def ensemble_accuracy(run_dirs: list[Path]) -> dict:
    """Each model's test accuracy and training time, and the accuracy of their averaged
    softmax.

    Raises:
        MnistExpError: for a run that is not finished, runs scored on different test sets,
            or a model file that cannot be loaded safely.
    """
    if len(run_dirs) < 2:
        raise MnistExpError("An ensemble needs at least two run directories.")
    runs = [open_finished_run(run_dir) for run_dir in run_dirs]
    settings = [run.settings() for run in runs]
    keys = [_test_set_key(run, s) for run, s in zip(runs, settings, strict=True)]
    if len(set(keys)) > 1:
        raise MnistExpError(
            "The runs were scored on different test sets:\n"
            + "".join(
                f"  {run.directory}: {_described(key)}\n"
                for run, key in zip(runs, keys, strict=True)
            )
            + "Ensemble runs of one dataset with the same dataset.max_test_examples, the same "
            "seed where that subsample or a folder's held-out split is drawn by it, and, for a "
            "folder, the same image size, colour mode and recipe."
        )
    import keras

    from mnist_exp.data.pipeline import make_evaluation_dataset
    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.models.inference import predict

    splits = prepare_splits(settings[0].dataset, settings[0].seed)
    test = make_evaluation_dataset(splits.x_test, splits.y_test)
    members, total = [], None
    log.info("Scoring %d models on %d test images ...", len(runs), len(splits.y_test))
    for number, run in enumerate(runs, 1):
        probabilities, labels = predict(run.load_model(), test)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
        train_seconds = run.metrics.get("train_seconds")
        members.append(
            {
                "run_dir": str(run.directory),
                "test_accuracy": accuracy,
                "train_seconds": train_seconds,
            }
        )
        log.info(
            "model %d/%d, %s: test accuracy %.4f, trained in %s s",
            number,
            len(runs),
            run.directory,
            accuracy,
            train_seconds,
        )
        total = probabilities if total is None else total + probabilities
        keras.backend.clear_session()
    mean = total / len(runs)
    ensemble = float(np.mean(mean.argmax(axis=1) == labels))
    times = [member["train_seconds"] for member in members]
    return {
        "probabilities": mean,  # the averaged softmax, one row per test image
        "members": members,
        "num_test": len(labels),
        "ensemble_test_accuracy": ensemble,
        "total_train_seconds": None if None in times else round(sum(times), 1),
    }
