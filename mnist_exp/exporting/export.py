"""`export_run`: every format of a finished run, each measured, written to RUN/export/.

The export is built in a temporary folder beside it and moved into place when complete, so
a killed export leaves the previous one (or none), never half of one. A format below its
agreement threshold is moved to export/rejected/ and marked so in export.json and report.md,
never left beside the accepted ones.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_exp.errors import MnistExpError
from mnist_exp.exporting.converter_log import LOG_FILE, output_into
from mnist_exp.exporting.formats import FORMATS, ExportFormat
from mnist_exp.exporting.measure import Measurement, measure
from mnist_exp.exporting.report import report_markdown, report_table, written_lines
from mnist_exp.runs.load import Run, open_finished_run
from mnist_exp.runs.lock import RunLock
from mnist_exp.safe_files import write_text_atomically
from mnist_exp.serving.predictors import EXPORT_FILE, KerasPredictor, ModelFacts, load_predictor

if TYPE_CHECKING:
    from mnist_exp.data.prepare import Splits

log = logging.getLogger("mnist_exp.export")

EXPORT_DIR = "export"
REJECTED_DIR = "rejected"
REPORT_FILE = "report.md"
CALIBRATION_IMAGES = 500


class ExportRejected(MnistExpError):
    """At least one format fell below its agreement threshold."""


@dataclass(frozen=True)
class FormatResult:
    format: ExportFormat
    measurement: Measurement
    seconds_to_write: float

    @property
    def accepted(self) -> bool:
        return self.measurement.agreement >= self.format.min_agreement

    def as_dict(self) -> dict:
        return {
            "path": self.format.path if self.accepted else f"{REJECTED_DIR}/{self.format.path}",
            "runtime": self.format.runtime,
            "min_agreement": self.format.min_agreement,
            "accepted": self.accepted,
            "seconds_to_write": round(self.seconds_to_write, 2),
            **self.measurement.as_dict(),
        }


def run_data(run: Run, calibration_count: int) -> tuple[np.ndarray, Splits]:
    """The run's own data split, and `calibration_count` of its training images (chosen with
    the run's seed) to calibrate int8 formats on."""
    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.settings import dataset_path_as_written

    settings = run.settings()
    splits = prepare_splits(
        settings.dataset, settings.seed, path_label=dataset_path_as_written(run.config)
    )
    chosen = np.random.default_rng(settings.seed).permutation(len(splits.x_train))[
        :calibration_count
    ]
    return splits.x_train[np.sort(chosen)], splits


def _export_one(export_format, model, folder: Path, calibration, test, reference):
    destination = folder / export_format.path
    destination.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with output_into(folder / LOG_FILE):
        export_format.write(model, destination, calibration)
        written = time.perf_counter() - started
        predictor = load_predictor(destination)
        measurement = measure(predictor, destination, test.x_test, test.y_test, reference)
    result = FormatResult(export_format, measurement, written)
    if not result.accepted:
        rejected = folder / REJECTED_DIR / export_format.path
        rejected.parent.mkdir(parents=True, exist_ok=True)
        os.replace(destination, rejected)
    return result


def _export_logged(export_format, model, folder, calibration, splits, reference):
    log.info("Exporting %s ...", export_format.name)
    result = _export_one(export_format, model, folder, calibration, splits, reference)
    log.info(
        "%s: agreement %.4f%s, accuracy %.4f, %.1f KiB",
        export_format.name,
        result.measurement.agreement,
        "" if result.accepted else " (below the threshold: rejected)",
        result.measurement.accuracy,
        result.measurement.size_bytes / 1024,
    )
    return result


def _export_record(run, splits, calibration, keras_measurement, results) -> dict:
    """What export.json says: the run, the data measured on, and each format's figures."""
    return {
        "run_dir": str(run.directory),
        "model": run.metrics.get("model"),
        "dataset": run.metrics.get("dataset"),
        "class_names": list(run.class_names),
        "input": run.input_spec.record(),
        "input_convention": run.input_spec.describe(),
        "test_accuracy": run.metrics.get("test_accuracy"),
        "test_images": len(splits.y_test),
        "calibration_images": len(calibration),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "keras": {"path": f"../{run.model_path.name}", **keras_measurement.as_dict()},
        "formats": {result.format.name: result.as_dict() for result in results},
    }


def export_run(
    run_dir: Path,
    formats: list[str] | None = None,
    force: bool = False,
    calibration_count: int = CALIBRATION_IMAGES,
) -> dict:
    """Exports the finished run in `run_dir` to each of `formats` (default: all).

    Returns:
        The export record (also written to RUN/export/export.json).

    Raises:
        MnistExpError: for a run that did not finish, an existing export without `force`,
            or a run directory held by another process.
        ExportRejected: when a format fell below its agreement threshold (the record and
            report are written first, the format moved to export/rejected/).
    """
    run = open_finished_run(run_dir)
    names = formats or list(FORMATS)
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        raise MnistExpError(f"Unknown format(s) {unknown}; choose from {list(FORMATS)}.")
    final = run.directory / EXPORT_DIR
    with RunLock(run.directory):
        if (final / EXPORT_FILE).is_file() and not force:
            raise MnistExpError(
                f"{final} already holds a finished export; nothing was changed. Pass --force to "
                "replace it."
            )
        model = run.load_model()
        calibration, splits = run_data(run, calibration_count)
        keras_predictor = KerasPredictor(model, ModelFacts.of_run(run))
        log.info("Keras model on %d test images ...", len(splits.y_test))
        reference = keras_predictor.predict(splits.x_test)
        keras_measurement = measure(
            keras_predictor, run.model_path, splits.x_test, splits.y_test, reference
        )
        _remove_leftovers(run.directory)
        folder = run.directory / f".{EXPORT_DIR}-incomplete-{os.getpid()}"
        folder.mkdir()
        try:
            results = [
                _export_logged(FORMATS[name], model, folder, calibration, splits, reference)
                for name in names
            ]
            record = _export_record(run, splits, calibration, keras_measurement, results)
            write_text_atomically(folder / EXPORT_FILE, json.dumps(record, indent=2) + "\n")
            write_text_atomically(folder / REPORT_FILE, report_markdown(record))
            _move_into_place(folder, final)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(report_table(record), written_lines(record, final), sep="\n\n", flush=True)
    rejected = [result for result in results if not result.accepted]
    if rejected:
        raise ExportRejected(
            "Below the agreement threshold, moved to "
            f"{final / REJECTED_DIR}: "
            + "; ".join(
                f"{r.format.name} agrees on {r.measurement.agreement:.2%} of test images "
                f"({r.measurement.disagreements} differ), needs {r.format.min_agreement:.1%}"
                for r in rejected
            )
        )
    return record


def _remove_leftovers(run_dir: Path) -> None:
    """Folders of exports killed before they finished. Called while holding the run: no live
    export can own one then."""
    for prefix in (f".{EXPORT_DIR}-incomplete-", f".{EXPORT_DIR}-previous-"):
        for leftover in run_dir.glob(f"{prefix}*"):
            log.info("Removing %s, left by an export that was killed.", leftover.name)
            shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(folder: Path, final: Path) -> None:
    """`folder` becomes `final`; an earlier export (only replaced with --force) is removed
    once the new one is in place."""
    previous = final.with_name(f".{final.name}-previous-{os.getpid()}")
    if final.exists():
        os.replace(final, previous)
    os.replace(folder, final)
    shutil.rmtree(previous, ignore_errors=True)
