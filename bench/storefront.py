"""Storefront page fetch under gunicorn, against a bare Flask app serving the same JSON.

    python -m bench.storefront [--duration 10] [--rounds 5] [--connections 32]

Set-up: a throw-away database ``plugboard_bench`` on the local PostgreSQL
(``PLUGBOARD_BENCH_PG``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``),
Redis (``PLUGBOARD_BENCH_REDIS``, default ``redis://127.0.0.1:6379/0``) in a fresh
namespace, the production profile (``PLUGBOARD_ENV=production``, log level INFO, so one
access log line per request). A tenant ``bench`` publishes two pages: ``/`` (the demo
home page, ~1 KB) and ``/landing`` (a Puck 0.19 landing page with slots and a zone,
182 components, ~29 KB).

Three servers run under the same gunicorn command line (``deploy/gunicorn.conf.py``, the
Docker image's, with worker recycling off) on loopback, all fetched with ``X-Tenant``:

* ``storefront``: ``kernel:create_app()``, as deployed;
* ``no edge``: the same app with the kernel's public edge taken out, so every hit goes
  through Flask's request cycle and the view (to show what the edge is worth);
* ``bare``: ``bench.bare_app:create_app()``, answering every page path with the
  storefront's exact response bytes.

Load comes from ``wrk`` (Debian's package) when installed, else a Python keep-alive
client. Each round runs every server once, rotating the order; req/s are the medians of
the rounds, and each server's ratio to ``bare`` is the median of its per-round ratios
(pairs measured minutes apart would mostly compare the machine's load). Results: a table
on stdout and ``bench/results/storefront.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kernel.services import kernel_services

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "storefront.json"
PG_ADMIN = os.environ.get("PLUGBOARD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PLUGBOARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
DB_NAME = "plugboard_bench"
TENANT = "bench"
TARGET = 0.85


# -- load ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(url: str, headers: dict[str, str], duration: int, connections: int, threads: int) -> dict[str, float]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True,  # noqa: S603 - argv, no shell
                         check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": _ms(percentiles["50"]), "p99_ms": _ms(percentiles["99"])}


def python_load(url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, float]:
    """Keep-alive GETs from ``connections`` threads (a fallback, and the warm-up)."""
    parts = urllib.parse.urlsplit(url)
    stop = time.monotonic() + duration
    counts: list[int] = []

    def client() -> None:
        conn, done = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10), 0
        while time.monotonic() < stop:
            conn.request("GET", parts.path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url}: {resp.status}")
            done += 1
        conn.close()
        counts.append(done)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": sum(counts) / duration}


# -- set-up ----------------------------------------------------------------------------


def landing_page(sections: int = 12) -> dict[str, Any]:
    """A landing page as Puck 0.19 saves it: 182 components, in slots and one legacy zone."""

    def node(type_: str, id_: str, **props: Any) -> dict[str, Any]:
        return {"type": type_, "props": {"id": id_, **props}}

    content: list[Any] = [node("Hero", "Hero-1", title="Summer festival 2026", align="left",
                               description="Three days of music — book now.", padding="64px",
                               image={"url": "https://cdn.example/hero.webp", "alt": "Stage"})]
    for s in range(sections):
        cards = [node("Card", f"Card-{s}-{c}", title=f"Act {c}", description="Live on stage " * 3,
                      icon="Music", link={"href": f"/events/{s}-{c}", "label": "Tickets"})
                 for c in range(12)]
        content.append(node("Section", f"Section-{s}", background="#fafafa", spacing=[32, 0],
                            items=[node("Heading", f"Heading-{s}", text=f"Day {s}", level=2),
                                   node("Grid", f"Grid-{s}", numColumns=4, gap=24, items=cards)]))
    return {"root": {"props": {"title": "Summer festival"}}, "content": content,
            "zones": {"Hero-1:actions": [node("Button", "Button-1", label="Buy", href="/tickets")]}}


def server_env(db_url: str, data_dir: str, namespace: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGBOARD_")}
    env.update({
        "PLUGBOARD_ENV": "production",
        "PLUGBOARD_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "PLUGBOARD_DATABASE_URL": db_url,
        "PLUGBOARD_REDIS_URL": REDIS,
        "PLUGBOARD_REDIS_NAMESPACE": namespace,
        "PLUGBOARD_DATA_DIR": data_dir,
        "PLUGBOARD_LOG_LEVEL": "INFO",
        # one client address sends everything: off unless the bench measures the limits
        "PLUGBOARD_RATE_LIMITS": os.environ.get("PLUGBOARD_BENCH_RATE_LIMITS", "off"),
    })
    return env


def create_database() -> str:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return sa.make_url(PG_ADMIN).set(database=DB_NAME).render_as_string(hide_password=False)


def seed(env: dict[str, str]) -> dict[str, bytes]:
    """Migrate, create the tenant, publish the pages; the storefront's bytes per path."""
    from kernel import create_app
    from kernel.data import migrate
    from plugins.pages import demo, services

    config = {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items() if k.startswith("PLUGBOARD_")}
    app = create_app({**config, "log_level": "WARNING"})
    with app.app_context():
        migrate.upgrade(app)
    client = app.test_client()
    resp = client.post("/api/v1/auth/register", json={
        "email": "owner@bench.example", "password": "bench password 123", "name": "Bench",
        "tenant_name": "Bench", "tenant_slug": TENANT})
    assert resp.status_code == 201, resp.get_json()
    tenant_id = uuid.UUID(resp.get_json()["tenant"]["id"])
    with app.app_context():
        for path, data in (("/", demo.home_document()), ("/landing", landing_page())):
            page = services.create_page(tenant_id, "bench", services.Settings(), path=path,
                                        title=path, data=data)
            services.publish(tenant_id, page.id, "bench", services.Settings())
    bodies = {}
    for path in ("/", "/landing"):
        resp = client.get("/api/v1/public/pages" + path, headers={"X-Tenant": TENANT})
        assert resp.status_code == 200, resp.get_data()
        bodies[path] = resp.get_data()
    kernel_services(app).engine.dispose()
    return bodies


class Server:
    """gunicorn serving ``spec`` on a loopback port until stopped."""

    def __init__(self, spec: str, env: dict[str, str], port: int, args: argparse.Namespace) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        for option in ("workers", "worker_class", "threads", "max_requests"):
            if getattr(args, option) is not None:
                command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        command.append(spec)
        self.command = command
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self._proc = subprocess.Popen(command, cwd=ROOT, env=env,  # noqa: S603 - argv, no shell
                                      stdout=self._log, stderr=self._log, start_new_session=True)

    def wait_ready(self, path: str, headers: dict[str, str]) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path, headers=headers)
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        self._log.seek(0)
        raise RuntimeError(f"{self.command} did not start:\n{self._log.read().decode()[-3000:]}")

    def stop(self) -> None:
        os.killpg(self._proc.pid, signal.SIGTERM)
        self._proc.wait(timeout=30)
        self._log.close()


def run_load(url: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, headers, args.duration, args.connections, args.threads_wrk)
    return python_load(url, headers, args.duration, args.connections)


def measure(servers: dict[str, Server], path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Rounds of one run per server, alternating which goes first; paired ratios per round."""
    headers = {"X-Tenant": TENANT}
    url = "/api/v1/public/pages" + path
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    for server in servers.values():  # warm every worker's caches and connections
        python_load(server.url + url, headers, 3, args.connections)
    names = list(servers)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # rotate the order
            runs[name].append(run_load(servers[name].url + url, headers, args))
    ratios = {name: [a["rps"] / b["rps"] for a, b in zip(runs[name], runs["bare"], strict=True)]
              for name in names if name != "bare"}
    rps = {name: statistics.median(r["rps"] for r in results) for name, results in runs.items()}
    return {"path": path, "runs": runs, "rps": rps, "ratios": ratios,
            "ratio": {name: statistics.median(values) for name, values in ratios.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per server and page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads-wrk", type=int, default=2)
    # gunicorn: deploy/gunicorn.conf.py (the Docker image's settings), except as given here
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--worker-class", default=None)
    parser.add_argument("--threads", type=int, default=None, help="gunicorn threads per worker")
    parser.add_argument("--max-requests", type=int, default=0, help="0: never recycle workers "
                        "mid-run (a recycled worker starts with empty caches)")
    args = parser.parse_args(argv)

    namespace = f"pbbench-{uuid.uuid4().hex[:8]}"
    data_dir = tempfile.mkdtemp(prefix="plugboard-bench-")
    try:
        env = server_env(create_database(), data_dir, namespace)
        results = [run_page(env, data_dir, path, body, args) for path, body in seed(env).items()]
    finally:
        clean_up(namespace, data_dir)
    report(results, args)


def run_page(env: dict[str, str], data_dir: str, path: str, body: bytes,
             args: argparse.Namespace) -> dict[str, Any]:
    body_file = Path(data_dir) / "body.json"
    body_file.write_bytes(body)
    servers = {
        "storefront": Server("kernel:create_app()", env, free_port(), args),
        "no edge": Server("bench.storefront:app_without_edge()", env, free_port(), args),
        "bare": Server("bench.bare_app:create_app()", {**env, "PLUGBOARD_BENCH_BODY": str(body_file)},
                       free_port(), args),
    }
    try:
        for server in servers.values():
            server.wait_ready("/api/v1/public/pages" + path, {"X-Tenant": TENANT})
        result = measure(servers, path, args)
    finally:
        for server in servers.values():
            server.stop()
    return {**result, "bytes": len(body), "gunicorn": " ".join(servers["storefront"].command[1:])}


def clean_up(namespace: str, data_dir: str) -> None:
    """Drop the bench database, the Redis namespace and the data folder."""
    import redis

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    shutil.rmtree(data_dir, ignore_errors=True)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"{'page':<10} {'bytes':>7} {'server':<11} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'÷ bare':>7}  per round")
    for r in results:
        for name, runs in r["runs"].items():
            ratio = r["ratio"].get(name)
            rounds = " ".join(f"{x:.2f}" for x in r["ratios"].get(name, []))
            print(f"{r['path']:<10} {r['bytes']:>7} {name:<11} {r['rps'][name]:>7,.0f} "
                  f"{statistics.median(x.get('p50_ms', 0) for x in runs):>7.2f} "
                  f"{statistics.median(x.get('p99_ms', 0) for x in runs):>7.2f} "
                  f"{'' if ratio is None else f'{ratio:.3f}':>7}  {rounds}")
    print("req/s, latencies: medians of the rounds; ÷ bare: median of the per-round ratios; "
          f"target for the storefront: {TARGET}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load": os.getloadavg()},
        "args": vars(args), "gunicorn": results[0]["gunicorn"] if results else "",
        "load_generator": "wrk" if shutil.which("wrk") else "python", "results": results,
    }, indent=2, default=str))
    print(f"written to {RESULTS.relative_to(ROOT)}")


def app_without_edge() -> Any:
    """The storefront app with the kernel's public edge taken out (every hit through Flask)."""
    from kernel import create_app
    from kernel.web.edge import PublicEdge

    app = create_app()
    edge = app.wsgi_app  # the outermost layer: no trusted proxies in the bench
    assert isinstance(edge, PublicEdge)
    app.wsgi_app = edge.wsgi_app  # type: ignore[method-assign]
    return app


if __name__ == "__main__":
    main()
