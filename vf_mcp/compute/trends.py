"""Pure functions: the statistics behind `analyze_trends` (trend, moving averages, anomalies, forecast).

Input is one series of consecutive buckets (bucket start -> value) as produced by a single SQL aggregation
over ``generate_series``; ``None`` marks a bucket without a value (e.g. ``avg`` over no rows). Missing values
are kept in every per-period output and skipped by the fit. Nothing here does I/O; results are frozen
dataclasses. The definitions below are exported as strings so the tool can show them to the user.

Only the standard library and Polars are used (no NumPy/SciPy): the least-squares fit is the closed form,
and the Student-t quantile is computed exactly from the regularised incomplete beta function.
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal, SupportsFloat, TypeVar

from vf_mcp.compute.periods import PERIOD_UNITS, TrendPeriod

Period = TrendPeriod
Direction = Literal["increasing", "decreasing", "stable", "volatile"]
Severity = Literal["low", "medium", "high"]
AnomalyMethod = Literal["local", "global", "none"]

D = TypeVar("D", bound=date)

MOVING_WINDOWS: dict[Period, tuple[int, int]] = {"daily": (7, 30), "weekly": (4, 12), "monthly": (3, 12)}

VOLATILE_CV = 0.5  # residual std / level above this ...
VOLATILE_MAX_R2 = 0.3  # ... and R² below this -> 'volatile'
SEVERITY_MEDIUM_SIGMA = 3.0
SEVERITY_HIGH_SIGMA = 4.0
THEIL_SEN_ALL_PAIRS = 100  # robust trend for anomalies: all pairwise slopes up to this many values
MIN_ANOMALY_POINTS = 5  # fewer non-missing values: no anomaly detection
MIN_FORECAST_POINTS = 3  # the prediction interval needs n - 2 >= 1 degrees of freedom
MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample -> its standard deviation
_REL_EPS = 1e-9  # spreads below this fraction of the data's magnitude are float noise, i.e. zero

MOVING_AVERAGE_DEF = (
    "ma_<w>: trailing mean of the last w periods (Polars rolling_mean), w = 7/30 daily, 4/12 weekly, "
    "3/12 monthly; null until w periods exist; afterwards the mean of the non-missing values in the window, "
    "or null when more than half of the window is missing"
)
TREND_DEF = (
    "ordinary least squares of value on the period index 0..n-1 (missing values skipped, their index kept); "
    "R² = 1 - SS_res/SS_tot (1 for a constant series, 0 with fewer than 2 values)"
)
GROWTH_DEF = (
    "growth_rate_pct = slope / |mean of the fitted values| x 100, i.e. the fitted change per period as a "
    "percentage of the average level; null when the mean is 0 or there are fewer than 2 values"
)
VOLATILITY_DEF = (
    "volatility = residual standard error of the fit, sqrt(SS_res / (n - 2)), divided by |mean| (or by the "
    "mean absolute value when the mean is 0); 0 with fewer than 3 values"
)
TOTAL_CHANGE_DEF = (
    "total_change_pct = slope x (last index - first index) / |mean| x 100: the fitted change from the first "
    "to the last value as a percentage of the average level (independent of the bucket size); null when "
    "growth_rate_pct is null"
)
DIRECTION_DEF = (
    f"'volatile' when volatility > {VOLATILE_CV} and R² < {VOLATILE_MAX_R2} (noise dominates the trend); else "
    "'stable' when |total_change_pct| < stable_threshold_pct or the slope is not significantly different from "
    "0 (two-sided t-test at the confidence level, |slope| / (s / sqrt(Sxx)) < t[(1+c)/2, n-2]; not applied "
    "with 2 values); the mean absolute value replaces |mean| when the mean is 0; always 'stable' with fewer "
    "than 2 values or all zeros; else 'increasing'/'decreasing' by the sign of the slope"
)
ANOMALY_DEF = (
    "robust trend = Theil–Sen line (median of pairwise slopes; with more than 100 values, of the slopes "
    "between points half the series apart; intercept = median of value - slope x index). "
    "expected value = robust trend + the median of the trend residuals of the 2h nearest other values "
    "(h = 3 daily, 2 weekly/monthly; window shifted inward at the ends, the point itself excluded); with "
    "fewer than 2(2h+1) values, expected = the robust trend alone. sigma = 1.4826 x MAD of (value - expected) "
    "(times m/(m-0.8) x sqrt(m/(m-2)) in the robust-trend-only case, m values), or their standard deviation "
    "when the MAD is 0 (below 1e-9 x the largest |value|); no anomalies when that is 0 too. A value is an "
    f"anomaly when |value - expected| > k sigma (k = 2 by default); severity low below "
    f"{SEVERITY_MEDIUM_SIGMA:g} sigma, medium below {SEVERITY_HIGH_SIGMA:g}, high from "
    f"{SEVERITY_HIGH_SIGMA:g}. Needs at least {MIN_ANOMALY_POINTS} values"
)
INTERVAL_DEF = (
    "OLS prediction interval: fit(x0) ± t[(1+c)/2, n-2] x s x sqrt(1 + 1/n + (x0 - mean x)^2 / Sxx), "
    "s = residual standard error, exact Student-t quantile; no forecast with fewer than "
    f"{MIN_FORECAST_POINTS} values"
)


@dataclass(frozen=True)
class Anomaly:
    index: int  # position in the input series
    period_start: date
    value: float
    expected: float
    lower: float  # expected ± k sigma: the expected range
    upper: float
    sigma: float  # signed deviation in sigmas, (value - expected) / sigma
    severity: Severity


@dataclass(frozen=True)
class Forecast:
    period_start: date
    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class TrendAnalysis:
    period: Period
    label: str
    periods: tuple[date, ...]
    values: tuple[float | None, ...]
    n_points: int  # non-missing values (used in the fit)
    moving_averages: dict[str, tuple[float | None, ...]]
    direction: Direction
    slope_per_period: float
    intercept: float  # fitted value at index 0
    r_squared: float
    growth_rate_pct: float | None
    total_change_pct: float | None
    trend_significant: bool  # slope significantly different from 0 at confidence_level (True with 2 values)
    volatility: float
    forecast: tuple[Forecast, ...]
    confidence_level: float
    anomalies: tuple[Anomaly, ...]  # chronological
    anomaly_method: AnomalyMethod
    insights: tuple[str, ...]
    excluded: tuple[int, ...] = ()  # positions left out of every statistic (partial periods), values kept


@dataclass(frozen=True)
class _Fit:
    n: int
    slope: float
    intercept: float
    r_squared: float
    x_mean: float
    sxx: float
    s: float  # residual standard error (0 when n < 3)
    y_mean: float


# --------------------------------------------------------------------------------------------- periods


def _add_months(d: D, months: int) -> D:
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    return d.replace(year=year, month=month, day=min(d.day, calendar.monthrange(year, month)[1]))


def next_period_starts(last: D, period: Period, n: int) -> list[D]:
    """The `n` bucket starts after `last`: +k days, +7k days, or +k calendar months.

    Months are added to `last` itself (not chained), clamping the day to the month's length: from Jan 31
    the next starts are Feb 28/29, Mar 31, Apr 30. Datetimes keep their time of day and tzinfo
    (wall-clock arithmetic).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if period == "daily":
        return [last + timedelta(days=k) for k in range(1, n + 1)]
    if period == "weekly":
        return [last + timedelta(weeks=k) for k in range(1, n + 1)]
    if period == "monthly":
        return [_add_months(last, k) for k in range(1, n + 1)]
    raise ValueError(f"unknown period {period!r}; expected daily, weekly or monthly")


# ----------------------------------------------------------------------------------------- statistics


def _fit(xs: Sequence[float], ys: Sequence[float]) -> _Fit:
    n = len(ys)
    if n == 0:
        return _Fit(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    y_mean = math.fsum(ys) / n
    if n == 1:
        return _Fit(1, 0.0, ys[0], 0.0, xs[0], 0.0, 0.0, ys[0])
    x_mean = math.fsum(xs) / n
    dx = [x - x_mean for x in xs]
    dy = [y - y_mean for y in ys]
    sxx = math.fsum(d * d for d in dx)
    syy = math.fsum(d * d for d in dy)
    scale = max(abs(y) for y in ys)
    if syy <= n * (_REL_EPS * scale) ** 2:  # constant (up to float noise)
        return _Fit(n, 0.0, y_mean, 1.0, x_mean, sxx, 0.0, y_mean)
    slope = math.fsum(a * b for a, b in zip(dx, dy, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    ss_res = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = min(1.0, max(0.0, 1.0 - ss_res / syy))
    s = math.sqrt(ss_res / (n - 2)) if n > 2 else 0.0
    return _Fit(n, slope, intercept, r2, x_mean, sxx, s, y_mean)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_bt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    bt = math.exp(log_bt)
    if x < (a + 1.0) / (a + b + 2.0):
        return bt * _betacf(a, b, x) / a
    return 1.0 - bt * _betacf(b, a, 1.0 - x) / b


@lru_cache(maxsize=256)
def _t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with `df` degrees of freedom, for 0.5 < p < 1.

    Solves I_x(df/2, 1/2) = 2(1-p) for x by bisection (I is increasing in x), then t = sqrt(df (1-x) / x).
    """
    if not 0.5 < p < 1.0:
        raise ValueError(f"p must be in (0.5, 1), got {p}")
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    target = 2.0 * (1.0 - p)
    a, b = df / 2.0, 0.5
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if _betainc(a, b, mid) < target:
            lo = mid
        else:
            hi = mid
    x = (lo + hi) / 2.0
    return math.sqrt(df * (1.0 - x) / x)


def _moving_averages(values: Sequence[float | None], period: Period) -> dict[str, tuple[float | None, ...]]:
    """Trailing means over each of the period's windows (None for the first w-1 periods, or when fewer than
    half the window's values are known)."""
    out: dict[str, tuple[float | None, ...]] = {}
    for w in MOVING_WINDOWS[period]:
        ma: list[float | None] = [None] * len(values)
        for i in range(w - 1, len(values)):
            known = [float(v) for v in values[i - w + 1 : i + 1] if v is not None]
            if len(known) >= (w + 1) // 2:
                ma[i] = math.fsum(known) / len(known)
        out[f"ma_{w}"] = tuple(ma)
    return out


def _robust_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Theil–Sen line: slope = median of pairwise slopes, intercept = median of y - slope x.

    All pairs up to THEIL_SEN_ALL_PAIRS values; beyond, the pairs (i, i + m//2) (O(m), same robustness to
    a few outliers). A spike does not tilt this line, unlike least squares.
    """
    m = len(ys)
    if m <= THEIL_SEN_ALL_PAIRS:
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    else:
        half = m // 2
        pairs = [(i, i + half) for i in range(m - half)]
    slope = statistics.median((ys[j] - ys[i]) / (xs[j] - xs[i]) for i, j in pairs)
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


def _severity(z: float) -> Severity:
    if z >= SEVERITY_HIGH_SIGMA:
        return "high"
    if z >= SEVERITY_MEDIUM_SIGMA:
        return "medium"
    return "low"


def _anomalies(
    idx: Sequence[int],
    ys: Sequence[float],
    periods: Sequence[date],
    period: Period,
    k: float,
) -> tuple[AnomalyMethod, list[Anomaly]]:
    m = len(ys)
    if m < MIN_ANOMALY_POINTS:
        return "none", []
    h = max(2, MOVING_WINDOWS[period][0] // 2)
    slope, intercept = _robust_line([float(i) for i in idx], ys)
    fitted = [intercept + slope * i for i in idx]
    method: AnomalyMethod
    if m >= 2 * (2 * h + 1):
        method = "local"
        resid = [y - f for y, f in zip(ys, fitted, strict=True)]
        expected = []
        for i in range(m):
            lo = max(0, min(i - h, m - 1 - 2 * h))
            neighbours = [resid[j] for j in range(lo, lo + 2 * h + 1) if j != i]
            expected.append(fitted[i] + statistics.median(neighbours))
    else:
        method = "global"
        expected = list(fitted)
    dev = [y - e for y, e in zip(ys, expected, strict=True)]
    centre = statistics.median(dev)
    floor = _REL_EPS * max(abs(y) for y in ys)
    sigma = MAD_TO_SIGMA * statistics.median(abs(d - centre) for d in dev)
    if method == "global":  # few values around a fitted line: MAD small-sample and 2-parameter corrections
        sigma *= m / (m - 0.8) * math.sqrt(m / (m - 2))
    if sigma <= floor:
        sigma = statistics.pstdev(dev)
    if sigma <= floor:
        return method, []
    found: list[Anomaly] = []
    for i in range(m):
        z = dev[i] / sigma
        if abs(z) > k:
            found.append(
                Anomaly(
                    index=idx[i],
                    period_start=periods[idx[i]],
                    value=ys[i],
                    expected=expected[i],
                    lower=expected[i] - k * sigma,
                    upper=expected[i] + k * sigma,
                    sigma=z,
                    severity=_severity(abs(z)),
                )
            )
    return method, found


# ------------------------------------------------------------------------------------------ insights


def _fmt_num(x: float, signed: bool = False) -> str:
    """About 3 significant digits, never fewer than the integer part; thousands separators."""
    if not math.isfinite(x):
        return str(x)
    sign = "+" if signed and x > 0 else ""
    ax = abs(x)
    decimals = 0 if ax == 0 or ax >= 100 else min(6, 2 - math.floor(math.log10(ax)))
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return sign + text


def _fmt_period(p: date, period: Period) -> str:
    if isinstance(p, datetime):
        if (p.hour, p.minute, p.second, p.microsecond) != (0, 0, 0, 0):
            return p.strftime("%Y-%m-%d %H:%M")
        p = p.date()
    if period == "monthly" and p.day == 1:
        return p.strftime("%Y-%m")
    if period == "weekly":
        return f"week of {p.isoformat()}"
    return p.isoformat()


def _insights(
    a: TrendAnalysis,
    idx: Sequence[int],
    ys: Sequence[float],
    threshold_pct: float,
    k: float,
    excluded: Mapping[int, str],
) -> tuple[str, ...]:
    n_total = len(a.periods)
    if n_total == 0:
        return ("No data: the series is empty.",)
    out: list[str] = []
    if excluded:
        parts = "; ".join(f"{_fmt_period(a.periods[i], a.period)} ({why})" for i, why in sorted(excluded.items()))
        out.append(
            f"Partial periods left out of the trend, growth, moving averages, anomalies and forecast (their "
            f"values are shown but cover only part of the period): {parts}."
        )
    if not ys:
        if excluded and len(excluded) == n_total:
            return (*out, f"No complete period: all {n_total} periods are partial, so no trend is estimated.")
        if excluded:
            return (*out, f"No data: all {n_total - len(excluded)} complete periods are empty.")
        return (f"No data: all {n_total} periods are empty.",)
    label = a.label[:1].upper() + a.label[1:]
    unit = PERIOD_UNITS[a.period]

    def fp(i: int) -> str:
        return _fmt_period(a.periods[i], a.period)

    if len(ys) == 1:
        out.append(f"Only one value ({fp(idx[0])}: {_fmt_num(ys[0])}): no trend can be estimated.")
    elif a.slope_per_period == 0.0 and a.r_squared == 1.0:
        out.append(f"{label} was constant at {_fmt_num(ys[0])}.")
    else:
        g = a.growth_rate_pct
        rate = (
            f"{_fmt_num(g, True)}% per {unit}" if g is not None else f"{_fmt_num(a.slope_per_period, True)} per {unit}"
        )
        total = f", {_fmt_num(a.total_change_pct, True)}% across the series" if a.total_change_pct is not None else ""
        fit_note = f"(trend {rate}{total}, R² {a.r_squared:.2f})"
        if a.direction == "volatile":
            out.append(
                f"{label} was volatile: the spread around the trend is {a.volatility * 100:.0f}% of the average "
                f"level and the trend explains little of the variation {fit_note}."
            )
        elif a.direction == "stable" and not a.trend_significant:
            pct = f"{a.confidence_level * 100:g}%"
            out.append(f"{label} was stable: no statistically significant trend at {pct} {fit_note}.")
        elif a.direction == "stable":
            out.append(f"{label} was stable: the fitted change is within ±{_fmt_num(threshold_pct)}% {fit_note}.")
        else:
            verb = "rose" if a.direction == "increasing" else "fell"
            if g is not None:
                out.append(
                    f"{label} {verb} {_fmt_num(abs(g))}% per {unit} on average ({_fmt_num(a.slope_per_period, True)} "
                    f"per {unit}{total}, R² {a.r_squared:.2f})."
                )
            else:
                out.append(
                    f"{label} {verb} by {_fmt_num(abs(a.slope_per_period))} per {unit} on average "
                    f"(R² {a.r_squared:.2f})."
                )
        first, last = ys[0], ys[-1]
        change = f" ({_fmt_num((last - first) / abs(first) * 100, True)}%)" if first != 0 else ""
        out.append(f"From {fp(idx[0])} to {fp(idx[-1])} it went from {_fmt_num(first)} to {_fmt_num(last)}{change}.")
        hi = max(range(len(ys)), key=lambda i: ys[i])
        lo = min(range(len(ys)), key=lambda i: ys[i])
        out.append(
            f"The peak was {fp(idx[hi])} with {_fmt_num(ys[hi])}; the low was {fp(idx[lo])} with {_fmt_num(ys[lo])}."
        )
    if a.anomaly_method != "none":
        if a.anomalies:
            top = sorted(a.anomalies, key=lambda an: (-abs(an.sigma), an.index))[:3]
            parts = ", ".join(
                f"{fp(an.index)} ({_fmt_num(an.value)}, expected {_fmt_num(an.lower)}–{_fmt_num(an.upper)})"
                for an in top
            )
            more = f" and {len(a.anomalies) - len(top)} more" if len(a.anomalies) > len(top) else ""
            noun = "anomaly" if len(a.anomalies) == 1 else "anomalies"
            out.append(f"{len(a.anomalies)} {noun}: {parts}{more}.")
        else:
            out.append(
                f"No anomalies: no value is more than {_fmt_num(k)} standard deviations from its expected value."
            )
    if a.forecast:
        pct = f"{a.confidence_level * 100:g}%"
        f0, fl = a.forecast[0], a.forecast[-1]
        text = (
            f"Forecast for {_fmt_period(f0.period_start, a.period)}: {_fmt_num(f0.value)} ({pct} prediction "
            f"interval {_fmt_num(f0.lower)}–{_fmt_num(f0.upper)})"
        )
        if len(a.forecast) > 1:
            text += (
                f"; for {_fmt_period(fl.period_start, a.period)}: {_fmt_num(fl.value)} "
                f"({_fmt_num(fl.lower)}–{_fmt_num(fl.upper)})"
            )
        out.append(text + ". Linear extrapolation: assumes the trend continues.")
    elif len(ys) < MIN_FORECAST_POINTS:
        out.append(
            f"Too few values ({len(ys)}) for a forecast with a prediction interval (need {MIN_FORECAST_POINTS})."
        )
    missing = n_total - len(ys) - len(excluded)
    if missing:
        out.append(f"{missing} of {n_total} periods have no value; they are skipped in the fit.")
    return tuple(out)


# ------------------------------------------------------------------------------------------------ API


def analyze_series(
    periods: Sequence[date],
    values: Sequence[SupportsFloat | None],
    *,
    period: Period,
    forecast_periods: int = 3,
    stable_threshold_pct: float = 2.0,
    confidence: float = 0.95,
    anomaly_sigma: float = 2.0,
    label: str = "value",
    excluded: Mapping[int, str] | None = None,
) -> TrendAnalysis:
    """Trend, moving averages, anomalies and forecast of one series of consecutive buckets.

    `periods` are bucket starts (date or datetime), strictly increasing and consecutive (a gap must be
    given as a period with value None); the regression uses the position 0..n-1 as x. `values` may be
    any numbers (int, float, Decimal) or None; NaN/inf count as missing. Definitions: TREND_DEF,
    GROWTH_DEF, TOTAL_CHANGE_DEF, VOLATILITY_DEF, DIRECTION_DEF, MOVING_AVERAGE_DEF, ANOMALY_DEF, INTERVAL_DEF.

    `excluded` maps positions (partial periods) to why they are partial: their values are kept in `values` but
    left out of the fit, growth, moving averages, anomalies and forecast, and an insight says so.

    Raises ValueError on mismatched lengths, unordered periods, or out-of-range parameters.
    An empty series (or one without any value) gives an analysis with no fit, direction 'stable' and an
    insight saying there is no data.
    """
    if period not in MOVING_WINDOWS:
        raise ValueError(f"unknown period {period!r}; expected daily, weekly or monthly")
    if len(periods) != len(values):
        raise ValueError(f"periods and values differ in length ({len(periods)} vs {len(values)})")
    if forecast_periods < 0:
        raise ValueError(f"forecast_periods must be >= 0, got {forecast_periods}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if stable_threshold_pct < 0:
        raise ValueError(f"stable_threshold_pct must be >= 0, got {stable_threshold_pct}")
    if anomaly_sigma <= 0:
        raise ValueError(f"anomaly_sigma must be > 0, got {anomaly_sigma}")
    for i in range(1, len(periods)):
        if not periods[i - 1] < periods[i]:
            raise ValueError(f"periods must be strictly increasing (position {i}: {periods[i]} after {periods[i - 1]})")

    vals: list[float | None] = []
    for v in values:
        f = None if v is None else float(v)
        vals.append(f if f is not None and math.isfinite(f) else None)
    left_out = {i: why for i, why in (excluded or {}).items() if 0 <= i < len(vals)}
    used = [None if i in left_out else v for i, v in enumerate(vals)]
    idx = [i for i, v in enumerate(used) if v is not None]
    ys = [v for v in used if v is not None]
    n_fit = len(ys)

    fit = _fit([float(i) for i in idx], ys)
    level = abs(fit.y_mean) if fit.y_mean != 0 else (math.fsum(abs(y) for y in ys) / n_fit if ys else 0.0)
    growth = fit.slope / abs(fit.y_mean) * 100 if n_fit >= 2 and fit.y_mean != 0 else None
    volatility = fit.s / level if level > 0 else 0.0

    span = idx[-1] - idx[0] if n_fit >= 2 else 0
    total_change = fit.slope * span / abs(fit.y_mean) * 100 if growth is not None else None
    relative_change = fit.slope * span / level * 100 if level > 0 else 0.0
    t_crit = _t_quantile((1.0 + confidence) / 2.0, n_fit - 2) if n_fit >= 3 else math.inf
    if n_fit < 2 or fit.slope == 0.0:
        significant = False
    elif n_fit == 2 or fit.s == 0.0:
        significant = True
    else:
        significant = abs(fit.slope) / (fit.s / math.sqrt(fit.sxx)) >= t_crit

    direction: Direction
    if n_fit < 2:
        direction = "stable"
    elif n_fit >= 3 and volatility > VOLATILE_CV and fit.r_squared < VOLATILE_MAX_R2:
        direction = "volatile"
    elif abs(relative_change) < stable_threshold_pct or not significant:
        direction = "stable"
    else:
        direction = "increasing" if fit.slope > 0 else "decreasing"

    forecast: list[Forecast] = []
    if n_fit >= MIN_FORECAST_POINTS and forecast_periods > 0:
        starts = next_period_starts(periods[-1], period, forecast_periods)
        for k, start in enumerate(starts, start=1):
            x0 = len(vals) - 1 + k
            y0 = fit.intercept + fit.slope * x0
            half = t_crit * fit.s * math.sqrt(1.0 + 1.0 / n_fit + (x0 - fit.x_mean) ** 2 / fit.sxx)
            forecast.append(Forecast(period_start=start, value=y0, lower=y0 - half, upper=y0 + half))

    method, anomalies = _anomalies(idx, ys, periods, period, anomaly_sigma)

    analysis = TrendAnalysis(
        period=period,
        label=label,
        periods=tuple(periods),
        values=tuple(vals),
        n_points=n_fit,
        moving_averages=_moving_averages(used, period),
        direction=direction,
        slope_per_period=fit.slope,
        intercept=fit.intercept,
        r_squared=fit.r_squared,
        growth_rate_pct=growth,
        total_change_pct=total_change,
        trend_significant=significant,
        volatility=volatility,
        forecast=tuple(forecast),
        confidence_level=confidence,
        anomalies=tuple(anomalies),
        anomaly_method=method,
        insights=(),
        excluded=tuple(sorted(left_out)),
    )
    insights = _insights(analysis, idx, ys, stable_threshold_pct, anomaly_sigma, left_out)
    return replace(analysis, insights=insights)
