"""`mnist-exp-compare [PATHS...]` (`python -m mnist_exp.cli.compare`): a table of runs, only the
config keys that differ. The logic is in mnist_exp.runs.compare.

Examples:
    mnist-exp-compare outputs/multirun --group-by model
    mnist-exp-compare outputs --where model=cnn_bn --sort train_seconds --format markdown
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from pathlib import Path

from mnist_exp.commands import shown
from mnist_exp.exits import DONE, PARTLY, REFUSED, reader_gone, run_stoppable
from mnist_exp.progress import Progress
from mnist_exp.runs.compare import (
    DROPPED_FIRST,
    filter_runs,
    fitted,
    render,
    run_table,
    summarize,
    with_provenance,
    without_smoke_runs,
)
from mnist_exp.runs.table import find_run_dirs, read_runs

PROGRESS_FROM = 100  # runs: fewer are read before a progress line would help


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=shown("compare"),
        description="Compare mnist_exp runs: one row per run (or per group), only the config "
        "keys that differ between runs.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["outputs"],
        help="run or multirun directories, searched recursively (default: outputs)",
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep runs where KEY equals VALUE, e.g. model=cnn_bn (repeatable)",
    )
    parser.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="KEY",
        help="aggregate over the other keys (e.g. seeds): mean ± std and n; other keys that "
        "vary inside a group are named in a 'varies within' column",
    )
    parser.add_argument(
        "--strict-groups",
        action="store_true",
        help="with --group-by: also split groups by every other key that varies (seeds "
        "aside), so each mean is over runs that differ only in seed (default: off)",
    )
    _add_output_options(parser)
    return parser.parse_args(argv)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """How the table is sorted, written and fitted, and what it shows besides the runs."""
    parser.add_argument(
        "--sort",
        help="column to sort runs by (default: test_accuracy); best first: descending, "
        "ascending for test_loss and train_seconds",
    )
    parser.add_argument(
        "--format",
        choices=("table", "csv", "markdown"),
        default="table",
        help="table (default, for the terminal), csv (spreadsheets, pandas) or markdown",
    )
    parser.add_argument("--output", type=Path, help="write here (default: standard output)")
    parser.add_argument(
        "--wide",
        action="store_true",
        help="every column, however wide (default: a table fits the terminal or $COLUMNS; "
        "columns are left out in this order: " + ", ".join(DROPPED_FIRST) + ", then the "
        "config keys from the right)",
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="what produced each run: mnist_exp, TensorFlow and Keras versions, the git commit "
        "of the folder it ran from (+: with changes), the host (from provenance.json)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="smoke runs (debug=smoke) too (default: left out when other runs are there)",
    )


def main(argv=None) -> int:
    """Exit status: 0 a table printed, 1 no runs found, 2 a path that does not exist, 141 the
    reader of the output went away (`... | head`), quietly."""
    return run_stoppable(shown("compare"), lambda: _compare_or_pipe_closed(argv))


def _compare_or_pipe_closed(argv) -> int:
    try:
        return _compare(parse_arguments(argv))
    except BrokenPipeError:
        return reader_gone()


def _terminal_width() -> int | None:
    """$COLUMNS, or the terminal's width; None for a pipe or a file (nothing is cut)."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _compare(arguments) -> int:
    missing = [path for path in arguments.paths if not Path(path).exists()]
    if missing:
        print(f"compare: no such path: {', '.join(missing)}", file=sys.stderr)
        return REFUSED
    run_dirs = find_run_dirs(arguments.paths)
    progress = Progress("compare", len(run_dirs), "runs", plain_lines=False, keep=False)
    table = read_runs(run_dirs, on_read=progress if len(run_dirs) >= PROGRESS_FROM else None)
    if table.empty:
        print(
            f"compare: no runs under {' '.join(arguments.paths)} (a run has .hydra/config.yaml).",
            file=sys.stderr,
        )
        return PARTLY
    table = filter_runs(table, arguments.where)
    if arguments.provenance:
        table = with_provenance(table)
    if not arguments.all:
        table, hidden = without_smoke_runs(table)
        if hidden:
            print(f"compare: {hidden} smoke run(s) (debug=smoke) left out; --all shows them.",
                  file=sys.stderr)  # fmt: skip
    if arguments.group_by:
        result = summarize(table, arguments.group_by, arguments.strict_groups)
    else:
        result = run_table(table, arguments.sort)
    text = render(result, arguments.format)
    width = None if arguments.wide or arguments.output else _terminal_width()
    if arguments.format == "table" and width is not None:
        text, dropped = fitted(result, width)
        if dropped:
            note = (f"compare: {len(dropped)} column(s) left out to fit {width} columns "
                    f"({', '.join(dropped)}); --wide shows them.")  # fmt: skip
            print(textwrap.fill(note, width), file=sys.stderr)
    if arguments.output:
        arguments.output.write_text(text)
    else:
        print(text, flush=True)  # a closed pipe is met here, not in Python's flush at exit
    return DONE


if __name__ == "__main__":
    sys.exit(main())
