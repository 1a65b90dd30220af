"""`mnist-exp-init DIR` (`python -m mnist_exp.cli.init`): writes a small project of your own
into DIR, a new or empty folder: a config folder (a model, an experiment, a search space), a
model builder module, scripts that write example images, and a README with the commands that
train, sweep, search, compare, export, predict and serve.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.exits import DONE, REFUSED

TEMPLATE = "project_template"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=shown("init"), description=__doc__)
    parser.add_argument("folder", type=Path, help="a new or empty folder")
    folder = parser.parse_args(argv).folder
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        print(f"{shown('init')}: {folder} is not empty (or not a folder); nothing was written. "
              "Give a new or empty folder.", file=sys.stderr)  # fmt: skip
        return REFUSED
    with resources.as_file(resources.files("mnist_exp") / TEMPLATE) as template:
        shutil.copytree(
            template, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    print(f"Wrote {folder}: {', '.join(written)}.\nNext: cd {folder}, then the commands in "
          "its README.md.")  # fmt: skip
    return DONE


if __name__ == "__main__":
    sys.exit(main())
