"""A Python load driver, used when wrk is not installed: the same workload description as
bench/wrk/workload.lua and the same summary shape, measured with http.client from several
processes (threads alone would be throttled by the GIL).

It is slower than wrk and takes more of the CPU the servers need, so its figures are
lower bounds; the report says which driver made them.
"""
from __future__ import annotations

import http.client
import multiprocessing
import os
import threading
import time
from urllib.parse import urlsplit


def _connection_loop(url, spec, deadline, thread_id, nthreads, out):
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    body = spec.get("body") or ""
    templated = "{seq}" in body
    counter = 0
    conn = None
    while time.monotonic() < deadline:
        payload = body
        if templated:
            seq = spec.get("offset", 0) + thread_id + counter * nthreads
            if spec.get("modulo"):
                seq = (seq - 1) % spec["modulo"] + 1
            payload = body.replace("{seq}", str(seq))
            counter += 1
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            conn.request(spec["method"], path, body=payload.encode() if payload else None,
                         headers=spec.get("headers") or {})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1e6
            out["latencies"].append(elapsed)
            key = str(response.status)
            out["statuses"][key] = out["statuses"].get(key, 0) + 1
            if response.status != spec["expect"]:
                out["unexpected"] += 1
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            out["errors"]["timeout" if isinstance(e, TimeoutError) else "read"] += 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def _process(url, spec, deadline, first_id, count, nthreads, queue):
    outs = []
    threads = []
    for i in range(count):
        out = {"latencies": [], "statuses": {}, "unexpected": 0,
               "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
        outs.append(out)
        t = threading.Thread(target=_connection_loop,
                             args=(url, spec, deadline, first_id + i, nthreads, out), daemon=True)
        threads.append(t)
        t.start()
    for t in threads:
        t.join()
    queue.put(outs)


def _percentile(sorted_values, p):
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def run(url: str, spec: dict, duration: float, connections: int) -> dict:
    """Drive `spec` ({method, headers, body, expect, offset, modulo}) at `url` for `duration` s over
    `connections` connections; the summary bench/wrk/workload.lua writes."""
    processes = max(1, min(connections, os.cpu_count() or 1))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    started = time.monotonic()
    deadline = started + duration
    procs, first = [], 1
    for p in range(processes):
        count = connections // processes + (1 if p < connections % processes else 0)
        proc = ctx.Process(target=_process, args=(url, spec, deadline, first, count, connections, queue))
        first += count
        proc.start()
        procs.append(proc)
    outs = []
    for _ in procs:
        outs.extend(queue.get(timeout=duration + 60))
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    latencies = sorted(x for o in outs for x in o["latencies"])
    statuses: dict[str, int] = {}
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    for o in outs:
        for k, v in o["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in o["errors"].items():
            errors[k] += v
    return {"requests": len(latencies), "duration_us": int(elapsed * 1e6), "bytes": 0,
            "unexpected_status": sum(o["unexpected"] for o in outs), "socket_errors": errors,
            "latency_us": {"p50": _percentile(latencies, 50), "p90": _percentile(latencies, 90),
                           "p99": _percentile(latencies, 99),
                           "mean": sum(latencies) / len(latencies) if latencies else 0,
                           "max": latencies[-1] if latencies else 0},
            "statuses": statuses}
