"""The report's table: every figure with its baseline, ratio, target and verdict."""

from __future__ import annotations

from bench.common import Figure, Result
from bench.report import number, render


def test_the_report_lists_each_figure_and_the_missed_targets() -> None:
    proxy = Result("proxy", "python -m bench.proxy")
    proxy.add(Figure("cpu per request", "µs", (26.0, 24.0, 30.0), "nginx", (20.0,) * 3, "≤ 1.2 ×", False))
    proxy.add(Figure("against haproxy", "µs", (26.0,), "haproxy", (19.0,), "ratio reported"))
    proxy.plots.append("cpu.png")
    latency = Result("latency", "python -m bench.latency")
    latency.add(Figure("added p90", "ms", (0.15,), target="≤ +0.2 ms", met=True))
    text = render([latency, proxy], "results")
    assert text.index("## proxy") < text.index("## latency"), "sections follow bench/report.py's ORDER"
    assert "Targets missed: 1 — proxy: cpu per request." in text
    assert (
        "| cpu per request | 26.0 µs | 20.0 µs (nginx) | 1.30 × | ≤ 1.2 × | **missed** | 26.0 24.0 30.0 |"
        in text
    )
    assert (
        "| against haproxy | 26.0 µs | 19.0 µs (haproxy) | 1.37 × | ratio reported | reported | 26.0 |"
        in text
    )
    assert "| added p90 | 0.15 ms | — | — | ≤ +0.2 ms | met | 0.15 |" in text
    assert "![cpu.png](results/cpu.png)" in text


def test_numbers_keep_three_significant_figures_below_ten() -> None:
    assert [number(v) for v in (0.0, 0.0123, 1.5, 24.25, 150.4)] == ["0", "0.0123", "1.5", "24.2", "150"]
