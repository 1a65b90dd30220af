"""What happens when a run is asked for again: one decision, in runs.status."""

import json
import re

import pytest
from omegaconf import OmegaConf

from mnist_exp.runs import record
from mnist_exp.runs.status import Action, Outcome, Status, decide

CONFIG = OmegaConf.create({"seed": 0, "model": {"name": "mlp"}})


def run_with(tmp_path, status=None, config=CONFIG):
    run_dir = tmp_path / "run"
    if config is not None:
        record.write_record(run_dir, config, {}, [])
    if status is not None:
        run_dir.mkdir(exist_ok=True)
        (run_dir / "metrics.json").write_text(json.dumps({"status": status}))
    return run_dir


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (None, Action.START),  # recorded, refused before training began: starts anew
        (Status.RUNNING, Action.CONTINUE),  # killed
        (Status.FAILED, Action.CONTINUE),
        (Status.INTERRUPTED, Action.CONTINUE),
        (Status.COMPLETED, Action.SKIP),
        (Status.DIVERGED, Action.SKIP),
    ],
)
def test_the_same_config_again_starts_continues_or_skips(tmp_path, status, action):
    decision = decide(run_with(tmp_path, status), CONFIG)
    assert decision.action is action
    assert decision.status == status


def test_an_empty_directory_starts_and_another_config_is_refused_with_the_difference(tmp_path):
    assert decide(tmp_path / "fresh", CONFIG).action is Action.START
    other = OmegaConf.create({"seed": 1, "model": {"name": "mlp"}})
    decision = decide(run_with(tmp_path, Status.COMPLETED), other)
    assert decision.action is Action.REFUSE
    assert "seed: 0 -> 1" in decision.reason and "mnist-exp-resume" in decision.reason


@pytest.mark.parametrize(
    ("status", "config", "action", "reason"),
    [
        (None, None, Action.REFUSE, "is not a run directory"),
        (Status.COMPLETED, CONFIG, Action.REFUSE, "already finished .* nothing to resume"),
        (Status.INTERRUPTED, CONFIG, Action.CONTINUE, ""),
        (None, CONFIG, Action.START, ""),
    ],
)
def test_resume_continues_only_an_unfinished_run(tmp_path, status, config, action, reason):
    decision = decide(run_with(tmp_path, status, config), resume=True)
    assert decision.action is action
    assert re.search(reason, decision.reason) if reason else decision.reason == ""


def test_outcomes_that_fail_a_sweep():
    failures = {outcome for outcome in Outcome if outcome.is_failure}
    assert failures == {Outcome.FAILED, Outcome.INTERRUPTED, Outcome.DIVERGED, Outcome.REFUSED}
    assert [status for status in Status if status.finished] == [Status.COMPLETED, Status.DIVERGED]
