"""A small Prometheus registry owned by one server: tool calls, errors, durations, rate-limit refusals, gauges.

render() produces the text exposition format 0.0.4; snapshot() gives a JSON-friendly summary for /health.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("vf_mcp.ops.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, math.inf)

_BUILTIN = frozenset(
    {
        "vf_mcp_tool_calls_total",
        "vf_mcp_tool_errors_total",
        "vf_mcp_tool_duration_seconds",
        "vf_mcp_tool_duration_seconds_bucket",
        "vf_mcp_tool_duration_seconds_sum",
        "vf_mcp_tool_duration_seconds_count",
        "vf_mcp_rate_limited_total",
    }
)

GaugeSource = Callable[[], dict[str, float]]

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?$", re.DOTALL)


def escape_label(value: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs: str) -> str:
    """`{k="v",...}` with escaped values, for gauge-source series names such as pool gauges per source."""
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs.items()) + "}"


def _num(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)  # per bucket, not cumulative
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value

    def cumulative(self) -> list[int]:
        out, total = [], 0
        for c in self.counts:
            total += c
            out.append(total)
        return out

    def quantile(self, q: float) -> float | None:
        """Estimate like PromQL histogram_quantile: linear within the bucket; the +Inf bucket gives the top bound."""
        cum = self.cumulative()
        count = cum[-1]
        if count == 0:
            return None
        rank = q * count
        for i, c in enumerate(cum):
            if c >= rank:
                if math.isinf(BUCKETS[i]):
                    return BUCKETS[-2]
                lower = BUCKETS[i - 1] if i > 0 else 0.0
                below = cum[i - 1] if i > 0 else 0
                in_bucket = c - below
                if in_bucket == 0:
                    return BUCKETS[i]
                return lower + (BUCKETS[i] - lower) * (rank - below) / in_bucket
        return BUCKETS[-2]


class Metrics:
    """Counters and histograms for one server; gauges are pulled from sources at scrape time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()
        self._calls: dict[str, int] = {}
        self._errors: dict[tuple[str, str], int] = {}
        self._durations: dict[str, _Histogram] = {}
        self._rate_limited: dict[str, int] = {}
        self._sources: list[GaugeSource] = []

    def observe_call(self, tool: str, duration_s: float, ok: bool, error_code: str | None = None) -> None:
        """Count one finished tool call (errors by code) and record its duration."""
        with self._lock:
            self._calls[tool] = self._calls.get(tool, 0) + 1
            if not ok:
                key = (tool, error_code or "error")
                self._errors[key] = self._errors.get(key, 0) + 1
            hist = self._durations.get(tool)
            if hist is None:
                hist = self._durations[tool] = _Histogram()
            hist.observe(max(0.0, duration_s))

    def rate_limited(self, identity: str) -> None:
        """Count one call refused by the rate limiter."""
        with self._lock:
            self._rate_limited[identity] = self._rate_limited.get(identity, 0) + 1

    def set_gauge_source(self, source: GaugeSource) -> None:
        """Add a callable read at each scrape (several sources may be added).

        It returns {series: value}; a series is a metric name, optionally followed by labels built with
        `labels(...)`, e.g. {"vf_mcp_pool_in_use" + labels(source="main"): 3}. Names ending in _total are
        typed counter, others gauge. A failing source is skipped with a warning.
        """
        with self._lock:
            self._sources.append(source)

    def render(self) -> str:
        """All metrics in the Prometheus text format 0.0.4."""
        with self._lock:
            calls = dict(self._calls)
            errors = dict(self._errors)
            hists = {t: (h.cumulative(), h.sum) for t, h in self._durations.items()}
            limited = dict(self._rate_limited)
            sources = list(self._sources)
        out: list[str] = []
        _family(out, "vf_mcp_tool_calls_total", "counter", "Tool calls finished, by tool.")
        out += [f"vf_mcp_tool_calls_total{labels(tool=t)} {n}" for t, n in sorted(calls.items())]
        _family(out, "vf_mcp_tool_errors_total", "counter", "Tool calls that failed, by tool and error code.")
        out += [f"vf_mcp_tool_errors_total{labels(tool=t, code=c)} {n}" for (t, c), n in sorted(errors.items())]
        _family(out, "vf_mcp_tool_duration_seconds", "histogram", "Tool call duration in seconds.")
        for tool, (cum, total) in sorted(hists.items()):
            for bound, c in zip(BUCKETS, cum, strict=True):
                out.append(f"vf_mcp_tool_duration_seconds_bucket{labels(tool=tool, le=_le(bound))} {c}")
            out.append(f"vf_mcp_tool_duration_seconds_sum{labels(tool=tool)} {_num(total)}")
            out.append(f"vf_mcp_tool_duration_seconds_count{labels(tool=tool)} {cum[-1]}")
        _family(out, "vf_mcp_rate_limited_total", "counter", "Tool calls refused by the rate limit, by API key.")
        out += [f"vf_mcp_rate_limited_total{labels(key=k)} {n}" for k, n in sorted(limited.items())]
        gauges: dict[str, float] = {"vf_mcp_uptime_seconds": self._clock() - self._started}
        for source in sources:
            try:
                for series, value in source().items():
                    gauges.setdefault(series, float(value))
            except Exception:
                log.warning("metrics gauge source %r failed; skipped", source, exc_info=True)
        out += _render_gauges(gauges.items())
        return "\n".join(out) + "\n"

    def snapshot(self) -> dict[str, object]:
        """Per-tool calls, errors and p50/p95/p99 estimates in ms (from the histogram), plus rate-limit refusals."""
        with self._lock:
            tools: dict[str, dict[str, float | None]] = {}
            for tool, n in sorted(self._calls.items()):
                hist = self._durations[tool]
                entry: dict[str, float | None] = {
                    "calls": n,
                    "errors": sum(c for (t, _), c in self._errors.items() if t == tool),
                }
                for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
                    v = hist.quantile(q)
                    entry[name] = None if v is None else round(v * 1000, 1)
                tools[tool] = entry
            return {
                "uptime_s": round(self._clock() - self._started, 1),
                "tools": tools,
                "rate_limited": dict(sorted(self._rate_limited.items())),
            }


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _render_gauges(items: Iterable[tuple[str, float]]) -> list[str]:
    families: dict[str, list[str]] = {}
    for series, value in items:
        m = _SERIES.match(series)
        if m is None or not _NAME.match(m.group(1)) or m.group(1) in _BUILTIN:
            log.warning("metrics: invalid or reserved series name %r skipped", series)
            continue
        families.setdefault(m.group(1), []).append(f"{series} {_num(value)}")
    out: list[str] = []
    for name in sorted(families):
        kind = "counter" if name.endswith("_total") else "gauge"
        out.append(f"# TYPE {name} {kind}")
        out += sorted(families[name])
    return out
