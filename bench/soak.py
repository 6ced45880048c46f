"""A bounded soak: mixed load against one gunicorn server, worker memory before and after.

    python -m bench.soak [--minutes 5] [--connections 16] [--writes-per-second 2]

One server, ``bench.authed:app()`` (the deployed app plus the ``full`` test plugin)
under ``bench.harness.GUNICORN_ARGS``, on a fresh PostgreSQL database and Redis
namespace (both dropped at the end). After a ``--warmup`` of the same mix, for
``--minutes``: ``--connections`` keep-alive client threads each pick, per request,
the storefront fetch (``GET /api/v1/public/pages/``, ``X-Tenant``; 60 %) or the
authenticated read (``GET /api/v1/full/notes``, Bearer; 40 %); one more thread writes
(``POST /api/v1/full/notes``) ``--writes-per-second``. Every non-2xx answer and every
socket error counts as an error; the target is 0. Worker RSS (``/proc/<pid>/status``)
is read after the warm-up and at the end. Results: stdout and ``bench/results/soak.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.authed import NOTES_PATH, PAGE_PATH, TENANT, Seeded, seed
from bench.harness import GUNICORN_ARGS, RESULTS_DIR, BenchDatabase, Server, Tally, machine, request

RESULTS = RESULTS_DIR / "soak.json"
READ_SHARE = 0.6  # of read requests, the storefront's share; the rest is the authed route


class Mix:
    """The soak's clients: readers on keep-alive connections and one paced writer."""

    def __init__(self, server: Server, seeded: Seeded) -> None:
        self.port = server.port
        self.page = (PAGE_PATH, {"X-Tenant": TENANT})
        self.notes = (NOTES_PATH, seeded.auth_headers)
        self.write_headers = {**seeded.auth_headers, "Content-Type": "application/json"}
        self.tallies = {"storefront": Tally(), "authed": Tally(), "write": Tally()}

    def reader(self, stop: float) -> None:
        rng = random.Random()  # noqa: S311 - a workload mix, not cryptography
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while time.monotonic() < stop:
            name, (path, headers) = ("storefront", self.page) if rng.random() < READ_SHARE \
                else ("authed", self.notes)
            self.one(conn, name, "GET", path, headers, None)
        conn.close()

    def writer(self, stop: float, per_second: float) -> None:
        conn, n = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10), 0
        while time.monotonic() < stop:
            n += 1
            body = json.dumps({"text": f"soak {n}"}).encode()
            self.one(conn, "write", "POST", NOTES_PATH, self.write_headers, body)
            time.sleep(1 / per_second)
        conn.close()

    def one(self, conn: http.client.HTTPConnection, name: str, method: str, path: str,
            headers: dict[str, str], body: bytes | None) -> None:
        start = time.monotonic()
        try:
            status = request(conn, method, path, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.tallies[name].add([], [f"{method} {path}: {exc!r}"])
            return
        errors = [f"{method} {path}: {status}"] if status >= 300 else []
        self.tallies[name].add([time.monotonic() - start], errors)

    def run(self, seconds: float, connections: int, writes_per_second: float) -> None:
        self.tallies = {name: Tally() for name in self.tallies}
        stop = time.monotonic() + seconds
        threads = [threading.Thread(target=self.reader, args=(stop,), daemon=True)
                   for _ in range(connections)]
        threads.append(threading.Thread(target=self.writer, args=(stop, writes_per_second), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def soak(args: argparse.Namespace) -> dict[str, Any]:
    db = BenchDatabase()
    server: Server | None = None
    try:
        seeded = seed(db.env())
        server = Server("bench.authed:app()", db.env())
        server.wait_ready(NOTES_PATH, seeded.auth_headers)
        mix = Mix(server, seeded)
        mix.run(args.warmup, args.connections, args.writes_per_second)
        before = server.worker_rss_kib()
        mix.run(args.minutes * 60, args.connections, args.writes_per_second)
        after = server.worker_rss_kib()
        seconds = args.minutes * 60
        return {"rss_kib_after_warmup": before, "rss_kib_at_end": after,
                "results": {name: t.summary(seconds) for name, t in mix.tallies.items()}}
    finally:
        if server is not None:
            server.stop()
        db.drop()


def report(out: dict[str, Any]) -> None:
    print(f"soak, {out['args']['minutes']} min, gunicorn {' '.join(GUNICORN_ARGS)}")
    print(f"{'load':<11} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for name, r in out["results"].items():
        print(f"{name:<11} {r['requests']:>9,} {r['rps']:>7,.1f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['errors']:>6}  {' '.join(r['error_samples'][:2])}")
    for pid, before in out["rss_kib_after_warmup"].items():
        after = out["rss_kib_at_end"].get(pid)
        growth = "" if after is None else f" → {after / 1024:.1f} MiB ({(after - before) / 1024:+.1f})"
        print(f"worker {pid}: RSS {before / 1024:.1f} MiB after warm-up{growth}")
    print(f"errors: {out['errors']} (target 0): {'ok' if out['errors'] == 0 else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--writes-per-second", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of the mix before measuring")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"command": " ".join(["python -m bench.soak", *sys.argv[1:]]),
                           "machine": {**machine(), "load_generator": "python (bench.soak.Mix)"},
                           "gunicorn": list(GUNICORN_ARGS), "args": vars(args)}
    out.update(soak(args))
    out["errors"] = sum(r["errors"] for r in out["results"].values())
    report(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"written to {RESULTS}")
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
