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
    del saved["model"]["_target_"], saved["schedule"]["_target_"]  # named by their option
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
    assert settings.model.arguments()["crop"] == 0 and settings.trainer.label_smoothing == 0.0


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


def _as_recorded_before_the_callbacks_group(saved: dict, *, stopping: bool) -> dict:
    """`saved` as runs recorded it when early stopping was a trainer setting and
    reduce_on_plateau a schedule."""
    preset = saved["callbacks"].pop("early_stopping", None) or {"patience": 3, "min_delta": 0.0}
    saved["trainer"]["early_stopping"] = {
        "enabled": stopping,
        "monitor": "val_accuracy",
        "patience": preset["patience"],
        "min_delta": preset["min_delta"],
        "restore_best_weights": saved["trainer"].pop("restore_best_weights"),
    }
    plateau = saved["callbacks"].pop("reduce_lr_on_plateau", None)
    if plateau:
        saved["schedule"] = {
            "name": "reduce_on_plateau",
            "monitor": plateau["monitor"],
            "factor": plateau["factor"],
            "patience": plateau["patience"],
            "min_learning_rate": plateau["min_lr"],
        }
    return saved


def test_early_stopping_and_reduce_on_plateau_move_into_the_callbacks_presets(tmp_path):
    for overrides, stopping in [
        (["callbacks.early_stopping.patience=5"], True),
        (["schedule=constant", "+callbacks=reduce_lr_on_plateau", "~callbacks.early_stopping"],
         False),
    ]:  # fmt: skip
        cfg = compose_config(*overrides)
        saved = OmegaConf.to_container(cfg, resolve=False)
        old = _as_recorded_before_the_callbacks_group(saved, stopping=stopping)
        run_dir = tmp_path / str(stopping)
        record.write_record(run_dir, OmegaConf.create(old), {}, [])
        (run_dir / "metrics.json").write_text(json.dumps({"status": "completed"}))
        assert record.config_differences(migrate.upgraded_config(OmegaConf.create(old)), cfg) == []
        assert decide(run_dir, cfg).action is Action.SKIP  # the same experiment, not "another"
        assert "early_stopping" in (run_dir / record.CONFIG_FILE).read_text()  # never rewritten
