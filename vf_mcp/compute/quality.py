"""Pure functions for check_data_quality: column-name classification, scores and severities.

Scores (0-100, one decimal):
  completeness = 100 x (1 - NULL cells / (rows x columns))                  (every column counts)
  freshness    = 100 when the newest timestamp is at most `fresh_hours` old, 0 at `stale_hours` or older,
                 linear in between; None when the table has no usable timestamp column
  consistency  = 100 x valid / checked values, over the values the consistency rules examine
                 (emails, phones, non-negative quantities, date ranges, NOT VALID CHECKs, enum-like text)
  table score  = (w_c x completeness + w_f x freshness + w_k x consistency) / (sum of the weights present)
  overall      = the same weighted formula over the means of the table components
Default weights: 0.4 completeness, 0.3 freshness, 0.3 consistency. Components that were not computed
(check not requested, no timestamp column, empty table) are left out and the weights renormalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

Severity = str  # "critical" | "warning" | "info"

SCORING = (
    "score = ({wc} x completeness + {wf} x freshness + {wk} x consistency) / weights present; "
    "completeness = 100 x (1 - null cells / cells); freshness = 100 up to {fresh:g} h old, 0 from "
    "{stale:g} h, linear between; consistency = 100 x valid / checked values; overall = same formula over "
    "the table means"
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

EMAIL_NAME = re.compile(r"(^|_)e_?mail")  # on the tokenised name: email, e_mail, user_email, EmailAddress
FK_NAME = re.compile(r"^(?P<stem>.+?)(?:_(?i:id|ref)|(?<=[a-z0-9])(?:Id|ID|Ref))$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# When something happened (the newest one says how fresh a table is; none may be in the future).
EVENT_TOKENS = _words(
    "at created updated update modified inserted timestamp ts recorded logged occurred completed closed "
    "resolved paid issued installed purchased hired hire signed registered submitted received sent shipped "
    "delivered imported activated achieved decided onboarded inspected incurred certified planted seen "
    "started ended approved last changed loaded synced posted published filled moved reported joined "
    "birth dob born birthday"
)
BIRTH_TOKENS = _words("birth dob born birthday")
PHONE_TOKENS = _words("phone phones mobile cell cellphone tel telephone fax msisdn")
# Plans and validity windows: may lie in the future and say nothing about freshness.
PLANNING_TOKENS = _words(
    "due expires expiry expiration expire next planned plan target scheduled schedule until deadline valid "
    "effective forecast estimated eta end start reminder renewal for booked appointment from to"
)
NON_NEGATIVE_TOKENS = _words(
    "qty quantity quantities count hours minutes seconds secs mins milliseconds ms duration length distance "
    "weight height depth width litres liters price cost km kmh m kg mbps days age units size bytes"
)
KEY_TOKENS = _words("id ids code number num no nr year zip postal phone ref key version index idx seq sequence rank")
CANDIDATE_KEY_TOKENS = _words(
    "code number num no nr serial sku reference ref email mail username login slug uuid guid tag barcode imei "
    "iccid msisdn registration vin isbn ean upc key"
)

CANDIDATE_KEY_RATIO = 0.99
"""A key-like column is 'unique-looking' when distinct / non-null values >= this."""
FORMAT_DOMINANCE = 0.9
"""A phone column has an apparent number length when this share of parsable values has it."""

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE_STRIP = "[[:space:]().-]"
PHONE_RE = r"^\+?[0-9]{7,15}$"
# ITU-T E.164 country codes are a prefix code: 1 and 7, the two-digit codes, then three-digit blocks.
COUNTRY_CODE_RE = (
    r"^\+(1|7|2[07]|3[0-469]|4[013-9]|5[1-8]|6[0-6]|8[1246]|9[0-58]|"
    r"2[1-689][0-9]|3[578][0-9]|42[0-9]|5[09][0-9]|6[7-9][0-9]|8[035789][0-9]|9[679][0-9])"
)


def tokens(name: str) -> list[str]:
    """'completedAt' -> ['completed', 'at']; 'cable_length_m' -> ['cable', 'length', 'm']."""
    return [t for t in _SPLIT.split(_CAMEL.sub("_", name).lower()) if t]


def is_email(name: str) -> bool:
    return bool(EMAIL_NAME.search("_".join(tokens(name))))


def is_phone(name: str) -> bool:
    return any(t in PHONE_TOKENS or t.startswith("phone") for t in tokens(name))


def is_non_negative(name: str) -> bool:
    return bool(NON_NEGATIVE_TOKENS.intersection(tokens(name)))


def is_key_like(name: str) -> bool:
    return bool(KEY_TOKENS.intersection(tokens(name)))


def is_candidate_key(name: str) -> bool:
    return bool(CANDIDATE_KEY_TOKENS.intersection(tokens(name)))


ID_TOKENS = _words("id uuid guid pk key")


def is_id_name(name: str) -> bool:
    """An identifier column by its name: `id`, `order_id`, `OrderId`, `uuid`, `row_key` (a text surrogate key)."""
    parts = tokens(name)
    return bool(parts) and parts[-1] in ID_TOKENS


def is_planning(name: str) -> bool:
    return bool(PLANNING_TOKENS.intersection(tokens(name)))


def is_event_time(name: str) -> bool:
    """A time at which something happened (checked against the future)."""
    t = set(tokens(name))
    return bool(EVENT_TOKENS & t) and not (PLANNING_TOKENS & t)


def freshness_columns(names: Sequence[str]) -> list[str]:
    """Timestamp columns that say when rows were last written: event times, else any non-planning time."""
    events = [n for n in names if is_event_time(n) and not BIRTH_TOKENS.intersection(tokens(n))]
    if events:
        return events
    return [n for n in names if not is_planning(n) and not BIRTH_TOKENS.intersection(tokens(n))]


def fk_stem(name: str) -> str | None:
    """'customer_id' / 'CustomerId' / 'asset_ref' -> the referenced table's apparent name."""
    m = FK_NAME.match(name)
    return m.group("stem") if m else None


def table_names_for(stem: str) -> set[str]:
    """Lower-case table names a `<stem>_id` column may point to (singular or plural)."""
    s = stem.lower()
    out = {s, s + "s", s + "es"}
    if s.endswith("y"):
        out.add(s[:-1] + "ies")
    if s.endswith("s"):
        out.add(s[:-1])
    return out


# ---------- scores ----------


def completeness_score(null_cells: int, rows: int, columns: int) -> float | None:
    cells = rows * columns
    if cells <= 0:
        return None
    return round(100.0 * (1.0 - null_cells / cells), 1)


def freshness_score(age_hours: float | None, fresh_hours: float, stale_hours: float) -> float | None:
    if age_hours is None:
        return None
    if age_hours <= fresh_hours:
        return 100.0
    if age_hours >= stale_hours or stale_hours <= fresh_hours:
        return 0.0
    return round(100.0 * (stale_hours - age_hours) / (stale_hours - fresh_hours), 1)


def consistency_score(checked: int, invalid: int) -> float | None:
    if checked <= 0:
        return 100.0
    return round(100.0 * max(checked - invalid, 0) / checked, 1)


def weighted_score(
    completeness: float | None,
    freshness: float | None,
    consistency: float | None,
    weights: tuple[float, float, float],
) -> float | None:
    parts = [(s, w) for s, w in zip((completeness, freshness, consistency), weights, strict=True) if s is not None]
    total = sum(w for _, w in parts)
    if not parts or total <= 0:
        return None
    return round(sum(s * w for s, w in parts) / total, 1)


def mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got) / len(got), 1) if got else None


# ---------- severities ----------


def null_severity(share: float, warning: float, critical: float) -> Severity:
    if share >= critical:
        return "critical"
    return "warning" if share >= warning else "info"


def capped(severity: Severity, cap: Severity) -> Severity:
    """`severity`, at most `cap` (critical > warning > info)."""
    order = ("info", "warning", "critical")
    return order[min(order.index(severity), order.index(cap))] if cap in order else severity


def outlier_severity(max_sigmas: float | None, sigma: float) -> Severity:
    """Values beyond twice the threshold are implausible even for wide distributions."""
    return "warning" if max_sigmas is not None and max_sigmas > 2 * sigma else "info"


def human_age(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"
