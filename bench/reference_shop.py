"""Run the reference shop, nameko/nameko-examples, here: its products service and gateway on
this machine's RabbitMQ (a vhost of its own) and Redis, for bench/product_get.py --compare.

    git --git-dir=<mirror>/.git archive 33cf470 | tar -x -C /tmp/nameko-examples   # or a clone
    .venv/bin/python bench/reference_shop.py --path /tmp/nameko-examples

It is never part of this repository: ``--path`` is a checkout of it. The first run makes
``<path>/.venv`` with ``--python`` (its pins, nameko 3.0.0rc6 and marshmallow 2, want an older
Python: 3.8 by default) and installs its ``products`` and ``gateway`` packages there. Then it
creates the vhost, starts both services as the example's run.sh does (``nameko run --config
config.yml ...``, settings by ``--define``), creates one product (``the_odyssey``) through its
gateway and prints the URL and the product_get.py command that compares with it. Ctrl-C stops both.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

PRODUCT = {"id": "the_odyssey", "title": "The Odyssey", "passenger_capacity": 101, "maximum_speed": 5,
           "in_stock": 10}


def virtualenv(path: Path, python: str) -> Path:
    """``<path>/.venv`` with the example's two packages installed; its bin folder."""
    venv = path / ".venv"
    if not (venv / "bin" / "nameko").exists():
        interpreter = shutil.which(python) or python
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(path / "products"),
                        str(path / "gateway")], check=True)
    return venv / "bin"


def create_vhost(management: str, vhost: str, user: str, password: str) -> None:
    """The vhost and the user's permissions on it (a busy broker can take a minute)."""
    auth, path = (user, password), quote(vhost, safe="")
    httpx.put(f"{management}/api/vhosts/{path}", auth=auth, timeout=120).raise_for_status()
    httpx.put(f"{management}/api/permissions/{path}/{quote(user, safe='')}", auth=auth, timeout=120,
              json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()


def start(bin_dir: Path, folder: Path, module: str, defines: dict[str, str],
          log: Path) -> subprocess.Popen[bytes]:
    command = [str(bin_dir / "nameko"), "run", "--config", "config.yml", module]
    for key, value in defines.items():
        command += ["--define", f"{key}={value}"]
    return subprocess.Popen(command, cwd=folder, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_product(base_url: str, deadline: float) -> None:
    """Create the product once the gateway and products answer (it is idempotent in Redis)."""
    while True:
        try:
            created = httpx.post(f"{base_url}/products", json=PRODUCT, timeout=5)
            if created.status_code == 200 and httpx.get(f"{base_url}/products/{PRODUCT['id']}",
                                                        timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"the reference shop did not answer at {base_url} (see the logs)")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, required=True, help="a checkout of nameko/nameko-examples")
    parser.add_argument("--python", default="python3.8", help="the interpreter for its virtualenv")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--vhost", default="nameko-examples-bench")
    parser.add_argument("--rabbit", default="guest:guest@127.0.0.1:5672", help="user:password@host:port")
    parser.add_argument("--management", default="http://127.0.0.1:15672")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    path = args.path.resolve()
    bin_dir = virtualenv(path, args.python)
    credentials, host = args.rabbit.split("@", 1)
    user, password = credentials.split(":", 1)
    create_vhost(args.management, args.vhost, user, password)
    amqp = f"amqp://{credentials}@{host}/{quote(args.vhost, safe='')}"
    logs = path / "logs"
    logs.mkdir(exist_ok=True)
    processes = [
        start(bin_dir, path / "products", "products.service", {"AMQP_URI": amqp, "REDIS_URI": args.redis},
              logs / "products.log"),
        start(bin_dir, path / "gateway", "gateway.service",
              {"AMQP_URI": amqp, "WEB_SERVER_ADDRESS": f"127.0.0.1:{args.port}"}, logs / "gateway.log"),
    ]
    base_url = f"http://127.0.0.1:{args.port}"
    try:
        wait_for_product(base_url, time.monotonic() + 120)
        print(f"reference shop ready: {base_url}/products/{PRODUCT['id']} (logs in {logs})\ncompare with:\n"
              f"  .venv/bin/python bench/product_get.py --compare {base_url}/products/{PRODUCT['id']} "
              "--compare-process products=products.service --compare-process gateway=gateway.service",
              flush=True)
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # blocked only now: the services keep theirs
        signal.sigwait(stop)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
