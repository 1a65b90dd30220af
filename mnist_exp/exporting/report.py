"""The export's table, for the console and for report.md."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from mnist_exp.text import shown_path

HEADERS = (
    "format",
    "runtime",
    "size KiB",
    "agreement",
    "accuracy",
    "max |Δp|",
    "latency ms (median / p99)",
    "images/s",
    "verdict",
)


def _row(name: str, entry: dict, runtime: str, verdict: str) -> list:
    return [
        name,
        runtime,
        f"{entry['size_bytes'] / 1024:,.1f}",
        f"{entry['agreement']:.2%} ({entry['disagreements']} differ)",
        f"{entry['accuracy']:.4f}",
        f"{entry['max_probability_difference']:.2e}",
        f"{entry['latency_median_ms']:.3f} / {entry['latency_p99_ms']:.3f}",
        f"{entry['images_per_second']:,.0f}",
        verdict,
    ]


def rows(record: dict) -> list[list]:
    table = [_row("keras (model.keras)", record["keras"], "TensorFlow", "reference")]
    for name, entry in record["formats"].items():
        verdict = (
            f"ok (≥ {entry['min_agreement']:.1%})"
            if entry["accepted"]
            else f"REJECTED (< {entry['min_agreement']:.1%})"
        )
        table.append(_row(name, entry, entry["runtime"], verdict))
    return table


def written_lines(record: dict, folder: Path) -> str:
    """Each file the export wrote, as the user's paths show it, with its size and agreement."""
    lines = [
        f"  {shown_path(folder / entry['path'])}: {entry['size_bytes'] / 1024:,.1f} KiB, agrees "
        f"with model.keras on {entry['agreement']:.2%} of the test images"
        + ("" if entry["accepted"] else " (below its threshold: set aside)")
        for entry in record["formats"].values()
    ]
    lines += [f"  {shown_path(folder / name)}" for name in ("export.json", "report.md")]
    return "Wrote:\n" + "\n".join(lines)


def report_table(record: dict) -> str:
    return tabulate(rows(record), headers=HEADERS, disable_numparse=True)


def report_markdown(record: dict) -> str:
    return (
        f"# Export of {record['run_dir']}\n\n"
        f"{record['model']} on {record['dataset']}; {record['test_images']:,} test images, "
        f"each format run by its own runtime; int8 calibrated on "
        f"{record['calibration_images']} training images. Agreement: share of test images "
        "given the same class as the Keras model. Latency: one image per call.\n\n"
        + tabulate(rows(record), headers=HEADERS, tablefmt="github", disable_numparse=True)
        + "\n"
    )
