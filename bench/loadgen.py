"""A closed-loop HTTP load generator on loopback: the same code measures every server it is pointed at.

``concurrency`` threads each keep one HTTP/1.1 connection open and send the next request as soon as the
previous answer is read in full, until ``requests`` answers or ``seconds`` have passed, whichever comes
first. Every request is timed from send to the last byte of the body. A non-2xx answer counts as an
error (and is reported with its first bytes) rather than as a fast success.
"""

from __future__ import annotations

import http.client
import itertools
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# One request: method, path (with its query), body (bytes or None) and headers.
Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100) by linear interpolation between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_load(
    host: str,
    port: int,
    make_request: Callable[[int], Request],
    *,
    concurrency: int = 8,
    requests: int = 2000,
    seconds: float = 30.0,
    warmup: int = 20,
) -> dict:
    """Send requests made by ``make_request(i)`` (i = 0, 1, 2…) and return latency and throughput."""
    counter = itertools.count()
    for i in range(warmup):  # connections, caches and lazy imports of the server, not measured
        _send_once(host, port, make_request(i))
    deadline = time.perf_counter() + seconds
    tallies = [_Tally() for _ in range(concurrency)]

    def worker(tally: _Tally) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= requests:
                break
            method, path, body, headers = make_request(index)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                tally.errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.bytes_read += len(payload)
            if not 200 <= response.status < 300:
                tally.errors.append(f"{method} {path}: {response.status} {payload[:200]!r}")
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(tally,)) for tally in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = [value for tally in tallies for value in tally.latencies]
    errors = [error for tally in tallies for error in tally.errors]
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else float("nan"),
        "bytes_per_response": round(sum(t.bytes_read for t in tallies) / max(len(latencies), 1)),
        "concurrency": concurrency,
    }


def _send_once(host: str, port: int, request: Request) -> None:
    method, path, body, headers = request
    connection = http.client.HTTPConnection(host, port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers)
        connection.getresponse().read()
    finally:
        connection.close()


def wait_until_serving(host: str, port: int, path: str = "/", timeout: float = 120.0) -> None:
    """Block until the server answers ``path`` (any status), or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _send_once(host, port, ("GET", path, None, {}))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered on {host}:{port}{path} within {timeout:g} s") from None
            time.sleep(0.5)
