"""mnist_exp as users install it: a wheel built from this checkout, installed (not editable)
into a fresh virtual environment, its console scripts run from a folder outside the
repository; and the README's "Your own project" commands run there as written.

The new environment reuses this one's installed dependencies (a .pth line) and installs the
wheel alone with --no-deps, so the test takes a minute, not a download."""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import REPO_ROOT, free_port, read_json
from drawn_shapes import drawn
from test_serving import wait_until_healthy

from mnist_exp.commands import COMMANDS
from mnist_exp.quiet_start import STARTUP_LINE

pytestmark = pytest.mark.slow

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
README_MARKER = "<!-- your-own-project:"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel of this checkout."""
    root = tmp_path_factory.mktemp("install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation",
         "-w", str(root / "wheel"), "-q"],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (root / "wheel").glob("mnist_exp-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # This environment's packages, as a plain path: its editable mnist_exp is not activated.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "-q", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    return venv / "bin"


def user_env(bin_dir: Path, home: Path) -> dict:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(home),
           "MNIST_EXP_CACHE": str(home / "cache"), "KERAS_HOME": str(home / "keras")}  # fmt: skip
    for variable in ("PYTHONPATH", "HYDRA_FULL_ERROR", "TF_CONFIG", "VIRTUAL_ENV"):
        env.pop(variable, None)
    return env


def run(command: list[str] | str, cwd: Path, env: dict, timeout: int = 600):
    argv = shlex.split(command) if isinstance(command, str) else command
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_the_configs_and_every_script_answers_help(installed, tmp_path):
    env = user_env(installed, tmp_path)
    where = run([str(installed / "python"), "-c", "import mnist_exp; print(mnist_exp.__file__)"],
                tmp_path, env)  # fmt: skip
    assert where.stdout.startswith(str(installed.parent)), where.stdout + where.stderr
    assert (Path(where.stdout.strip()).parent / "conf" / "experiment" / "fast_99.yaml").is_file()
    for command in COMMANDS.values():
        answer = run([command.script, "--help"], tmp_path, env, timeout=120)
        assert answer.returncode == 0, f"{command.script}: {answer.stderr[-2000:]}"


def test_the_main_command_trains_from_any_folder(installed, tmp_path):
    env = user_env(installed, tmp_path)
    result = run("mnist-exp debug=smoke model=mlp", tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs").glob("*/*")
    assert (run_dir / "model.keras").is_file()
    missing = run("mnist-exp --config-dir no/such/folder debug=smoke", tmp_path, env)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("mnist-exp: --config-dir no/such/folder: no such")


def test_a_run_records_what_produced_it(installed, tmp_path):
    """provenance.json: the versions, the command as typed, the commit of the user's project
    (a git repository here) and whether it had changes, the machine; one entry per attempt."""
    import tensorflow as tf

    from mnist_exp.runs.provenance import git_state

    project = tmp_path / "project"
    project.mkdir()
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (project / "notes.txt").write_text("first\n")
    subprocess.run([*git, "add", "notes.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    env = user_env(installed, tmp_path)
    result = run("mnist-exp debug=smoke model=mlp hydra.run.dir=outputs/run", project, env)
    assert result.returncode == 0, result.stderr[-3000:]
    (attempt,) = read_json(project / "outputs" / "run" / "provenance.json")["attempts"]
    assert attempt["git"] == {
        "repository": str(project.resolve()),
        "commit": head.strip(),
        "dirty": False,
    }
    assert attempt["command"] == "mnist-exp debug=smoke model=mlp hydra.run.dir=outputs/run"
    assert attempt["versions"]["tensorflow"] == tf.__version__
    assert attempt["versions"]["mnist_exp"] and attempt["versions"]["keras"]
    assert attempt["status"] == "completed" and attempt["finished_at"] >= attempt["started_at"]
    assert attempt["cpu"]["cores"] >= 1 and attempt["host"] and isinstance(attempt["gpus"], list)
    shown = run("mnist-exp-compare outputs/run --provenance --format csv", project, env)
    (row,) = csv.DictReader(io.StringIO(shown.stdout))
    assert row["commit"] == head.strip()[:10] and row["tensorflow"] == tf.__version__
    (project / "notes.txt").write_text("changed\n")
    assert git_state(project)["dirty"] is True
    assert git_state(tmp_path / "outside") is None  # not a repository: nothing recorded


def readme_commands(readme: Path) -> list[str]:
    """The commands of a README's "your own project" block, as a user types them."""
    text = readme.read_text()
    block = text.split(README_MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def write_class_folders(root: Path) -> None:
    """What write_digits.py writes (MNIST test digits, named in words), drawn here instead:
    the shapes 0-9 as classes zero ... nine, in several sizes, on paper."""
    for label, name in enumerate(WORDS):
        (root / name).mkdir(parents=True)
        for index in range(20):
            image = drawn(label, np.random.default_rng(100 * label + index), canvas=(70, 90))
            image.save(root / name / f"{index}.png")


def test_your_own_project_commands_from_the_readme(installed, tmp_path):
    """`mnist-exp-init` writes the project, whose README's commands run as written; the
    package's README shows the same commands."""
    env = user_env(installed, tmp_path)
    written = run("mnist-exp-init my_project", tmp_path, env)
    assert written.returncode == 0, written.stderr[-2000:]
    project = tmp_path / "my_project"
    commands = readme_commands(project / "README.md")
    assert readme_commands(REPO_ROOT / "README.md") == [
        "mnist-exp-init my_project && cd my_project",
        *commands,
    ]
    assert commands[0] == "python write_digits.py"
    write_class_folders(project / "my_digits")
    again = run("mnist-exp-init my_project", tmp_path, env)
    assert again.returncode == 2 and "is not empty" in again.stderr
    *steps, serve = commands[1:]
    for command in steps:
        result = run(command, project, env)
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        startup = STARTUP_LINE.search(result.stdout + result.stderr)
        assert startup is None, f"{command} printed TensorFlow's start-up: {startup.group(0)}"
        if command.startswith("mnist-exp-predict"):  # answered with one of the folder names
            assert re.search(rf"my_digits/seven/0\.png\s+({'|'.join(WORDS)})\s", result.stdout)
        if command.startswith("mnist-exp-compare"):
            assert "128" in result.stdout and "32" in result.stdout
        if command.startswith("mnist-exp-tune"):  # its rerun line works as printed
            rerun = re.search(r"rerun: (.+)", result.stdout + result.stderr).group(1)
            composed = run(f"{rerun} --cfg job", project, env)
            assert composed.returncode == 0, f"{rerun}\n{composed.stderr[-2000:]}"
            assert "my_nets.build_tiny" in composed.stdout
    metrics = (project / "outputs" / "mine" / "metrics.json").read_text()
    assert '"model_builder": "my_nets.build_tiny"' in metrics and '"seven"' in metrics
    assert (project / "outputs" / "search" / "experiment" / "search_best.yaml").is_file()
    assert (project / "outputs" / "mine" / "export" / "model.onnx").is_file()

    port = free_port()
    server = subprocess.Popen(
        [*shlex.split(serve), "--port", str(port)], cwd=project, env=env,
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "serve.log").open("w"),
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server)
        image = (project / "my_digits" / "seven" / "0.png").read_bytes()
        answer = httpx.post(f"{url}/api/predict", files=[("files", ("0.png", image))], timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["class_names"] == sorted(WORDS)
        assert answer.json()["predictions"][0]["class_name"] in WORDS
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    assert not STARTUP_LINE.search((tmp_path / "serve.log").read_text()), "serve's TF start-up"


def test_a_users_project_run_with_its_own_objects_is_tracked_on_mlflow(installed, tmp_path):
    """From a git project outside the repository, with the wheel: the user's callback, a top-k
    metric and the user's loss, on a real MLflow server with the project's commit."""
    from mlflow.tracking import MlflowClient
    from test_extensions import USER_MODULE

    from benchmarks.mlflow_cost import start_mlflow_server

    project = tmp_path / "project"
    project.mkdir()
    (project / "user_extras.py").write_text(USER_MODULE)
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "user_extras.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    server, url = start_mlflow_server(tmp_path)
    try:
        result = run(
            "mnist-exp debug=smoke model=mlp trainer.epochs=2 "
            "+callbacks.every._target_=user_extras.EveryEpoch +callbacks.every.path=epochs.txt "
            "+callbacks.every.stop_after=9 "
            "+metrics.top3._target_=keras.metrics.SparseTopKCategoricalAccuracy +metrics.top3.k=3 "
            "loss._target_=user_extras.shifted_loss +loss.shift=100.0 "
            f"logger=mlflow logger.tracking_uri={url} hydra.run.dir=outputs/run",
            project, user_env(installed, tmp_path),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        assert (project / "epochs.txt").read_text().split() == ["0", "1"]
        run_id = read_json(project / "outputs" / "run" / "mlflow.json")["run_id"]
        client = MlflowClient(url)
        tracked = client.get_run(run_id)
        assert tracked.data.tags["git.commit"] == head.strip()
        assert tracked.data.params["loss._target_"] == "user_extras.shifted_loss"
        assert tracked.data.metrics["loss"] > 100 and "test_top3" in tracked.data.metrics
        steps = [p.step for p in client.get_metric_history(run_id, "val_top3")]
        assert steps == [1, 2]
        assert "model/model.keras" in {a.path for a in client.list_artifacts(run_id, "model")}
        swept = run(
            f"mnist-exp -m debug=smoke model=mlp seed=0,1 logger=mlflow logger.tracking_uri={url} "
            "logger.experiment_name=sweep hydra.sweep.dir=outputs/sweep",
            project, user_env(installed, tmp_path),
        )  # fmt: skip
        assert swept.returncode == 0, swept.stderr[-3000:]
        experiment = client.get_experiment_by_name("sweep").experiment_id
        runs = client.search_runs([experiment])
        parent = read_json(project / "outputs" / "sweep" / "mlflow.json")["run_id"]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
        assert len(runs) == 3 and len(children) == 2
        assert all(r.data.tags["git.commit"] == head.strip() for r in children)
    finally:
        server.terminate()
        server.wait(timeout=30)
