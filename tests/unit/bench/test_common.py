"""The benchmarks' arithmetic and their result files (nothing here times anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common import Figure, Result, median, percentile, ratio, read_result


def test_percentiles_interpolate_between_ranks_as_numpy_does() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 90) == pytest.approx(4.6)
    assert percentile([1.0, 2.0], 25) == pytest.approx(1.25)
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="not within 0-100"):
        percentile([1.0], 101)


def test_median_and_ratio() -> None:
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert ratio(30.0, 20.0) == 1.5
    with pytest.raises(ValueError, match="not positive"):
        ratio(1.0, 0.0)


def test_a_figure_is_the_median_of_its_runs_beside_its_baseline() -> None:
    figure = Figure("cpu", "µs", (30.0, 24.0, 26.0), "nginx", (20.0, 21.0, 19.0), "≤ 1.2 ×", False)
    assert (figure.value, figure.baseline) == (26.0, 20.0)
    assert figure.ratio == pytest.approx(1.3)
    alone = Figure("p99", "ms", (0.3,))
    assert alone.baseline is None and alone.ratio is None


def test_a_result_survives_its_file(tmp_path: Path) -> None:
    result = Result("proxy", "python -m bench.proxy --runs 2")
    result.add(Figure("cpu", "µs", (30.0, 24.0), "nginx", (20.0, 21.0), "≤ 1.2 ×", False))
    result.plots.append("cpu.png")
    result.notes.append("a note")
    result.load["start"] = (0.5, 0.4, 0.3)
    path = result.write(tmp_path)
    again = read_result(path)
    assert again.figures == result.figures
    assert (again.bench, again.command, again.plots, again.notes) == (
        "proxy",
        "python -m bench.proxy --runs 2",
        ["cpu.png"],
        ["a note"],
    )
    assert again.load == {"start": (0.5, 0.4, 0.3)}
    assert again.machine["commit"] == result.machine["commit"]
