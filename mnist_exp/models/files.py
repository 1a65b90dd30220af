"""Opening a saved `.keras` model: safe mode always on, and a message that says what is wrong
with a file that does not open (missing, damaged, or holding code)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from mnist_exp.errors import MnistExpError


class ModelFileError(MnistExpError):
    """A model file that is missing, damaged or unsafe to load."""


def _damaged(path: Path, why: str) -> ModelFileError:
    return ModelFileError(
        f"{path} is damaged ({why}); it is not a model Keras can read. Retrain the run, or "
        "restore the file from a copy."
    )


def check_keras_archive(path: Path) -> None:
    """Raises ModelFileError unless `path` is an intact `.keras` zip archive (checks every
    member's CRC, so truncation and bit flips are named before Keras reads anything)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist.")
    if not zipfile.is_zipfile(path):
        raise _damaged(path, "not a zip archive: truncated, overwritten or another format")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _damaged(path, f"{type(error).__name__}: {error}") from None
    if broken is not None:
        raise _damaged(path, f"member {broken} fails its checksum")
    if "config.json" not in names:
        raise _damaged(path, "the archive has no config.json")


def load_keras_model(path: Path):
    """The model in `path`, loaded with Keras' safe mode on (never arbitrary code), uncompiled.

    Raises:
        ModelFileError: for a missing, damaged or unsafe file, saying which.
    """
    import keras

    path = Path(path)
    check_keras_archive(path)
    try:
        return keras.saving.load_model(path, compile=False)  # safe_mode=True
    except Exception as error:
        text = str(error)
        if "safe_mode" in text or "lambda" in text.lower():
            raise ModelFileError(
                f"{path} holds code (a Lambda layer or similar) that safe mode refuses to run; "
                "it was not loaded. Only load models you trained or trust, retrained without "
                "Lambda layers."
            ) from None
        raise _damaged(path, f"{type(error).__name__}: {text.splitlines()[0][:200]}") from None
