"""Profile one authenticated route in process: where a request's CPU time goes.

    python -m bench.profile_route [--path /api/v1/pages] [--requests 2000] [--top 40]
                                  [--pyinstrument] [--wsgi]

Seeds a fresh PostgreSQL database as ``python -m bench`` does (``bench.authed.seed``),
builds ``bench.authed:app()`` in this process with the same environment (production
profile, Redis) but logging at WARNING, warms the route up, then sends ``--requests``
GETs through Flask's test client (or, with ``--wsgi``, straight to the WSGI app as a
server would) under cProfile (or pyinstrument) and prints the mean
wall and CPU time per request and the top functions by cumulative CPU time. The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Sequence

from werkzeug.test import EnvironBuilder

from bench.authed import PAGES_PATH, app, seed
from bench.harness import BenchDatabase


def print_by_package(stats: pstats.Stats, requests: int) -> None:
    """Own CPU time per request, summed by the package the function lives in."""
    totals: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        parts = filename.split("/")
        if "site-packages" in parts:
            package = parts[parts.index("site-packages") + 1]
        elif "wt" in parts and len(parts) > parts.index("wt") + 2:
            package = "/".join(parts[parts.index("wt") + 2:][:2])
        elif filename == "~":
            package = f"builtins ({name.split()[-1][:30]})" if "method" in name else "builtins"
            package = "builtins"
        else:
            package = "stdlib:" + parts[-1]
        totals[package] = totals.get(package, 0.0) + row[2]
    print("own CPU µs per request by package (profiled, so inflated):")
    for package, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {seconds / requests * 1e6:8.0f}  {package}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_route")
    parser.add_argument("--path", default=PAGES_PATH)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--wsgi", action="store_true",
                        help="call the WSGI app directly, as a server does, not the test client")
    args = parser.parse_args(argv)
    db = BenchDatabase()
    try:
        env = db.env()
        seeded = seed(env)
        config = {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items()
                  if k.startswith("PLUGBOARD_")}
        client = app(**{**config, "log_level": "WARNING"}).test_client()
        headers = seeded.auth_headers

        environ = EnvironBuilder(args.path, headers=headers,
                                 base_url="http://localhost").get_environ()
        statuses: list[str] = []

        def start_response(status: str, _headers: object, _exc_info: object = None) -> None:
            statuses.append(status)

        def run(n: int) -> None:
            if args.wsgi:
                for _ in range(n):
                    body = b"".join(client.application(dict(environ), start_response))
                    assert statuses.pop().startswith("200"), body
                return
            for _ in range(n):
                resp = client.get(args.path, headers=headers)
                assert resp.status_code == 200, resp.get_data()

        run(200)
        walls, cpus = [], []
        for _ in range(5):  # the best of five batches: other load only ever adds time
            wall, cpu = time.perf_counter(), time.process_time()
            run(args.requests // 5)
            walls.append((time.perf_counter() - wall) / (args.requests // 5))
            cpus.append((time.process_time() - cpu) / (args.requests // 5))
        print(f"{args.path}: {min(walls) * 1e6:.0f} µs wall, {min(cpus) * 1e6:.0f} µs CPU "
              "per request (no profiler; best of 5 batches)")
        if args.pyinstrument:
            from pyinstrument import Profiler

            with Profiler() as profiler:
                run(args.requests)
            print(profiler.output_text(unicode=True, color=False))
        else:
            # CPU time, not wall time: on a loaded machine, waits for PostgreSQL swamp the rest
            profile = cProfile.Profile(time.process_time)
            profile.runcall(run, args.requests)
            stats = pstats.Stats(profile)
            stats.sort_stats(args.sort).print_stats(args.top)
            print_by_package(stats, args.requests)
        # the engine of the in-process app holds connections to the database being dropped
        from kernel.services import kernel_services

        kernel_services(client.application).engine.dispose()
    finally:
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
