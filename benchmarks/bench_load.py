"""A bounded load test of the web demo: 1,000 mixed good and bad requests on loopback.

Starts ``python -m emolib serve`` on a free 127.0.0.1 port (the default model, haar detector),
warms it up, then sends ``--requests`` POSTs from ``--workers`` concurrent clients in a fixed,
seeded order:

* good (expect 200): the astronaut (one face), a photo without a face, a two-person collage;
* bad (expect 4xx): a text file (415), a truncated JPEG (422), an empty file (400), no ``file``
  field (400), a PPM image (415), a PNG header claiming 30,000 x 30,000 pixels (413), an 11 MB
  body (413), a GET on the POST-only route (405).

Reports the status counts, the number of 5xx answers (the test fails unless it is 0), requests
that got an unexpected status, p50 and p95 latency (all, good, bad), throughput, and the server's
peak resident-memory growth over its warmed-up baseline, sampled every 50 ms. Every request has a
timeout and the whole run a deadline (``--max-seconds``), so it is bounded. Writes
``results/bench_load.json``. Not part of CI: run it with ``make bench-load``.

    python benchmarks/bench_load.py [--requests 1000] [--workers 4] [--max-seconds 900]
"""
from __future__ import annotations

import argparse
import io
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# name: (share of requests, expected status)
MIX = {
    "astronaut": (0.35, 200), "no_face": (0.10, 200), "two_faces": (0.10, 200),
    "text_file": (0.07, 415), "truncated_jpeg": (0.07, 422), "empty_file": (0.05, 400),
    "no_field": (0.05, 400), "ppm_image": (0.05, 415), "pixel_bomb": (0.06, 413),
    "too_many_bytes": (0.03, 413), "wrong_method": (0.07, 405),
}


def _encode(array, fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def _png_header_only(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def payloads() -> dict[str, tuple[str, dict | None]]:
    """Each request kind: (HTTP method, multipart files or None)."""
    from skimage import data

    astronaut = data.astronaut()
    jpeg = _encode(astronaut, "JPEG")
    collage = np.full((512, 1024, 3), 200, np.uint8)
    collage[:, :512] = astronaut
    collage[:, 512:] = astronaut[:, ::-1]
    return {
        "astronaut": ("POST", {"file": ("astronaut.jpg", jpeg, "image/jpeg")}),
        "no_face": ("POST", {"file": ("coffee.jpg", _encode(data.coffee(), "JPEG"), "image/jpeg")}),
        "two_faces": ("POST", {"file": ("pair.jpg", _encode(collage, "JPEG"), "image/jpeg")}),
        "text_file": ("POST", {"file": ("notes.txt", b"not an image\n" * 20, "text/plain")}),
        "truncated_jpeg": ("POST", {"file": ("cut.jpg", jpeg[:4000], "image/jpeg")}),
        "empty_file": ("POST", {"file": ("empty.jpg", b"", "image/jpeg")}),
        "no_field": ("POST", None),
        "ppm_image": ("POST", {"file": ("x.ppm", _encode(astronaut[:64, :64], "PPM"), "image/x-ppm")}),
        "pixel_bomb": ("POST", {"file": ("bomb.png", _png_header_only(30_000, 30_000), "image/png")}),
        "too_many_bytes": ("POST", {"file": ("big.jpg", b"\xff\xd8" + b"\0" * (11 * 2**20), "image/jpeg")}),
        "wrong_method": ("GET", None),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout: float = 300):
    import requests

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "emolib", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench_load: the server exited with code {proc.returncode}")
        try:
            if requests.get(url + "/api/health", timeout=2).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"bench_load: the server did not answer within {timeout:.0f} s")


class MemorySampler(threading.Thread):
    """Samples a process's resident memory (RSS) every ``interval`` seconds; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05):
        import psutil

        super().__init__(daemon=True)
        self.process, self.interval = psutil.Process(pid), interval
        self.peak = self.process.memory_info().rss
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:      # the process ended
                return
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


def send(session, url, kind, method, files, timeout):
    t = time.perf_counter()
    try:
        if method == "GET":
            resp = session.get(url + "/api/predict", timeout=timeout)
        elif files is None:
            resp = session.post(url + "/api/predict", data={"other": "field"}, timeout=timeout)
        else:
            resp = session.post(url + "/api/predict", files=files, timeout=timeout)
        status = resp.status_code
        if status >= 400:       # every refusal must be a JSON body naming the status
            body = resp.json()
            if body.get("status") != status or not body.get("error"):
                status = -2
    except Exception:           # timeouts, resets, bad JSON: counted as failures
        status = -1
    return kind, status, time.perf_counter() - t


def percentile_ms(values, q):
    return round(float(np.percentile(values, q)) * 1000, 1) if len(values) else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="deadline for the run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", default=None, help="default: results/")
    args = parser.parse_args(argv)

    import requests

    from emolib.evaluate import provenance, write_result

    kinds = list(MIX)
    shares = np.array([MIX[k][0] for k in kinds])
    order = np.random.default_rng(args.seed).choice(len(kinds), args.requests, p=shares / shares.sum())
    bodies = payloads()
    proc, url = start_server(free_port())
    try:
        with requests.Session() as warm:        # model traced, detector built, pages cached
            for kind in ("astronaut", "no_face", "two_faces", "text_file"):
                send(warm, url, kind, *bodies[kind], args.timeout)
        time.sleep(0.5)
        sampler = MemorySampler(proc.pid)
        baseline = sampler.process.memory_info().rss
        sampler.start()
        local = threading.local()

        def one(kind):
            if not hasattr(local, "session"):
                local.session = requests.Session()
            return send(local.session, url, kind, *bodies[kind], args.timeout)

        started = time.perf_counter()
        results, skipped = [], 0
        with ThreadPoolExecutor(args.workers) as pool:
            futures = [pool.submit(one, kinds[i]) for i in order]
            deadline = started + args.max_seconds
            for fut in as_completed(futures):
                results.append(fut.result())
                if time.perf_counter() > deadline:
                    skipped = sum(f.cancel() for f in futures)
                    break
        wall = time.perf_counter() - started
        sampler.stop()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    statuses = {}
    unexpected = {}
    good, bad = [], []
    for kind, status, seconds in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status != MIX[kind][1]:
            unexpected[kind] = unexpected.get(kind, 0) + 1
        (good if MIX[kind][1] == 200 else bad).append(seconds)
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5"))
    failures = statuses.get("-1", 0) + statuses.get("-2", 0)
    everything = good + bad
    report = {
        "requests_sent": len(results), "requests_skipped_by_deadline": skipped,
        "workers": args.workers, "status_counts": dict(sorted(statuses.items())),
        "server_errors_5xx": server_errors, "transport_or_body_failures": failures,
        "unexpected_status_by_kind": unexpected,
        "latency_ms": {"p50": percentile_ms(everything, 50), "p95": percentile_ms(everything, 95),
                       "good_p50": percentile_ms(good, 50), "good_p95": percentile_ms(good, 95),
                       "bad_p50": percentile_ms(bad, 50), "bad_p95": percentile_ms(bad, 95)},
        "throughput_rps": round(len(results) / wall, 2),
        "server_rss_baseline_mb": round(baseline / 2**20, 1),
        "server_rss_peak_growth_mb": round((sampler.peak - baseline) / 2**20, 1),
    }
    ok = server_errors == 0 and failures == 0 and not unexpected and skipped == 0
    report["passed"] = ok
    print(f"bench_load: {len(results)} requests, {args.workers} workers, {wall:.1f} s "
          f"({report['throughput_rps']} req/s)")
    print(f"  status counts: {report['status_counts']}")
    print(f"  5xx: {server_errors}; transport/body failures: {failures}; unexpected: {unexpected or 0}")
    lat = report["latency_ms"]
    print(f"  latency ms: p50 {lat['p50']}, p95 {lat['p95']} (good p50 {lat['good_p50']}, "
          f"p95 {lat['good_p95']}; bad p50 {lat['bad_p50']}, p95 {lat['bad_p95']})")
    print(f"  server RSS: baseline {report['server_rss_baseline_mb']} MB, peak growth "
          f"{report['server_rss_peak_growth_mb']} MB")
    print(f"  {'PASSED' if ok else 'FAILED'}")
    path = write_result("bench_load", report, provenance(None, profile="full", wall_time_s=round(wall, 1),
                                                         benchmark="benchmarks/bench_load.py"),
                        results_dir=args.results_dir)
    print(f"  wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
