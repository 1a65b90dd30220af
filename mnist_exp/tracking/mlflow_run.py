"""A run on an MLflow tracking server (`logger=mlflow`), sent from the run's folder, which
stays the truth.

While the run trains, a background thread sends what the run writes (the config as params,
each epoch's metrics with the epoch as step) so that training never waits for the server;
when it ends, `send_run` sends what is still missing (epochs the server did not get, the test
metrics, model.keras, the report pictures, the run's files, what produced it as tags) and the
run's status. `mnist-exp-track RUN_DIR` calls the same `send_run` later, for a run whose
server was down. The MLflow run's id is kept in the folder (`mlflow.json`), so a continued run
and a second send continue the same MLflow run. A sweep's jobs and a search's trials are
nested under one parent run, kept in the sweep's or the search's folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path

from mnist_exp import safe_files
from mnist_exp.runs import artifacts, provenance
from mnist_exp.runs.load import Run
from mnist_exp.runs.table import SEARCH_LOG
from mnist_exp.settings.logger import LoggerSettings, MlflowLogger
from mnist_exp.settings.schema import is_number
from mnist_exp.tracking import RUN_FILE

log = logging.getLogger(__name__)

SENT_FILES = ("metrics.json", "history.csv", "provenance.json", ".hydra/config.yaml",
              "per_class_scores.csv", "report.md")  # fmt: skip
MODEL_ARTIFACT_DIR = "model"
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "running": "RUNNING"}
FINISH_SECONDS = 60  # what the end of a run waits for the server, at most
# A server that does not answer must not stall a run: MLflow retries 7 times with backoff.
_CLIENT_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


def _client(tracking_uri: str | None):
    """An MlflowClient for `tracking_uri` (None: $MLFLOW_TRACKING_URI, else MLflow's default)
    that gives up on a server that does not answer instead of retrying for minutes."""
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # its retry lines
    for variable, value in _CLIENT_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


def parent_folder(run_dir: Path) -> Path | None:
    """The sweep (Hydra's multirun.yaml) or search (its tune.log) the run belongs to."""
    run_dir = Path(run_dir).resolve()
    if (run_dir.parent / "multirun.yaml").is_file():
        return run_dir.parent
    return next((up for up in run_dir.parents[:3] if (up / SEARCH_LOG).is_file()), None)


def _saved(folder: Path) -> dict:
    """What `folder`'s RUN_FILE records ({} when it has none)."""
    try:
        saved = json.loads((Path(folder) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _read_id(folder: Path, uri: str) -> str | None:
    saved = _saved(folder)
    return saved.get("run_id") if saved.get("tracking_uri") == uri else None


def _parent_id(client, settings: MlflowLogger, experiment_id: str, folder: Path) -> str:
    """The parent run of `folder`'s jobs, made by the first job that asks (a lock orders
    jobs that run at once)."""
    with open(folder / f".{RUN_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found := _read_id(folder, client.tracking_uri):
            return found
        run = client.create_run(experiment_id, run_name=folder.name, tags=settings.tags)
        _write_id(folder, client.tracking_uri, experiment_id, run.info.run_id)
        return run.info.run_id


def _write_id(folder: Path, uri: str, experiment_id: str, run_id: str) -> None:
    record = {"tracking_uri": uri, "experiment_id": experiment_id, "run_id": run_id}
    safe_files.write_json_atomically(folder / RUN_FILE, record)


def open_run(settings: MlflowLogger, run_dir: Path):
    """(client, run id) of the run in `run_dir`: the one its folder names, else a new one
    (nested under its sweep's or search's parent run)."""
    client = _client(settings.tracking_uri)
    if found := _read_id(run_dir, client.tracking_uri):
        return client, found
    experiment_id = _experiment_id(client, settings.experiment_name)
    tags = dict(settings.tags)
    if (parent := parent_folder(run_dir)) is not None:
        tags["mlflow.parentRunId"] = _parent_id(client, settings, experiment_id, parent)
    name = f"{Path(run_dir).parent.name}/{Path(run_dir).name}"
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    _write_id(run_dir, client.tracking_uri, experiment_id, run.info.run_id)
    return client, run.info.run_id


def _metrics(values: dict, step: int):
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    return [
        Metric(key, float(value), stamp, step) for key, value in values.items() if is_number(value)
    ]


def send_params(client, run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    items = [Param(key[:250], str(value)[:6000]) for key, value in sorted(params.items())]
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=items[start : start + 100])


def _provenance_tags(run_dir: Path) -> dict[str, str]:
    latest = provenance.latest_attempt(run_dir)
    tags = {f"version.{name}": str(version) for name, version in latest.get("versions", {}).items()}
    git = latest.get("git") or {}
    tags.update({f"git.{key}": str(value) for key, value in git.items()})
    for key in ("command", "host", "python", "platform"):
        if latest.get(key):
            tags[key] = str(latest[key])
    if cpu := latest.get("cpu"):
        tags["cpu"] = f"{cpu.get('model')} ({cpu.get('cores')} cores)"
    return {key: value[:5000] for key, value in tags.items()}


def _send_missing_epochs(client, run_id: str, run: Run) -> None:
    sent = {point.step for point in client.get_metric_history(run_id, "loss")}
    metrics = [
        metric
        for row in run.history().to_dict("records")
        if int(row["epoch"]) not in sent
        for metric in _metrics({k: v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))
    ]
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


def send_run(settings: MlflowLogger, run_dir: Path, params: dict | None = None) -> str:
    """Sends the run in `run_dir` from its files (see the module's text); returns its id."""
    from mlflow.entities import RunTag

    run_dir = Path(run_dir)
    client, run_id = open_run(settings, run_dir)
    if params is not None:
        send_params(client, run_id, params)
    _send_missing_epochs(client, run_id, Run(run_dir))
    record = artifacts.read_metrics(run_dir) or {}
    final = {
        k: v for k, v in record.items() if k.startswith(("test_", "best_")) or k == "objective"
    }
    if final:
        client.log_batch(run_id, metrics=_metrics(final, int(record.get("epochs_run") or 0)))
    tags = {**_provenance_tags(run_dir), "run_dir": str(run_dir.resolve())}
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
    for name in SENT_FILES:
        if (run_dir / name).is_file():
            client.log_artifact(run_id, str(run_dir / name))
    if (run_dir / artifacts.MODEL_FILE).is_file():
        client.log_artifact(run_id, str(run_dir / artifacts.MODEL_FILE), MODEL_ARTIFACT_DIR)
    for picture in sorted(run_dir.glob("*.png")):
        client.log_artifact(run_id, str(picture), "report")
    status = record.get("status", "running")
    client.set_terminated(run_id, STATUS.get(status, "FAILED"))
    return run_id


def end_parent(folder: Path) -> None:
    """Marks the parent run of a sweep's or search's `folder` finished (nothing when the
    folder has none; a server that fails is one warning)."""
    saved = _saved(folder)
    if not saved:
        return
    try:
        _client(saved["tracking_uri"]).set_terminated(saved["run_id"], "FINISHED")
    except Exception as error:
        log.warning("MLflow: the parent run of %s was not ended: %s", folder, error)


class MlflowSender:
    """Sends a run to MLflow from a background thread: opened with its params at once, then
    each epoch's logs (`epoch`), then `finish` sends the rest and waits, at most
    FINISH_SECONDS. A server that fails is one warning; the run goes on untouched."""

    def __init__(self, settings: MlflowLogger, run_dir: Path, params: dict):
        self.settings, self.run_dir = settings, Path(run_dir)
        self.failed: str | None = None
        self._work: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._send, daemon=True, name="mlflow-sender")
        self._thread.start()
        self._work.put(("open", params))

    def _send(self) -> None:
        client = run_id = None
        while (item := self._work.get()) is not None:
            kind, payload = item
            if self.failed:
                continue
            try:
                if kind == "open":
                    client, run_id = open_run(self.settings, self.run_dir)
                    send_params(client, run_id, payload)
                elif kind == "epoch":
                    step, logs = payload
                    client.log_batch(run_id, metrics=_metrics(logs, step))
                else:
                    send_run(self.settings, self.run_dir)
            except Exception as error:
                self.failed = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                log.warning(
                    "MLflow (%s): %s. Training goes on; the run folder has everything, and "
                    "`mnist-exp-track %s` sends it later.",
                    self.settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "default"),
                    self.failed,
                    self.run_dir,
                )

    def epoch(self, step: int, logs: dict) -> None:
        self._work.put(("epoch", (step, dict(logs))))

    def finish(self) -> None:
        self._work.put(("finish", None))
        self._work.put(None)
        self._thread.join(FINISH_SECONDS)
        if self._thread.is_alive():
            log.warning(
                "MLflow did not take the run within %d s; `mnist-exp-track %s` sends it.",
                FINISH_SECONDS,
                self.run_dir,
            )


def start_tracking(logger: LoggerSettings, run_dir: Path, params: dict) -> MlflowSender | None:
    """The run's MLflow sender with logger=mlflow (None with TensorBoard's folder only)."""
    return MlflowSender(logger, run_dir, params) if isinstance(logger, MlflowLogger) else None
