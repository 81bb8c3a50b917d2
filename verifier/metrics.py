"""Prometheus metrics (prometheus-client).

Under gunicorn each worker is a process: `edgeproof verifier serve` sets
PROMETHEUS_MULTIPROC_DIR before the workers start, and /metrics then aggregates every
worker's files (prometheus-client multiprocess mode); without it, metrics are per process.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Histogram(
    "edgeproof_verifier_request_seconds",
    "Request latency by route and status",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
APPRAISALS = Counter(
    "edgeproof_verifier_appraisals_total",
    "Appraisals by outcome (result-<ear status>, or the refusal's reason code)",
    ["outcome"],
)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).observe(seconds)


def appraisal(outcome: str) -> None:
    APPRAISALS.labels(outcome).inc()


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
