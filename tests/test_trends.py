"""vf_mcp.compute.trends: pure statistics on hand-made series (no database).

Expected numbers are worked out by hand (or with plain arithmetic written out in the test) from the
literal inputs; Student-t quantiles come from published tables.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from vf_mcp.compute.trends import (
    MOVING_WINDOWS,
    TrendAnalysis,
    _t_quantile,
    analyze_series,
    next_period_starts,
)

approx = pytest.approx


def days(n: int, start: date = date(2025, 1, 1)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def months(n: int, year: int = 2024, month: int = 1) -> list[date]:
    out = []
    for i in range(n):
        y, m = divmod(month - 1 + i, 12)
        out.append(date(year + y, m + 1, 1))
    return out


# ------------------------------------------------------------------------------------------ linear fit


def test_exact_line_slope_intercept_forecast() -> None:
    a = analyze_series(days(5), [10, 12, 14, 16, 18], period="daily", label="installations")
    assert a.slope_per_period == 2.0
    assert a.intercept == 10.0
    assert a.r_squared == 1.0
    assert a.direction == "increasing"
    assert a.trend_significant is True
    assert a.growth_rate_pct == approx(2 / 14 * 100)  # slope / mean (14)
    assert a.total_change_pct == approx(2 * 4 / 14 * 100)  # 4 periods from first to last
    assert a.volatility == 0.0
    assert [f.period_start for f in a.forecast] == [date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)]
    assert [f.value for f in a.forecast] == [20.0, 22.0, 24.0]
    assert all(f.lower == f.value == f.upper for f in a.forecast)  # zero residuals: zero-width interval
    assert a.anomalies == ()
    assert a.n_points == 5
    assert (
        a.insights[0] == "Installations rose 14.3% per day on average (+2 per day, +57.1% across the series, R² 1.00)."
    )
    assert "Forecast for 2025-01-06: 20 (95% prediction interval 20–20)" in a.insights[-1]


def test_noisy_fit_and_prediction_interval_by_hand() -> None:
    # x = 0..4, y = 1 3 2 5 4: x̄ = 2, ȳ = 3, Sxx = 10, Sxy = 4 + 0 + 0 + 2 + 2 = 8
    a = analyze_series(days(5), [1, 3, 2, 5, 4], period="daily", forecast_periods=2)
    assert a.slope_per_period == approx(0.8)
    assert a.intercept == approx(1.4)
    # residuals -0.4 0.8 -1.0 1.2 -0.6 -> SS_res 3.6; SS_tot 4+0+1+4+1 = 10
    assert a.r_squared == approx(1 - 3.6 / 10)
    s = math.sqrt(3.6 / 3)
    assert a.volatility == approx(s / 3)
    t_975_3 = 3.182446305284263  # Student t, 97.5%, 3 df (tables)
    for k, f in enumerate(a.forecast, start=1):
        x0 = 4 + k
        y0 = 1.4 + 0.8 * x0
        half = t_975_3 * s * math.sqrt(1 + 1 / 5 + (x0 - 2) ** 2 / 10)
        assert f.value == approx(y0)
        assert f.lower == approx(y0 - half)
        assert f.upper == approx(y0 + half)
    # t statistic of the slope 0.8 / (s / sqrt(10)) = 2.31 < 3.18: not significant -> stable
    assert 0.8 / (s / math.sqrt(10)) < t_975_3
    assert a.trend_significant is False
    assert a.direction == "stable"
    assert a.insights[0].startswith("Value was stable: no statistically significant trend at 95%")


def test_confidence_level_changes_interval() -> None:
    vals = [1, 3, 2, 5, 4]
    a90 = analyze_series(days(5), vals, period="daily", forecast_periods=1, confidence=0.9)
    s = math.sqrt(3.6 / 3)
    half = 2.353363434801823 * s * math.sqrt(1 + 1 / 5 + 9 / 10)  # t 95%, 3 df
    assert a90.confidence_level == 0.9
    assert a90.forecast[0].upper - a90.forecast[0].value == approx(half)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706204736),
        (0.975, 2, 4.302652730),
        (0.975, 3, 3.182446305),
        (0.975, 5, 2.570581836),
        (0.975, 10, 2.228138852),
        (0.975, 30, 2.042272456),
        (0.975, 100, 1.983971519),
        (0.95, 10, 1.812461123),
        (0.995, 4, 4.604094871),
        (0.975, 100_000, 1.959964 + (1.959964**3 + 1.959964) / 400_000),  # z + (z³ + z) / 4ν
    ],
)
def test_t_quantile_matches_tables(p: float, df: int, expected: float) -> None:
    assert _t_quantile(p, df) == approx(expected, abs=2e-6)


# ------------------------------------------------------------------------------------------- direction


def test_constant_series_is_stable() -> None:
    a = analyze_series(months(12), [7.5] * 12, period="monthly")
    assert a.slope_per_period == 0.0
    assert a.intercept == 7.5
    assert a.r_squared == 1.0
    assert a.growth_rate_pct == 0.0
    assert a.direction == "stable"
    assert a.volatility == 0.0
    assert a.anomalies == ()
    assert [f.value for f in a.forecast] == [7.5, 7.5, 7.5]
    assert [f.period_start for f in a.forecast] == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    assert a.insights[0] == "Value was constant at 7.5."


def test_all_zeros() -> None:
    a = analyze_series(days(10), [0] * 10, period="daily")
    assert a.growth_rate_pct is None
    assert a.total_change_pct is None
    assert a.direction == "stable"
    assert a.volatility == 0.0
    assert a.anomalies == ()
    assert [f.value for f in a.forecast] == [0.0, 0.0, 0.0]


def test_small_significant_trend_below_threshold_is_stable() -> None:
    vals = [1000, 1001, 1002, 1003, 1004, 1005]
    a = analyze_series(days(6), vals, period="daily")
    # fitted change 1 x 5 over mean 1002.5 = 0.499% < 2%
    assert a.total_change_pct == approx(5 / 1002.5 * 100)
    assert a.trend_significant is True
    assert a.direction == "stable"
    assert a.insights[0].startswith("Value was stable: the fitted change is within ±2%")
    b = analyze_series(days(6), vals, period="daily", stable_threshold_pct=0.4)
    assert b.direction == "increasing"


def test_threshold_applies_to_whole_series_not_per_period() -> None:
    # +0.5 per day on a level of ~100: 0.5%/day, but +49.9% over 100 days -> increasing (any bucket size)
    vals = [75 + 0.5 * i for i in range(100)]
    a = analyze_series(days(100), vals, period="daily")
    assert a.growth_rate_pct == approx(0.5 / 99.75 * 100)
    assert a.growth_rate_pct is not None and a.growth_rate_pct < 2
    assert a.total_change_pct == approx(0.5 * 99 / 99.75 * 100)
    assert a.direction == "increasing"


def test_negative_values_decreasing() -> None:
    a = analyze_series(days(5), [-10, -12, -14, -16, -18], period="daily")
    assert a.slope_per_period == -2.0
    assert a.intercept == -10.0
    assert a.growth_rate_pct == approx(-2 / 14 * 100)  # relative to |mean|: the sign follows the slope
    assert a.direction == "decreasing"
    assert [f.value for f in a.forecast] == [-20.0, -22.0, -24.0]


def test_series_crossing_zero_has_no_growth_rate_but_a_direction() -> None:
    a = analyze_series(days(5), [-4, -2, 0, 2, 4], period="daily")
    assert a.slope_per_period == 2.0
    assert a.growth_rate_pct is None  # mean 0
    assert a.direction == "increasing"
    assert a.insights[0] == "Value rose by 2 per day on average (R² 1.00)."


def test_volatile_series() -> None:
    vals = [10, 190] * 6  # mean 100, no trend to speak of, residual spread ~90% of the level
    a = analyze_series(months(12), vals, period="monthly")
    assert a.r_squared < 0.3
    assert a.volatility > 0.5
    assert a.direction == "volatile"
    assert a.insights[0].startswith("Value was volatile")


# ----------------------------------------------------------------------------------------- anomalies

NOISE = [0.3, -0.5, 0.8, -0.2, 0.1, -0.7, 0.4, 0.6, -0.3, -0.1, 0.5, -0.4, 0.2, -0.6, 0.7, -0.8, 0.0, 0.3, -0.2, 0.1]


def test_planted_spike_is_the_only_anomaly() -> None:
    vals = [50 + e for e in NOISE]
    vals[10] = 100
    a = analyze_series(days(20), vals, period="daily")
    assert a.anomaly_method == "local"
    assert [an.index for an in a.anomalies] == [10]
    an = a.anomalies[0]
    assert an.period_start == date(2025, 1, 11)
    assert an.value == 100
    assert 49 < an.expected < 51  # the local level, not pulled up by the spike
    assert an.lower < an.expected < an.upper < 100
    assert an.severity == "high"
    assert an.sigma > 4
    # the range is expected ± 2 sigma, and sigma = deviation / sigma count
    assert (an.upper - an.lower) / 4 == approx((an.value - an.expected) / an.sigma)
    assert "1 anomaly: 2025-01-11 (100, expected " in " ".join(a.insights)


def test_planted_dip_on_a_trend_short_monthly_series() -> None:
    # 8 months rising 10 per month with small noise, one dip: global-fit fallback
    vals = [100 + 10 * i + e for i, e in enumerate([0.5, -0.4, 0.3, -0.6, 0.2, 0.4, -0.3, 0.1])]
    vals[5] = 90
    a = analyze_series(months(8), vals, period="monthly")
    assert a.anomaly_method == "global"
    assert [an.index for an in a.anomalies] == [5]
    assert a.anomalies[0].sigma < 0
    assert "2024-06 (90, expected" in " ".join(a.insights)


def test_spike_on_steep_trend_no_false_positives_at_the_ends() -> None:
    # 30 days rising 5 per day; a least-squares line would be tilted by the spike, the robust one is not
    vals = [100 + 5 * i + e for i, e in enumerate(NOISE + NOISE[:10])]
    vals[3] += 60
    a = analyze_series(days(30), vals, period="daily")
    assert a.anomaly_method == "local"
    assert [an.index for an in a.anomalies] == [3]
    assert a.anomalies[0].expected == approx(100 + 5 * 3, abs=1.5)


def test_spike_on_constant_series_found_with_zero_mad() -> None:
    vals = [50.0] * 20
    vals[7] = 80.0
    a = analyze_series(days(20), vals, period="daily")
    assert [an.index for an in a.anomalies] == [7]


def test_severity_bands() -> None:
    # sigma is robust (MAD): moving one value does not change it, so plant deviations in sigma units
    base = [50 + e for e in NOISE] * 2
    probe = list(base)
    probe[20] = base[20] + 40
    (big,) = analyze_series(days(40), probe, period="daily").anomalies
    assert big.severity == "high"
    unit = (big.upper - big.lower) / 4  # range = expected ± 2 sigma
    for mult, severity in [(1.5, None), (2.5, "low"), (3.5, "medium"), (6.0, "high")]:
        vals = list(base)
        vals[20] = big.expected + mult * unit
        found = {an.index: an for an in analyze_series(days(40), vals, period="daily").anomalies}
        if severity is None:
            assert 20 not in found
        else:
            assert found[20].severity == severity
            assert found[20].sigma == approx(mult)
    dip = list(base)
    dip[20] = big.expected - 3.5 * unit  # a dip also moves its neighbours' medians a little
    (low,) = analyze_series(days(40), dip, period="daily").anomalies
    assert low.index == 20 and low.sigma < -3 and low.severity == "medium"
    k3 = analyze_series(days(40), probe, period="daily", anomaly_sigma=3.0).anomalies[0]
    assert (k3.upper - k3.lower) / 6 == approx(unit)  # range = expected ± 3 sigma


def test_no_anomalies_in_clean_line_and_too_short_series() -> None:
    assert analyze_series(days(30), [3 * i + 1 for i in range(30)], period="daily").anomalies == ()
    short = analyze_series(days(4), [1, 1, 100, 1], period="daily")
    assert short.anomaly_method == "none"
    assert short.anomalies == ()


# ----------------------------------------------------------------------------------- moving averages


def test_moving_averages_monthly_hand_computed() -> None:
    vals = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9]
    a = analyze_series(months(13), vals, period="monthly")
    assert set(a.moving_averages) == {"ma_3", "ma_12"}
    ma3 = a.moving_averages["ma_3"]
    assert ma3[:2] == (None, None)
    assert ma3[2:] == approx([(vals[i - 2] + vals[i - 1] + vals[i]) / 3 for i in range(2, 13)])
    ma12 = a.moving_averages["ma_12"]
    assert ma12[:11] == (None,) * 11
    assert ma12[11] == approx(sum(vals[:12]) / 12)
    assert ma12[12] == approx(sum(vals[1:13]) / 12)


def test_moving_averages_weekly_and_daily_windows() -> None:
    assert MOVING_WINDOWS == {"daily": (7, 30), "weekly": (4, 12), "monthly": (3, 12)}
    weeks = [date(2025, 1, 6) + timedelta(weeks=i) for i in range(6)]
    a = analyze_series(weeks, [4, 8, 6, 2, 10, 0], period="weekly")
    assert a.moving_averages["ma_4"] == approx([None, None, None, 5.0, 6.5, 4.5])
    assert a.moving_averages["ma_12"] == (None,) * 6
    d = analyze_series(days(8), [1, 2, 3, 4, 5, 6, 7, 8], period="daily")
    assert d.moving_averages["ma_7"] == approx([None] * 6 + [4.0, 5.0])


def test_moving_average_with_missing_values() -> None:
    # window 4 needs at least 2 non-missing values
    vals = [4, None, 6, 2, None, None, None, 8]
    a = analyze_series([date(2025, 1, 6) + timedelta(weeks=i) for i in range(8)], vals, period="weekly")
    assert a.moving_averages["ma_4"] == approx([None, None, None, 4.0, 4.0, 4.0, None, None])


# ------------------------------------------------------------------------------- missing & edge cases


def test_none_values_skipped_in_fit_kept_in_output() -> None:
    vals = [10, None, 14, 16, None, 20, None]
    a = analyze_series(days(7), vals, period="daily", forecast_periods=2)
    assert a.values == (10.0, None, 14.0, 16.0, None, 20.0, None)
    assert a.n_points == 4
    assert a.slope_per_period == approx(2.0)
    assert a.intercept == approx(10.0)
    assert a.r_squared == approx(1.0)
    assert [f.period_start for f in a.forecast] == [date(2025, 1, 8), date(2025, 1, 9)]
    assert [f.value for f in a.forecast] == approx([24.0, 26.0])  # index 7 and 8
    assert "3 of 7 periods have no value; they are skipped in the fit." in a.insights


def test_nan_decimal_and_int_inputs() -> None:
    a = analyze_series(days(4), [Decimal("1.5"), float("nan"), 3, float("inf")], period="daily")
    assert a.values == (1.5, None, 3.0, None)
    assert a.n_points == 2
    assert a.slope_per_period == approx(0.75)


def test_empty_series() -> None:
    a = analyze_series([], [], period="monthly")
    assert isinstance(a, TrendAnalysis)
    assert a.periods == () and a.values == ()
    assert a.moving_averages == {"ma_3": (), "ma_12": ()}
    assert a.direction == "stable"
    assert a.growth_rate_pct is None
    assert a.forecast == () and a.anomalies == ()
    assert a.insights == ("No data: the series is empty.",)


def test_all_missing() -> None:
    a = analyze_series(days(3), [None, None, None], period="daily")
    assert a.n_points == 0
    assert a.forecast == ()
    assert a.insights == ("No data: all 3 periods are empty.",)


def test_single_point() -> None:
    a = analyze_series([date(2025, 3, 1)], [812], period="monthly")
    assert a.slope_per_period == 0.0
    assert a.intercept == 812.0
    assert a.growth_rate_pct is None
    assert a.direction == "stable"
    assert a.forecast == ()
    assert a.anomaly_method == "none"
    assert a.insights[0] == "Only one value (2025-03: 812): no trend can be estimated."


def test_two_points() -> None:
    a = analyze_series(months(2), [100, 110], period="monthly")
    assert a.slope_per_period == 10.0
    assert a.r_squared == 1.0
    assert a.direction == "increasing"
    assert a.forecast == ()
    assert any(s.startswith("Too few values (2) for a forecast") for s in a.insights)


def test_peak_and_low_insight() -> None:
    vals = [500, 640, 812, 700, 610, 655]
    a = analyze_series(months(6, 2025, 1), vals, period="monthly")
    assert "The peak was 2025-03 with 812; the low was 2025-01 with 500." in a.insights


def test_datetime_periods_keep_type_and_tz() -> None:
    utc = UTC
    ps = [datetime(2024, 10 + i, 1, tzinfo=utc) for i in range(3)]
    a = analyze_series(ps, [1, 2, 3], period="monthly", forecast_periods=2)
    assert [f.period_start for f in a.forecast] == [datetime(2025, 1, 1, tzinfo=utc), datetime(2025, 2, 1, tzinfo=utc)]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        analyze_series(days(2), [1], period="daily")
    with pytest.raises(ValueError, match="strictly increasing"):
        analyze_series([date(2025, 1, 2), date(2025, 1, 1)], [1, 2], period="daily")
    with pytest.raises(ValueError, match="strictly increasing"):
        analyze_series([date(2025, 1, 1), date(2025, 1, 1)], [1, 2], period="daily")
    with pytest.raises(ValueError, match="confidence"):
        analyze_series(days(3), [1, 2, 3], period="daily", confidence=1.0)
    with pytest.raises(ValueError, match="forecast_periods"):
        analyze_series(days(3), [1, 2, 3], period="daily", forecast_periods=-1)
    with pytest.raises(ValueError, match="unknown period"):
        analyze_series(days(3), [1, 2, 3], period="hourly")  # type: ignore[arg-type]


def test_deterministic() -> None:
    vals = [50 + e for e in NOISE]
    assert analyze_series(days(20), vals, period="daily") == analyze_series(days(20), vals, period="daily")


def test_thousand_point_series() -> None:
    vals = [100 + 0.05 * i + 10 * math.sin(i / 7) + 3 * math.sin(i * 1.3) for i in range(1000)]
    a = analyze_series(days(1000, date(2022, 1, 1)), vals, period="daily", forecast_periods=5)
    assert a.direction == "increasing"
    assert a.slope_per_period == approx(0.05, abs=0.005)
    assert len(a.forecast) == 5
    assert a.forecast[0].period_start == date(2024, 9, 27)
    assert len(a.moving_averages["ma_30"]) == 1000
    assert a.moving_averages["ma_30"][29] == approx(sum(vals[:30]) / 30)


# ---------------------------------------------------------------------------------- period arithmetic


def test_next_period_starts_monthly_across_year_end() -> None:
    got = next_period_starts(date(2024, 11, 1), "monthly", 4)
    assert got == [date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]


def test_next_period_starts_from_month_end() -> None:
    assert next_period_starts(date(2024, 1, 31), "monthly", 3) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert next_period_starts(date(2025, 1, 31), "monthly", 1) == [date(2025, 2, 28)]
    assert next_period_starts(date(2024, 12, 31), "monthly", 2) == [date(2025, 1, 31), date(2025, 2, 28)]


def test_next_period_starts_daily_weekly() -> None:
    assert next_period_starts(date(2024, 12, 30), "daily", 3) == [
        date(2024, 12, 31),
        date(2025, 1, 1),
        date(2025, 1, 2),
    ]
    assert next_period_starts(date(2024, 2, 28), "daily", 2) == [date(2024, 2, 29), date(2024, 3, 1)]
    assert next_period_starts(date(2024, 12, 23), "weekly", 2) == [date(2024, 12, 30), date(2025, 1, 6)]
    dt = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert next_period_starts(dt, "daily", 1) == [datetime(2025, 3, 2, 6, 30, tzinfo=UTC)]
    assert next_period_starts(date(2025, 1, 1), "weekly", 0) == []
    with pytest.raises(ValueError):
        next_period_starts(date(2025, 1, 1), "daily", -1)
