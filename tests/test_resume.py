"""Crash-proof runs: kill -9 then resume matches an uninterrupted run; damaged backups and
divergence are handled with a clear message, never a raw traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import weakref

import h5py
import numpy as np
import pytest
from conftest import read_json, smoke_config

from mnist_exp import signals
from mnist_exp.cli.resume import main as resume_main
from mnist_exp.errors import MnistExpError
from mnist_exp.training import backup
from mnist_exp.training.job import saved_config_with
from mnist_exp.training.runner import run_experiment

pytestmark = pytest.mark.slow  # each test trains or starts a process

SLOW_ENOUGH = (
    "model=cnn_small",
    "trainer.epochs=6",
    "trainer.deterministic=true",
    "~callbacks.early_stopping",
    "dataset.max_train_examples=1500",
)


def epochs_in(history_path):
    return [int(line.split(",")[0]) for line in history_path.read_text().splitlines()[1:]]


def test_kill_minus_nine_then_resume_matches_an_uninterrupted_run(tmp_path):
    run_dir = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "mnist_exp",
        "debug=smoke",
        *SLOW_ENOUGH,
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not (run_dir / "backup" / "epoch-0002").is_dir():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no backup after epoch 2"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_json(run_dir / "metrics.json")["status"] == "running"

    assert resume_main([str(run_dir)]) == 0
    resumed = read_json(run_dir / "metrics.json")
    assert resumed["status"] == "completed" and resumed["epochs_run"] == 6
    assert resumed["resumed_from_epoch"] >= 2
    assert epochs_in(run_dir / "history.csv") == [1, 2, 3, 4, 5, 6]
    assert not (run_dir / "backup").exists(), "backups are removed once the run completed"

    reference = run_experiment(smoke_config(*SLOW_ENOUGH), tmp_path / "reference")
    assert resumed["test_loss"] == reference["test_loss"]
    assert (run_dir / "history.csv").read_bytes() == (
        tmp_path / "reference" / "history.csv"
    ).read_bytes()


def interrupted_run(run_dir, monkeypatch, *overrides):
    """A 3-epoch run whose backups are kept and whose status says it never finished."""
    monkeypatch.setattr("mnist_exp.training.engine.remove_backups", lambda run_dir: None)
    cfg = smoke_config(
        "model=mlp",
        "trainer.epochs=3",
        "trainer.deterministic=true",
        "~callbacks.early_stopping",
        *overrides,
    )
    finished = run_experiment(cfg, run_dir)
    metrics = read_json(run_dir / "metrics.json")
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    monkeypatch.undo()
    return cfg, finished


def test_damaged_latest_backup_falls_back_to_the_previous(tmp_path, monkeypatch, caplog):
    cfg, finished = interrupted_run(tmp_path, monkeypatch)
    weights = tmp_path / "backup" / "epoch-0003" / backup.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    result = run_experiment(cfg, tmp_path, resume=True)
    assert "epoch-0003 is damaged" in caplog.text
    assert result["resumed_from_epoch"] == 2 and result["epochs_run"] == 3
    assert result["test_loss"] == finished["test_loss"]
    assert epochs_in(tmp_path / "history.csv") == [1, 2, 3]


def test_a_run_that_averages_its_weights_resumes_exactly(tmp_path, monkeypatch):
    """The backup holds the raw weights and the average apart, as training left them."""
    cfg, finished = interrupted_run(
        tmp_path, monkeypatch, "+optimizer.use_ema=true", "+optimizer.ema_momentum=0.9"
    )
    history = (tmp_path / "history.csv").read_bytes()
    shutil.rmtree(tmp_path / "backup" / "epoch-0003")
    result = run_experiment(cfg, tmp_path, resume=True)
    assert result["resumed_from_epoch"] == 2
    assert result["test_loss"] == finished["test_loss"]
    assert (tmp_path / "history.csv").read_bytes() == history


def test_a_run_of_the_first_format_continues_in_the_current_layout(tmp_path, monkeypatch):
    """Format 1 numbered history.csv from 0 and wrote events into tensorboard/train."""
    cfg, finished = interrupted_run(tmp_path, monkeypatch)
    history = tmp_path / "history.csv"
    header, *rows = history.read_text().splitlines(keepends=True)
    history.write_text(
        header + "".join(f"{int(row.split(',')[0]) - 1},{row.split(',', 1)[1]}" for row in rows)
    )
    (named,) = (tmp_path / "tensorboard").iterdir()
    for part in named.iterdir():
        part.rename(tmp_path / "tensorboard" / part.name)
    named.rmdir()
    metrics = read_json(tmp_path / "metrics.json")
    del metrics["run_format"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "backup" / "epoch-0003").rename(tmp_path / "stale")  # continue after epoch 2
    result = run_experiment(cfg, tmp_path, resume=True)
    assert result["resumed_from_epoch"] == 2 and result["run_format"] == 2
    assert result["test_loss"] == finished["test_loss"]
    assert epochs_in(history) == [1, 2, 3]
    (events,) = (tmp_path / "tensorboard").iterdir()
    assert events.name == named.name
    assert {"train", "validation"} < {path.name for path in events.iterdir()}


def test_truncated_state_file_and_no_usable_backup_restart_cleanly(tmp_path, monkeypatch, caplog):
    cfg, finished = interrupted_run(tmp_path, monkeypatch)
    for epoch_dir in (tmp_path / "backup").iterdir():
        state = epoch_dir / backup.STATE_FILE
        state.write_text(state.read_text()[:10])
    result = run_experiment(cfg, tmp_path, resume=True)
    assert "No usable backup" in caplog.text
    assert result["status"] == "completed" and result["resumed_from_epoch"] is None
    assert epochs_in(tmp_path / "history.csv") == [1, 2, 3]
    assert result["test_loss"] == finished["test_loss"]


def test_finished_runs_and_experiment_changes_are_refused(tmp_path):
    run_experiment(smoke_config("model=mlp"), tmp_path)
    with pytest.raises(MnistExpError, match="already finished"):
        run_experiment(smoke_config("model=mlp"), tmp_path, resume=True)
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("trainer:\n  epochs: 3\n  verbose: 0\n")
    with pytest.raises(MnistExpError, match="would change the experiment"):
        saved_config_with(tmp_path, ["trainer.epochs=5"])
    cfg = saved_config_with(tmp_path, ["trainer.verbose=2"])
    assert cfg.trainer.verbose == 2


def test_divergence_keeps_the_last_finite_backup(tmp_path):
    cfg = smoke_config(
        "model=mlp",
        "optimizer=sgd",
        "optimizer.learning_rate=0.01",
        "schedule=step",
        "schedule.boundaries=[1]",
        "schedule.factors=[1.0,1e12]",
        "trainer.epochs=4",
    )
    metrics = run_experiment(cfg, tmp_path)
    assert metrics["status"] == "diverged" and metrics["epochs_run"] == 2
    backups = backup.list_backups(tmp_path)
    assert [path.name for path in backups] == ["epoch-0001"]
    with h5py.File(backups[0] / backup.WEIGHTS_FILE) as weights:
        arrays = []
        weights.visititems(
            lambda name, node: arrays.append(node[()]) if isinstance(node, h5py.Dataset) else None
        )
    assert arrays and all(np.all(np.isfinite(array)) for array in arrays)
    assert np.isfinite(metrics["best_val_accuracy"])


def test_a_full_disk_fails_the_run_with_one_message_and_keeps_the_last_backup(
    tmp_path, monkeypatch
):
    from mnist_exp.runs import disk

    backup_checks = []

    def fills_up_at_the_second_backup(directory):
        if directory.name == "backup":
            backup_checks.append(directory)
        return 0 if len(backup_checks) >= 2 else 2**40

    monkeypatch.setattr(disk, "free_bytes", fills_up_at_the_second_backup)
    cfg = smoke_config(
        "model=mlp",
        "trainer.epochs=3",
        "trainer.deterministic=true",
        "~callbacks.early_stopping",
    )
    with pytest.raises(disk.NoSpaceLeft, match=r"no space left on /.* for the epoch 2 backup"):
        run_experiment(cfg, tmp_path)
    metrics = read_json(tmp_path / "metrics.json")
    assert metrics["status"] == "failed" and metrics["resumable"] is True
    assert metrics["error"].startswith("NoSpaceLeft: no space left on ")
    assert [path.name for path in (tmp_path / "backup").iterdir()] == ["epoch-0001"]

    monkeypatch.undo()  # space freed: the run continues from its epoch 1 backup
    first_attempt = read_json(tmp_path / "provenance.json")["attempts"]
    monkeypatch.setattr("mnist_exp.training.runner.configure_threads", stopped_early)
    with pytest.raises(KeyboardInterrupt):  # stopped before training: not an attempt
        run_experiment(cfg, tmp_path, resume=True)
    assert read_json(tmp_path / "metrics.json")["status"] == "interrupted"
    assert read_json(tmp_path / "provenance.json")["attempts"] == first_attempt
    monkeypatch.undo()
    resumed = run_experiment(cfg, tmp_path, resume=True)
    assert resumed["status"] == "completed" and resumed["resumed_from_epoch"] == 1
    assert epochs_in(tmp_path / "history.csv") == [1, 2, 3]
    attempts = read_json(tmp_path / "provenance.json")["attempts"]
    assert attempts[0] == first_attempt[0] and first_attempt[0]["status"] == "failed"
    assert attempts[1]["status"] == "completed" and len(attempts) == 2


def stopped_early(threads):
    raise KeyboardInterrupt("signal SIGTERM")


def test_a_signal_whose_interrupt_python_dropped_still_stops_the_run(tmp_path):
    """Python drops an exception raised while a finalizer runs; the signal's note still
    stops training at the next step, recorded as interrupted."""
    from mnist_exp.training import stop

    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop.interrupt_on_signals():
        signals.note(signal.SIGTERM)  # the handler ran, its KeyboardInterrupt was lost
        run_experiment(smoke_config("model=mlp", "trainer.epochs=50"), tmp_path)
    assert signals.received() is None, "acted on, then forgotten"
    metrics = read_json(tmp_path / "metrics.json")
    assert metrics["status"] == "interrupted" and metrics.get("epochs_run") is None


def test_a_run_stopped_before_its_first_epoch_ended_continues_from_the_start(tmp_path, monkeypatch):
    """Stopped while its model was built (the stop waits for the end of TensorFlow's graph
    building: no history.csv yet), or in its first epoch (no backup, and a history.csv with
    not even its header): the run continues in place from epoch 1 (a sweep run again does
    this), and completes."""
    from mnist_exp.training import engine, stop

    cfg = smoke_config("model=mlp", "trainer.epochs=2", "~callbacks.early_stopping")
    real_fit = engine.fit

    def stopped_as_fit_starts(*args, **kwargs):
        signals.note(signal.SIGTERM)  # arrives as fit starts: stops at the first step
        return real_fit(*args, **kwargs)

    for where, history in (("while built", None), ("in the first epoch", "")):
        run_dir = tmp_path / where
        with pytest.raises(KeyboardInterrupt), stop.interrupt_on_signals():
            if history is None:
                signals.note(signal.SIGTERM)  # noted before the model is built
            else:
                monkeypatch.setattr(engine, "fit", stopped_as_fit_starts)
            run_experiment(cfg, run_dir)
        monkeypatch.setattr(engine, "fit", real_fit)
        path = run_dir / "history.csv"
        assert (path.read_text() if path.is_file() else None) == history, where
        resumed = run_experiment(cfg, run_dir, resume=True)
        assert resumed["status"] == "completed"
        assert epochs_in(run_dir / "history.csv") == [1, 2]


def test_a_run_stopped_while_it_is_scored_resumes_to_the_scores_it_would_have_had(
    tmp_path, monkeypatch
):
    """A stop after the last epoch waits while TensorFlow scores the test set and the report
    is written, then ends the run as interrupted, its backups kept. Resumed with no epoch left
    to train, the run scores the best epoch's weights and counts its training time as the
    uninterrupted run does (the callbacks' counters were restored only as an epoch began: the
    resumed record had no best epoch, scored the last epoch's weights and 0 images/s)."""
    from mnist_exp.training import engine, stop

    cfg = smoke_config(
        "model=mlp", "trainer.epochs=3", "trainer.deterministic=true", "~callbacks.early_stopping"
    )
    reference = run_experiment(cfg, tmp_path / "reference")
    real_score = engine.score

    def stopped_while_scored(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        return real_score(*args, **kwargs)

    run_dir = tmp_path / "stopped"
    monkeypatch.setattr(engine, "score", stopped_while_scored)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop.interrupt_on_signals():
        run_experiment(cfg, run_dir)
    monkeypatch.undo()
    stopped = read_json(run_dir / "metrics.json")
    assert stopped["status"] == "interrupted" and stopped["resumable"] is True
    assert (run_dir / "per_class_scores.csv").is_file(), "the stop did not wait for the report"

    resumed = run_experiment(cfg, run_dir, resume=True)
    assert resumed["resumed_from_epoch"] == 3 and resumed["best_epoch"] is not None
    for key in ("status", "epochs_run", "best_epoch", "test_loss", "test_accuracy"):
        assert resumed[key] == reference[key], key
    assert resumed["images_per_second"] > 0 and resumed["train_seconds"] > 0
    assert not (run_dir / "backup").exists()


def test_a_run_early_stopping_ended_resumes_with_no_epoch_left(tmp_path, monkeypatch):
    """Killed after early stopping ended its training (while it was scored), the run resumes
    from its last backup, which says training was stopped there: no epoch is trained, and the
    scores and history are the uninterrupted run's (it trained one epoch more, and scored
    other weights)."""
    cfg = smoke_config(
        "model=mlp",
        "trainer.epochs=40",
        "trainer.deterministic=true",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=0.05",
    )
    reference = run_experiment(cfg, tmp_path / "reference")
    assert reference["epochs_run"] < 40, "early stopping did not end the reference run"
    run_dir = tmp_path / "killed"
    monkeypatch.setattr("mnist_exp.training.engine.remove_backups", lambda run_dir: None)
    run_experiment(cfg, run_dir)
    monkeypatch.undo()
    metrics = read_json(run_dir / "metrics.json")
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))

    resumed = run_experiment(cfg, run_dir, resume=True)
    assert resumed["resumed_from_epoch"] == reference["epochs_run"]
    for key in ("epochs_run", "best_epoch", "test_loss", "objective"):
        assert resumed[key] == reference[key], key
    assert (run_dir / "history.csv").read_bytes() == (
        tmp_path / "reference" / "history.csv"
    ).read_bytes()


def test_an_interrupt_dropped_in_a_finalizer_is_noted_without_an_ignored_exception_report(
    monkeypatch,
):
    """A signal landing in a weakref callback: Python drops the handler's KeyboardInterrupt and
    reports it ("Exception ignored in ... Traceback"); the note carries the stop, so that
    report is not shown. Other dropped exceptions are still reported."""
    from mnist_exp.training import stop

    monkeypatch.setattr(signals, "_received", [])  # this note is never acted on: no run here
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Finalized:
        pass

    def on_collected(_reference):
        signal.raise_signal(signal.SIGTERM)  # the handler runs inside this callback

    def failing_callback(_reference):
        raise ValueError("a finalizer's own error")

    with stop.interrupt_on_signals():
        thing = Finalized()
        watcher = weakref.ref(thing, on_collected)
        del thing
        assert signals.received() == "SIGTERM" and watcher() is None
        assert reported == [], "the dropped interrupt was reported"
        other = Finalized()
        other_watcher = weakref.ref(other, failing_callback)
        del other
        assert [type(r.exc_value) for r in reported] == [ValueError] and other_watcher() is None
    assert sys.unraisablehook == reported.append, "Python's hook is back after the run"


def test_a_stop_no_run_acted_on_stops_the_next_run_in_the_process(tmp_path, monkeypatch):
    """An interrupt dropped after a run's last step lets that run complete; its note then stops
    the next run in the process (a sweep's next job) at once, and is forgotten only then."""
    from mnist_exp.training import stop

    monkeypatch.setattr(signals, "_received", [])
    with stop.interrupt_on_signals():
        signals.note(signal.SIGTERM)  # the handler ran as the run ended; its raise lost
    assert signals.received() == "SIGTERM", "the stop was forgotten with the run"
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop.interrupt_on_signals():
        run_experiment(smoke_config("model=mlp", "trainer.epochs=50"), tmp_path)
    assert signals.received() is None, "acted on, then forgotten"
    assert read_json(tmp_path / "metrics.json")["status"] == "interrupted"


def test_an_interrupt_that_surfaces_as_another_error_is_recorded_as_interrupted(
    tmp_path, monkeypatch
):
    """The handler's KeyboardInterrupt, raised inside TensorFlow's C code as it traces a step,
    came out as "SystemError: ... bad argument to internal function" (1 of 25 SIGTERMs early in
    a run). With the signal noted, that is an interruption: resumable, not a failure."""
    from mnist_exp.training import engine, stop

    monkeypatch.setattr(signals, "_received", [])
    fit = engine.fit
    mangled = "Objects/listobject.c:338: bad argument to internal function"

    def fit_stopped_in_c_code(*args, **kwargs):
        signals.note(signal.SIGTERM)
        raise SystemError(mangled)

    cfg = smoke_config("model=mlp", "trainer.epochs=2", "~callbacks.early_stopping")
    monkeypatch.setattr(engine, "fit", fit_stopped_in_c_code)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop.interrupt_on_signals():
        run_experiment(cfg, tmp_path)
    metrics = read_json(tmp_path / "metrics.json")
    assert metrics["status"] == "interrupted"
    assert (
        metrics["error"]
        == f"KeyboardInterrupt: signal SIGTERM (surfaced as SystemError: {mangled})"
    )

    monkeypatch.setattr(engine, "fit", fit)
    assert run_experiment(cfg, tmp_path, resume=True)["status"] == "completed"


def test_without_a_stop_signal_the_same_error_is_a_failure(tmp_path, monkeypatch):
    from mnist_exp.training import engine

    def fit_failing(*args, **kwargs):
        raise SystemError("a real fault")

    monkeypatch.setattr(engine, "fit", fit_failing)
    with pytest.raises(SystemError, match="a real fault"):
        run_experiment(smoke_config("model=mlp", "trainer.epochs=2"), tmp_path)
    metrics = read_json(tmp_path / "metrics.json")
    assert metrics["status"] == "failed" and metrics["error"] == "SystemError: a real fault"


def test_during_fit_a_stop_signal_is_noted_for_the_next_step_not_raised_in_tensorflow(
    monkeypatch,
):
    """Raised at once, the interrupt mostly lands in TensorFlow's C code as it runs a step (one
    CI run printed its SystemError); while fit runs, StopWhenAsked raises it after the step."""
    from mnist_exp.training import stop

    monkeypatch.setattr(signals, "_received", [])
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop.interrupt_on_signals():
        with stop.checked_at_every_step():
            signal.raise_signal(signal.SIGTERM)  # nothing raised inside fit
            assert signals.received() == "SIGTERM"
        signal.raise_signal(signal.SIGTERM)  # outside fit: at once
    assert signals.received() is None
