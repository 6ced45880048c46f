"""Microbenchmark of the per-request plugin activation check and per-tenant hook dispatch.

    python -m bench.activation [--checks 1000000] [--plugins 20] [--tenants 1000,10000,100000]

An app is built with ``create_app`` on a temporary SQLite database and ``--plugins``
small in-memory plugins (``p0`` … ``p19``, each implementing the trivial hook
``plugboard_request_guard``; no built-in or entry-point plugins). The activation
snapshot is primed with ``Snapshot.prime`` (no database rows) for a growing number of
tenants, each with a random subset of the plugins, and at each size we time:

* ``Activations.is_enabled(tenant_id, plugin)``: what every plugin route's gate runs;
* per-tenant dispatch, ``registry.hook_for(snapshot.enabled(t), hook)(...)``: what
  ``run_guards`` runs, for two distributions of enabled sets: ``random`` (every tenant
  its own random subset: up to 2**20 distinct sets, the worst case for the caller
  cache) and ``pooled`` (tenants share 64 subsets, like plans).

Calls are timed in bulk (``perf_counter_ns`` around the loop, divided by the count;
the empty loop's cost is reported beside it) and, for percentiles, one by one on a
100,000-call sample (those include ~50 ns of timer overhead). Memory of the snapshot
is measured with tracemalloc (UUID keys, frozensets and the dict) and as RSS growth.
Results: a table on stdout and ``bench/results/activation.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hookspecs import PluginInfo, hookimpl
from kernel.services import kernel_services

RESULTS = Path(__file__).resolve().parent / "results" / "activation.json"
HOOK = "plugboard_request_guard"
TARGET_NS = 5_000
SAMPLE = 100_000
POOL = 64


class BenchPlugin:
    """A plugin with one trivial hook implementation."""

    def __init__(self, index: int) -> None:
        self.plugin_info = PluginInfo(name=f"p{index}", version="1.0.0")

    @hookimpl
    def plugboard_request_guard(self, tenant_id: uuid.UUID, method: str) -> None:
        return None


def build_app(data_dir: str, plugins: int) -> Any:
    from kernel import create_app

    return create_app({
        "env": "test", "data_dir": data_dir, "secret_key": "bench-" + "x" * 40,
        "log_level": "WARNING", "load_builtin_plugins": False, "load_entry_points": False,
        "extra_plugins": [BenchPlugin(i) for i in range(plugins)],
    })


def random_subset(rng: random.Random, names: Sequence[str]) -> frozenset[str]:
    return frozenset(n for n in names if rng.random() < 0.5)


def bulk_ns(calls: Callable[[], None], count: int) -> float:
    start = time.perf_counter_ns()
    calls()
    return (time.perf_counter_ns() - start) / count


def percentiles(call: Callable[[Any, Any], Any], pairs: Sequence[tuple[Any, Any]]) -> dict[str, float]:
    clock = time.perf_counter_ns
    samples = []
    for a, b in pairs:
        start = clock()
        call(a, b)
        samples.append(clock() - start)
    samples.sort()
    return {"p50_ns": float(samples[len(samples) // 2]),
            "p99_ns": float(samples[int(len(samples) * 0.99)]),
            "mean_ns": statistics.fmean(samples)}


def time_checks(activations: Any, tenants: Sequence[uuid.UUID], names: Sequence[str],
                checks: int, rng: random.Random) -> dict[str, Any]:
    pairs = [(rng.choice(tenants), rng.choice(names)) for _ in range(checks)]
    is_enabled = activations.is_enabled

    def loop() -> None:
        for tenant, plugin in pairs:
            is_enabled(tenant, plugin)

    def empty() -> None:
        for _tenant, _plugin in pairs:
            pass

    gc.collect()
    result = {"mean_ns": bulk_ns(loop, checks), "loop_overhead_ns": bulk_ns(empty, checks)}
    result.update({f"sampled_{k}": v for k, v in
                   percentiles(is_enabled, pairs[:SAMPLE]).items()})
    return result


def time_dispatch(activations: Any, tenants: Sequence[uuid.UUID], calls: int,
                  rng: random.Random) -> dict[str, Any]:
    registry, snapshot = activations.registry, activations.snapshot
    picked = [rng.choice(tenants) for _ in range(calls)]

    def dispatch(tenant: uuid.UUID, _: Any = None) -> None:
        caller = registry.hook_for(snapshot.enabled(tenant), HOOK)
        caller(tenant_id=tenant, endpoint="bench.view", method="GET")

    def loop() -> None:
        for tenant in picked:
            dispatch(tenant)

    gc.collect()
    result = {"mean_ns": bulk_ns(loop, calls)}
    result.update({f"sampled_{k}": v for k, v in
                   percentiles(dispatch, [(t, None) for t in picked[:SAMPLE]]).items()})
    return result


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def snapshot_memory(data_dir: str, plugins: int, tenants: int, seed: int,
                    pooled: bool) -> dict[str, float]:
    """Bytes the snapshot holds for ``tenants`` tenants (allocated as a real load would).

    ``pooled``: tenants share ``POOL`` frozensets (as interning equal sets would give).
    """
    app = build_app(data_dir, plugins)
    snapshot = kernel_services(app).activations.snapshot
    names = sorted(kernel_services(app).registry.names())
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not cryptography
    pool = [random_subset(rng, names) for _ in range(POOL)]
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(tenants):
        snapshot.prime(uuid.uuid4(), rng.choice(pool) if pooled else random_subset(rng, names))
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    gc.collect()
    rss = rss_bytes() - rss_before
    kernel_services(app).engine.dispose()
    return {"tenants": tenants, "tracemalloc_bytes": traced, "bytes_per_tenant": traced / tenants,
            "rss_growth_bytes": rss}


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg()}


def run(checks: int, plugins: int, sizes: Sequence[int], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not cryptography
    out: dict[str, Any] = {"command": " ".join(["python -m bench.activation", *sys.argv[1:]]),
                           "machine": machine(), "checks": checks, "plugins": plugins,
                           "target_ns": TARGET_NS, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(tmp, plugins)
        activations = kernel_services(app).activations
        names = sorted(activations.registry.names())
        assert len(names) == plugins, activations.registry.failures()
        pool = [random_subset(rng, names) for _ in range(POOL)]
        random_tenants: list[uuid.UUID] = []
        pooled_tenants: list[uuid.UUID] = []
        for size in sorted(sizes):
            while len(random_tenants) < size:
                tenant = uuid.uuid4()
                activations.snapshot.prime(tenant, random_subset(rng, names))
                random_tenants.append(tenant)
                tenant = uuid.uuid4()
                activations.snapshot.prime(tenant, rng.choice(pool))
                pooled_tenants.append(tenant)
            row = {
                "tenants": size,
                "is_enabled": time_checks(activations, random_tenants, names, checks, rng),
                "is_enabled_pooled": time_checks(activations, pooled_tenants, names, checks, rng),
                "dispatch_random": time_dispatch(activations, random_tenants, checks // 5, rng),
                "dispatch_pooled": time_dispatch(activations, pooled_tenants, checks // 5, rng),
            }
            out["rows"].append(row)
            print_row(row)
        kernel_services(app).engine.dispose()
        out["memory"] = snapshot_memory(tmp, plugins, max(sizes), seed, pooled=False)
        out["memory_pooled"] = snapshot_memory(tmp, plugins, max(sizes), seed, pooled=True)
    return out


COLUMNS = (("is_enabled", "is_enabled random"), ("is_enabled_pooled", "is_enabled pooled"),
           ("dispatch_random", "dispatch random"), ("dispatch_pooled", "dispatch pooled"))


def print_header(plugins: int, checks: int) -> None:
    print(f"activation check and hook dispatch, {plugins} plugins, {checks:,} checks per size "
          f"({checks // 5:,} dispatches); mean / sampled p99, µs")
    print(f"{'tenants':>8} | " + " | ".join(f"{title:>19}" for _, title in COLUMNS))


def print_row(row: dict[str, Any]) -> None:
    cells = [f"{row[key]['mean_ns'] / 1000:>8.3f} / {row[key]['sampled_p99_ns'] / 1000:>8.3f}"
             for key, _ in COLUMNS]
    print(f"{row['tenants']:>8,} | " + " | ".join(cells), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=1_000_000)
    parser.add_argument("--plugins", type=int, default=20)
    parser.add_argument("--tenants", default="1000,10000,100000",
                        help="comma-separated snapshot sizes, measured in increasing order")
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.tenants.split(",")]
    print_header(args.plugins, args.checks)
    result = run(args.checks, args.plugins, sizes, args.seed)
    for key in ("memory", "memory_pooled"):
        memory = result[key]
        print(f"snapshot memory at {memory['tenants']:,} tenants ({key}): "
              f"{memory['tracemalloc_bytes'] / 2**20:.1f} MiB traced "
              f"({memory['bytes_per_tenant']:.0f} B/tenant), "
              f"RSS +{memory['rss_growth_bytes'] / 2**20:.1f} MiB")
    worst = max(r["is_enabled"]["mean_ns"] for r in result["rows"])
    result["within_target"] = worst < TARGET_NS
    print(f"slowest is_enabled mean {worst:.0f} ns (target < {TARGET_NS} ns): "
          f"{'ok' if result['within_target'] else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
