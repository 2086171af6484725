"""The benchmark's statistics."""
import importlib.util
import sys
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "product_get", Path(__file__).resolve().parents[3] / "bench" / "product_get.py")
bench = importlib.util.module_from_spec(SPEC)
sys.modules.setdefault("product_get", bench)  # dataclasses look their module up
SPEC.loader.exec_module(bench)


def test_percentiles_use_the_nearest_rank():
    values = [i / 1000 for i in range(1, 101)]
    assert bench.percentile(values, 50) == 0.050
    assert bench.percentile(values, 99) == 0.099
    assert bench.percentile([0.3, 0.1, 0.2], 100) == 0.3
    assert bench.percentile([], 50) == 0.0


def test_the_summary_counts_errors_apart_from_successful_requests():
    text = bench.summary(bench.Results(latencies=[0.01] * 40, errors=2), elapsed=2.0)
    assert "requests:   42 in 2.0 s" in text and "20 requests/s" in text
    assert "p50:        10.0 ms" in text and "errors:     2" in text
