"""All the benchmarks in one run: ``python -m bench`` (``make bench``).

    python -m bench [--duration 10] [--connections 32] [--rounds 3] [--only authed,bare]
                    [--worker-class gthread|sync]

Needs the local PostgreSQL (127.0.0.1:5432, user postgres; ``PLUGBOARD_BENCH_PG``) and
Redis (``PLUGBOARD_BENCH_REDIS``). Rate limits are off in the servers (one address sends
every request); ``PLUGBOARD_BENCH_RATE_LIMITS=on`` measures them too. Scenarios:

* ``bare``: ``bench.bare_app`` returning the storefront's exact bytes (the ceiling);
* ``storefront``: ``kernel:create_app()``, ``GET /api/v1/public/pages/`` with
  ``X-Tenant`` (warm page cache), on PostgreSQL + Redis;
* ``bare_db``: ``bench.authed:bare_db_app()``, a bare Flask app running the authed
  route's SELECT by hand (pooled connection, the RLS tenant setting, no auth): the
  ceiling for a route that reads the database;
* ``authed``: ``bench.authed:app()``, ``GET /api/v1/full/notes`` with a Bearer token
  (JWT, tenant, activation gate, one SELECT of 5 rows);
* ``authed_noguard``: the same without ``full``'s request guard (which reads the
  plugin's config, cached in process with the activation snapshot);
* ``bare_sql`` / ``bare_sql_pages``: ``bench.bare_sql:create_app()``, bare Flask + psycopg
  (one connection per thread, no pool, no transaction, no auth) answering the notes list
  and ``GET /api/v1/pages`` with the kernel routes' own queries, JSON and ``X-Pagination``:
  the honest ceiling of a route that reads the database (``÷ bare_sql``);
* ``pages``: ``bench.authed:app()``, ``GET /api/v1/pages`` with a Bearer token (JWT,
  tenant, activation gate, permission, count + 5 rows, ``X-Pagination``);
* ``activation``: ``bench.activation``'s check and dispatch microbenchmarks, in process.

Every server runs under ``bench.harness.GUNICORN_ARGS`` (``--worker-class`` swapped) on
loopback, all started on one fresh database (dropped at the end) and all stopped at the
end, error or not. Each is warmed for ``--warmup`` s, then loaded with ``wrk`` (or the Python client) for
``--duration`` s per round; rounds rotate the order and a scenario's ratio is the median
of its per-round ratios to ``bare``. Worker RSS is read from ``/proc`` after the warm-up
and at the end; the CPU time the server's processes and PostgreSQL's spent during each
run, divided by its requests, gives the CPU cost of one request (µs) on each side
(PostgreSQL: the backends of the bench's database only, so that other databases'
clients on a shared machine are not counted).
Results: a table on stdout and ``bench/results/bench.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench import activation
from bench.authed import NOTES_PATH, PAGE_PATH, PAGES_PATH, TENANT, Seeded, seed
from bench.harness import (
    RESULTS_DIR,
    BenchDatabase,
    CpuMeter,
    Server,
    gunicorn_args,
    load,
    machine,
    python_load,
)

SCENARIOS = ("bare", "storefront", "bare_db", "bare_sql", "bare_sql_pages", "authed",
             "authed_noguard", "pages", "activation")
SPECS = {"bare": "bench.bare_app:create_app()", "storefront": "kernel:create_app()",
         "bare_db": "bench.authed:bare_db_app()", "bare_sql": "bench.bare_sql:create_app()",
         "bare_sql_pages": "bench.bare_sql:create_app()", "authed": "bench.authed:app()",
         "authed_noguard": "bench.authed:app_without_guard()", "pages": "bench.authed:app()"}
PATHS = {"bare_db": NOTES_PATH, "bare_sql": NOTES_PATH, "bare_sql_pages": PAGES_PATH,
         "authed": NOTES_PATH, "authed_noguard": NOTES_PATH, "pages": PAGES_PATH}
AUTHED = {"authed", "authed_noguard", "pages"}
# each database-reading scenario's honest ceiling: the same queries in bare Flask + psycopg
CEILING_SQL = {"authed": "bare_sql", "authed_noguard": "bare_sql", "pages": "bare_sql_pages"}
TARGETS = {"storefront": 0.95, "activation_ns": 5_000}
TARGETS_BARE_SQL = {"authed": 0.5, "authed_noguard": 0.5, "pages": 0.5}
# The ratio to bare_db (a bare Flask app doing only the same query) that docs/performance.md
# proposes for routes that read the database, reported next to the target above.
RESULTS = RESULTS_DIR / "bench.json"


def request_for(name: str, seeded: Seeded) -> tuple[str, dict[str, str]]:
    if name in PATHS:
        return PATHS[name], seeded.auth_headers if name in AUTHED else {}
    return PAGE_PATH, {"X-Tenant": TENANT}


def start_servers(names: Sequence[str], db: BenchDatabase, seeded: Seeded,
                  servers: dict[str, Server], worker_class: str) -> None:
    """Start every server into ``servers`` (so the caller can stop them), then wait."""
    env = db.env()
    body_file = f"{db.data_dir}/bare-body.json"
    with open(body_file, "wb") as f:
        f.write(seeded.page_body)
    for name in names:
        server_env = {**env, "PLUGBOARD_BENCH_BODY": body_file,
                      "PLUGBOARD_BENCH_TENANT_ID": seeded.tenant_id}
        servers[name] = Server(SPECS[name], server_env, gunicorn_args(worker_class))
    for name, server in servers.items():
        server.wait_ready(*request_for(name, seeded))


def fetch(server: Server, path: str, headers: dict[str, str]) -> tuple[Any, str | None]:
    """The parsed JSON body and the X-Pagination header of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return json.loads(resp.read()), resp.getheader("X-Pagination")
    finally:
        conn.close()


def same_answers(servers: dict[str, Server], seeded: Seeded) -> dict[str, bool]:
    """Whether each database scenario answers exactly what its bare_sql ceiling answers."""
    same = {}
    for name, ceiling in CEILING_SQL.items():
        if name in servers and ceiling in servers:
            same[name] = (fetch(servers[name], *request_for(name, seeded))
                          == fetch(servers[ceiling], *request_for(ceiling, seeded)))
            if not same[name]:
                print(f"warning: {name} and {ceiling} answer different JSON or X-Pagination",
                      file=sys.stderr)
    return same


def measure(servers: dict[str, Server], seeded: Seeded, args: argparse.Namespace,
            database: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    same = same_answers(servers, seeded)
    for name, server in servers.items():
        path, headers = request_for(name, seeded)
        warm = python_load(server.url + path, headers, args.warmup, args.connections)
        if warm["errors"]:
            raise RuntimeError(f"{name}: warm-up errors {warm['error_samples']}")
        out[name] = {"spec": SPECS[name], "path": path, "runs": [], "same_json_as_bare_sql": same.get(name),
                     "rss_kib_after_warmup": server.worker_rss_kib()}
    names = list(servers)
    for round_ in range(args.rounds):
        for name in names[round_:] + names[:round_]:
            path, headers = request_for(name, seeded)
            meter = CpuMeter(servers[name], database)
            run = load(servers[name].url + path, headers, args.duration, args.connections,
                       args.wrk_threads)
            run["cpu_us_per_request"] = {group: seconds * 1e6 / max(run["requests"], 1)
                                         for group, seconds in meter.spent().items()}
            out[name]["runs"].append(run)
    for name, server in servers.items():
        out[name]["rss_kib_at_end"] = server.worker_rss_kib()
        summarise(out[name], out.get("bare"), out.get("bare_db"), out.get(CEILING_SQL.get(name, "")))
    return out


def _median_ratio(runs: list[dict[str, Any]], ceiling: dict[str, Any]) -> float:
    return statistics.median(r["rps"] / c["rps"] for r, c in zip(runs, ceiling["runs"], strict=True))


def summarise(result: dict[str, Any], bare: dict[str, Any] | None,
              bare_db: dict[str, Any] | None, bare_sql: dict[str, Any] | None) -> None:
    runs = result["runs"]
    for key in ("rps", "p50_ms", "p99_ms"):
        result[key] = statistics.median(r[key] for r in runs)
    result["errors"] = sum(r["errors"] for r in runs)
    result["cpu_us_per_request"] = {group: statistics.median(r["cpu_us_per_request"][group] for r in runs)
                                    for group in runs[0]["cpu_us_per_request"]}
    if bare is not None:
        result["ratios"] = [r["rps"] / b["rps"] for r, b in zip(runs, bare["runs"], strict=True)]
        result["ratio"] = statistics.median(result["ratios"])
    if bare_db is not None:
        result["ratio_bare_db"] = _median_ratio(runs, bare_db)
    if bare_sql is not None:
        result["ratios_bare_sql"] = [r["rps"] / c["rps"] for r, c in zip(runs, bare_sql["runs"], strict=True)]
        result["ratio_bare_sql"] = _median_ratio(runs, bare_sql)


def run_http(names: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    db = BenchDatabase()
    servers: dict[str, Server] = {}
    try:
        seeded = seed(db.env())
        start_servers(names, db, seeded, servers, args.worker_class)
        return measure(servers, seeded, args, db.name)
    finally:
        for server in servers.values():
            server.stop()
        db.drop()


def run_activation(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [1_000, 100_000]
    activation.print_header(20, args.activation_checks)
    result = activation.run(args.activation_checks, 20, sizes, seed=20261121)
    result["worst_is_enabled_ns"] = max(r["is_enabled"]["mean_ns"] for r in result["rows"])
    result["within_target"] = result["worst_is_enabled_ns"] < TARGETS["activation_ns"]
    return result


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_http(results: dict[str, Any], worker_class: str) -> None:
    print(f"\ngunicorn {' '.join(gunicorn_args(worker_class))}; req/s and latencies: medians of the rounds")
    print(f"{'scenario':<14} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'÷ bare':>7} {'÷ bare_db':>9} "
          f"{'÷ bare_sql':>10} {'errors':>6} {'CPU µs/req app+pg':>18}  "
          "worker RSS MiB after warm-up → end   target")
    for name, r in results.items():
        ratio = f"{r['ratio']:.3f}" if "ratio" in r else ""
        ratio_db = f"{r['ratio_bare_db']:.3f}" if "ratio_bare_db" in r else ""
        ratio_sql = f"{r['ratio_bare_sql']:.3f}" if "ratio_bare_sql" in r else ""
        rss = " ".join(f"{a / 1024:.0f}→{b / 1024:.0f}" for a, b in
                       zip(r["rss_kib_after_warmup"].values(), r["rss_kib_at_end"].values(), strict=False))
        target = TARGETS.get(name)
        check = f"≥ {target} {verdict(r['ratio'] >= target)}" if target and "ratio" in r else ""
        target_sql = TARGETS_BARE_SQL.get(name)
        if target_sql and "ratio_bare_sql" in r:
            check += f"÷ bare_sql ≥ {target_sql} {verdict(r['ratio_bare_sql'] >= target_sql)}"
        cpu = r["cpu_us_per_request"]
        cpu_text = f"{cpu['app']:.0f}+{cpu['postgres']:.0f}"
        print(f"{name:<14} {r['rps']:>8,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {ratio:>7} "
              f"{ratio_db:>9} {ratio_sql:>10} {r['errors']:>6} {cpu_text:>18}  {rss:<33} {check}")


def report_activation(result: dict[str, Any]) -> None:
    worst = result["worst_is_enabled_ns"]
    print(f"activation check: slowest mean {worst / 1000:.2f} µs at {result['rows'][-1]['tenants']:,} "
          f"tenants (target < 5 µs): {verdict(result['within_target'])}")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="runs per server, order rotated "
                        "(one round's ratio is noise on a busy machine)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per server before measuring")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread",
                        help="gunicorn worker class of every server (2 workers; gthread: 4 threads)")
    parser.add_argument("--activation-checks", type=int, default=200_000)
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    out: dict[str, Any] = {"command": " ".join(["python -m bench", *sys.argv[1:]]),
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "machine": machine(), "gunicorn": list(gunicorn_args(args.worker_class)),
                           "args": vars(args), "targets": TARGETS,
                           "targets_bare_sql": TARGETS_BARE_SQL}
    if "activation" in args.only:  # first, while no server competes for the CPUs
        out["activation"] = run_activation(args)
    names = [s for s in SCENARIOS if s in args.only and s in SPECS]
    if names:
        out["http"] = run_http(names, args)
        report_http(out["http"], args.worker_class)
    if "activation" in out:
        report_activation(out["activation"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
