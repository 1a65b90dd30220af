"""The performance targets (issue 25), each judged from what a benchmark measured in its own
run: measured / target / met. A target a run did not measure says so (met: None)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from tabulate import tabulate

FAST_SEEDS = 5  # fast_99 must reach 99.0% on every one of seeds 0-4
FAST_SECONDS, FAST_SPEEDUP = 3.0, 60.0
WHOLE_RUN_BEYOND_IMPORT_SECONDS = 5.0
ACCURATE_SECONDS = 60.0  # fast_995: 99.5%, median of 3 seeds, every seed
SERVE_BASELINE_REQUESTS_PER_SECOND = 201.0  # mnist-exp-serve at c=32 before issue 25
SERVE_SPEEDUP, SERVE_P99_MS = 3.0, 100.0
SERVE_HOLD = 0.95  # "does not fall": each concurrency keeps 95% of the best below it
PREDICT_BASELINE_IMAGES_PER_SECOND = 5300.0  # mnist-exp-predict before issue 25
PREDICT_SPEEDUP = 2.0
BASELINE_COMMIT = "0036e99"  # the repository on 2026-11-29, the day issue 25 set the targets
PREDICT_TARGET = "mnist-exp-predict over a folder of PNGs, with the recipe"
USERS_SETS = ("low_res", "photo_like")  # scans and photos, as benchmarks.user_digits makes them
USERS_MIN, FONTS_MIN, USERS_MNIST_MIN = 0.95, 0.99, 0.993


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    goal: str
    met: bool | None  # None: not measured in this run


def table(checks: list[Check]) -> str:
    rows = [
        [c.target, c.measured, c.goal, {True: "yes", False: "NO", None: "not measured"}[c.met]]
        for c in checks
    ]
    return tabulate(rows, headers=["target", "measured", "target", "met"], tablefmt="github")


def _runs_of(outcomes, contender: str):
    return [outcome for outcome in outcomes if outcome.contender == contender]


def fast_99(outcomes, reference: str) -> Check:
    target = "fast_99: 99.0% on seeds 0-4, each in <= 3 s of training"
    goal = f"every seed >= 0.99 in <= {FAST_SECONDS:g} s, >= {FAST_SPEEDUP:g}x the reference"
    runs = _runs_of(outcomes, "fast_99")
    if len(runs) < FAST_SEEDS:
        return Check(target, f"{len(runs)} seeds run (needs {FAST_SEEDS})", goal, None)
    accuracies = [run.best_accuracy for run in runs]
    times = [run.seconds_to[0.99] for run in runs]
    reached = [time for time in times if time is not None]
    reference_time, at_least = reference_seconds(_runs_of(outcomes, reference), 0.99)
    slowest = max(reached) if len(reached) == len(times) else None
    speedup = reference_time / slowest if reference_time and slowest else None
    measured = (
        f"accuracy mean {statistics.mean(accuracies):.4f}, min {min(accuracies):.4f}; "
        f"{len(reached)}/{len(times)} seeds reached 0.99"
        + (f", slowest in {slowest:.2f} s" if slowest else "")
        + (f", {'at least ' if at_least else ''}{speedup:.0f}x the reference" if speedup else "")
    )
    met = bool(slowest and slowest <= FAST_SECONDS and speedup and speedup >= FAST_SPEEDUP)
    return Check(target, measured, goal, met)


def reference_seconds(runs, accuracy: float) -> tuple[float | None, bool]:
    """The reference's median time to `accuracy` over its seeds, and whether that is only a
    lower bound. A seed that never reached it took longer than all its training: counted as
    that (a lower bound); when the median is the same counted as never, it is exact."""
    times = [run.seconds_to[accuracy] for run in runs]
    pairs = list(zip(runs, times, strict=True))
    if not runs or any(time is None and run.training_seconds is None for run, time in pairs):
        return None, False
    lower = statistics.median(run.training_seconds if time is None else time for run, time in pairs)
    upper = statistics.median(math.inf if time is None else time for time in times)
    return lower, upper != lower


def whole_run(figures: dict) -> Check:
    target = "mnist-exp +experiment=fast_99, whole process, beyond `import tensorflow`"
    goal = f"<= {WHOLE_RUN_BEYOND_IMPORT_SECONDS:g} s"
    beyond = figures.get("whole_run_beyond_import_seconds")
    if beyond is None:
        return Check(target, "-", goal, None)
    measured = (
        f"{beyond:.2f} s ({figures['whole_run_seconds']:.2f} s against "
        f"{figures['whole_run_bare_import_seconds']:.2f} s, medians)"
    )
    return Check(target, measured, goal, beyond <= WHOLE_RUN_BEYOND_IMPORT_SECONDS)


def fast_995(outcomes) -> Check:
    target = "fast_995: 99.5% in <= 60 s of training"
    goal = f"median of 3 seeds <= {ACCURATE_SECONDS:g} s, every seed >= 0.995"
    runs = _runs_of(outcomes, "fast_995")
    if len(runs) < 3:
        return Check(target, f"{len(runs)} seeds run (needs 3)", goal, None)
    times = [run.seconds_to[0.995] for run in runs]
    reached = [time for time in times if time is not None]
    median = statistics.median(reached) if len(reached) == len(times) else None
    measured = f"{len(reached)}/{len(times)} seeds reached 0.995" + (
        f", median {median:.0f} s" if median else ""
    )
    return Check(target, measured, goal, bool(median and median <= ACCURATE_SECONDS))


def best_single() -> Check:
    return Check(
        "best single model >= 99.70% (mean of 3 seeds) in <= 10 min; ensemble >= 99.80%",
        "not run by this benchmark (3 x 10 min): see README's results table",
        ">= 0.9970 mean, <= 600 s each",
        None,
    )


def serving(throughputs: dict[int, float], p99_ms: dict[int, float]) -> list[Check]:
    """From single-image requests/s and p99 latency at each concurrency."""
    goal_rate = SERVE_SPEEDUP * SERVE_BASELINE_REQUESTS_PER_SECOND
    checks = []
    if 32 in throughputs:
        checks.append(Check(
            "mnist-exp-serve, single images at concurrency 32",
            f"{throughputs[32]:,.0f} req/s, p99 {p99_ms[32]:.0f} ms",
            f">= {goal_rate:,.0f} req/s (3x {SERVE_BASELINE_REQUESTS_PER_SECOND:g}), "
            f"p99 <= {SERVE_P99_MS:g} ms",
            throughputs[32] >= goal_rate and p99_ms[32] <= SERVE_P99_MS,
        ))  # fmt: skip
    levels = sorted(throughputs)
    falls = [
        f"c={level}"
        for index, level in enumerate(levels[1:], 1)
        if throughputs[level] < SERVE_HOLD * max(throughputs[low] for low in levels[:index])
    ]
    checks.append(Check(
        "throughput does not fall as concurrency rises",
        ", ".join(f"c={level}: {throughputs[level]:,.0f}" for level in levels)
        + (f" (falls at {', '.join(falls)})" if falls else ""),
        f"each >= {SERVE_HOLD:.0%} of the best at lower concurrency",
        not falls,
    ))  # fmt: skip
    return checks


def predicting(images_per_second: float, baseline_images_per_second: float | None) -> Check:
    """From the predict command's images/s, this version's and the issue's (BASELINE_COMMIT),
    both measured in this run: machines here differ 2x from day to day, so the 2x is a ratio
    (5,300 images/s was the issue's figure, on its day)."""
    goal = (
        f">= {PREDICT_SPEEDUP:g}x the command of {BASELINE_COMMIT} in the same run "
        f"({PREDICT_BASELINE_IMAGES_PER_SECOND:,.0f} images/s on the issue's day)"
    )
    if not baseline_images_per_second:
        measured = f"{images_per_second:,.0f} images/s; the baseline not measured"
        return Check(PREDICT_TARGET, measured, goal, None)
    ratio = images_per_second / baseline_images_per_second
    measured = (
        f"{images_per_second:,.0f} images/s against {baseline_images_per_second:,.0f}: {ratio:.2f}x"
    )
    return Check(PREDICT_TARGET, measured, goal, ratio >= PREDICT_SPEEDUP)


def users_digits(accuracies: dict[str, float], mnist_accuracy: float) -> Check:
    """From benchmarks.user_digits' accuracy per proxy set and the run's MNIST test accuracy."""
    sets = ", ".join(f"{name} {accuracies[name]:.3f}" for name in USERS_SETS)
    return Check(
        "users' digits: scans (low_res) and photo-like, the model still accurate on MNIST",
        f"{sets}; MNIST {mnist_accuracy:.4f}",
        f"each >= {USERS_MIN:g}, MNIST >= {USERS_MNIST_MIN:g}",
        min(accuracies[name] for name in USERS_SETS) >= USERS_MIN
        and mnist_accuracy >= USERS_MNIST_MIN,
    )


def font_digits(accuracy: float) -> Check:
    return Check(
        "users' digits: font and pen digits through the recipe",
        f"{accuracy:.4f}",
        f">= {FONTS_MIN:g}",
        accuracy >= FONTS_MIN,
    )
