"""bench/gateway_overhead.py's summary, and wrk's command for one connection."""
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _module(name):
    if name not in sys.modules:  # dataclasses look their module up; gateway_overhead imports product_get
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


product_get = _module("product_get")
overhead = _module("gateway_overhead")


def a_round(way, calls, p50, caller, catalog):
    return product_get.Round(way, product_get.Load(calls, 0, 10.0, p50, 2 * p50),
                             {"caller": caller, "catalog": catalog, "rabbitmq": 1.0})


def test_the_summary_sets_the_gateways_cpu_per_call_against_the_raw_round_trip():
    rounds = [a_round("http", 1000, 0.008, caller=2.0, catalog=3.5),   # 2.0 ms per call
              a_round("nameko", 1000, 0.007, caller=1.5, catalog=3.5),  # 1.5 + 3.5 = 5.0 ms
              a_round("aio", 1000, 0.007, caller=1.0, catalog=3.5)]
    summary = overhead.report(rounds).splitlines()
    assert summary[-2] == ("the gateway's own CPU per proxied call 2.00 ms = 0.40x the raw round trip "
                           "(nameko caller + catalog, 5.00 ms); of it, its RPC client alone 1.00 ms, "
                           "HTTP, auth, routing and the rest 1.00 ms")
    assert summary[-1] == "latency p50 through the gateway 8.00 ms = 1.14x the raw round trip's 7.00 ms"


def test_the_summary_takes_each_ways_median_over_the_rounds():
    rounds = [a_round("http", 1000, 0.008, caller=c, catalog=3.0) for c in (1.0, 9.0, 2.0)]
    rounds += [a_round("nameko", 1000, 0.007, caller=1.0, catalog=3.0),
               a_round("aio", 1000, 0.007, caller=1.0, catalog=3.0)]
    assert "proxied call 2.00 ms = 0.50x" in overhead.report(rounds)


def test_wrk_runs_one_thread_for_one_connection_and_sends_the_headers(monkeypatch):
    commands = []

    class Done:
        stdout = "  1 threads and 1 connections\n  50 requests in 1.00s, 1KB read\n"

    monkeypatch.setattr(product_get.subprocess, "run", lambda command, **_: commands.append(command) or Done)
    product_get.wrk("http://127.0.0.1:8000/x", 1, 1, {"Authorization": "Bearer t"})
    product_get.wrk("http://127.0.0.1:8000/x", 8, 1)
    assert commands[0][1:3] == ["-t1", "-c1"] and commands[0][-3:-1] == ["-H", "Authorization: Bearer t"]
    assert commands[1][1:3] == ["-t2", "-c8"] and "-H" not in commands[1]
