"""Hydra's launcher plugins run the real sweeps: joblib (jobs in parallel on this machine),
submitit (Slurm; its local mode here) and Ray (a local Ray). Each job's TensorFlow gets its
share of the cores; a failing job is recorded as failed and the sweep exits non-zero,
whatever the launcher reports; the sweep ends with its run table and job count."""

from __future__ import annotations

import pytest
from conftest import read_metrics, run_module

from mnist_exp.quiet_start import STARTUP_LINE
from mnist_exp.reporting.sweep_domains import swept_values
from mnist_exp.training.threads import cpu_share

LAUNCHERS = {
    "joblib": ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
    "submitit_local": (
        "hydra/launcher=submitit_local",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
    ),
    "ray_local": ("hydra/launcher=ray_local", "+hydra.launcher.ray.init.num_cpus=2"),
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", LAUNCHERS.values(), ids=LAUNCHERS.keys())
def test_a_launcher_runs_the_sweep_records_the_failure_and_exits_non_zero(tmp_path, launcher):
    """The exit status comes from the jobs' notes, not the launcher's word: submitit reports a
    failed job as completed (facebookresearch/hydra#1928, the guard in SweepSummary)."""
    sweep_dir = tmp_path / "sweep"
    result = run_module(
        "mnist_exp", "-m", *launcher, "debug=smoke", "model=mlp",
        "trainer.epochs=1,-1", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    startup = [line for line in output.splitlines() if STARTUP_LINE.search(line)]
    assert startup == [], "a worker's TensorFlow start-up reached the console"
    finished, failed = read_metrics(sweep_dir / "0"), read_metrics(sweep_dir / "1")
    assert finished["status"] == "completed" and (sweep_dir / "0" / "model.keras").is_file()
    assert failed["status"] == "failed" and "trainer.epochs=-1 must be >= 1" in failed["error"]
    assert finished["threads"]["requested"] == 1 and finished["threads"]["intra_op"] == 1
    assert f"Sweep {sweep_dir}: 2 jobs: 1 run, 1 failed" in output
    assert "trainer.epochs" in output.split(f"Runs of {sweep_dir}:")[1]
    if launcher == LAUNCHERS["joblib"]:  # run again: the sweep continues, under a plugin too
        again = run_module(
            "mnist_exp", "-m", *launcher, "debug=smoke", "model=mlp",
            "trainer.epochs=1,-1", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
        )  # fmt: skip
        assert f"Sweep {sweep_dir}: 2 jobs: 1 skipped, 1 failed" in again.stdout + again.stderr
        assert read_metrics(sweep_dir / "0") == finished


def test_each_job_gets_its_share_of_the_cores():
    joblib = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"}
    assert cpu_share({**joblib, "n_jobs": 2}, cores=8) == 4
    assert cpu_share({**joblib, "n_jobs": -1}, cores=8) == 1  # joblib's -1: one job per core
    assert cpu_share({**joblib, "n_jobs": 16}, cores=8) == 1
    submitit = {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"}
    assert cpu_share({**submitit, "cpus_per_task": 6}, cores=8) == 6
    ray = {"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"}
    assert cpu_share({**ray, "ray": {"remote": {"num_cpus": 3}}}, cores=8) == 3
    basic = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}
    assert cpu_share(basic, cores=8) is None


def test_interval_sweeps_of_sweeper_plugins_are_left_out_of_the_domains():
    domains = swept_values(["model=mlp,cnn", "optimizer.learning_rate=interval(1e-4,1e-2)"])
    assert domains == {"model": ["mlp", "cnn"]}
