"""`python -m mnist_exp.cli.ensemble`: averaged softmax of finished runs, refused on mismatches."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import smoke_config
from omegaconf import OmegaConf

from mnist_exp.cli.ensemble import main as ensemble_main
from mnist_exp.training.runner import run_experiment

pytestmark = pytest.mark.slow  # each test trains or starts a process


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    metrics = {}
    for name, overrides in {
        "a": ("model=mlp", "seed=0"),
        "b": ("model=cnn_small", "seed=0"),
        "other_test_set": ("model=mlp", "dataset.max_test_examples=50"),
    }.items():
        cfg = smoke_config(*overrides)
        (root / name / ".hydra").mkdir(parents=True)
        (root / name / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
        metrics[name] = run_experiment(cfg, root / name)
    return root, metrics


def test_ensemble_scores_each_model_as_its_run_did_and_the_average(runs, tmp_path, caplog):
    root, metrics = runs
    caplog.set_level("INFO")
    assert ensemble_main([str(root / "a"), str(root / "b"), "--output", str(tmp_path)]) == 0
    assert "Scoring 2 models on 100 test images" in caplog.text  # progress, model by model
    assert f"model 1/2, {root / 'a'}: test accuracy" in caplog.text
    assert f"model 2/2, {root / 'b'}: test accuracy" in caplog.text
    result = json.loads((tmp_path / "ensemble.json").read_text())
    scored = [member["test_accuracy"] for member in result["members"]]
    assert scored == pytest.approx([metrics["a"]["test_accuracy"], metrics["b"]["test_accuracy"]])
    assert 0 <= result["ensemble_test_accuracy"] <= 1 and result["num_test"] == 100
    times = [metrics[name]["train_seconds"] for name in ("a", "b")]
    assert [member["train_seconds"] for member in result["members"]] == times
    assert result["total_train_seconds"] == pytest.approx(sum(times), abs=0.1)


def test_the_ensemble_averages_the_members_probabilities(runs):
    import keras
    import numpy as np

    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.runs.ensemble import ensemble_accuracy
    from mnist_exp.runs.load import open_finished_run

    root, _ = runs
    result = ensemble_accuracy([root / "a", root / "b"])
    run = open_finished_run(root / "a")
    splits = prepare_splits(run.settings().dataset, run.settings().seed)
    members = [
        keras.saving.load_model(root / name / "model.keras").predict(
            splits.x_test[..., None].astype("float32"), verbose=0
        )
        for name in ("a", "b")
    ]
    mean = (members[0] + members[1]) / 2
    np.testing.assert_allclose(result["probabilities"], mean, atol=1e-5)
    assert result["ensemble_test_accuracy"] == np.mean(mean.argmax(axis=1) == splits.y_test)
    assert not np.array_equal(members[0].argmax(1), members[1].argmax(1)), "members must differ"


def test_runs_scored_on_other_test_images_are_refused(runs, caplog):
    root, _ = runs
    assert ensemble_main([str(root / "a"), str(root / "other_test_set")]) == 2
    assert "different test sets" in caplog.text
    # each run's test set in the config keys that made it (it was a list of raw tuples)
    assert f"{root / 'other_test_set'}: dataset=synthetic" in caplog.text
    assert "dataset.max_test_examples=50, seed=0" in caplog.text and "InputSpec(" not in caplog.text


def test_a_tampered_model_file_is_named(runs, tmp_path, caplog):
    root, _ = runs
    broken = tmp_path / "broken"
    shutil.copytree(root / "a", broken)
    (broken / "model.keras").write_bytes(b"not a zip file")
    assert ensemble_main([str(root / "b"), str(broken)]) == 2
    assert "model.keras is damaged" in caplog.text
