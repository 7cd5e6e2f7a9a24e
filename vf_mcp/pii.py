"""Personal data (PII) in tool outputs and exports: detection by column name and by value, masking, stable hashes.

Pure (no I/O). A `PiiPolicy` decides per column: `mask` (a partial value such as j***@example.com), `hash`
(a stable `pii:` token, HMAC-SHA256 under the policy's secret: equal values give equal tokens, so joins,
GROUP BY and distinct counts still line up) or `allow`. Columns are PII by name (`pii_kind`) or by explicit
configuration; cells of other columns are scanned for value patterns (emails, phone numbers, US SSNs,
South African ID numbers, Luhn-valid card numbers). Masking is idempotent: masked values and tokens pass
through unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar, cast

from vf_mcp.compute.quality import EMAIL_RE, PHONE_TOKENS, tokens
from vf_mcp.jsontypes import JSONValue

if TYPE_CHECKING:
    from vf_mcp.db.lineage import OutputLineage
    from vf_mcp.settings import PiiMode, Settings

Cell = TypeVar("Cell", JSONValue, object)
"""A row cell: a JSON value (tool results), or any decoded value (export chunks); masks are strings."""

Rule = tuple[str, "PiiMode"]
"""(kind, mode) of a PII column."""

WHOLE_MASK = "***"
"""A derived value of personal data in mask mode: nothing of it is shown."""


@dataclass(frozen=True)
class ColumnMask:
    """How one output column is masked by lineage: `whole` for values derived from PII (no partial mask)."""

    index: int
    kind: str
    mode: PiiMode
    whole: bool


# ---------- detection by column name ----------


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STRONG: dict[str, str] = {
    **dict.fromkeys(_w("email emails emailaddress mailaddress"), "email"),
    **dict.fromkeys((PHONE_TOKENS - {"cell", "mobile"}) | _w("whatsapp phonenumber telno cellno mobileno"), "phone"),
    **dict.fromkeys(_w("ssn nino passport nric aadhaar pesel cpf curp nationalid idnumber idno taxid"), "national_id"),
    **dict.fromkeys(_w("address addresses addr streetaddress postaladdress physicaladdress homeaddress"), "address"),
    **dict.fromkeys(_w("ipaddress ipaddr ipv4 ipv6"), "ip"),
    **dict.fromkeys(_w("cardnumber cardno creditcard creditcardnumber ccnumber ccnum"), "card"),
    **dict.fromkeys(_w("iban bankaccount bankacc"), "bank_account"),
    **dict.fromkeys(_w("surname surnames firstname lastname fullname forename forenames givenname familyname"), "name"),
    **dict.fromkeys(_w("middlename maidenname fname lname"), "name"),
    **dict.fromkeys(_w("dob birthdate birthday dateofbirth birthdt bday"), "dob"),
}
# Ambiguous alone ("mobile_app", "cell_tower", "ip_rating", "mail_server"): PII only with a harmless tail.
_WEAK: dict[str, str] = {"mail": "email", "cell": "phone", "mobile": "phone", "sin": "national_id",
                         "street": "address", "ip": "ip", "pan": "card"}  # fmt: skip
_PHRASES: dict[tuple[str, ...], str] = {
    ("e", "mail"): "email",
    ("date", "of", "birth"): "dob",
    **dict.fromkeys([("birth", x) for x in ("date", "day", "dt", "on")] + [("born", "on")], "dob"),
    **dict.fromkeys(
        [("national", x) for x in ("id", "identity", "insurance")]
        + [("identity", x) for x in ("number", "no", "document")]
        + [("identification", "number"), ("tax", "id"), ("social", "security"), ("social", "insurance")]
        + [(a, b) for a in ("driver", "drivers", "driving") for b in ("license", "licence")],
        "national_id",
    ),
    **dict.fromkeys([("remote", "addr"), ("remote", "address")], "ip"),
    **dict.fromkeys([(a, b) for a in ("card", "cc") for b in ("number", "no", "num", "nr")], "card"),
    **dict.fromkeys([("credit", "card"), ("debit", "card")], "card"),
    **dict.fromkeys([("bank", x) for x in ("account", "acc", "acct")], "bank_account"),
}
_ID_NUMBER = _w("number no nr num")  # "id_number": a national ID when first or after a person word
_ID_OWNERS = _w(
    "sa rsa national personal citizen person customer employee staff member user patient owner holder applicant"
)
_PERSON = _w(
    "first last full given family middle maiden contact customer person user employee staff technician owner "
    "patient holder cardholder account_holder recipient sender manager agent driver member author spouse father "
    "mother parent guardian emergency kin legal birth preferred installer supervisor resident subscriber caller "
    "applicant student teacher doctor nurse worker assignee reporter requester approver reviewer inspector "
    "occupant homeowner beneficiary guarantor signatory"
)
_PERSON_TABLES = _w(
    "customer customers user users person persons people contact contacts employee employees staff member members "
    "patient patients student students technician technicians subscriber subscribers resident residents applicant "
    "applicants candidate candidates driver drivers profile profiles personnel"
)
_NOT_ADDRESS = _w(
    "mac web url wallet contract memory server host bind listen network broadcast gateway hardware bluetooth base "
    "node ethereum eth btc bitcoin crypto"
)
_NOT_CARD = _w("sim gift job time rate report score key access sd memory graphics network line")
_OK_TAIL = _w(
    "number numbers no nr num address addr name e164 raw full primary secondary home work personal private business "
    "main alt alternate other value text digits ext extension intl international local national formatted "
    "normalized normalised clean line line1 line2 1 2 3 phone v4 v6"
)
# Ids, counts, flags, metadata and timestamps about personal data are not personal data.
_NOT_TAIL = _w(
    "id ids uuid guid key pk fk ref count counts cnt total totals sum verified verify verification valid validated "
    "validation confirmed confirmation confirm opt optin optout opted consent consented enabled disabled allowed "
    "bounced bounce bounces unsubscribed subscribed flag required present missing exists known type types kind "
    "status state format pattern length len size domain domains provider carrier network operator model brand make "
    "os country countries nationality code prefix template templates subject body campaign campaigns frequency "
    "preference preferences pref prefs setting settings hash hashed md5 sha1 sha256 digest encrypted at on date time "
    "ts timestamp datetime dt updated created changed modified sent received opened clicked clicks opens lat lng lon "
    "latitude longitude geom geometry coords source label visibility visible public language locale column field "
    "policy rule rules check quality score index idx seq rank version range subnet block mask masked redacted "
    "expiry expires expiration issued issue issuer"
)
_STEM = re.compile(r"(email|phone|address)(?:\d+|number|no|nr|num|addr|address|line\d*)")  # email2, phoneno
_COUNT_PREFIX = _w("is has can should must was were no num n nb count cnt total pct percent share ratio")


def _match_at(t: list[str], i: int) -> tuple[str | None, int, bool] | None:
    """A PII word at t[i]: (kind or None for a known non-PII use, end index, weak)."""
    tok = t[i]
    for n in (3, 2):
        kind = _PHRASES.get(tuple(t[i : i + n])) if i + n <= len(t) else None
        if kind is not None:
            if kind == "card" and i > 0 and t[i - 1] in _NOT_CARD:
                return None
            return kind, i + n, False
    if tok == "id" and i + 1 < len(t) and t[i + 1] in _ID_NUMBER and (i == 0 or t[i - 1] in _ID_OWNERS):
        return "national_id", i + 2, False
    if tok in _PERSON and i + 1 < len(t) and t[i + 1] in ("name", "names"):
        return "name", i + 2, False
    if tok in ("address", "addr") and i > 0 and t[i - 1] in _NOT_ADDRESS:
        return None, i + 1, False
    stem = _STEM.fullmatch(tok)
    kind = _STRONG.get(tok) or (stem[1] if stem else None)
    if kind is not None:
        return kind, i + 1, False
    weak = _WEAK.get(tok)
    return (weak, i + 1, True) if weak else None


@lru_cache(maxsize=8192)  # pure and called for every key of every result: names repeat
def pii_kind(column_name: str, table: str | None = None) -> str | None:
    """The kind of personal data a column holds by its name, or None.

    Kinds: email, phone, national_id, address, ip, card, bank_account, name, dob. Ids, counts, flags and
    metadata about PII ("address_id", "phone_count", "email_verified", "email_domain") are not PII. A bare
    "name" column is a person's name only in a person-like table (customers, users, staff, contacts, ...).
    """
    t = tokens(column_name)
    if not t or t[0] in _COUNT_PREFIX or t[:2] == ["number", "of"]:
        return None
    for i in range(len(t)):
        hit = _match_at(t, i)
        if hit is None:
            continue
        kind, end, weak = hit
        tail = t[end:]
        if kind is None or _NOT_TAIL.intersection(tail):
            return None
        if weak and not _OK_TAIL.issuperset(tail):
            continue
        return kind
    if table and t in (["name"], ["names"]):
        table_words = tokens(table.rsplit(".", 1)[-1])
        if table_words and table_words[-1] in _PERSON_TABLES:
            return "name"
    return None


# ---------- detection by value ----------

_MIN_DIGITS = 8  # the shortest pattern below: a phone number with a country code
_NOT_INTERESTING = bytes(b for b in range(256) if b not in b"0123456789@\x00")  # deleted by _candidates
# Whole values with many digits that are never PII (dates, timestamps, UUIDs, decimals): skipped cheaply.
_ORDINARY = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|-?\d+\.\d+(?:[eE][+-]?\d+)?|-?[1-9]\d{0,11}",
    re.ASCII,
)
_EMAIL_WHOLE = re.compile(EMAIL_RE)
_EMAIL_IN_TEXT = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# A maximal run of 8+ digits and phone separators; _number_kind decides what (if anything) it is.
_SEP = r"(?:\)[ .-]?|[ .-]\(?|\()?"  # between digits: "-", " ", ".", ") ", " (", ...
_NUM_RUN = re.compile(rf"(?<![\w+.-])\+?\(?\d(?:{_SEP}\d){{{_MIN_DIGITS - 1},}}+", re.ASCII)
_DIGIT_GROUPS = re.compile(r"\d+", re.ASCII)
_NON_DIGITS = re.compile(r"\D+", re.ASCII)
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}", re.ASCII)
_BARE_PHONE = re.compile(r"0[1-9]\d{8}", re.ASCII)  # national format with trunk prefix, e.g. 0825551234
_PAREN_AREA = re.compile(r"\(\d{2,4}\)", re.ASCII)
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}(?:/\d{1,2})?", re.ASCII)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
"""A repr()-quoted value inside a description (quality finding examples)."""
_ALREADY_MASKED = re.compile(
    r"pii:[0-9a-f]{16}|[^*\s]?\*{3}(?:@\S+)?|\*{3}[*-]*\d{0,4}|\d{1,3}\.\d{1,3}\.\*\.\*", re.ASCII
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def luhn_ok(digits: str) -> bool:
    """True when `digits` (ASCII digits only, at least 2) pass the Luhn checksum."""
    if len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def sa_id_ok(digits: str) -> bool:
    """A South African ID number: 13 digits, YYMMDD birth date, citizenship digit 0-2, Luhn check digit."""
    if len(digits) != 13 or not (digits.isascii() and digits.isdigit()):
        return False
    yy, mm, dd = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    if not 1 <= mm <= 12 or not 1 <= dd <= _DAYS_IN_MONTH[mm - 1] or (mm == 2 and dd == 29 and yy % 4):
        return False
    return digits[10] in "012" and luhn_ok(digits)


def _card_prefix_ok(digits: str) -> bool:
    # Amex/Diners/JCB 3, Visa 4, Mastercard 51-55 and 2221-2720, Discover/UnionPay/Maestro 5-6.
    return digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720


def _phone_ok(run: str, digits: str, lens: list[int]) -> bool:
    n = len(digits)
    if n > 15:
        return False
    if run[0] == "+":
        return (len(lens) == 1 or lens[-1] >= 3) and "." not in run
    if len(lens) == 1:
        return bool(_BARE_PHONE.fullmatch(run))
    if n < 10 or lens[-1] < 3:  # "2024-01-15 10" (a timestamp cut at ':') ends in a short group
        return False
    if "." in run and (len(lens) != 3 or lens[-1] != 4 or set(run) - set("0123456789.")):
        return False  # dotted: only 555.123.4567 / 082.555.1234 (not decimals, versions, IP addresses)
    if run[0] == "(":
        return bool(_PAREN_AREA.match(run))
    if digits[0] == "0":  # trunk prefix: 082 555 1234, 020 7946 0958 (but not 01-02-2024 ...)
        return not (lens[0] == 2 and lens[1] == 2)
    return (lens == [3, 3, 4] and digits[0] != "1") or (lens == [1, 3, 3, 4] and digits[0] == "1")


def _ssn_ok(run: str, lens: list[int]) -> bool:
    """A US SSN: ###-##-####, area not 000, 666 or 9xx, group not 00, serial not 0000."""
    if lens != [3, 2, 4] or len(run) != 11 or run[3] != "-" or run[6] != "-":
        return False
    return run[:3] not in ("000", "666") and run[0] != "9" and run[4:6] != "00" and run[7:] != "0000"


def _number_kind(run: str) -> str | None:
    """What a run of digits and separators is: national_id (SSN, SA ID), card, phone, or None."""
    groups = _DIGIT_GROUPS.findall(run)
    digits = "".join(groups)
    if not _MIN_DIGITS <= len(digits) <= 19:
        return None
    lens = [len(g) for g in groups]
    if _ssn_ok(run, lens) or (len(lens) == 1 and sa_id_ok(run)):
        return "national_id"
    card_like = len(digits) >= 13 and run[0].isdigit() and not set(run) - set("0123456789 -")
    if card_like and _card_prefix_ok(digits) and luhn_ok(digits):
        return "card"
    return "phone" if _phone_ok(run, digits, lens) else None


def value_kind(text: str) -> str | None:
    """The kind of a whole value by its pattern (email, phone, national_id, card), or None."""
    s = text.strip()
    if _EMAIL_WHOLE.fullmatch(s):
        return "email"
    return _number_kind(s) if _NUM_RUN.fullmatch(s) else None


# ---------- masks ----------


def _keep_last4(text: str, stars: int | None = None) -> str:
    alnum = _NON_ALNUM.sub("", text)
    if len(alnum) < _MIN_DIGITS:
        return "***"
    return "*" * (len(alnum) - 4 if stars is None else stars) + alnum[-4:]


def _mask_email(text: str) -> str:
    s = text.strip()
    if not _EMAIL_WHOLE.fullmatch(s):
        return "***"
    local, domain = s.rsplit("@", 1)
    return f"{local[0]}***@{domain}"


def _mask_phone(text: str) -> str:
    digits = _NON_DIGITS.sub("", text)
    return f"***-***-{digits[-4:]}" if len(digits) >= 7 else "***"


def _mask_card(text: str) -> str:
    digits = _NON_DIGITS.sub("", text)
    return f"****-****-****-{digits[-4:]}" if len(digits) >= 12 else "****"


def _mask_national_id(text: str) -> str:
    s = text.strip()
    return f"***-**-{s[-4:]}" if _SSN_SHAPE.fullmatch(s) else _keep_last4(s)


def _mask_ip(text: str) -> str:
    m = _IPV4.fullmatch(text.strip())
    return f"{m[1]}.{m[2]}.*.*" if m else "***"


def _mask_other(text: str) -> str:
    return "***"


_MASKERS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": _mask_phone,
    "card": _mask_card,
    "national_id": _mask_national_id,
    "bank_account": _keep_last4,
    "name": lambda s: s.strip()[0] + "***",
    "address": _mask_other,
    "dob": lambda s: "****-**-**",
    "ip": _mask_ip,
}
_TEXT_ONLY_KINDS = frozenset({"email", "name", "address"})
"""Kinds whose values are never numbers: a number in such a column is an aggregate (count(*) AS emails)."""


def _normalize(kind: str, text: str) -> str:
    """Identifiers compare without case (emails) or formatting (numbers); other values exactly."""
    if kind == "email":
        return text.strip().lower()
    if kind in ("phone", "card", "national_id", "bank_account"):
        return _NON_ALNUM.sub("", text).upper()
    return text


# ---------- the policy ----------

_JSON_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')
"""A string (key or value) in a JSON text, escapes kept."""
_NAME_CHARS = 200
"""Longer strings are never column names (they can still hold value patterns)."""
_META_KEYS = _w("name column column_name columns table table_name schema schema_name type data_type kind sql query")
_META_KEYS |= _w("message description comment title label")
"""JSON keys holding metadata: never treated as PII columns (their strings are still scanned for patterns)."""
_VALUE_KEYS = _w("value values min max mode most_common top_values common_values sample samples example examples")
"""JSON keys holding a column's values in per-column outputs ({"name": "email", "most_common": [...]})."""


TEXT_MEMO_ENTRIES = 8192
TEXT_MEMO_CHARS = 256


@dataclass(frozen=True)
class PiiPolicy:
    """What to do with personal data: `mode` for detected PII, `columns` for explicit per-column modes.

    `columns` keys are "col", "table.col" or "schema.table.col" (case-insensitive; the most specific wins).
    An explicit entry applies even to a column not detected as PII; "allow" exempts a detected column.
    Build one per server: without a configured secret each `from_settings` draws a new random key.
    """

    mode: PiiMode = "mask"
    columns: Mapping[str, PiiMode] = field(default_factory=dict, hash=False)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    unmasked: bool = False
    """True for a caller allowed to see PII (admin with unmask_pii): source overrides do not re-mask."""

    _texts: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    """mask_text's answers for short texts seen before (names, labels and values repeat from call to call)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType({k.lower(): v for k, v in self.columns.items()}))

    @classmethod
    def from_settings(cls, settings: Settings, *, unmasked: bool = False) -> PiiPolicy:
        """The server-wide policy; `unmasked` (admins allowed to unmask) gives mode allow and no column rules."""
        key = settings.pii_hash_secret
        secret = key.get_secret_value().encode() if key is not None else secrets.token_bytes(32)
        if unmasked:
            return cls(mode="allow", columns={}, secret=secret, unmasked=True)
        return cls(mode=settings.pii_mode, columns=settings.pii_columns, secret=secret)

    def with_overrides(self, mode: PiiMode | None, columns: Mapping[str, PiiMode]) -> PiiPolicy:
        """This policy with a source's settings on top (its mode if set; its column entries win)."""
        if self.unmasked or (mode is None and not columns):
            return self
        merged = {**self.columns, **{k.lower(): v for k, v in columns.items()}}
        return replace(self, mode=self.mode if mode is None else mode, columns=merged)

    @property
    def enabled(self) -> bool:
        """False when nothing can be masked (callers may skip masking altogether)."""
        return self.mode != "allow" or any(m != "allow" for m in self.columns.values())

    def column_mode(self, column: str, table: str | None = None, schema: str | None = None) -> PiiMode | None:
        """The mode for a column, or None when it is not PII by name or configuration (value patterns apply)."""
        rule = self._rule(column, table, schema)
        return None if rule is None else rule[1]

    def _rule(self, column: str, table: str | None, schema: str | None) -> Rule | None:
        if table and schema is None and "." in table:
            schema, table = table.rsplit(".", 1)
        col = column.lower()
        kind = pii_kind(column, table)
        if self.columns:
            keys = [col]
            if table:
                keys.insert(0, f"{table.lower()}.{col}")
                if schema:
                    keys.insert(0, f"{schema.lower()}.{table.lower()}.{col}")
            for key in keys:
                if key in self.columns:
                    return kind or "other", self.columns[key]
            if not table:  # table unknown (a query's result): qualified mask/hash rules for this name apply
                suffix = f".{col}"
                strict = [m for k, m in self.columns.items() if k.endswith(suffix) and m != "allow"]
                if strict:
                    return kind or "other", "hash" if "hash" in strict else "mask"
        return (kind, self.mode) if kind else None

    @property
    def scope(self) -> str:
        """A short fingerprint of what this policy shows (cache keys: results masked differently never mix)."""
        if not self.enabled:
            return "raw"
        rules = json.dumps([self.mode, sorted(self.columns.items())], separators=(",", ":")).encode()
        if self.mode == "hash" or "hash" in self.columns.values():  # tokens depend on the secret too
            rules += hmac.new(self.secret, b"scope", hashlib.sha256).digest()
        return hashlib.sha256(rules).hexdigest()[:16]  # mask mode: equal on every instance (shared caches)

    def lineage_masks(self, outputs: Sequence[OutputLineage]) -> tuple[ColumnMask, ...]:
        """Masks for a statement's output columns from their lineage (`vf_mcp.db.lineage.OutputLineage`).

        A column computed from a PII source column is PII with that column's mode: masked like the column
        when it is a direct pass-through (l***@example.com), WHOLLY otherwise (any transformation, any
        type: a partial mask of a derived value leaks). Count-only columns are not PII. Values copied out
        of arbitrary columns (`opaque`, pg_stats) are PII of kind other under the policy's mode.
        """
        if not self.enabled:
            return ()
        masks: list[ColumnMask] = []
        for i, out in enumerate(outputs):
            if out.count_only:
                continue
            rules = [self._rule(c, t, s) for s, t, c in out.sources]
            rules += [self._rule(n, None, None) for n in out.names]
            found = [r for r in rules if r is not None and r[1] != "allow"]
            if out.opaque and self.mode != "allow":
                found.append(("other", self.mode))
            if not found:
                continue
            mode: PiiMode = "mask" if any(m == "mask" for _, m in found) else "hash"
            whole = not out.direct or len(found) != 1
            masks.append(ColumnMask(i, found[0][0] if not whole else "other", mode, whole))
        return tuple(masks)

    def apply_masks(self, rows: list[list[Cell]], masks: Sequence[ColumnMask]) -> list[list[Cell]]:
        """New rows with `masks` applied (the input is not modified; no masks: the input itself)."""
        if not masks:
            return rows
        out = [list(r) for r in rows]
        for m in masks:
            for row in out:
                if m.index < len(row):
                    row[m.index] = (
                        self.mask_whole(row[m.index], m.mode)
                        if m.whole
                        else (self.mask_value(row[m.index], m.kind, m.mode))
                    )
        return out

    def mask_whole(self, value: Cell, mode: PiiMode) -> Cell | str:
        """A value derived from personal data: "***" (mask) or a stable `pii:` token of all of it (hash)."""
        if value is None or mode == "allow":
            return value
        if mode == "hash":
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            if _ALREADY_MASKED.fullmatch(text):
                return text
            msg = f"derived\x00{text}".encode()
            return "pii:" + hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:16]
        return WHOLE_MASK

    def mask_value(self, value: Cell, kind: str, mode: PiiMode) -> Cell | str:
        """One value of a PII column: masked, hashed or (allow) unchanged; None stays None.

        Non-strings are masked as their text (a phone stored as bigint, a date of birth as date), except
        numbers and booleans in email/name/address columns, which can only be aggregates or flags.
        """
        if value is None or mode == "allow":
            return value
        if not isinstance(value, str):
            if kind in _TEXT_ONLY_KINDS or (isinstance(value, bool) and kind != "other"):
                return value
            value = str(value)
        if not value.strip() or _ALREADY_MASKED.fullmatch(value):
            return value
        return self._mask(value, kind, mode)

    def _mask(self, value: str, kind: str, mode: PiiMode) -> str:
        if mode == "hash":
            msg = f"{kind}\x00{_normalize(kind, value)}".encode()
            return "pii:" + hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:16]
        return _MASKERS.get(kind, _mask_other)(value)

    def _quoted(self, literal: str, rule: Rule) -> str:
        """A quoted value ('x' or "x") in a description of a PII column, masked whole."""
        quote = literal[0]
        return quote + str(self.mask_whole(literal[1:-1], rule[1])) + quote

    def mask_text(self, text: str) -> str:
        """Free text with each email, phone, SSN, SA ID or card number in it masked by the policy's mode."""
        if self.mode == "allow":
            return text
        memo = self._texts
        known = memo.get(text)
        if known is not None:
            return known
        out = self._scan(text, self.mode) if _candidates([text]) else text
        if len(text) <= TEXT_MEMO_CHARS:
            if len(memo) >= TEXT_MEMO_ENTRIES:
                memo.clear()
            memo[text] = out
        return out

    def _scan(self, text: str, mode: PiiMode) -> str:
        if "@" in text:
            text = _EMAIL_IN_TEXT.sub(lambda m: self._mask(m[0], "email", mode), text)

        def number(m: re.Match[str]) -> str:
            run, end = m[0], m.end()
            if end < len(m.string) and (m.string[end].isalnum() or m.string[end] == "_"):
                return run  # glued to a word: 2024-01-15T10:00, 12345678abc
            kind = _number_kind(run)
            return run if kind is None else self._mask(run, kind, mode)

        return _NUM_RUN.sub(number, text)

    def mask_rows(
        self,
        columns: Sequence[str],
        rows: list[list[Cell]],
        *,
        table: str | None = None,
        schema: str | None = None,
    ) -> list[list[Cell]]:
        """New rows: PII columns masked by their mode, other text cells scanned for value patterns.

        The input is not modified; when the policy is not `enabled` it is returned as is.
        """
        if not self.enabled:
            return rows
        masked: list[tuple[int, str, PiiMode]] = []
        scanned: list[int] = []
        for i, col in enumerate(columns):
            rule: Rule | None = self._rule(col, table, schema)
            if rule is None:
                if self.mode != "allow":
                    scanned.append(i)
            elif rule[1] != "allow":
                masked.append((i, rule[0], rule[1]))
        if not masked and not self._scan_needed(rows, scanned):
            return rows  # nothing in these rows can change
        out = [list(r) for r in rows]
        for i, kind, col_mode in masked:
            for row in out:
                if row[i] is not None:
                    row[i] = self.mask_value(row[i], kind, col_mode)
        for i in scanned:
            cells = [row[i] for row in out]
            texts = [v if type(v) is str else "" for v in cells]
            for j in _candidates(texts):
                out[j][i] = self._scan(texts[j], self.mode)
            if texts.count("") > cells.count(None) + cells.count(""):  # some cells are not text: JSON values?
                for j, v in enumerate(cells):
                    if isinstance(v, (dict, list)):
                        out[j][i] = self._json(v, None, {})
        return out

    def _scan_needed(self, rows: list[list[Cell]], scanned: list[int]) -> bool:
        """Whether a scanned column holds a value-pattern candidate or a JSON value (which is walked)."""
        for i in scanned:
            cells = [row[i] for row in rows]
            if any(isinstance(v, (dict, list)) for v in cells):
                return True
            if _candidates([v if type(v) is str else "" for v in cells]):
                return True
        return False

    def mask_json(self, obj: JSONValue, *, blob: str | None = None) -> JSONValue:
        """A copy of a JSON-like tool output with personal data masked.

        Dict entries whose key names a PII column (sample rows such as {"email": ...}) are masked by the column's
        mode. A column description naming a PII column ({"column": ...} or {"name": ..., "type": ...}) has its
        values under min, max, most_common, ... masked too. {"columns": [...], "rows": [[...]]} goes through
        `mask_rows`; every other string is scanned for value patterns. Numbers, booleans and None are never
        changed (counts survive).
        """
        if not self.enabled or not self._may_need_masking(obj, blob):
            return obj  # the same object: nothing in it can change
        return self._json(obj, None, {})

    def _may_need_masking(self, obj: JSONValue, blob: str | None) -> bool:
        """False when no string of `obj` (key or value) names a PII column or holds a value pattern.

        One JSON encoding and one scan instead of a walk: masking changes only strings, and only a string
        that is a candidate for a value pattern, or that names a column with a rule (as a key, or as the
        "name"/"column" of a column description), can make anything change.
        """
        if not isinstance(obj, (dict, list)):
            return True
        if blob is None:
            try:
                blob = json.dumps(obj, ensure_ascii=False, default=str)
            except (TypeError, ValueError, RecursionError):
                return True
        texts = [json.loads(f'"{t}"') if "\\" in t else t for t in set(_JSON_STRING.findall(blob))]
        if _candidates(texts):
            return True
        return any(len(t) <= _NAME_CHARS and self._rule(t, None, None) is not None for t in texts)

    def _key_rule(self, key: str, memo: dict[str, Rule | None]) -> Rule | None:
        if key not in memo:
            memo[key] = None if key.lower() in _META_KEYS else self._rule(key, None, None)
        return memo[key]

    def _json(self, obj: Cell, ctx: Rule | None, memo: dict[str, Rule | None]) -> Cell:
        if isinstance(obj, str):
            return self.mask_value(obj, *ctx) if ctx else self.mask_text(obj)
        if isinstance(obj, (list, tuple)):
            return [self._json(x, ctx, memo) for x in obj]
        if not isinstance(obj, dict):
            return obj
        out: dict[str, JSONValue] = {}
        rows = _rows_shape(obj)
        if rows is not None:
            table = obj.get("table")
            grid = cast("list[list[JSONValue]]", obj["rows"])  # _rows_shape checked: a list of rows
            masked = self.mask_rows(rows, grid, table=table if isinstance(table, str) else None)
            out["rows"] = cast("list[JSONValue]", masked)
        own: Rule | None = None
        for key in ("column", "column_name", "name"):
            named = obj.get(key)
            if key == "name" and "type" not in obj and "data_type" not in obj:
                break  # "name" names a column only in a column description ({"name", "type", ...})
            if isinstance(named, str):
                own = self._rule(named, None, None)
                if own is not None and own[1] == "allow":
                    own = None
                ctx = own if own is not None else ctx
                break
        for k, v in obj.items():
            if k in out:
                continue
            rule = self._key_rule(k, memo) if isinstance(k, str) else None
            if own is not None and k == "description" and isinstance(v, str):
                out[k] = self.mask_text(_QUOTED.sub(lambda m: self._quoted(m[0], own), v))  # finding examples
            elif rule is not None:
                out[k] = v if rule[1] == "allow" else self._json(v, rule, memo)
            elif ctx is not None and k in _VALUE_KEYS:
                out[k] = self._json(v, ctx, memo)
            else:
                out[k] = self._json(v, None, memo)
        return out


def _candidates(texts: list[str]) -> list[int]:
    """Indexes of the texts that may hold a value pattern: an @, or 8+ ASCII digits and not _ORDINARY."""
    interesting = "\x00".join(texts).encode().translate(None, _NOT_INTERESTING)
    kept = interesting.split(b"\x00")
    hits = [j for j, n in enumerate(map(len, kept)) if n >= _MIN_DIGITS and not _ORDINARY.fullmatch(texts[j])]
    if b"@" in interesting:
        hits = sorted({*hits, *(j for j, k in enumerate(kept) if b"@" in k)})
    return hits


def _rows_shape(obj: Mapping[str, object]) -> list[str] | None:
    """Column names when obj is {"columns": [names or {"name": ...}], "rows": [[...], ...]}."""
    cols, rows = obj.get("columns"), obj.get("rows")
    if not isinstance(cols, list) or not isinstance(rows, list):
        return None
    names: list[str] = []
    for c in cols:
        name = c.get("name") if isinstance(c, dict) else c
        if not isinstance(name, str):
            return None
        names.append(name)
    if not all(isinstance(r, list) and len(r) == len(names) for r in rows):
        return None
    return names
