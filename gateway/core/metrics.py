"""Prometheus metrics, in a registry of the app's own (so that several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """The gateway's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.relayed = Counter(
            "gateway_relayed_actions_total",
            "Signed actions by type and outcome (relayed, replayed: relayed before, refused).",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "gateway_sign_ins_total", "Sign-in attempts by outcome.", ["outcome"], registry=self.registry
        )
        self.chain_head = Gauge("gateway_chain_head", "Latest block number seen.", registry=self.registry)
        self.indexer_lag = Gauge(
            "gateway_indexer_lag_blocks", "Chain head minus the mirror's block.", registry=self.registry
        )
        self.pending_indexes = Gauge(
            "gateway_indexer_pending_indexes",
            "The mirror's indexes still to build (a fresh mirror's first catch-up builds them at its end).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
