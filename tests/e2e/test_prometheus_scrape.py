"""The machine's Prometheus scrapes the running platform: every target up, and the series the
dashboards and alerts read exist after one order (issue 10). Needs Debian's `prometheus` package."""
import shutil
import socket
import subprocess
import time
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import yaml

from nameko_services.ops.endpoints import broker_metrics_url
from tests.e2e.saga_support import FINAL, place, wait_for

pytestmark = pytest.mark.slow
SERVICES = ("users", "catalog", "orders", "payments")
SERIES = ("shop_entrypoint_duration_seconds_count", "shop_outbox_pending", "shop_outbox_oldest_age_seconds",
          "shop_relay_published_total", "shop_saga_step_seconds_count", "shop_orders_total",
          "shop_payments_total", "shop_payments_amount_minor_total", "shop_db_pool_in_use",
          "shop_orders_needing_attention", "gateway_http_requests_total")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def prometheus(platform, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "install Debian's prometheus package (apt-get install prometheus)"
    gateway = platform.base_url.removeprefix("http://")
    jobs = [{"job_name": "gateway", "static_configs": [{"targets": [gateway]}]}]
    jobs += [{"job_name": name, "static_configs": [{"targets": [
        f"127.0.0.1:{platform.env[f'SHOP_METRICS_PORT_{name.upper()}']}"]}]} for name in SERVICES]
    # The broker's own plugin, as deploy/prometheus/prometheus.yml scrapes it (shopctl enables it).
    broker = urlsplit(broker_metrics_url(platform.env["SHOP_AMQP_URI"], {})).netloc
    jobs += [{"job_name": "rabbitmq", "static_configs": [{"targets": [broker]}]},
             {"job_name": "rabbitmq-queues", "metrics_path": "/metrics/detailed",
              "params": {"family": ["queue_coarse_metrics", "queue_consumer_count"]},
              "static_configs": [{"targets": [broker]}]}]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}))
    port = free_port()
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def query(api, promql):
    answer = httpx.get(f"{api}/api/v1/query", params={"query": promql}, timeout=5).json()
    return answer["data"]["result"] if answer.get("status") == "success" else []


def eventually(check, timeout=30):
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result


def test_prometheus_finds_every_target_up_and_every_series_after_one_order(prometheus, platform, client,
                                                                          register_customer, product):
    _, token = register_customer(name="Scraped")
    order = wait_for(client, token, place(client, token, product()["id"]).json()["id"], FINAL)
    assert order["status"] == "confirmed"
    up = eventually(lambda: len(query(prometheus, "up == 1")) == 7 and query(prometheus, "up"))
    assert sorted(sample["metric"]["job"] for sample in up) == sorted(
        ("gateway", *SERVICES, "rabbitmq", "rabbitmq-queues"))
    missing = [name for name in SERIES
               if not eventually(lambda name=name: query(prometheus, f'count({{__name__="{name}"}})'))]
    assert missing == []
    confirmed = query(prometheus, 'shop_orders_total{status="confirmed"}')
    assert confirmed and float(confirmed[0]["value"][1]) >= 1
    captured = query(prometheus, 'shop_payments_amount_minor_total{kind="captured",currency="EUR"}')
    assert captured and float(captured[0]["value"][1]) >= order["total"]
    # Queue and dead-letter depths of this platform's vhost come from the broker's plugin.
    vhost = unquote(urlsplit(platform.env["SHOP_AMQP_URI"]).path.lstrip("/"))
    queues = {sample["metric"]["queue"] for sample in eventually(
        lambda: query(prometheus, f'rabbitmq_detailed_queue_messages{{vhost="{vhost}"}}'))}
    assert {"rpc-orders", "evt-orders-order_placed--catalog.on_order_placed"} <= queues
    assert any(queue.endswith(".dead-letter") for queue in queues), sorted(queues)
