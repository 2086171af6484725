"""The benchmark's statistics and what it reads from wrk and py-spy."""
import importlib.util
import sys
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "product_get", Path(__file__).resolve().parents[3] / "bench" / "product_get.py")
bench = importlib.util.module_from_spec(SPEC)
sys.modules.setdefault("product_get", bench)  # dataclasses look their module up
SPEC.loader.exec_module(bench)

WRK = """Running 10s test @ http://127.0.0.1:8091/products/the_odyssey
  2 threads and 32 connections
  Latency Distribution
     50%   88.76ms
     75%  104.10ms
     90%  121.46ms
     99%     1.20s
  1701 requests in 5.02s, 360.47KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:    338.71
"""


def test_percentiles_use_the_nearest_rank():
    values = [i / 1000 for i in range(1, 101)]
    assert bench.percentile(values, 50) == 0.050
    assert bench.percentile(values, 99) == 0.099
    assert bench.percentile([0.3, 0.1, 0.2], 100) == 0.3
    assert bench.percentile([], 50) == 0.0


def test_wrk_output_counts_other_statuses_and_socket_errors_as_errors():
    load = bench.wrk_load(WRK)
    assert (load.answered, load.errors, load.seconds) == (1694, 10, 5.02)
    assert (round(load.p50, 5), load.p99) == (0.08876, 1.2)


def test_cpu_per_request_is_per_answered_request_and_leaves_the_shared_broker_out():
    measured = bench.Round("ours", bench.Load(2000, 0, 10.0, 0.005, 0.01),
                           {"gateway": 0.4, "catalog": 0.1, "rabbitmq": 1.0})
    assert measured.rate == 200
    assert round(measured.ms_per_request(), 6) == 0.25
    assert round(measured.ms_per_request("rabbitmq"), 6) == 0.5


def test_top_frames_sum_a_functions_samples_over_its_lines(tmp_path):
    collapsed = tmp_path / "gateway.txt"
    collapsed.write_text("main (app.py:1);send (uvicorn/h.py:524) 6\n"
                         "main (app.py:1);send (uvicorn/h.py:561) 2\n"
                         "main (app.py:1);matches (starlette/routing.py:267) 2\n")
    lines = bench.top_frames(collapsed).splitlines()
    assert lines[0].split() == ["80.0", "%", "send", "(uvicorn/h.py)"]
    assert lines[1].split() == ["20.0", "%", "matches", "(starlette/routing.py)"]
