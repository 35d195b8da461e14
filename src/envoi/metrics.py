"""What envoi counts as it works, for Prometheus (served at ``/metrics`` by the web layer).

Counters and histograms live here so services and adapters can count without knowing
about HTTP. With several processes (``envoi run --processes N``) every process writes its
values to ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, chosen when
that variable is set before this module is first imported) and ``/metrics`` sums them.
Gauges read from the database at scrape time (intents by state, lags) are wired in
``bootstrap.py``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "envoi_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "envoi_http_request_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
CONFIRM_SECONDS = Histogram(
    "envoi_confirm_seconds",
    "Time to confirm a payment with the PIN (check, ledger, commit), refusals included.",
    buckets=LATENCY_BUCKETS,
)
COMMANDS = Counter(
    "envoi_commands",
    "Posts received from the networks, by network and outcome (intent, ignored, duplicate, "
    "or the refusal's error code).",
    ["network", "outcome"],
)
LEDGER_BATCH = Histogram(
    "envoi_ledger_batch_transfers",
    "Transfers per ledger write (one create_transfers call).",
    buckets=(1, 2, 4, 8, 16, 64, 256, 1024, 4096, 8190),
)
RETRIES = Counter(
    "envoi_transaction_retries",
    "Transactions run again after a deadlock, a serialization failure or a busy database.",
    ["where"],
)


def count_retry(where: str) -> None:
    """One transaction about to be retried; ``where`` names the caller (e.g. ``ledger``)."""
    RETRIES.labels(where).inc()
