"""The tuning runner: composed config in; trials, trials table, best preset and (optionally)
the retrained best run out, all under the search's own directory.

    DIR/trials/oracle.json, trial_*/trial.json   Keras Tuner's state (resumable)
    DIR/trials/trial_*/seed_*/                   each trial's training run(s)
    DIR/trials.csv, trials.md                    the table, best first
    DIR/experiment/search_best.yaml              the winner as a preset
    DIR/retrain/                                 the preset retrained (tuning.retrain=true)
    DIR/search.json                              the summary
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from mnist_exp import safe_files
from mnist_exp.commands import python_argv, shown
from mnist_exp.errors import MnistExpError
from mnist_exp.reporting.tensorboard_names import SWEEP_HPARAMS_DIR
from mnist_exp.runs import artifacts, record
from mnist_exp.runs.status import Action, decide
from mnist_exp.tracking import end_tracked_parent
from mnist_exp.tuning.distributed import configure_environment, serve_oracle
from mnist_exp.tuning.overrides import training_overrides
from mnist_exp.tuning.preset import Composer, preset_text
from mnist_exp.tuning.settings import TuningSettings, parse_objective, parse_tuner, parse_tuning
from mnist_exp.tuning.space import parse_search_space
from mnist_exp.tuning.trials import TrialRunner

log = logging.getLogger("mnist_exp.tune")

PROJECT_NAME = "trials"  # Keras Tuner's state: DIR/trials/{oracle.json,trial_*/}
PRESET_NAME = "search_best"
SUMMARY_FILE = "search.json"
RETRAIN_DIR = "retrain"


def _check_state(output_dir: Path, state_dir: Path, tuning: TuningSettings) -> None:
    """A search starts in a directory that holds none, and resumes one that holds one. A
    search stopped between its record and the oracle's first state (TensorFlow's start takes
    seconds) ran no trial: resuming it starts it, as recorded."""
    if tuning.role == "worker":
        return  # a worker's state lives with the chief
    has_state = (state_dir / PROJECT_NAME / "oracle.json").is_file()
    has_record = record.has_record(output_dir)
    if (has_state or has_record) and not tuning.resume:
        raise MnistExpError(
            f"{state_dir} already holds a search; nothing was changed. Continue it with "
            f"{shown('tune')} resume={state_dir}, or choose another directory."
        )
    if tuning.resume and not has_state:
        if not has_record:
            raise MnistExpError(
                f"{state_dir} holds no search to resume (no {PROJECT_NAME}/oracle.json)."
            )
        log.info("%s was stopped before its first trial; starting it as recorded.", state_dir)


def _build_tuner(tuner_settings, tuning, objective, space, runner, state_dir, output_dir):
    # Imported here: TensorFlow starts only once the config is known to be good.
    import keras_tuner

    from mnist_exp.tuning.oracles import build_oracle
    from mnist_exp.tuning.tuner import ConfigTuner

    hyperparameters = keras_tuner.HyperParameters()
    space.declare(hyperparameters)
    oracle = build_oracle(tuner_settings, objective, hyperparameters)

    def write_results(tuner) -> None:
        _write_table(tuner, output_dir, space)

    return ConfigTuner(
        oracle,
        state_dir,
        PROJECT_NAME,
        runner,
        tuner_settings.max_trials,
        on_trial_ended=None if tuning.role == "worker" else write_results,
    )


def run_search(
    cfg: DictConfig,
    output_dir: Path,
    task_overrides: list[str],
    compose: Composer,
    on_start: Callable[[], None] | None = None,
) -> dict:
    """Runs (or resumes, or serves, or works for) the search `cfg` describes.

    Args:
        cfg: the composed tuning config (conf/tune.yaml).
        output_dir: this process's run directory.
        task_overrides: the command line's overrides, replayed for every trial.
        compose: composes the training config for a list of overrides.
        on_start: called once the config and the directory passed their checks, before
            TensorFlow starts (the caller records the search there).

    Returns:
        The summary written to search.json ({"role": "worker"} on a worker).
    """
    tuner_settings, tuning = parse_tuner(cfg), parse_tuning(cfg)
    objective = parse_objective(cfg)
    space = parse_search_space(cfg)
    runner = TrialRunner(
        compose,
        training_overrides(task_overrides, space.keys),
        space,
        tuner_settings,
        objective,
    )
    runner.preflight()
    state_dir = Path(tuning.directory or output_dir).resolve()
    _check_state(Path(output_dir).resolve(), state_dir, tuning)
    if on_start is not None:
        on_start()
    configure_environment(tuning)
    log.info(
        "%s search over %s (%s %s), %s trials of %d epochs; state in %s",
        tuner_settings.name,
        ", ".join(space.keys),
        objective.direction,
        objective.metric,
        tuner_settings.max_trials or "all",
        tuner_settings.max_epochs,
        state_dir,
    )
    tuner = _build_tuner(tuner_settings, tuning, objective, space, runner, state_dir, output_dir)
    started = time.monotonic()
    tuner.save()  # at once, so a search killed in its first trial resumes as well
    if tuning.role == "chief":
        serve_oracle(
            tuner.oracle, tuning.oracle_address, lambda: _chief_progress(tuner, output_dir, space)
        )
    else:
        _search(tuner, tuner_settings, output_dir, space)
    if tuning.role == "worker":
        log.info("Worker %s: no trials left.", tuning.tuner_id)
        return {"role": "worker"}
    summary = _finish(tuner, runner, tuning, output_dir, space, time.monotonic() - started)
    end_tracked_parent(Path(output_dir))
    return summary


def _search(tuner, tuner_settings, output_dir: Path, space) -> None:
    """Runs trials until the oracle stops; too many failures in a row end in one message."""
    try:
        tuner.search()
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        _write_table(tuner, output_dir, space)
        raise MnistExpError(
            f"Search stopped: {tuner_settings.max_consecutive_failed_trials} trials in a row "
            f"failed; their reasons are in {output_dir / 'trials.md'}. Fix the cause, then "
            f"continue with {shown('tune')} resume={output_dir}."
        ) from None


def _write_table(tuner, output_dir: Path, space):
    from mnist_exp.tuning.table import trials_table, write_trials_table

    table = trials_table(tuner.oracle, Path(tuner.project_dir), space)
    write_trials_table(table, output_dir)
    return table


def _chief_progress(tuner, output_dir: Path, space) -> None:
    _write_table(tuner, output_dir, space)
    best = tuner.oracle.get_best_trials(1)
    log.info(
        "Chief: %d trial(s) ended; best so far %s",
        len(tuner.oracle.end_order),
        f"{best[0].score:.4f} (trial {best[0].trial_id})" if best and best[0].score else "none",
    )


def _declare_domains(table, output_dir: Path, space) -> None:
    """The searched values at the search's root, for TensorBoard's HParams dashboard."""
    from mnist_exp.reporting.tensorboard import write_sweep_domains

    domains = {
        key: sorted(table[key].dropna().unique().tolist(), key=str)
        for key in space.keys
        if key in table
    }
    write_sweep_domains(output_dir / SWEEP_HPARAMS_DIR, domains)


def _finish(tuner, runner, tuning, output_dir: Path, space, seconds: float) -> dict:
    from mnist_exp.tuning.table import summary_counts

    objective = runner.objective
    table = _write_table(tuner, output_dir, space)
    _declare_domains(table, output_dir, space)
    counts = summary_counts(table)
    earlier = safe_files.read_json(output_dir / SUMMARY_FILE) or {}
    summary = {
        **counts,
        "objective": objective.metric,
        "direction": objective.direction,
        # A resumed search adds to its finished predecessor's time; a killed one wrote none.
        "search_seconds": round(seconds + earlier.get("search_seconds", 0), 1),
        "trial_seconds": round(float(table["seconds"].fillna(0).sum()), 1) if len(table) else 0,
    }
    best = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    log.info(
        "Search done: %d trials (%d completed, %d failed) in %.1f min.",
        counts["trials"],
        counts["completed"],
        counts["failed"],
        seconds / 60,
    )
    if not best:
        safe_files.write_json_atomically(output_dir / SUMMARY_FILE, summary)
        raise MnistExpError(f"No trial completed; see the reasons in {output_dir / 'trials.md'}.")
    trial = best[0]
    overrides = runner.preset_overrides(trial.hyperparameters.values) + tuning.final_overrides
    summary.update(
        best_trial=trial.trial_id,
        best_score=trial.score,
        best_values={k: v for k, v in space.assignments(trial.hyperparameters.values).items()},
        preset_overrides=overrides,
    )
    preset = _write_preset(runner, overrides, output_dir, trial, tuning, summary)
    summary["preset"] = str(preset)
    log.info(
        "Best: trial %s, %s=%.4f: %s\nPreset: %s\n  rerun: %s",
        trial.trial_id,
        objective.metric,
        trial.score,
        " ".join(overrides) or "(the defaults)",
        preset,
        rerun_command(output_dir),
    )
    if tuning.retrain:
        summary["retrain"] = retrain(output_dir)
        _write_preset(runner, overrides, output_dir, trial, tuning, summary)
    safe_files.write_json_atomically(output_dir / SUMMARY_FILE, summary)
    return summary


def preset_arguments(output_dir: Path) -> list[str]:
    """The training command's arguments that select the search's preset. A search run with
    the user's own `--config-dir` names their options (model=my_net), so these keep that
    folder and find the preset through `hydra.searchpath` (Hydra takes one --config-dir)."""
    own = [
        source.path.removeprefix("file://")
        for source in (
            HydraConfig.get().runtime.config_sources if HydraConfig.initialized() else []
        )
        if source.provider == "command-line"
    ]
    if not own:
        return ["--config-dir", str(output_dir), f"+experiment={PRESET_NAME}"]
    preset_folder = Path(output_dir).resolve()
    return [
        "--config-dir",
        own[-1],
        f"hydra.searchpath=[file://{preset_folder}]",
        f"+experiment={PRESET_NAME}",
    ]


def rerun_command(output_dir: Path) -> str:
    """The command that trains the search's preset, as a user types it."""
    return shlex.join([shown("train"), *preset_arguments(output_dir)])


def _write_preset(runner, overrides, output_dir: Path, trial, tuning, summary) -> Path:
    objective = runner.objective
    header = [
        f"Found by mnist_exp.cli.tune in {output_dir}: trial {trial.trial_id} of "
        f"{summary['trials']}, {objective.metric}={trial.score:.4f} during the search.",
        f"  {rerun_command(output_dir)}",
    ]
    retrained = summary.get("retrain")
    if retrained:
        header.append(
            f"Retrained ({retrained['run_dir']}): test accuracy {retrained['test_accuracy']:.4f}, "
            f"{retrained['epochs_run']} epochs, {retrained['train_seconds']:.0f} s of training."
        )
    path = output_dir / "experiment" / f"{PRESET_NAME}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_files.write_text_atomically(
        path, preset_text(runner.compose, overrides, "\n".join(header))
    )
    return path


def retrain(output_dir: Path) -> dict:
    """Trains the preset as an ordinary run, in its own process, into DIR/retrain.

    A finished retrain is never redone or overwritten; an interrupted one is resumed.
    """
    run_dir = output_dir / RETRAIN_DIR
    decision = decide(run_dir)
    if decision.action is Action.SKIP:
        log.info("Retrain already done in %s.", run_dir)
        finished = decision.metrics
    else:
        if decision.action is Action.CONTINUE:
            command = [*python_argv("resume"), str(run_dir)]
        else:
            command = [
                *python_argv("train"),
                *preset_arguments(output_dir),
                f"hydra.run.dir={run_dir}",
            ]
        log.info("Retraining the best configuration: %s", " ".join(command))
        if subprocess.run(command).returncode != 0:
            raise MnistExpError(f"The retrain failed; see {run_dir}/train.log.")
        finished = artifacts.read_metrics(run_dir)
    keys = ("status", "test_accuracy", "test_loss", "epochs_run", "train_seconds")
    return {"run_dir": str(run_dir), **{key: finished.get(key) for key in keys}}
