"""The VelocityFibre demo schema: 89 tables in public, ops and finance, described as data."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import IPv4Address

from vf_mcp.demo import pools as P
from vf_mcp.demo.spec import (
    ANCHOR,
    HISTORY_START,
    SAST,
    Chunk,
    Col,
    Ctx,
    Gen,
    Table,
    after,
    amounts,
    at_row,
    bools,
    code,
    const,
    corrupt,
    cover,
    days,
    derive,
    distinct_pairs,
    duplicate_rows,
    email_local,
    floats,
    ints,
    money,
    normal,
    null_out,
    office_hours,
    orphans,
    pick,
    ref,
    sa_phone,
    stamps,
    timeline,
    values,
)

# --- helpers ---------------------------------------------------------------------------------------


def created_updated(start: datetime = HISTORY_START, max_hours: float = 2_000) -> tuple[Col, Col]:
    """created_at rising with the id, updated_at some time after it."""
    return (
        Col("created_at", "timestamptz NOT NULL", timeline(start)),
        Col("updated_at", "timestamptz NOT NULL", after("created_at", 0, max_hours)),
    )


def lookup(
    name: str,
    cols: Sequence[tuple[str, str]],
    rows: Sequence[tuple[object, ...]],
    comment: str | None = None,
    fks: dict[str, str] | None = None,
) -> Table:
    """A small reference table with fixed rows and a created_at column; `fks` maps column to table."""
    fks = fks or {}
    specs = tuple(Col(n, t, values([r[k] for r in rows]), fk=fks.get(n)) for k, (n, t) in enumerate(cols))
    created = Col(
        "created_at",
        "timestamptz NOT NULL",
        timeline(HISTORY_START - timedelta(days=400), HISTORY_START - timedelta(days=300)),
    )
    return Table(name, len(rows), (*specs, created), comment=comment)


def fk(
    name: str,
    target: str,
    *,
    type_: str = "integer",
    null: float = 0.0,
    zipf: float | None = None,
    comment: str | None = None,
) -> Col:
    """A foreign-key column filled with ids of `target`."""
    not_null = " NOT NULL" if null == 0 else ""
    return Col(name, type_ + not_null, ref(target, zipf=zipf, null=null), fk=target, comment=comment)


def project_ends(ctx: Ctx) -> list[int]:
    """OneMap properties are imported per project: ids 1..ends[0] are project 1, and so on."""

    def make() -> list[int]:
        n = ctx.counts["onemap_properties"]
        cum, ends = 0.0, []
        for p in P.PROJECTS:
            cum += p.share
            ends.append(round(n * cum))
        ends[-1] = n
        return ends

    result: list[int] = ctx.cached(("project_ends",), make)
    return result


def project_of(ctx: Ctx, property_id: int) -> int:
    ends = project_ends(ctx)
    return min(bisect.bisect_left(ends, property_id) + 1, len(ends))


def pole_number(project_id: int, property_id: int) -> str:
    """The pole a property hangs off: a pure function of the ids, so every table agrees."""
    k = (property_id * 2_654_435_761) % 26_000 // 3
    return f"{P.PROJECTS[project_id - 1].code}.P.{_LETTERS[k // 1000]}{k % 1000:03d}"


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def drop_number(property_id: int) -> str:
    return f"DR{1_700_000 + property_id}"


_PROJECT_CLIENTS = {p.client_id for p in P.PROJECTS}
ZONE_OF = {pair: i for i, pair in enumerate(P.ZONES, start=1)}

_PROJECT_WEIGHTS = [p.share for p in P.PROJECTS]
_STATUS_NAMES = [s for s, _ in P.ONEMAP_STATUSES]
_STATUS_WEIGHTS = [w for _, w in P.ONEMAP_STATUSES]
_TYPE_NAMES = [t for t, _, _ in P.PROPERTY_TYPES]
_TYPE_WEIGHTS = [w for _, _, w in P.PROPERTY_TYPES]
_NO_POLE = {"Survey: Pending"}
_STREET_NAMES = [f"{s} {x}" for s in P.STREETS for x in P.STREET_SUFFIXES]
_HAS_DROP = {
    "Home Sign Ups: Approved & Installation Scheduled",
    "Home Installation: In Progress",
    "Home Installation: Installed",
}
_CONSENTED = {s for s in _STATUS_NAMES if s.startswith("Home") and "Declined" not in s}


def _bad_phone_short(s: str) -> str:
    return s[:-1]  # one digit short


def _bad_phone_double_prefix(s: str) -> str:
    return "+27 0" + s.removeprefix("+27 ").removeprefix("0")


def _bad_phone_letter(s: str) -> str:
    return s[:-3] + "O" + s[-2:]  # letter O instead of a zero


def _bad_email_no_at(s: str) -> str:
    return s.replace("@", ".")


def _bad_email_no_tld(s: str) -> str:
    return s.split("@")[0] + "@" + s.split("@")[1].split(".")[0]


def _bad_email_space(s: str) -> str:
    return s.replace(".", " ", 1)


# --- the big tables --------------------------------------------------------------------------------


def _onemap(c: Chunk) -> dict[str, list[object]]:
    """Properties of one chunk, project block by project block (the hot loop of the whole load)."""
    rng, ctx, n = c.rng, c.ctx, c.n
    rnd = rng.random
    ends = project_ends(ctx)
    statuses = rng.choices(_STATUS_NAMES, _STATUS_WEIGHTS, k=n)
    types = rng.choices(_TYPE_NAMES, _TYPE_WEIGHTS, k=n)
    streets = rng.choices(_STREET_NAMES, k=n)
    n_staff = ctx.counts["staff"]
    cols: dict[str, list[object]] = {name: [] for name in (
        "project_id", "suburb_id", "zone_id", "stand_number", "street_address", "latitude", "longitude",
        "property_type", "status", "pole_number", "drop_number", "pon_number", "dwelling_units",
        "consent_signed", "field_agent_id", "created_at", "updated_at")}  # fmt: skip
    (project_id, suburb_id, zone_id, stand, address, lat, lon, ptype, status, pole, drop, pon, units,
     consent, agent, created, updated) = (cols[k].append for k in cols)  # fmt: skip
    i = 0
    while i < n:
        pid0 = c.start + i + 1
        proj = bisect.bisect_left(ends, pid0) + 1
        p = P.PROJECTS[proj - 1]
        block_lo = ends[proj - 2] if proj > 1 else 0
        block_n = ends[proj - 1] - block_lo
        p_start = datetime(p.start.year, p.start.month, p.start.day, 8, tzinfo=SAST).astimezone(UTC)
        window = min((ANCHOR - p_start).total_seconds() - 86_400 * 30, 86_400 * 420)
        subs = [(sid, P.SUBURBS[sid - 1].lat, P.SUBURBS[sid - 1].lon, ZONE_OF[(proj, sid)]) for sid in p.suburb_ids]
        n_subs = len(subs)
        pole_prefix = f"{p.code}.P."
        stop = min(n, ends[proj - 1] - c.start)
        for j in range(i, stop):
            pid = c.start + j + 1
            sid, s_lat, s_lon, zid = subs[int(rnd() * n_subs)]
            st, ty = statuses[j], types[j]
            t0 = p_start + timedelta(seconds=int(window * (pid - block_lo - rnd()) / block_n))
            project_id(proj)
            suburb_id(sid)
            zone_id(zid)
            stand(str(int(rnd() * 24_999) + 1))
            address(f"{int(rnd() * 9_999) + 1} {streets[j]}")
            lat(round(s_lat + (rnd() + rnd() - 1) * 0.012, 6))
            lon(round(s_lon + (rnd() + rnd() - 1) * 0.012, 6))
            ptype(ty)
            status(st)
            if st in _NO_POLE:
                pole(None)
            else:  # inlined pole_number(proj, pid)
                k = (pid * 2_654_435_761) % 26_000 // 3
                pole(f"{pole_prefix}{_LETTERS[k // 1000]}{k % 1000:03d}")
            drop(f"DR{1_700_000 + pid}" if st in _HAS_DROP else None)
            pon(int(rnd() * 128) + 1)
            r = rnd()
            units(int(r * 10) + 3 if ty == "backyard_rental" else 1 if r < 0.93 else int(r * 40) - 35)
            consent(st in _CONSENTED)
            agent(int(rnd() * n_staff) + 1 if rnd() < 0.85 else None)
            created(t0)
            t1 = t0 + timedelta(seconds=int(rnd() * 17_280_000))
            updated(t1 if t1 < ANCHOR else ANCHOR)
        i = stop
    return cols


def _sow_project(c: Chunk, i: int) -> int:
    return project_of(c.ctx, c.cols["property_id"][i])


def _sow_confidence(c: Chunk, i: int) -> float:
    base = {"exact_pole_drop": 0.97, "address": 0.85, "gps_radius": 0.74, "manual": 0.9}
    return round(min(base[c.cols["match_method"][i]] + c.rng.uniform(-0.08, 0.03), 1.0), 3)


DROP_STATUS_SHARES = (
    ("completed", 0.80),
    ("in_progress", 0.04),
    ("scheduled", 0.05),
    ("failed", 0.06),
    ("cancelled", 0.05),
)
COMPLETED_WITHOUT_TIMESTAMP_SHARE = 0.05


def drop_status_counts(n: int) -> dict[str, int]:
    """Exact number of drops per status for a table of n drops."""
    counts = {s: round(n * share) for s, share in DROP_STATUS_SHARES if s != "completed"}
    counts["completed"] = n - sum(counts.values())
    return counts


def drops_missing_completed_at(n: int) -> int:
    return round(drop_status_counts(n)["completed"] * COMPLETED_WITHOUT_TIMESTAMP_SHARE)


def _drops(c: Chunk) -> dict[str, list[object]]:
    """All drop columns; statuses depend on age (open work is recent), timestamps on status."""
    ctx, rng, n = c.ctx, c.rng, c.n
    counts = drop_status_counts(n)
    order = list(range(n))
    status: list[str] = ["completed"] * n
    # Open work is recent: weighted sampling without replacement (key = u ** (1 / w)), w rising steeply
    # with the id; scheduled work is the newest of the open work.
    keys = sorted(((rng.random() ** (1 / (((i + 1) / n) ** 12 + 1e-9)), i) for i in order), reverse=True)
    open_rows = sorted(i for _, i in keys[: counts["scheduled"] + counts["in_progress"]])
    for k, i in enumerate(open_rows):
        status[i] = "in_progress" if k < counts["in_progress"] else "scheduled"
    closed = [i for i in order if status[i] == "completed"]
    ended = rng.sample(closed, counts["failed"] + counts["cancelled"])
    for k, i in enumerate(ended):
        status[i] = "failed" if k < counts["failed"] else "cancelled"
    completed = [i for i in order if status[i] == "completed"]
    no_stamp = set(rng.sample(completed, drops_missing_completed_at(n)))

    n_props = ctx.counts["onemap_properties"]
    props = rng.sample(range(1, n_props + 1), n)
    contractor_cw = ctx.zipf_cum_weights("contractors", 1.2)
    contractors = rng.choices(range(1, ctx.counts["contractors"] + 1), cum_weights=contractor_cw, k=n)
    out: dict[str, list[object]] = {k: [] for k in (
        "drop_number", "property_id", "project_id", "contractor_id", "assigned_staff_id", "status",
        "scheduled_for", "started_at", "completed_at", "completion_hours", "cable_length_m",
        "ont_serial", "failure_reason", "notes", "created_at", "updated_at")}  # fmt: skip
    # More drops per month as the build ramps up (density ~ t ** 0.8), crews out seven days a week. The days
    # come from a quantile grid, not random draws: from two months before ANCHOR on, the grid is denser than
    # one drop a day, so every day up to and including the anchor day has new drops (and "this week",
    # "this month" and the same span of the month before are never empty, whatever day the demo is made).
    first_day, span_days = HISTORY_START.date(), (ANCHOR - HISTORY_START).days + 1
    for i in range(n):
        frac = ((i + 0.5) / n) ** (1 / 1.8)
        created = office_hours(rng, first_day + timedelta(days=int(span_days * frac)), sundays=True)
        created = min(created, ANCHOR - timedelta(hours=1))
        st = status[i]
        lead = timedelta(days=min(rng.expovariate(1 / 6), 60), hours=rng.uniform(0, 8))
        latest = ANCHOR - timedelta(hours=15)  # room for the work itself
        if st != "scheduled" and created + lead > latest:
            lead = (latest - created) * rng.random() if latest > created else timedelta(0)
        scheduled = (created + lead).date()
        started = completed_at = hours = length = serial = reason = None
        if st in ("completed", "in_progress", "failed"):
            started = (created + lead).replace(microsecond=0)
        if st == "completed" and started is not None:
            work = min(max(rng.lognormvariate(math.log(3.2), 0.45), 0.75), 14.0)
            end = min(started + timedelta(seconds=int(work * 3600)), ANCHOR)
            if i not in no_stamp:
                completed_at = end
                hours = Decimal(round((end - started).total_seconds() / 3600, 2)).quantize(Decimal("0.01"))
            length = Decimal(int(rng.uniform(12, 95) * 10)) / 10
            serial = f"ALCL{rng.getrandbits(32):08X}"
        if st == "failed":
            reason = rng.choice(P.FAILURE_REASONS)
        last = completed_at or started or created
        out["drop_number"].append(drop_number(props[i]))
        out["property_id"].append(props[i])
        out["project_id"].append(project_of(ctx, props[i]))
        out["contractor_id"].append(contractors[i])
        out["assigned_staff_id"].append(rng.randint(14, 38) if rng.random() < 0.9 else None)
        out["status"].append(st)
        out["scheduled_for"].append(scheduled)
        out["started_at"].append(started)
        out["completed_at"].append(completed_at)
        out["completion_hours"].append(hours)
        out["cable_length_m"].append(length)
        out["ont_serial"].append(serial)
        out["failure_reason"].append(reason)
        out["notes"].append(rng.choice(P.NOTES) if rng.random() < 0.15 else None)
        out["created_at"].append(created)
        out["updated_at"].append(min(last + timedelta(minutes=rng.randint(5, 600)), ANCHOR))
    return out


# Staff: job title ids in order; manager ids follow from the ranks.
STAFF_TITLES: tuple[int, ...] = (
    1,
    2,
    2,
    *([3] * 5),
    *([4] * 3),
    5,
    5,
    *([6] * 6),
    *([7] * 14),
    *([8] * 5),
    9,
    9,
    *([10] * 3),
)


def _staff(c: Chunk) -> dict[str, list[object]]:
    rng, n = c.rng, c.n
    seen: set[str] = set()
    out: dict[str, list[object]] = {k: [] for k in (
        "employee_number", "first_name", "last_name", "email", "phone", "department_id", "job_title_id",
        "manager_id", "region_id", "hire_date", "employment_status", "created_at", "updated_at")}  # fmt: skip
    for i in range(n):
        title = STAFF_TITLES[c.start + i]
        first, last = rng.choice(P.FIRST_NAMES), rng.choice(P.LAST_NAMES)
        local = email_local(first, last)
        while local in seen:
            local = f"{email_local(first, last)}{rng.randint(2, 9)}"
        seen.add(local)
        manager = (
            None if title == 1 else 1 if title in (2, 9) else rng.randint(2, 3) if title <= 6 else rng.randint(4, 8)
        )
        hired = date(2019, 3, 1) + timedelta(days=rng.randint(0, 2_300))
        created = datetime(hired.year, hired.month, hired.day, 9, tzinfo=SAST)
        out["employee_number"].append(f"VF{1000 + c.start + i + 1}")
        out["first_name"].append(first)
        out["last_name"].append(last)
        out["email"].append(f"{local}@velocityfibre.co.za")
        out["phone"].append(sa_phone(rng))
        out["department_id"].append(P.JOB_TITLES[title - 1][1])
        out["job_title_id"].append(title)
        out["manager_id"].append(manager)
        out["region_id"].append(1 if rng.random() < 0.85 else 2)
        out["hire_date"].append(hired)
        out["employment_status"].append(rng.choices(["active", "on_leave", "terminated"], [0.88, 0.07, 0.05])[0])
        out["created_at"].append(created)
        out["updated_at"].append(min(created + timedelta(days=rng.randint(0, 900)), ANCHOR))
    return out


def _person(c: Chunk, domain: Callable[[Chunk, int], str] | None = None) -> dict[str, list[object]]:
    """contact_name, email and phone columns for people-like rows."""
    out: dict[str, list[object]] = {"contact_name": [], "email": [], "phone": []}
    for i in range(c.n):
        first, last = c.rng.choice(P.FIRST_NAMES), c.rng.choice(P.LAST_NAMES)
        dom = domain(c, i) if domain else "gmail.com"
        out["contact_name"].append(f"{first} {last}")
        out["email"].append(f"{email_local(first, last)}@{dom}")
        out["phone"].append(sa_phone(c.rng))
    return out


def _contractor_domain(c: Chunk, i: int) -> str:
    name = P.CONTRACTORS[c.start + i].lower()
    slug = "".join(ch for ch in name.split("(")[0].replace("&", "and") if ch.isalnum())
    return f"{slug}.co.za"


def _audit_details(c: Chunk, i: int) -> str:
    action = c.cols["action"][i]
    body: dict[str, object] = {"action": action, "source": c.rng.choice(["web", "api", "import"])}
    if action == "update":
        body["changed"] = c.rng.sample(["status", "contractor_id", "scheduled_for", "notes", "phone"], 2)
    return json.dumps(body, sort_keys=True)


def _ip(c: Chunk, i: int) -> IPv4Address:
    if c.rng.random() < 0.7:
        return IPv4Address(f"10.20.{c.rng.randint(0, 15)}.{c.rng.randint(2, 250)}")
    return IPv4Address(f"41.{c.rng.randint(0, 255)}.{c.rng.randint(0, 255)}.{c.rng.randint(1, 254)}")


def _invoice_quantity(c: Chunk, i: int) -> Decimal:
    _, unit, price = FINANCE_PRICE_LIST[c.cols["price_list_id"][i] - 1]
    if unit == "m":
        return Decimal(c.rng.randint(40, 2_500))
    if price > 10_000:
        return Decimal(c.rng.randint(1, 3))
    return Decimal(c.rng.randint(5, 120))


def _decimal(col: str, scale_: Callable[[float], float]) -> Gen:
    """A money column derived from another column's value."""
    return derive(lambda c, i: Decimal(round(scale_(c.cols[col][i]) * 100)) / 100)


FINANCE_PRICE_LIST: tuple[tuple[str, str, Decimal], ...] = (
    ("Home connection (aerial)", "each", Decimal("1850.00")),
    ("Home connection (underground)", "each", Decimal("2650.00")),
    ("Aerial cable build", "m", Decimal("48.00")),
    ("Trenching", "m", Decimal("165.00")),
    ("Pole planting", "each", Decimal("2400.00")),
    ("FDH installation", "each", Decimal("38500.00")),
    ("Splicing per fibre", "each", Decimal("95.00")),
    ("Survey per stand", "each", Decimal("45.00")),
    ("Wayleave administration", "each", Decimal("7500.00")),
    ("Project management", "month", Decimal("85000.00")),
)

# --- the tables ------------------------------------------------------------------------------------

# Table specs are laid out by hand for readability.
# fmt: off
ONEMAP = Table(
    "onemap_properties", 32_564, scaled=True, id_type="bigint", whole=False,
    comment="Every property (stand) in the build areas, exported from the 1Map GIS platform.",
    cols=(
        Col("onemap_id", "text NOT NULL", code("1M-{:07d}"), comment="Property key in 1Map"),
        Col("project_id", "integer NOT NULL", None, fk="projects"),
        Col("suburb_id", "integer NOT NULL", None, fk="suburbs"),
        Col("zone_id", "integer NOT NULL", None, fk="zones"),
        Col("stand_number", "text", None, comment="Erf / stand number from the deeds office"),
        Col("street_address", "text NOT NULL", None),
        Col("latitude", "double precision", None, comment="WGS84"),
        Col("longitude", "double precision", None, comment="WGS84"),
        Col("property_type", "text NOT NULL", None),
        Col("status", "text NOT NULL", None, comment="1Map workflow status, e.g. 'Home Installation: Installed'"),
        Col("pole_number", "text", None, comment="Pole the drop hangs off, e.g. LAW.P.B167"),
        Col("drop_number", "text", None),
        Col("pon_number", "smallint NOT NULL", None),
        Col("dwelling_units", "smallint NOT NULL", None),
        Col("consent_signed", "boolean NOT NULL", None),
        Col("field_agent_id", "integer", None, fk="staff"),
        Col("created_at", "timestamptz NOT NULL", None),
        Col("updated_at", "timestamptz NOT NULL", None),
    ),
    build=_onemap,
    post=(null_out(("latitude", "longitude"), 160, "no_gps"), null_out(("stand_number",), 420, "no_stand")),
    indexes=("project_id", "zone_id"),
    uniques=("onemap_id",),
)

NOKIA = Table(
    "nokia_velocity", 20_112, scaled=True, id_type="bigint",
    comment="ONT inventory and optical levels exported from the Nokia network manager (one row per ONT poll).",
    cols=(
        Col("property_id", "bigint", ref("onemap_properties"),
            comment="OneMap property the ONT is installed at (no FK: the export is not validated)"),
        Col("ont_serial", "text NOT NULL", lambda c: [f"ALCL{c.rng.getrandbits(32):08X}" for _ in range(c.n)]),
        fk("olt_port_id", "olt_ports"),
        Col("ont_index", "smallint NOT NULL", ints(1, 64)),
        Col("ont_model", "text NOT NULL", pick([m for _, m, _, _ in P.ONT_MODELS], [0.55, 0.25, 0.12, 0.08])),
        Col("firmware_version", "text NOT NULL", pick(P.FIRMWARE, [0.5, 0.3, 0.15, 0.05])),
        Col("rx_power_dbm", "double precision", normal(-21.5, 2.4),
            comment="ONT receive power; below -27 dBm is out of spec"),
        Col("tx_power_dbm", "double precision", normal(2.4, 0.35)),
        Col("olt_rx_power_dbm", "double precision", normal(-24.0, 2.0)),
        Col("distance_m", "integer", ints(120, 9_500)),
        Col("oper_status", "text NOT NULL", pick(["up", "down", "los", "dying_gasp"], [0.93, 0.03, 0.02, 0.02])),
        Col("last_seen_at", "timestamptz NOT NULL", stamps(ANCHOR - timedelta(days=21), ANCHOR)),
        Col("created_at", "timestamptz NOT NULL", timeline(HISTORY_START, ANCHOR - timedelta(days=1))),
    ),
    post=(duplicate_rows(12), orphans("property_id", "onemap_properties", 37, dups=12)),
    indexes=("property_id", "olt_port_id"),
)

SOW = Table(
    "sow_onemap_mapping", 4_571, scaled=True, id_type="bigint",
    comment="Scope-of-work line items matched to OneMap properties.",
    cols=(
        Col("property_id", "bigint NOT NULL", ref("onemap_properties"), comment="No FK: see orphans"),
        Col("project_id", "integer NOT NULL", derive(_sow_project), fk="projects"),
        Col("sow_reference", "text NOT NULL", derive(
            lambda c, i: f"SOW-{P.PROJECTS[c.cols['project_id'][i] - 1].code}-{c.start + i + 1:06d}")),
        Col("pole_number", "text", derive(
            lambda c, i: pole_number(c.cols["project_id"][i], c.cols["property_id"][i]))),
        Col("drop_number", "text", derive(lambda c, i: drop_number(c.cols["property_id"][i]))),
        Col("match_method", "text NOT NULL",
            pick(["exact_pole_drop", "address", "gps_radius", "manual"], [0.62, 0.18, 0.12, 0.08])),
        Col("match_confidence", "double precision NOT NULL", derive(_sow_confidence)),
        Col("verified", "boolean NOT NULL", bools(0.7)),
        Col("verified_by", "integer", derive(
            lambda c, i: c.rng.randint(4, 13) if c.cols["verified"][i] else None), fk="staff"),
        Col("created_at", "timestamptz NOT NULL", timeline(HISTORY_START + timedelta(days=30))),
    ),
    post=(orphans("property_id", "onemap_properties", 9),),
    indexes=("property_id", "project_id"),
)

DROPS = Table(
    "drops", 1_000, scaled=True, id_type="bigint", whole=True,
    comment="Field installations: one fibre drop from the pole to a home, done by a contractor.",
    cols=(
        Col("drop_number", "text NOT NULL", None),
        Col("property_id", "bigint NOT NULL", None, fk="onemap_properties"),
        Col("project_id", "integer NOT NULL", None, fk="projects"),
        Col("contractor_id", "integer NOT NULL", None, fk="contractors"),
        Col("assigned_staff_id", "integer", None, fk="staff", comment="VF supervisor responsible"),
        Col("status", "drop_status NOT NULL", None),
        Col("scheduled_for", "date", None),
        Col("started_at", "timestamptz", None),
        Col("completed_at", "timestamptz", None,
            comment="NULL for open work (and, by mistake, for a few completed drops)"),
        Col("completion_hours", "numeric(6,2)", None, comment="Hours on site, started_at to completed_at"),
        Col("cable_length_m", "numeric(6,1)", None),
        Col("ont_serial", "text", None),
        Col("failure_reason", "text", None),
        Col("notes", "text", None),
        Col("created_at", "timestamptz NOT NULL", None),
        Col("updated_at", "timestamptz NOT NULL", None),
    ),
    build=_drops,
    indexes=("contractor_id", "property_id", "created_at", "status"),
    uniques=("drop_number",),
)

STAFF = Table(
    "staff", 43,
    comment="VelocityFibre employees.",
    cols=(
        Col("employee_number", "text NOT NULL", None),
        Col("first_name", "text NOT NULL", None),
        Col("last_name", "text NOT NULL", None),
        Col("email", "text", None),
        Col("phone", "text", None, comment="Mobile, +27 82 123 4567 or 082 123 4567"),
        Col("department_id", "integer NOT NULL", None, fk="departments"),
        Col("job_title_id", "integer NOT NULL", None, fk="job_titles"),
        Col("manager_id", "integer", None, fk="staff"),
        Col("region_id", "integer NOT NULL", None, fk="regions"),
        Col("hire_date", "date NOT NULL", None),
        Col("employment_status", "text NOT NULL", None),
        Col("created_at", "timestamptz NOT NULL", None),
        Col("updated_at", "timestamptz NOT NULL", None),
    ),
    build=_staff,
    post=(corrupt("phone", [_bad_phone_short, _bad_phone_letter], nulls=3, tag="phone"),
          corrupt("email", [_bad_email_no_tld, _bad_email_no_at], tag="email")),
    uniques=("employee_number",),
)

CONTRACTORS = Table(
    "contractors", 18,
    comment="Installation and civils subcontractors.",
    cols=(
        Col("name", "text NOT NULL", values(P.CONTRACTORS)),
        Col("registration_number", "text NOT NULL", derive(
            lambda c, i: f"{c.rng.randint(2004, 2021)}/{c.rng.randint(100000, 999999)}/07"),
            comment="CIPC company registration number"),
        Col("bbbee_level", "smallint", pick([1, 2, 3, 4, 8], [0.35, 0.3, 0.15, 0.15, 0.05])),
        Col("contact_name", "text NOT NULL", None),
        Col("email", "text", None),
        Col("phone", "text", None),
        Col("region_id", "integer NOT NULL", pick([1, 2, 3], [0.8, 0.15, 0.05]), fk="regions"),
        Col("status", "text NOT NULL", values(P.CONTRACTOR_STATUSES), comment="active / suspended / inactive"),
        Col("rating", "numeric(3,2)", derive(lambda c, i: money(c.rng, 2.8, 4.95))),
        *created_updated(HISTORY_START - timedelta(days=300)),
        Col("onboarded_on", "date NOT NULL", after("created_at", 0, 24 * 40, as_date=True)),
    ),
    build=lambda c: _person(c, _contractor_domain),
    post=(corrupt("phone", [], nulls=1, tag="phone"),),
)

CLIENTS = Table(
    "clients", len(P.CLIENTS),
    comment="Who VelocityFibre builds for: municipalities, developers, investors.",
    cols=(
        Col("name", "text NOT NULL", values([n for n, _, _ in P.CLIENTS])),
        Col("client_type", "text NOT NULL", values([t for _, t, _ in P.CLIENTS])),
        Col("contact_name", "text NOT NULL", None),
        Col("email", "text", None),
        Col("phone", "text", None),
        Col("vat_number", "text", derive(lambda c, i: f"4{c.rng.randint(10**8, 10**9 - 1)}")),
        Col("status", "text NOT NULL", derive(lambda c, i: "active" if c.start + i + 1 in _PROJECT_CLIENTS
                                              else c.rng.choice(["active", "prospect", "dormant"]))),
        *created_updated(HISTORY_START - timedelta(days=200)),
    ),
    build=lambda c: _person(c, lambda c, i: P.CLIENTS[c.start + i][2]),
    post=(corrupt("phone", [_bad_phone_double_prefix], nulls=2, tag="phone"),
          corrupt("email", [_bad_email_space], nulls=1, tag="email")),
)

TABLES: tuple[Table, ...] = (
    # ---- geography and reference -----------------------------------------------------------------
    lookup("regions", [("code", "text NOT NULL"), ("name", "text NOT NULL")], P.REGIONS,
           "South African provinces."),
    lookup("municipalities", [("code", "text NOT NULL"), ("name", "text NOT NULL"), ("category", "text NOT NULL"),
                              ("region_id", "integer NOT NULL")], P.MUNICIPALITIES,
           fks={"region_id": "regions"}),
    lookup("suburbs", [("name", "text NOT NULL"), ("municipality_id", "integer NOT NULL"),
                       ("postal_code", "text"), ("latitude", "double precision"),
                       ("longitude", "double precision")], P.SUBURBS,
           fks={"municipality_id": "municipalities"}),
    Table("zones", len(P.ZONES), comment="Build zones: one per project and suburb.", cols=(
        Col("project_id", "integer NOT NULL", values([z[0] for z in P.ZONES]), fk="projects"),
        Col("suburb_id", "integer NOT NULL", values([z[1] for z in P.ZONES]), fk="suburbs"),
        Col("code", "text NOT NULL", derive(lambda c, i: f"{P.PROJECTS[P.ZONES[c.start + i][0] - 1].code}-Z"
                                            f"{c.start + i + 1:02d}")),
        Col("planned_homes", "integer NOT NULL", ints(600, 3_200)),
        *created_updated(HISTORY_START - timedelta(days=150)),
    )),
    lookup("property_types", [("code", "text NOT NULL"), ("description", "text NOT NULL")],
           [(t, d) for t, d, _ in P.PROPERTY_TYPES], "Values used in onemap_properties.property_type."),
    # ---- network --------------------------------------------------------------------------------------
    ONEMAP,
    NOKIA,
    SOW,
    Table("fibre_segments", 681, scaled=True, comment="Built and planned fibre cable runs.", cols=(
        Col("segment_code", "text NOT NULL", code("SEG-{:06d}")),
        Col("project_id", "integer NOT NULL", pick(range(1, len(P.PROJECTS) + 1), _PROJECT_WEIGHTS),
            fk="projects"),
        Col("zone_id", "integer NOT NULL", derive(lambda c, i: ZONE_OF[(
            c.cols["project_id"][i], c.rng.choice(P.PROJECTS[c.cols["project_id"][i] - 1].suburb_ids))]),
            fk="zones"),
        Col("cable_type_id", "integer NOT NULL", pick(range(1, 6), [0.3, 0.3, 0.2, 0.12, 0.08]),
            fk="cable_types"),
        Col("fibre_count", "smallint NOT NULL", derive(lambda c, i: P.CABLE_TYPES[c.cols["cable_type_id"][i] - 1][1])),
        Col("from_node", "text NOT NULL", derive(lambda c, i: f"FDH-{c.cols['zone_id'][i]:02d}-{c.rng.randint(1, 6)}")),
        Col("to_node", "text NOT NULL",
            derive(lambda c, i: f"FAT-{c.cols['zone_id'][i]:02d}-{c.rng.randint(1, 240):03d}")),
        Col("length_m", "numeric(8,1) NOT NULL", derive(
            lambda c, i: Decimal(int(min(c.rng.lognormvariate(5.2, 0.7), 4_000) * 10)) / 10)),
        Col("installation_method", "text NOT NULL", derive(
            lambda c, i: "underground" if c.cols["cable_type_id"][i] >= 4 else
            c.rng.choices(["aerial", "micro_trench"], [0.9, 0.1])[0])),
        Col("status", "text NOT NULL", pick(["built", "in_progress", "planned"], [0.7, 0.15, 0.15])),
        Col("installed_on", "date", derive(lambda c, i: (HISTORY_START + timedelta(
            days=c.rng.randint(0, 680))).date() if c.cols["status"][i] == "built" else None)),
        *created_updated(HISTORY_START - timedelta(days=60)),
    ), indexes=("project_id",)),
    # ---- customers and projects ------------------------------------------------------------------
    CLIENTS,
    Table("client_contacts", 20, cols=(
        fk("client_id", "clients"),
        Col("role", "text NOT NULL", pick(["Project sponsor", "Finance", "Technical lead", "Ward councillor"])),
        Col("contact_name", "text NOT NULL", None),
        Col("email", "text", None),
        Col("phone", "text", None),
        Col("created_at", "timestamptz NOT NULL", timeline(HISTORY_START - timedelta(days=100))),
    ), build=lambda c: _person(c, lambda c, i: P.CLIENTS[c.cols["client_id"][i] - 1][2])),
    Table("projects", len(P.PROJECTS), comment="FTTH build projects, one per area.", cols=(
        Col("code", "text NOT NULL", values([p.code for p in P.PROJECTS])),
        Col("name", "text NOT NULL", values([p.name for p in P.PROJECTS])),
        Col("client_id", "integer NOT NULL", values([p.client_id for p in P.PROJECTS]), fk="clients"),
        Col("region_id", "integer NOT NULL", values([2 if p.code == "MOH" else 1 for p in P.PROJECTS]),
            fk="regions"),
        Col("project_manager_id", "integer", values([4, 5, 6, 7, 8, 4, 5, None]), fk="staff"),
        Col("status", "text NOT NULL", values([p.status for p in P.PROJECTS])),
        Col("start_date", "date NOT NULL", values([p.start for p in P.PROJECTS])),
        Col("target_end_date", "date", derive(lambda c, i: P.PROJECTS[c.start + i].start + timedelta(days=720))),
        Col("budget_zar", "numeric(14,2) NOT NULL", values([Decimal(p.budget_zar) for p in P.PROJECTS]),
            comment="Approved capex budget in rand"),
        *created_updated(HISTORY_START - timedelta(days=150)),
    ), uniques=("code",)),
    Table("project_phases", 3 * len(P.PROJECTS), cols=(
        Col("project_id", "integer NOT NULL", derive(lambda c, i: (c.start + i) // 3 + 1), fk="projects"),
        Col("phase_no", "smallint NOT NULL", derive(lambda c, i: (c.start + i) % 3 + 1)),
        Col("name", "text NOT NULL", derive(lambda c, i: ("Planning & wayleave", "Civils & aerial build",
                                                          "Home connections")[(c.start + i) % 3])),
        Col("planned_start", "date NOT NULL", derive(lambda c, i: P.PROJECTS[(c.start + i) // 3].start
                                                     + timedelta(days=150 * ((c.start + i) % 3)))),
        Col("planned_end", "date NOT NULL", after("planned_start", 24 * 120, 24 * 240, clamp=False)),
        Col("status", "text NOT NULL", derive(lambda c, i: "done" if c.cols["planned_end"][i] < ANCHOR.date()
                                              else "in_progress" if c.cols["planned_start"][i] < ANCHOR.date()
                                              else "not_started")),
    )),
    Table("project_milestones", 24, cols=(
        fk("project_id", "projects"),
        Col("name", "text NOT NULL", pick(["Wayleave approved", "OLT commissioned", "First home live",
                                            "50% homes passed", "Handover to ISP", "Final invoice"])),
        Col("due_date", "date NOT NULL", days(date(2025, 1, 15), date(2027, 3, 31))),
        Col("achieved_on", "date", derive(lambda c, i: c.cols["due_date"][i] + timedelta(days=c.rng.randint(-20, 45))
                                          if c.cols["due_date"][i] < date(2026, 10, 1) else None)),
        *created_updated(HISTORY_START),
    )),
    # ---- contractors and people ---------------------------------------------------------------------
    CONTRACTORS,
    Table("contractor_contacts", 18, cols=(
        fk("contractor_id", "contractors"),
        Col("role", "text NOT NULL", pick(["Owner", "Site foreman", "Admin", "Safety officer"])),
        Col("contact_name", "text NOT NULL", None),
        Col("email", "text", None),
        Col("phone", "text", None),
        Col("created_at", "timestamptz NOT NULL", timeline(HISTORY_START - timedelta(days=100))),
    ), build=lambda c: _person(c)),
    Table("contractor_rates", 36, comment="Agreed unit rates per contractor and work type.", cols=(
        Col("contractor_id", "integer NOT NULL", derive(lambda c, i: (c.start + i) // 2 + 1), fk="contractors"),
        Col("work_type", "text NOT NULL", derive(lambda c, i: ("drop_installation", "aerial_cable_per_m")[
            (c.start + i) % 2])),
        Col("rate_zar", "numeric(10,2) NOT NULL", derive(lambda c, i: money(c.rng, 650, 980)
                                                        if c.cols["work_type"][i] == "drop_installation"
                                                        else money(c.rng, 14, 31))),
        Col("effective_from", "date NOT NULL", days(date(2024, 7, 1), date(2025, 7, 1))),
        *created_updated(HISTORY_START - timedelta(days=90)),
    )),
    Table("contractor_certifications", 15, cols=(
        fk("contractor_id", "contractors"),
        Col("certification", "text NOT NULL", pick(["FTTH Installer L2", "Working at Heights", "First Aid L1",
                                                     "CIDB Grade 3 CE", "B-BBEE certificate"])),
        Col("issued_on", "date NOT NULL", days(date(2023, 1, 1), date(2026, 6, 30))),
        Col("expires_on", "date", after("issued_on", 24 * 365, 24 * 730, clamp=False)),
    )),
    lookup("departments", [("name", "text NOT NULL")], [(d,) for d in P.DEPARTMENTS]),
    lookup("job_titles", [("title", "text NOT NULL"), ("department_id", "integer NOT NULL"),
                          ("grade", "text NOT NULL")], P.JOB_TITLES,
           fks={"department_id": "departments"}),
    STAFF,
    Table("staff_leave", 12, cols=(
        fk("staff_id", "staff"),
        Col("leave_type", "text NOT NULL", pick(["annual", "sick", "family_responsibility", "study"],
                                                  [0.6, 0.25, 0.1, 0.05])),
        Col("start_date", "date NOT NULL", days(date(2025, 1, 10), date(2026, 12, 15))),
        Col("end_date", "date NOT NULL", after("start_date", 24, 24 * 15, clamp=False)),
        Col("approved", "boolean NOT NULL", bools(0.9)),
        Col("created_at", "timestamptz NOT NULL", timeline()),
    )),
    lookup("skills", [("name", "text NOT NULL"), ("category", "text NOT NULL")], P.SKILLS),
    Table("staff_skills", 24, whole=True, cols=(
        Col("staff_id", "integer NOT NULL", distinct_pairs("staff", "skills", 0), fk="staff"),
        Col("skill_id", "integer NOT NULL", distinct_pairs("staff", "skills", 1), fk="skills"),
        Col("level", "smallint NOT NULL", ints(1, 5)),
        Col("certified_on", "date", days(date(2019, 1, 1), date(2026, 10, 1), null=0.4)),
    ), uniques=("staff_id, skill_id",)),
    # ---- field work -------------------------------------------------------------------------------------
    DROPS,
    Table("drop_inspections", 24, scaled=True, comment="Quality inspections of completed drops.", cols=(
        fk("drop_id", "drops", type_="bigint"),
        fk("inspector_id", "staff"),
        Col("inspected_at", "timestamptz NOT NULL", timeline(HISTORY_START + timedelta(days=20))),
        Col("result", "text NOT NULL", pick(["pass", "fail", "rework"], [0.82, 0.06, 0.12])),
        Col("optical_loss_db", "double precision", floats(0.2, 3.5)),
        Col("notes", "text", pick(P.NOTES, null=0.7)),
    )),
    Table("meetings", 36, cols=(
        Col("title", "text NOT NULL", pick(P.MEETING_TITLES)),
        Col("meeting_type", "text NOT NULL", pick(["progress", "contractor", "safety", "client", "community"],
                                                    [0.35, 0.25, 0.15, 0.15, 0.1])),
        fk("project_id", "projects", null=0.2),
        fk("organiser_id", "staff", zipf=1.0),
        Col("starts_at", "timestamptz NOT NULL", derive(lambda c, i: office_hours(
            c.rng, (HISTORY_START + timedelta(days=int(680 * (c.start + i) / c.total))).date()))),
        Col("duration_minutes", "integer NOT NULL", pick([30, 45, 60, 90, 120], [0.2, 0.2, 0.35, 0.15, 0.1])),
        Col("location", "text", pick(["Head office, Midrand", "Site office", "MS Teams", "Community hall"])),
        Col("created_at", "timestamptz NOT NULL", after("starts_at", -24 * 10, -2)),
    )),
    Table("meeting_attendees", 48, whole=True, cols=(
        Col("meeting_id", "integer NOT NULL", distinct_pairs("meetings", "staff", 0), fk="meetings"),
        Col("staff_id", "integer NOT NULL", distinct_pairs("meetings", "staff", 1), fk="staff"),
        Col("attended", "boolean NOT NULL", bools(0.86)),
    )),
    Table("meeting_action_items", 30, cols=(
        fk("meeting_id", "meetings"),
        fk("owner_id", "staff"),
        Col("description", "text NOT NULL", pick(["Follow up on wayleave", "Send revised BOQ", "Confirm pole audit",
                                                   "Escalate low light levels", "Book community meeting",
                                                   "Update 1Map statuses"])),
        Col("due_date", "date NOT NULL", days(date(2025, 2, 1), date(2026, 12, 20))),
        Col("status", "text NOT NULL", pick(["open", "done", "overdue"], [0.25, 0.65, 0.1])),
    )),
    # ---- equipment ---------------------------------------------------------------------------------------
    lookup("equipment_types", [("name", "text NOT NULL"), ("category", "text NOT NULL"),
                               ("replacement_cost_zar", "integer NOT NULL")], P.EQUIPMENT_TYPES),
    Table("equipment", 30, comment="Tools and assets issued to field teams.", cols=(
        fk("equipment_type_id", "equipment_types"),
        Col("asset_tag", "text NOT NULL", code("VF-EQ-{:04d}")),
        Col("serial_number", "text", derive(lambda c, i: f"SN{c.rng.getrandbits(28):08d}")),
        Col("purchased_on", "date NOT NULL", days(date(2022, 3, 1), date(2026, 8, 30))),
        Col("purchase_price_zar", "numeric(12,2)", derive(
            lambda c, i: money(c.rng, 0.8, 1.1) * P.EQUIPMENT_TYPES[c.cols["equipment_type_id"][i] - 1][2])),
        Col("status", "text NOT NULL", pick(["in_service", "in_repair", "retired", "lost"], [0.8, 0.08, 0.08, 0.04])),
        *created_updated(HISTORY_START - timedelta(days=500)),
    ), uniques=("asset_tag",)),
    Table("equipment_assignments", 25, cols=(
        fk("equipment_id", "equipment"),
        fk("staff_id", "staff"),
        Col("assigned_at", "timestamptz NOT NULL", timeline()),
        Col("returned_at", "timestamptz", after("assigned_at", 24, 24 * 200, null=0.5)),
    )),
    lookup("olts", [("name", "text NOT NULL"), ("site", "text NOT NULL"), ("model", "text NOT NULL"),
                    ("mgmt_ip", "inet NOT NULL")],
           [("OLT-LAW-01", "Lawley exchange", "Nokia Lightspan MF-14", IPv4Address("10.20.1.11")),
            ("OLT-MOH-01", "Mohadin hub", "Nokia ISAM FX-8", IPv4Address("10.20.2.11")),
            ("OLT-IVP-01", "Ivory Park hub", "Nokia Lightspan MF-14", IPv4Address("10.20.3.11")),
            ("OLT-TSH-01", "Soshanguve hub", "Nokia ISAM FX-8", IPv4Address("10.20.4.11"))],
           "Optical line terminals."),
    Table("olt_ports", 32, comment="PON ports: 4 OLTs x 8 ports.", cols=(
        Col("olt_id", "integer NOT NULL", derive(lambda c, i: (c.start + i) // 8 + 1), fk="olts"),
        Col("pon_label", "text NOT NULL",
            derive(lambda c, i: f"1/1/{(c.start + i) % 8 // 4 + 1}/{(c.start + i) % 4 + 1}")),
        Col("max_onts", "smallint NOT NULL", const(128)),
        Col("status", "text NOT NULL", pick(["in_service", "spare"], [0.9, 0.1])),
    )),
    Table("splitters", 24, cols=(
        fk("olt_port_id", "olt_ports"),
        fk("zone_id", "zones"),
        Col("ratio", "text NOT NULL", pick(["1:8", "1:16", "1:32"], [0.5, 0.35, 0.15])),
        Col("location", "text", pick(["FDH cabinet", "Pole-mounted closure", "Chamber"])),
        Col("installed_on", "date", days(date(2024, 11, 1), date(2026, 10, 31), null=0.1)),
    )),
    Table("fdh_cabinets", 8, comment="Fibre distribution hubs.", cols=(
        fk("zone_id", "zones"),
        Col("code", "text NOT NULL", code("FDH-{:03d}")),
        Col("capacity_ports", "smallint NOT NULL", pick([144, 288, 576])),
        Col("installed_on", "date", days(date(2024, 10, 1), date(2026, 6, 30))),
    )),
    Table("poles", 24, scaled=True, comment="Poles planted by VelocityFibre (not the municipal poles).", cols=(
        Col("pole_number", "text NOT NULL", code("VF.P.{:06d}")),
        fk("zone_id", "zones"),
        Col("height_m", "numeric(4,1) NOT NULL", pick([Decimal("7.0"), Decimal("7.5"), Decimal("9.0")])),
        Col("material", "text NOT NULL", pick(["wood", "steel", "concrete"], [0.7, 0.2, 0.1])),
        Col("planted_on", "date", days(date(2024, 10, 1), date(2026, 11, 15))),
    )),
    Table("chambers", 12, cols=(
        Col("code", "text NOT NULL", code("CH-{:04d}")),
        fk("zone_id", "zones"),
        Col("chamber_type", "text NOT NULL", pick(["Type 1", "Type 2", "Manhole"])),
        Col("depth_m", "numeric(3,1)", pick([Decimal("0.6"), Decimal("0.8"), Decimal("1.2")])),
    )),
    lookup("cable_types", [("name", "text NOT NULL"), ("fibre_count", "smallint NOT NULL"),
                           ("sheath", "text NOT NULL"), ("cost_per_m_zar", "integer NOT NULL")], P.CABLE_TYPES),
    lookup("ont_models", [("vendor", "text NOT NULL"), ("model", "text NOT NULL"), ("wifi", "boolean NOT NULL"),
                          ("lan_ports", "smallint NOT NULL")], P.ONT_MODELS),
    lookup("service_plans", [("name", "text NOT NULL"), ("down_mbps", "integer NOT NULL"),
                             ("up_mbps", "integer NOT NULL"), ("monthly_price_zar", "integer NOT NULL")],
           P.SERVICE_PLANS, "Retail plans sold by ISPs on the open-access network."),
    lookup("isp_partners", [("name", "text NOT NULL")], [(n,) for n in P.ISPS],
           "Internet service providers on the open-access network."),
    Table("subscriptions", 24, scaled=True, cols=(
        fk("drop_id", "drops", type_="bigint"),
        fk("isp_partner_id", "isp_partners", zipf=1.1),
        fk("service_plan_id", "service_plans", zipf=0.9),
        Col("activated_on", "date NOT NULL", days(date(2025, 2, 1), date(2026, 11, 19))),
        Col("cancelled_on", "date", derive(
            lambda c, i: c.cols["activated_on"][i] + timedelta(days=c.rng.randint(30, 300))
            if c.rng.random() < 0.12 else None)),
        Col("status", "text NOT NULL", derive(lambda c, i: "cancelled" if c.cols["cancelled_on"][i] else "active")),
    )),
    # ---- ops ----------------------------------------------------------------------------------------------
    lookup("ops.work_order_types", [("name", "text NOT NULL")],
           [(n,) for n in ("Drop installation", "Fault repair", "Pole planting", "Splicing", "Relocation",
                           "Site survey")]),
    Table("ops.work_orders", 30, scaled=True, comment="Work issued to contractors.", cols=(
        Col("wo_number", "text NOT NULL", code("WO-{:06d}")),
        fk("work_order_type_id", "ops.work_order_types", zipf=1.0),
        fk("project_id", "projects"),
        fk("contractor_id", "contractors", zipf=1.2),
        fk("drop_id", "drops", type_="bigint", null=0.4),
        Col("priority", "text NOT NULL", pick(["normal", "high", "urgent"], [0.75, 0.2, 0.05])),
        Col("status", "text NOT NULL", pick(["open", "in_progress", "closed", "cancelled"], [0.1, 0.1, 0.75, 0.05])),
        Col("raised_at", "timestamptz NOT NULL", timeline(growth=1.5)),
        Col("due_date", "date", after("raised_at", 24 * 3, 24 * 21, as_date=True, clamp=False)),
        Col("closed_at", "timestamptz", derive(lambda c, i: min(c.cols["raised_at"][i] + timedelta(
            seconds=int(c.rng.uniform(4, 400) * 3600)), ANCHOR) if c.cols["status"][i] == "closed" else None)),
        Col("estimated_cost_zar", "numeric(12,2)", amounts(800, 45_000)),
    ), indexes=("contractor_id",)),
    Table("ops.work_order_tasks", 30, scaled=True, cols=(
        fk("work_order_id", "ops.work_orders"),
        Col("description", "text NOT NULL", pick(["Survey route", "String cable", "Splice closure", "Mount ONT",
                                                   "Test light levels", "Clean site"])),
        Col("done", "boolean NOT NULL", bools(0.8)),
        Col("done_at", "timestamptz", derive(lambda c, i: at_row(c, i) if c.cols["done"][i] else None)),
    )),
    Table("ops.vehicles", 8, cols=(
        Col("registration", "text NOT NULL", derive(
            lambda c, i: f"{c.rng.choice('BCDFHJKL')}{c.rng.choice('BCDFHJKLMNPRSTVWXYZ')} "
                         f"{c.rng.randint(10, 99)} {c.rng.choice('BCDFHJKL')}{c.rng.choice('MNPRSTVWXYZ')} GP")),
        Col("make_model", "text NOT NULL", pick(["Toyota Hilux 2.4GD", "Nissan NP200", "Isuzu D-Max", "Ford Ranger"])),
        Col("year", "smallint NOT NULL", ints(2016, 2025)),
        fk("assigned_staff_id", "staff", null=0.2),
        Col("status", "text NOT NULL", pick(["active", "in_service", "written_off"], [0.8, 0.15, 0.05])),
    )),
    Table("ops.vehicle_trips", 20, scaled=True, cols=(
        fk("vehicle_id", "ops.vehicles"),
        fk("driver_id", "staff"),
        Col("started_at", "timestamptz NOT NULL", timeline()),
        Col("ended_at", "timestamptz", after("started_at", 0.5, 9)),
        Col("distance_km", "numeric(7,1)", derive(lambda c, i: Decimal(c.rng.randint(40, 2_600)) / 10)),
        Col("purpose", "text", pick(["Site visit", "Material collection", "Fault call-out", "Client meeting"])),
    )),
    Table("ops.fuel_logs", 20, cols=(
        fk("vehicle_id", "ops.vehicles"),
        Col("filled_at", "timestamptz NOT NULL", timeline()),
        Col("litres", "numeric(6,2) NOT NULL", amounts(25, 80)),
        Col("cost_zar", "numeric(10,2) NOT NULL", _decimal("litres", lambda v: float(v) * 22.4)),
        Col("odometer_km", "integer", ints(20_000, 240_000)),
    )),
    Table("ops.vehicle_gps_log", 24, scaled=True, id_type=None,
          comment="Raw tracker pings; no key, and the tracker sometimes sends a ping twice.", cols=(
        fk("vehicle_id", "ops.vehicles"),
        Col("recorded_at", "timestamptz NOT NULL", timeline(ANCHOR - timedelta(days=7))),
        Col("latitude", "double precision", floats(-26.7, -25.4, 5)),
        Col("longitude", "double precision", floats(27.0, 28.4, 5)),
        Col("speed_kmh", "smallint", ints(0, 110)),
    ), post=(duplicate_rows(3),)),
    lookup("ops.ticket_categories", [("name", "text NOT NULL")],
           [(n,) for n in ("No service", "Slow speeds", "Intermittent", "Damaged cable", "Relocation", "Billing")]),
    Table("ops.tickets", 30, scaled=True, comment="Customer and ISP fault tickets.", cols=(
        Col("ticket_number", "text NOT NULL", code("TCK-{:06d}")),
        fk("category_id", "ops.ticket_categories", zipf=1.0),
        Col("priority", "ops.ticket_priority NOT NULL", pick(["low", "medium", "high", "critical"],
                                                            [0.3, 0.45, 0.2, 0.05])),
        fk("property_id", "onemap_properties", type_="bigint"),
        Col("channel", "text NOT NULL", pick(["isp_portal", "call_centre", "whatsapp", "email"])),
        Col("status", "text NOT NULL", pick(["open", "resolved", "closed"], [0.15, 0.25, 0.6])),
        Col("opened_at", "timestamptz NOT NULL", timeline(HISTORY_START + timedelta(days=60), growth=1.5)),
        Col("resolved_at", "timestamptz", derive(lambda c, i: None if c.cols["status"][i] == "open" else min(
            c.cols["opened_at"][i] + timedelta(seconds=int(c.rng.lognormvariate(2.8, 0.9) * 3600)), ANCHOR))),
        fk("assigned_staff_id", "staff", null=0.1),
    ), indexes=("opened_at",)),
    Table("ops.ticket_comments", 24, scaled=True, cols=(
        fk("ticket_id", "ops.tickets"),
        fk("author_id", "staff"),
        Col("body", "text NOT NULL", pick(["Technician dispatched", "Customer unreachable", "Light levels OK",
                                            "Replaced patch lead", "Escalated to ISP", "Resolved, monitoring"])),
        Col("created_at", "timestamptz NOT NULL", timeline(HISTORY_START + timedelta(days=60))),
    )),
    lookup("ops.sla_definitions", [("name", "text NOT NULL"), ("priority", "ops.ticket_priority NOT NULL"),
                                   ("response_hours", "integer NOT NULL"), ("resolve_hours", "integer NOT NULL")],
           [("Critical", "critical", 1, 8), ("High", "high", 4, 24), ("Medium", "medium", 8, 48),
            ("Low", "low", 24, 120)]),
    Table("ops.sla_events", 20, scaled=True, cols=(
        fk("ticket_id", "ops.tickets"),
        fk("sla_definition_id", "ops.sla_definitions"),
        Col("event_type", "text NOT NULL", pick(["met", "response_breach", "resolution_breach"], [0.7, 0.1, 0.2])),
        Col("occurred_at", "timestamptz NOT NULL", timeline(HISTORY_START + timedelta(days=60))),
    )),
    Table("ops.outages", 6, cols=(
        Col("started_at", "timestamptz NOT NULL", timeline()),
        Col("ended_at", "timestamptz", after("started_at", 0.5, 30)),
        Col("cause", "text NOT NULL", pick(["Cable theft", "Load-shedding battery depletion", "Vehicle hit pole",
                                             "OLT card failure", "Construction damage"])),
        Col("customers_affected", "integer", ints(12, 2_400)),
    )),
    Table("ops.outage_affected_zones", 10, whole=True, cols=(
        Col("outage_id", "integer NOT NULL", distinct_pairs("ops.outages", "zones", 0), fk="ops.outages"),
        Col("zone_id", "integer NOT NULL", distinct_pairs("ops.outages", "zones", 1), fk="zones"),
    )),
    Table("ops.maintenance_schedules", 8, cols=(
        Col("asset_kind", "text NOT NULL", pick(["olt", "fdh_cabinet", "vehicle", "generator"])),
        Col("asset_ref", "text NOT NULL",
            derive(lambda c, i: f"{c.cols['asset_kind'][i].upper()}-{c.rng.randint(1, 9):02d}")),
        Col("frequency_days", "integer NOT NULL", pick([30, 90, 180, 365])),
        Col("next_due", "date NOT NULL", days(date(2026, 11, 21), date(2027, 5, 30))),
        fk("responsible_staff_id", "staff"),
    )),
    Table("ops.inspections", 12, cols=(
        fk("zone_id", "zones"),
        fk("inspector_id", "staff"),
        Col("inspected_on", "date NOT NULL", days(date(2025, 3, 1), date(2026, 11, 18))),
        Col("score", "smallint NOT NULL", ints(55, 100)),
        Col("findings", "text", pick(["Loose drop clamps", "Missing pole labels", "Good workmanship",
                                       "Excess slack on poles"], null=0.2)),
    )),
    Table("ops.safety_incidents", 5, cols=(
        Col("occurred_at", "timestamptz NOT NULL", timeline()),
        fk("contractor_id", "contractors"),
        Col("severity", "text NOT NULL", pick(["near_miss", "minor", "lost_time"], [0.5, 0.35, 0.15])),
        Col("description", "text NOT NULL", pick(["Ladder slipped", "Cut hand while stripping cable",
                                                   "Dog bite", "Fell from pole step"])),
        Col("lost_time_hours", "numeric(5,1)", derive(lambda c, i: Decimal(c.rng.randint(4, 80))
                                                     if c.cols["severity"][i] == "lost_time" else None)),
    )),
    Table("ops.permits", 10, cols=(
        Col("permit_number", "text NOT NULL", code("PRM-{:05d}")),
        fk("project_id", "projects"),
        Col("authority", "text NOT NULL", pick(["JRA", "City Power", "Tshwane Roads", "Eskom", "Transnet"])),
        Col("issued_on", "date NOT NULL", days(date(2024, 8, 1), date(2026, 9, 30))),
        Col("expires_on", "date NOT NULL", after("issued_on", 24 * 180, 24 * 365, clamp=False)),
        Col("status", "text NOT NULL", pick(["valid", "expired", "renewal_pending"], [0.6, 0.25, 0.15])),
    )),
    Table("ops.wayleave_applications", 8, cols=(
        fk("project_id", "projects"),
        Col("landowner", "text NOT NULL", pick(["SANRAL", "Eskom", "Transnet", "Private landowner", "Municipality"])),
        Col("submitted_on", "date NOT NULL", days(date(2024, 7, 1), date(2026, 9, 1))),
        Col("decision", "text NOT NULL", pick(["approved", "pending", "rejected"], [0.6, 0.3, 0.1])),
        Col("decided_on", "date", derive(lambda c, i: None if c.cols["decision"][i] == "pending" else
                                         c.cols["submitted_on"][i] + timedelta(days=c.rng.randint(14, 120)))),
    )),
    Table("ops.daily_reports", 24, cols=(
        Col("report_date", "date NOT NULL",
            derive(lambda c, i: (ANCHOR - timedelta(days=c.total - c.start - i)).date())),
        fk("project_id", "projects", zipf=1.0),
        fk("author_id", "staff"),
        Col("drops_completed", "integer NOT NULL", ints(0, 9)),
        Col("weather", "text", pick(["sunny", "overcast", "rain", "thunderstorms"], [0.55, 0.2, 0.15, 0.1])),
        Col("summary", "text", pick(["Good progress", "Rain delays", "Material shortage", "Community protest"])),
    )),
    lookup("ops.shifts", [("name", "text NOT NULL"), ("starts", "time NOT NULL"), ("ends", "time NOT NULL")],
           [("Day", time(7, 0), time(16, 0)), ("Late", time(10, 0), time(19, 0)),
            ("Standby", time(18, 0), time(7, 0))]),
    Table("ops.roster", 20, cols=(
        fk("staff_id", "staff"),
        fk("shift_id", "ops.shifts", zipf=2.0),
        Col("work_date", "date NOT NULL", days(date(2026, 11, 16), date(2026, 11, 29))),
    )),
    Table("ops.warehouses", 3, cols=(
        Col("name", "text NOT NULL", values(["Midrand main store", "Lawley site store", "Potchefstroom depot"])),
        Col("suburb_id", "integer", values([None, 1, 4]), fk="suburbs"),
        Col("address", "text", values(["14 Bridal Veil Road, Midrand", "Stand 2210, Lawley Ext 3",
                                       "23 Nelson Mandela Drive, Potchefstroom"])),
    )),
    lookup("ops.materials", [("sku", "text NOT NULL"), ("name", "text NOT NULL"), ("unit", "text NOT NULL"),
                             ("unit_cost_zar", "integer NOT NULL")], P.MATERIALS),
    Table("ops.stock_levels", 24, whole=True, cols=(
        Col("warehouse_id", "integer NOT NULL", distinct_pairs("ops.warehouses", "ops.materials", 0),
            fk="ops.warehouses"),
        Col("material_id", "integer NOT NULL", distinct_pairs("ops.warehouses", "ops.materials", 1),
            fk="ops.materials"),
        Col("quantity", "integer NOT NULL", ints(0, 5_000)),
        Col("updated_at", "timestamptz NOT NULL", stamps(ANCHOR - timedelta(days=10), ANCHOR)),
    )),
    Table("ops.stock_movements", 40, scaled=True, cols=(
        fk("material_id", "ops.materials", zipf=1.0),
        fk("warehouse_id", "ops.warehouses", zipf=1.0),
        Col("movement_type", "text NOT NULL",
            pick(["receipt", "issue", "transfer", "adjustment"], [0.3, 0.55, 0.1, 0.05])),
        Col("quantity", "integer NOT NULL", ints(1, 500)),
        fk("drop_id", "drops", type_="bigint", null=0.6),
        fk("staff_id", "staff"),
        Col("moved_at", "timestamptz NOT NULL", timeline()),
    )),
    Table("ops.suppliers", 6, cols=(
        Col("name", "text NOT NULL", values(["Fibertech SA", "Duct & Cable Supplies", "Polecraft Timbers",
                                             "Nokia Solutions SA", "Safety First Distributors", "Hardware Hub"])),
        Col("email", "text", derive(lambda c, i: f"orders@supplier{c.start + i + 1}.co.za")),
        Col("phone", "text", derive(lambda c, i: sa_phone(c.rng))),
    )),
    Table("ops.purchase_orders", 10, cols=(
        Col("po_number", "text NOT NULL", code("PO-{:05d}")),
        fk("supplier_id", "ops.suppliers"),
        Col("ordered_on", "date NOT NULL", days(date(2025, 1, 10), date(2026, 11, 10))),
        Col("status", "text NOT NULL", pick(["received", "ordered", "cancelled"], [0.75, 0.2, 0.05])),
        Col("total_zar", "numeric(12,2)", const(None), comment="Sum of the lines (set after loading)"),
    )),
    Table("ops.purchase_order_lines", 24, cols=(
        Col("purchase_order_id", "integer NOT NULL", cover("ops.purchase_orders"), fk="ops.purchase_orders"),
        fk("material_id", "ops.materials"),
        Col("quantity", "integer NOT NULL", ints(10, 2_000)),
        Col("unit_price_zar", "numeric(10,2) NOT NULL", derive(
            lambda c, i: Decimal(P.MATERIALS[c.cols["material_id"][i] - 1][3]))),
    )),
    Table("ops.audit_log", 36, scaled=True, comment="Who changed what in the operations system.", cols=(
        Col("occurred_at", "timestamptz NOT NULL", timeline()),
        fk("actor_staff_id", "staff", zipf=1.3, null=0.05),
        Col("action", "text NOT NULL", pick(["insert", "update", "delete", "export"], [0.3, 0.6, 0.03, 0.07])),
        Col("entity", "text NOT NULL", pick(["drops", "work_orders", "tickets", "staff", "invoices"])),
        Col("entity_id", "bigint", ints(1, 400)),
        Col("details", "jsonb", derive(_audit_details)),
    )),
    Table("ops.login_events", 20, scaled=True, cols=(
        fk("staff_id", "staff", zipf=1.0),
        Col("logged_in_at", "timestamptz NOT NULL", timeline(ANCHOR - timedelta(days=60))),
        Col("ip_address", "inet", derive(_ip)),
        Col("user_agent", "text", pick(["Chrome/131 Windows", "Safari/18 iPhone", "Chrome/131 Android",
                                         "Firefox/133 Linux"])),
        Col("success", "boolean NOT NULL", bools(0.94)),
    )),
    Table("ops.data_imports", 8, cols=(
        Col("source", "text NOT NULL", pick(["1Map export", "Nokia network manager", "SOW workbook"])),
        Col("file_name", "text NOT NULL", derive(lambda c, i: f"{c.cols['source'][i].split()[0].lower()}_"
                                                 f"{2025 + i // 5}{(i * 3) % 12 + 1:02d}.csv")),
        Col("rows_loaded", "integer NOT NULL", ints(500, 33_000)),
        fk("imported_by", "staff"),
        Col("imported_at", "timestamptz NOT NULL", timeline()),
    )),
    lookup("ops.system_settings", [("key", "text NOT NULL"), ("value", "text NOT NULL")],
           [("sla.clock_pauses_on_loadshedding", "true"), ("drops.default_lead_days", "7"),
            ("nokia.rx_power_min_dbm", "-27"), ("onemap.sync_cron", "0 2 * * *"),
            ("finance.vat_rate", "0.15"), ("finance.payment_run_day", "25"), ("tickets.auto_close_days", "5"),
            ("contractors.max_open_drops", "60"), ("reports.timezone", "Africa/Johannesburg"),
            ("ui.theme", "dark")]),
    # ---- finance -----------------------------------------------------------------------------------------
    lookup("finance.cost_centres", [("code", "text NOT NULL"), ("name", "text NOT NULL")],
           [("CC100", "Head office"), ("CC200", "Network build"), ("CC210", "Home connections"),
            ("CC300", "Operations & maintenance"), ("CC400", "Fleet"), ("CC500", "Sales & marketing")]),
    lookup("finance.tax_rates", [("name", "text NOT NULL"), ("rate_pct", "numeric(5,2) NOT NULL"),
                                 ("effective_from", "date NOT NULL")],
           [("VAT standard", Decimal("15.00"), date(2018, 4, 1)), ("Zero-rated", Decimal("0.00"), date(1991, 9, 30))]),
    lookup("finance.payment_terms", [("name", "text NOT NULL"), ("days", "integer NOT NULL")],
           [("Immediate", 0), ("14 days", 14), ("30 days", 30), ("60 days", 60)]),
    lookup("finance.price_list", [("item", "text NOT NULL"), ("unit", "text NOT NULL"),
                                  ("price_zar", "numeric(12,2) NOT NULL")], FINANCE_PRICE_LIST),
    Table("finance.invoices", 24, scaled=True, comment="Invoices to clients; totals include 15% VAT.", cols=(
        Col("invoice_number", "text NOT NULL", code("INV-{:06d}", 2_400)),
        fk("client_id", "clients", zipf=1.0),
        fk("project_id", "projects"),
        fk("payment_term_id", "finance.payment_terms"),
        Col("issued_on", "date NOT NULL", derive(lambda c, i: (HISTORY_START + timedelta(
            days=int(680 * c.fraction(i)))).date())),
        Col("due_on", "date NOT NULL", after("issued_on", 24 * 14, 24 * 60, clamp=False)),
        Col("status", "finance.invoice_status NOT NULL", pick(["draft", "issued", "paid", "overdue", "void"],
                                                              [0.05, 0.2, 0.6, 0.12, 0.03])),
        Col("subtotal_zar", "numeric(14,2)", const(None), comment="Sum of invoice_lines (set after loading)"),
        Col("vat_zar", "numeric(14,2)", const(None)),
        Col("total_zar", "numeric(14,2)", const(None)),
    ), uniques=("invoice_number",)),
    Table("finance.invoice_lines", 36, scaled=True, cols=(
        Col("invoice_id", "integer NOT NULL", cover("finance.invoices"), fk="finance.invoices"),
        fk("price_list_id", "finance.price_list", zipf=1.0),
        Col("quantity", "numeric(10,2) NOT NULL", derive(_invoice_quantity)),
        Col("unit_price_zar", "numeric(12,2)", const(None), comment="Copied from the price list after loading"),
        Col("line_total_zar", "numeric(14,2)", const(None)),
    )),
    Table("finance.payments", 20, scaled=True, cols=(
        fk("invoice_id", "finance.invoices"),
        Col("paid_on", "date NOT NULL", days(date(2025, 2, 1), date(2026, 11, 20))),
        Col("amount_zar", "numeric(14,2) NOT NULL", amounts(0.3, 1.0),
            comment="Set after loading to a share of the invoice total"),
        Col("method", "text NOT NULL", pick(["EFT", "debit_order", "cheque"], [0.85, 0.1, 0.05])),
        Col("reference", "text", code("PAY-{:07d}")),
    )),
    Table("finance.credit_notes", 3, cols=(
        fk("invoice_id", "finance.invoices"),
        Col("issued_on", "date NOT NULL", days(date(2025, 5, 1), date(2026, 11, 1))),
        Col("amount_zar", "numeric(14,2) NOT NULL", amounts(1_000, 60_000)),
        Col("reason", "text", pick(["Duplicate billing", "Disputed quantities", "Rate correction"])),
    )),
    Table("finance.contractor_payouts", 24, scaled=True, comment="Monthly payments to contractors.", cols=(
        fk("contractor_id", "contractors", zipf=1.2),
        Col("period_start", "date NOT NULL", days(date(2025, 1, 1), date(2026, 10, 1))),
        Col("drops_paid", "integer NOT NULL", ints(0, 60)),
        Col("amount_zar", "numeric(14,2) NOT NULL", _decimal("drops_paid", lambda v: v * 820.0 + 1_500)),
        Col("paid_on", "date", after("period_start", 24 * 35, 24 * 45, null=0.1)),
        fk("cost_centre_id", "finance.cost_centres"),
    )),
    Table("finance.budgets", 16, whole=True, cols=(
        fk("project_id", "projects"),
        fk("cost_centre_id", "finance.cost_centres"),
        Col("fiscal_year", "smallint NOT NULL", pick([2026, 2027])),
        Col("quarter", "smallint NOT NULL", ints(1, 4)),
        Col("amount_zar", "numeric(14,2) NOT NULL", amounts(250_000, 4_000_000)),
    )),
    lookup("finance.expense_categories", [("name", "text NOT NULL")],
           [(n,) for n in ("Fuel", "Accommodation", "Meals", "Tools", "Data & airtime", "Training")]),
    Table("finance.expenses", 30, scaled=True, cols=(
        fk("expense_category_id", "finance.expense_categories", zipf=1.0),
        fk("cost_centre_id", "finance.cost_centres"),
        fk("staff_id", "staff"),
        Col("incurred_on", "date NOT NULL", days(date(2025, 1, 6), date(2026, 11, 20))),
        Col("amount_zar", "numeric(10,2) NOT NULL", amounts(45, 6_500)),
        Col("description", "text", pick(["Site visit", "Client meeting", "Training course", "Emergency callout"])),
        Col("receipt_attached", "boolean NOT NULL", bools(0.88)),
    )),
    lookup("finance.bank_accounts", [("bank", "text NOT NULL"), ("account_name", "text NOT NULL"),
                                     ("account_number_masked", "text NOT NULL"), ("branch_code", "text NOT NULL")],
           [("FNB", "VelocityFibre Operations", "****4821", "250655"),
            ("Standard Bank", "VelocityFibre Capex", "****1907", "051001"),
            ("Nedbank", "VelocityFibre Payroll", "****7730", "198765")]),
)
# fmt: on


# --- everything that is not a table -----------------------------------------------------------------

PRE_SQL = """
CREATE SCHEMA ops;
COMMENT ON SCHEMA ops IS 'Field operations: work orders, tickets, fleet, stores.';
CREATE SCHEMA finance;
COMMENT ON SCHEMA finance IS 'Invoicing, payments and contractor payouts.';
CREATE TYPE drop_status AS ENUM ('scheduled', 'in_progress', 'completed', 'failed', 'cancelled');
CREATE TYPE ops.ticket_priority AS ENUM ('low', 'medium', 'high', 'critical');
CREATE TYPE finance.invoice_status AS ENUM ('draft', 'issued', 'paid', 'overdue', 'void');
"""

POST_SQL = """
UPDATE finance.invoice_lines l SET unit_price_zar = p.price_zar, line_total_zar = round(l.quantity * p.price_zar, 2)
  FROM finance.price_list p WHERE p.id = l.price_list_id;
UPDATE finance.invoices i SET subtotal_zar = s.subtotal, vat_zar = round(s.subtotal * 0.15, 2),
       total_zar = round(s.subtotal * 1.15, 2)
  FROM (SELECT invoice_id, sum(line_total_zar) AS subtotal FROM finance.invoice_lines GROUP BY invoice_id) s
 WHERE s.invoice_id = i.id;
UPDATE finance.payments p SET amount_zar = CASE WHEN i.status = 'paid' THEN round(i.total_zar / s.n, 2)
                                            ELSE round(i.total_zar * p.amount_zar / s.n, 2) END
  FROM finance.invoices i, (SELECT invoice_id, count(*) AS n FROM finance.payments GROUP BY invoice_id) s
 WHERE i.id = p.invoice_id AND s.invoice_id = p.invoice_id;
UPDATE ops.purchase_orders o SET total_zar = s.total
  FROM (SELECT purchase_order_id, sum(quantity * unit_price_zar) AS total
          FROM ops.purchase_order_lines GROUP BY purchase_order_id) s
 WHERE s.purchase_order_id = o.id;

CREATE VIEW contractor_performance AS
SELECT c.id AS contractor_id,
       c.name AS contractor_name,
       count(d.id) AS total_drops,
       count(d.id) FILTER (WHERE d.status = 'completed') AS completed_drops,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed_drops,
       round(100.0 * count(d.id) FILTER (WHERE d.status = 'completed') / nullif(count(d.id), 0), 1)
           AS completion_rate_pct,
       round(avg(d.completion_hours), 2) AS avg_completion_hours,
       max(d.completed_at) AS last_completed_at
  FROM contractors c
  LEFT JOIN drops d ON d.contractor_id = c.id
 GROUP BY c.id, c.name;
COMMENT ON VIEW contractor_performance IS 'Drops per contractor with completion rate and average hours on site.';

CREATE VIEW monthly_drop_summary AS
SELECT date_trunc('month', created_at AT TIME ZONE 'Africa/Johannesburg')::date AS month,
       count(*) AS drops_created,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS failed_or_cancelled,
       round(avg(completion_hours), 2) AS avg_completion_hours
  FROM drops
 GROUP BY 1;

CREATE VIEW finance.outstanding_invoices AS
SELECT i.id AS invoice_id, i.invoice_number, c.name AS client_name, i.due_on, i.total_zar,
       coalesce(p.paid, 0) AS paid_zar, i.total_zar - coalesce(p.paid, 0) AS outstanding_zar
  FROM finance.invoices i
  JOIN clients c ON c.id = i.client_id
  LEFT JOIN (SELECT invoice_id, sum(amount_zar) AS paid FROM finance.payments GROUP BY invoice_id) p
    ON p.invoice_id = i.id
 WHERE i.status IN ('issued', 'overdue');
"""
