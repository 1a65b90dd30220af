"""The table `mnist-exp-compare` shows: runs as rows, only the config keys that differ, or
groups of runs with mean ± std."""

from __future__ import annotations

import pandas as pd

from mnist_exp.runs import provenance
from mnist_exp.runs.table import METRIC_COLUMNS, users_metrics
from mnist_exp.text import shown_path

FIXED_COLUMNS = (*METRIC_COLUMNS, "status", "error", "run_dir", *provenance.COLUMNS)
SEED = "seed"
VARIES = "varies within"
SMOKE = ("debug", "smoke")  # the choice that marks a smoke run (debug=smoke)
# What a narrow terminal loses first, in this order; then the config keys, the last first.
# test_accuracy, status and the first config key stay.
DROPPED_FIRST = ("num_params", "images_per_second", "epochs_run", "train_seconds", "test_loss",
                 "best_val_accuracy", "run_dir", VARIES)  # fmt: skip


def without_smoke_runs(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the table without its smoke runs, how many were left out), when it holds other runs
    too; a table of smoke runs alone is kept whole."""
    column, value = SMOKE
    if column not in table.columns:
        return table, 0
    smoke = table[column].astype(str) == value
    if smoke.all() or not smoke.any():
        return table, 0
    return table[~smoke], int(smoke.sum())


def _width(text: str) -> int:
    return max(map(len, text.splitlines()), default=0)


def fitted(table: pd.DataFrame, width: int) -> tuple[str, list[str]]:
    """The table as text of at most `width` columns where it can be, and the columns left out
    for it (DROPPED_FIRST in order, then the config keys from the right)."""
    text, dropped = render(table, "table"), []
    config = [column for column in table.columns if _is_config(column) and column != VARIES]
    candidates = [c for c in DROPPED_FIRST if c in table.columns] + config[1:][::-1]
    while _width(text) > width and candidates:
        dropped.append(candidates.pop(0))
        text = render(table.drop(columns=dropped), "table")
    return text, dropped


def _is_config(column: str) -> bool:
    """A config key's column: not a result (the users' metrics are test_NAME columns)."""
    return column not in FIXED_COLUMNS and not column.startswith("test_")


def _metric_columns(table: pd.DataFrame) -> list[str]:
    """METRIC_COLUMNS, with the users' test_NAME metrics after test_loss."""
    return [*METRIC_COLUMNS[:2], *users_metrics(table.columns), *METRIC_COLUMNS[2:]]


def _result_columns(table: pd.DataFrame) -> list[str]:
    """The metrics, status, provenance when read, and the run's folder."""
    made = [column for column in provenance.COLUMNS if column in table.columns]
    return [*_metric_columns(table), "status", *made, "run_dir"]


def with_provenance(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the columns of `runs.provenance.columns` read from each run's folder."""
    made = pd.DataFrame([provenance.columns(run_dir) for run_dir in table["run_dir"]],
                        index=table.index, columns=list(provenance.COLUMNS))  # fmt: skip
    return pd.concat([table, made], axis=1)


def varying_config_columns(table: pd.DataFrame) -> list[str]:
    """Config columns whose value is not the same in every run (missing counts as a value)."""
    config_columns = [column for column in table.columns if _is_config(column)]
    varying = [
        column for column in config_columns if table[column].astype(str).nunique(dropna=False) > 1
    ]
    # Group choices (model, optimizer, ...) first, then the dotted keys inside the groups.
    return sorted(varying, key=lambda column: ("." in column, column))


def _column(table: pd.DataFrame, key: str) -> str:
    if key in table.columns:
        return key
    raise SystemExit(
        f"compare: no column '{key}'. Columns: {', '.join(sorted(map(str, table.columns)))}"
    )


def filter_runs(table: pd.DataFrame, conditions: list[str]) -> pd.DataFrame:
    """Keeps rows where each `key=value` holds (values compared as text)."""
    for condition in conditions:
        key, separator, value = condition.partition("=")
        if not separator:
            raise SystemExit(f"compare: --where expects key=value, got '{condition}'.")
        column = _column(table, key)
        matching = table[table[column].astype(str) == value]
        if matching.empty and not table.empty:
            values = sorted(table[column].astype(str).unique())
            raise SystemExit(f"compare: no run has {key}={value}; the runs have {key} in {values}.")
        table = matching
    return table


def _number(value, digits: int = 4) -> str:
    if isinstance(value, str) or pd.isna(value):
        return "" if not isinstance(value, str) else value
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}g}"


def mean_and_spread(values: pd.Series) -> str:
    """'mean ± sample std' (just the value for a single run)."""
    if len(values) == 1:
        return _number(values.iloc[0])
    return f"{_number(values.mean())} ± {_number(values.std(ddof=1), digits=2)}"


def variation(group: pd.DataFrame, columns: list[str]) -> str:
    """How the config keys `columns` vary inside `group`: 'key 1000..6000' for numbers,
    'key in {a, b}' otherwise; empty when every run of the group agrees."""
    parts = []
    for column in columns:
        values = group[column]
        if values.astype(str).nunique(dropna=False) < 2:
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().all():
            parts.append(f"{column} {_number(numbers.min())}..{_number(numbers.max())}")
        else:
            shown = sorted({"(absent)" if pd.isna(v) else str(v) for v in values})
            parts.append(f"{column} in {{{', '.join(shown)}}}")
    return "; ".join(parts)


def summarize(table: pd.DataFrame, group_by: list[str], strict: bool = False) -> pd.DataFrame:
    """Per group: n runs, completed runs, and mean ± std of each metric over completed runs.
    Other config keys (seeds aside) that vary inside a group are named in a 'varies within'
    column; with `strict`, groups are split by them instead, so no mean pools unlike runs."""
    columns = [_column(table, key) for key in group_by]
    others = [c for c in varying_config_columns(table) if c not in columns and c != SEED]
    if strict:
        columns += others
    completed = table[table["status"] == "completed"]
    rows = []
    for keys, group in table.groupby(columns, dropna=False, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        done = completed.loc[completed.index.intersection(group.index)]
        row = dict(zip(columns, keys, strict=True))
        row["runs"] = len(group)
        row["completed"] = len(done)
        for metric in _metric_columns(table):
            values = done[metric].dropna()
            row[metric] = mean_and_spread(values) if len(values) else ""
        row[VARIES] = "" if strict else variation(group, others)
        rows.append(row)
    summary = pd.DataFrame(rows)
    return summary if summary[VARIES].astype(bool).any() else summary.drop(columns=VARIES)


def defining_columns(table: pd.DataFrame) -> list[str]:
    """The config keys a table shows: those that differ between its runs; for a single run
    (nothing differs), its group choices (model, dataset, ...) and seed."""
    if len(table) > 1:
        return varying_config_columns(table)
    config = [c for c in table.columns if _is_config(c) and table[c].notna().all()]
    return sorted(c for c in config if "." not in c)


def run_table(table: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    """One row per run: the config keys that tell it apart, metrics, status and directory."""
    columns = defining_columns(table) + _result_columns(table)
    shown = table[columns].copy()
    shown["run_dir"] = shown["run_dir"].map(shown_path)
    sort_column = _column(table, sort or "test_accuracy")
    return shown.sort_values(
        sort_column, ascending=sort_column in ("test_loss", "train_seconds"), na_position="last"
    )


def _integers_kept(table: pd.DataFrame) -> pd.DataFrame:
    """Float columns whose values are all whole (a missing value made them float) as
    nullable integers, so CSV says 1, not 1.0."""
    kept = table.copy()
    for column in kept.columns:
        values = kept[column]
        if pd.api.types.is_float_dtype(values) and values.notna().any():
            present = values.dropna()
            if (present == present.round()).all() and present.abs().max() < 2**53:
                kept[column] = values.astype("Int64")
    return kept


def render(table: pd.DataFrame, output_format: str) -> str:
    if output_format == "csv":
        return _integers_kept(table).to_csv(index=False)
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(_number)
    shown = shown.fillna("")
    if output_format == "markdown":
        return shown.to_markdown(index=False, disable_numparse=True)
    return shown.to_string(index=False)
