"""The Prometheus registry: render() parsed back, bucket monotonicity, escaping, gauges, snapshot percentiles."""

from __future__ import annotations

import math
import re

from vf_mcp.ops.metrics import BUCKETS, Metrics, labels

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


def parse(text: str) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], dict[str, str]]:
    """Samples keyed by (name, labels) and the # TYPE of each family; asserts every line is well-formed."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"duplicate TYPE for {name}"
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = LINE.match(line)
        assert m, line
        raw_labels = m.group(2) or ""
        pairs = LABEL.findall(raw_labels)
        assert ",".join(f'{k}="{v}"' for k, v in pairs) == raw_labels, line
        key = (m.group(1), frozenset((k, unescape(v)) for k, v in pairs))
        assert key not in samples, f"duplicate series {line}"
        samples[key] = float(m.group(3))
    return samples, types


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **lbl: str) -> float:
    return samples[(name, frozenset(lbl.items()))]


def test_render_counts_and_histogram() -> None:
    m = Metrics()
    durations = [0.001, 0.004, 0.02, 0.02, 0.3, 0.3, 0.3, 1.5, 7.0, 45.0]
    for i, d in enumerate(durations):
        m.observe_call("run_query", d, ok=i % 3 != 0, error_code="timeout" if i == 0 else None)
    m.observe_call("list_tables", 0.01, ok=True)
    m.rate_limited("team")
    m.rate_limited("team")
    samples, types = parse(m.render())

    assert sample(samples, "vf_mcp_tool_calls_total", tool="run_query") == 10
    assert sample(samples, "vf_mcp_tool_calls_total", tool="list_tables") == 1
    assert sample(samples, "vf_mcp_tool_errors_total", tool="run_query", code="timeout") == 1
    assert sample(samples, "vf_mcp_tool_errors_total", tool="run_query", code="error") == 3  # i = 3, 6, 9
    assert sample(samples, "vf_mcp_rate_limited_total", key="team") == 2
    assert types["vf_mcp_tool_duration_seconds"] == "histogram"
    assert types["vf_mcp_tool_calls_total"] == "counter"

    les = ["+Inf" if math.isinf(b) else repr(b) for b in BUCKETS]
    counts = [sample(samples, "vf_mcp_tool_duration_seconds_bucket", tool="run_query", le=le) for le in les]
    assert counts == sorted(counts), "buckets must be cumulative"
    for bound, count in zip(BUCKETS, counts, strict=True):
        assert count == sum(1 for d in durations if d <= bound)
    assert counts[-1] == sample(samples, "vf_mcp_tool_duration_seconds_count", tool="run_query") == 10
    assert math.isclose(sample(samples, "vf_mcp_tool_duration_seconds_sum", tool="run_query"), sum(durations))
    assert sample(samples, "vf_mcp_uptime_seconds") >= 0


def test_label_escaping() -> None:
    m = Metrics()
    nasty = 'we"ird\\tool\nname'
    m.observe_call(nasty, 0.1, ok=False, error_code='co"de')
    m.rate_limited('key\\with"quote')
    samples, _ = parse(m.render())
    assert sample(samples, "vf_mcp_tool_calls_total", tool=nasty) == 1
    assert sample(samples, "vf_mcp_tool_errors_total", tool=nasty, code='co"de') == 1
    assert sample(samples, "vf_mcp_rate_limited_total", key='key\\with"quote') == 1


def test_gauge_sources() -> None:
    m = Metrics()
    m.set_gauge_source(lambda: {"vf_mcp_pool_in_use" + labels(source="main"): 3, "vf_mcp_pool_size": 5})
    m.set_gauge_source(lambda: {"vf_mcp_cache_hits_total": 12, "bad name": 1, "vf_mcp_tool_calls_total": 99})

    def broken() -> dict[str, float]:
        raise RuntimeError("pool gone")

    m.set_gauge_source(broken)
    text = m.render()
    samples, types = parse(text)
    assert sample(samples, "vf_mcp_pool_in_use", source="main") == 3
    assert sample(samples, "vf_mcp_pool_size") == 5
    assert sample(samples, "vf_mcp_cache_hits_total") == 12
    assert types["vf_mcp_pool_size"] == "gauge" and types["vf_mcp_cache_hits_total"] == "counter"
    assert "bad name" not in text
    assert not any(name == "vf_mcp_tool_calls_total" for name, _ in samples)  # reserved names are not overridden


def test_snapshot_percentiles() -> None:
    m = Metrics()
    for _ in range(90):
        m.observe_call("run_query", 0.03, ok=True)  # (0.025, 0.05]
    for _ in range(10):
        m.observe_call("run_query", 2.0, ok=False, error_code="timeout")  # (1, 2.5]
    m.rate_limited("team")
    snap = m.snapshot()
    q = snap["tools"]["run_query"]
    assert (q["calls"], q["errors"]) == (100, 10)
    assert 25 < q["p50_ms"] <= 50
    assert 1000 < q["p95_ms"] <= 2500
    assert q["p50_ms"] <= q["p95_ms"] <= q["p99_ms"] <= 2500
    assert snap["rate_limited"] == {"team": 1}
    assert Metrics().snapshot()["tools"] == {}
    slow = Metrics()
    slow.observe_call("x", 100.0, ok=True)  # beyond the last finite bucket: reported as 30 s
    assert slow.snapshot()["tools"]["x"]["p99_ms"] == 30000.0
