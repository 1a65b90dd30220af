"""Runs recorded by earlier versions (format 1) are read and continued as current ones."""

import json

from conftest import compose_config
from omegaconf import OmegaConf

from mnist_exp.runs import migrate, record
from mnist_exp.runs.load import open_run
from mnist_exp.runs.status import Action, decide
from mnist_exp.settings import parse_settings


def format_1_run(tmp_path, *overrides):
    """A finished run whose saved config lacks the keys its options gained since."""
    cfg = compose_config("augment=light", *overrides)
    saved = OmegaConf.to_container(cfg, resolve=False)
    del saved["strategy"]["cpu_devices"]
    del saved["augment"]["erasing_probability"], saved["augment"]["erasing_size"]
    del saved["augment"]["elastic_alpha"], saved["augment"]["elastic_sigma"]
    run_dir = tmp_path / "old"
    record.write_record(run_dir, OmegaConf.create(saved), {}, [])
    (run_dir / "metrics.json").write_text(json.dumps({"status": "completed"}))
    return run_dir, cfg


def test_an_old_runs_config_reads_with_the_values_it_ran_with(tmp_path):
    run_dir, cfg = format_1_run(tmp_path)
    settings = parse_settings(record.read_config(run_dir))
    assert settings.strategy.cpu_devices == 1
    assert settings.augment.erasing_probability == 0.0
    assert settings.augment.elastic_alpha == 0.0
    assert decide(run_dir, cfg).action is Action.SKIP  # the same experiment, not "another"
    assert "cpu_devices" not in (run_dir / record.CONFIG_FILE).read_text()  # never rewritten


def test_an_old_fast_cnn_run_reads_without_crop_or_label_smoothing(tmp_path):
    cfg = compose_config("model=fast_cnn")
    saved = OmegaConf.to_container(cfg, resolve=False)
    del saved["model"]["crop"], saved["trainer"]["label_smoothing"]
    record.write_record(tmp_path / "old", OmegaConf.create(saved), {}, [])
    settings = parse_settings(record.read_config(tmp_path / "old"))
    assert settings.model.crop == 0 and settings.trainer.label_smoothing == 0.0


def test_an_old_run_names_its_datasets_classes(tmp_path):
    run_dir, _ = format_1_run(tmp_path, "dataset=fashion_mnist")
    assert open_run(run_dir).class_names[0] == "T-shirt/top"


def test_migrating_renumbers_history_and_names_the_event_folder(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "tensorboard" / "train").mkdir(parents=True)
    (run_dir / "tensorboard" / "validation").mkdir()
    (run_dir / "tensorboard" / "events.out.tfevents.1").write_text("the run's HParams record")
    (run_dir / "history.csv").write_text("epoch,loss\r\n0,0.5\r\n1,0.25\r\n")
    metrics = migrate.migrate(run_dir, {"status": "interrupted"}, "mlp-seed0")
    assert metrics == {"status": "interrupted", "run_format": migrate.RUN_FORMAT}
    assert (run_dir / "history.csv").read_bytes() == b"epoch,loss\r\n1,0.5\r\n2,0.25\r\n"
    assert sorted(p.name for p in (run_dir / "tensorboard").iterdir()) == ["mlp-seed0"]
    assert sorted(p.name for p in (run_dir / "tensorboard" / "mlp-seed0").iterdir()) == [
        "events.out.tfevents.1",
        "train",
        "validation",
    ]
    assert migrate.migrate(run_dir, metrics, "other") == metrics  # current: nothing to do
