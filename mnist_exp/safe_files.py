"""Files written safely: atomically (a kill leaves the old file or the new one, and readers never
see half a file) and never through a symbolic link."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mnist_exp.errors import MnistExpError


class LinkRefused(MnistExpError):
    """A file a run would write is a symbolic link (planted, or from an unpacked archive)."""


def open_unlinked(path: Path, flags: int, mode: int = 0o644) -> int:
    """`os.open` that refuses to follow a symbolic link at `path`: writing through a link
    planted in a run directory would truncate or append to whatever it points at.

    Raises:
        LinkRefused: naming the link; nothing was opened or changed.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise LinkRefused(
            f"{path} is a symbolic link; a run's files are never links, and writing through it "
            "would change the file it points at. Remove the link, then run this again; "
            "nothing was changed."
        ) from None


def entries_below(folder: Path) -> Iterator[os.DirEntry]:
    """Every entry below `folder`, never descending through a link; a folder that cannot
    be read (gone, not a folder, no permission) holds nothing."""
    folders = [Path(folder)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    yield entry
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(Path(entry.path))
        except OSError:
            continue


def _odd_kind(entry: os.DirEntry) -> str | None:
    """What makes an entry no plain file or folder of a run: a symbolic link, a hard link (a
    file that another name elsewhere shares), a FIFO, socket or device; None for neither."""
    if entry.is_symlink():
        return "a symbolic link"
    if entry.is_dir(follow_symlinks=False):
        return None
    if not entry.is_file(follow_symlinks=False):
        return "a FIFO, socket or device"
    return "a hard link" if entry.stat(follow_symlinks=False).st_nlink > 1 else None


def odd_entries(folder: Path) -> list[tuple[Path, str]]:
    """(path, what it is) for every link or special file below `folder`, sorted; none for a
    missing folder."""
    found = []
    for entry in entries_below(folder):
        with contextlib.suppress(OSError):  # gone while looked at
            kind = _odd_kind(entry)
            if kind is not None:
                found.append((Path(entry.path), kind))
    return sorted(found)


def refuse_links(folder: Path) -> None:
    """Raises LinkRefused when anything below `folder` is a link or a special file: a run
    folder unpacked from an archive can hold `history.csv` linked (symbolically or hard) to a
    victim file, `tensorboard/` linked to another folder, or a FIFO where a log goes, and the
    libraries that write them (Keras' CSVLogger, TensorBoard's event writer) follow links and
    append in place. Nothing was written when it raises."""
    found = odd_entries(folder)
    if found:
        (first, kind), rest = found[0], [str(path) for path, _ in found[1:]]
        others = f" (and {len(rest)} more: {', '.join(rest[:3])}" + (
            ", ...)" if len(rest) > 3 else ")"
        )
        raise LinkRefused(
            f"{first} is {kind}{others if rest else ''}; a run's files are plain files and "
            "folders of its own, and writing through this would change something else. Remove "
            "it (or copy the run without links: cp -rL), then run this again; nothing was "
            "changed."
        )


def append_unlinked(path: Path) -> IO[str]:
    """`path` opened for appending text (created if missing), never through a link."""
    return os.fdopen(open_unlinked(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a")


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@contextmanager
def open_atomically(path: Path, mode: str = "w") -> Iterator[IO]:
    """Opens a temporary file beside `path` and renames it onto `path` when the block ends
    without error (removing it otherwise): a kill leaves the old file or the new one, and
    readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    with open_atomically(path) as stream:
        stream.write(text)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    with open_atomically(path, "wb") as stream:
        stream.write(data)


def write_json_atomically(path: Path, payload: dict) -> None:
    """`payload` as indented JSON (non-finite floats as strings), written atomically."""
    safe = {key: _json_safe(value) for key, value in payload.items()}
    write_text_atomically(path, json.dumps(safe, indent=2) + "\n")


def read_json(path: Path) -> dict | None:
    """A JSON file this package wrote, or None if there is none yet."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path) as stream:
        return json.load(stream)
