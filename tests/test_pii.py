"""vf_mcp.pii: PII detection by column name and by value, masks, stable hashes, the policy.

Expected values are written by hand. SA ID check digits were worked out by hand with the Luhn rule
(each "Luhn-valid but ..." case asserts luhn_ok too, so the rule under test is the one that rejects it).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from datetime import date
from typing import Any

import pytest

from vf_mcp.pii import PiiPolicy, luhn_ok, pii_kind, sa_id_ok, value_kind
from vf_mcp.settings import Settings

TOKEN = re.compile(r"pii:[0-9a-f]{16}")


def policy(mode: Any = "mask", columns: dict[str, Any] | None = None, secret: bytes = b"test-key") -> PiiPolicy:
    return PiiPolicy(mode=mode, columns=columns or {}, secret=secret)


# ---------- checksums ----------


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("79927398713", True),
        ("79927398710", False),
        ("0", False),
        ("", False),
        ("4111 1111 1111 1111", False),  # digits only
        ("４１１１１１１１１１１１１１１１", False),  # full-width digits are not ASCII
    ],
)
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


def test_sa_id_numbers() -> None:
    assert sa_id_ok("8001015009087")  # 1980-01-01, citizen
    assert sa_id_ok("8802295009089")  # 1988-02-29 (leap year)
    assert not sa_id_ok("8001015009088")  # check digit wrong
    for luhn_valid_but_bad in ("8013015009082", "8002305009084", "8902295009087", "8001015009384"):
        assert luhn_ok(luhn_valid_but_bad)  # rejected for month 13, 30 Feb, 29 Feb 1989, citizenship digit 3
        assert not sa_id_ok(luhn_valid_but_bad)
    assert not sa_id_ok("800101500908")  # 12 digits


# ---------- detection by column name ----------


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("customer_email", "email"),
        ("EmailAddress", "email"),
        ("e_mail", "email"),
        ("verified_email", "email"),
        ("phone", "phone"),
        ("phone_number", "phone"),
        ("mobile", "phone"),
        ("cellphone", "phone"),
        ("tel", "phone"),
        ("fax", "phone"),
        ("msisdn", "phone"),
        ("whatsapp", "phone"),
        ("ssn", "national_id"),
        ("id_number", "national_id"),
        ("idnumber", "national_id"),
        ("national_id", "national_id"),
        ("passport", "national_id"),
        ("tax_id", "national_id"),
        ("nino", "national_id"),
        ("address", "address"),
        ("street_address", "address"),
        ("billing_address", "address"),
        ("address_line1", "address"),
        ("ip_address", "ip"),
        ("client_ip", "ip"),
        ("remote_addr", "ip"),
        ("card_number", "card"),
        ("credit_card", "card"),
        ("pan", "card"),
        ("iban", "bank_account"),
        ("bank_account_number", "bank_account"),
        ("first_name", "name"),
        ("lastName", "name"),
        ("full_name", "name"),
        ("surname", "name"),
        ("contact_name", "name"),
        ("date_of_birth", "dob"),
        ("dob", "dob"),
        ("birth_date", "dob"),
        ("birthday", "dob"),
    ],
)
def test_pii_kind_by_name(column: str, kind: str) -> None:
    assert pii_kind(column) == kind


@pytest.mark.parametrize(
    "column",
    [
        "name",
        "product_name",
        "company_name",
        "table_name",
        "project_name",
        "file_name",
        "email_verified",
        "is_email_verified",
        "email_domain",
        "email_template_id",
        "phone_count",
        "num_phones",
        "phone_country_code",
        "address_id",
        "address_type",
        "mac_address",
        "first_name_length",
        "passport_expiry",
        "mobile_app_version",
        "cell_tower",
        "mail_server",
        "ip_rating",
        "job_card_number",
        "order_id_number",
        "employee_number",
        "place_of_birth",
        "status",
        "created_at",
    ],
)
def test_not_pii_by_name(column: str) -> None:
    assert pii_kind(column) is None


def test_bare_name_is_a_person_only_in_a_person_table() -> None:
    assert pii_kind("name", "customers") == "name"
    assert pii_kind("name", "ops.staff") == "name"
    assert pii_kind("name", "clients") is None  # companies
    assert pii_kind("name", "projects") is None


# ---------- detection by value ----------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("john.smith@example.com", "email"),
        ("+27 82 555 1234", "phone"),
        ("+27825551234", "phone"),
        ("+44 20 7946 0958", "phone"),
        ("(555) 123-4567", "phone"),
        ("082-555-1234", "phone"),
        ("082 555 1234", "phone"),
        ("555.123.4567", "phone"),
        ("1-800-555-1234", "phone"),
        ("0825551234", "phone"),
        ("123-45-6789", "national_id"),
        ("8001015009087", "national_id"),
        ("4111 1111 1111 1111", "card"),
        ("4111-1111-1111-1111", "card"),
        ("4111111111111111", "card"),
        ("378282246310005", "card"),  # Amex test number
    ],
)
def test_value_kind(text: str, kind: str) -> None:
    assert value_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15",
        "2024-01-15 10:30:00",
        "2024-01-15T10:30:00Z",
        "15-01-2024",
        "3.14159",
        "3.14159265358979",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "v1.2.3",
        "10.15.7",
        "12345",
        "12345678901",  # bare, no trunk 0
        "1700000000000",  # epoch milliseconds
        "20240115103000",
        "192.168.100.200",
        "1 000 000 000",
        "4111111111111112",  # Luhn fails
        "000-12-3456",  # SSN area 000
        "666-12-3456",
        "8001015009088",
        "user@localhost",
    ],
)
def test_value_kind_negatives(text: str) -> None:
    assert value_kind(text) is None


# ---------- masks ----------

MASKS = [
    ("email", "john.smith@example.com", "j***@example.com"),
    ("email", "not an email", "***"),
    ("phone", "+27 82 555 1234", "***-***-1234"),
    ("phone", 27825551234, "***-***-1234"),
    ("card", "4111 1111 1111 1111", "****-****-****-1111"),
    ("national_id", "123-45-6789", "***-**-6789"),
    ("national_id", "8001015009087", "*********9087"),
    ("national_id", "A12345678", "*****5678"),
    ("bank_account", "GB82 WEST 1234 5698 7654 32", "******************5432"),
    ("name", "John Smith", "J***"),
    ("address", "14 Bridal Veil Road, Midrand", "***"),
    ("dob", "1980-01-01", "****-**-**"),
    ("dob", date(1980, 1, 1), "****-**-**"),
    ("ip", "192.168.1.20", "192.168.*.*"),
    ("other", "anything at all", "***"),
]


@pytest.mark.parametrize(("kind", "value", "masked"), MASKS)
def test_mask_mode(kind: str, value: Any, masked: str) -> None:
    p = policy()
    assert p.mask_value(value, kind, "mask") == masked
    assert p.mask_value(masked, kind, "mask") == masked  # idempotent


@pytest.mark.parametrize(("kind", "value", "masked"), MASKS)
def test_hash_and_allow_modes(kind: str, value: Any, masked: str) -> None:
    p = policy()
    token = p.mask_value(value, kind, "hash")
    assert TOKEN.fullmatch(token)
    assert p.mask_value(value, kind, "hash") == token
    assert p.mask_value(token, kind, "hash") == token  # idempotent
    assert p.mask_value(value, kind, "allow") == value


@pytest.mark.parametrize("mode", ["mask", "hash", "allow"])
def test_none_and_empty_stay(mode: Any) -> None:
    p = policy()
    assert p.mask_value(None, "email", mode) is None
    assert p.mask_value("", "name", mode) == ""


def test_numbers_in_text_only_columns_are_aggregates() -> None:
    p = policy()
    assert p.mask_value(42, "email", "mask") == 42  # SELECT count(*) AS emails
    assert p.mask_value(True, "phone", "mask") is True
    assert p.mask_value(True, "other", "mask") == "***"  # an explicitly configured column: everything


def test_hash_token_format() -> None:
    expected = hmac.new(b"test-key", b"email\x00john@example.com", hashlib.sha256).hexdigest()[:16]
    assert policy().mask_value("John@Example.com ", "email", "hash") == "pii:" + expected


def test_hash_stable_distinct_and_keyed() -> None:
    p = policy()
    assert p.mask_value("082 555 1234", "phone", "hash") == p.mask_value("082-555-1234", "phone", "hash")
    assert p.mask_value("John Smith", "name", "hash") != p.mask_value("john smith", "name", "hash")  # exact
    assert p.mask_value("082 555 1234", "phone", "hash") != p.mask_value("082 555 1235", "phone", "hash")
    assert p.mask_value("a@example.com", "email", "hash") != p.mask_value("b@example.com", "email", "hash")
    assert p.mask_value("John", "name", "hash") != p.mask_value("John", "address", "hash")
    other = policy(secret=b"another-key")
    assert p.mask_value("a@example.com", "email", "hash") != other.mask_value("a@example.com", "email", "hash")


# ---------- mask_text ----------


def test_mask_text() -> None:
    text = (
        "Call +27 82 555 1234 or (555) 123-4567, mail Jane.Doe@example.co.za; card 4111-1111-1111-1111, "
        "SSN 123-45-6789, ID 8001015009087."
    )
    assert policy().mask_text(text) == (
        "Call ***-***-1234 or ***-***-4567, mail J***@example.co.za; card ****-****-****-1111, "
        "SSN ***-**-6789, ID *********9087."
    )


def test_mask_text_is_idempotent() -> None:
    once = policy().mask_text("a@example.com, +27 82 555 1234, 4111 1111 1111 1111, 123-45-6789")
    assert policy().mask_text(once) == once
    hashed = policy(mode="hash").mask_text("a@example.com, +27 82 555 1234")
    assert policy(mode="hash").mask_text(hashed) == hashed


def test_mask_text_leaves_ordinary_numbers() -> None:
    text = (
        "Order 12345 at 2024-01-15T10:30:00Z (2024-01-15 10:30:00), v1.2.3, pi 3.14159265358979, "
        "id 550e8400-e29b-41d4-a716-446655440000, total 1 000 000 000, WO-00012345, host 192.168.100.200"
    )
    assert policy().mask_text(text) == text


def test_mask_text_sql_literal_and_modes() -> None:
    sql = "SELECT * FROM staff WHERE email = 'jane@example.com'"
    assert policy().mask_text(sql) == "SELECT * FROM staff WHERE email = 'j***@example.com'"
    hashed = policy(mode="hash").mask_text(sql)
    assert hashed == f"SELECT * FROM staff WHERE email = '{policy().mask_value('jane@example.com', 'email', 'hash')}'"
    assert policy(mode="allow").mask_text(sql) == sql


# ---------- the policy ----------


def test_column_mode_precedence() -> None:
    p = policy(columns={"EMAIL": "hash", "crm.contacts.email": "allow", "contacts.notes": "mask"})
    assert p.column_mode("email") == "hash"
    assert p.column_mode("Email", "contacts", "crm") == "allow"  # schema.table.col beats col
    assert p.column_mode("email", "crm.contacts") == "allow"  # a qualified table works too
    assert p.column_mode("email", "contacts", "sales") == "hash"
    assert p.column_mode("notes", "contacts") == "mask"  # explicit entry on a non-PII name
    assert p.column_mode("notes") == "mask"  # table unknown (a query result): the qualified rule applies
    assert p.column_mode("notes", table="other") is None
    assert p.column_mode("phone") == "mask"  # detected: the policy's mode
    assert p.column_mode("status") is None


def test_enabled() -> None:
    assert policy().enabled
    assert not policy(mode="allow").enabled
    assert not policy(mode="allow", columns={"email": "allow"}).enabled
    assert policy(mode="allow", columns={"email": "hash"}).enabled


def test_from_settings_and_overrides() -> None:
    s = Settings(pii_mode="hash", pii_columns={"Staff.Email": "allow"}, pii_hash_secret="s3cret")
    p = PiiPolicy.from_settings(s)
    assert (p.mode, dict(p.columns), p.secret) == ("hash", {"staff.email": "allow"}, b"s3cret")
    assert "s3cret" not in repr(p)

    src = p.with_overrides("mask", {"staff.email": "mask", "notes": "hash"})
    assert (src.mode, dict(src.columns)) == ("mask", {"staff.email": "mask", "notes": "hash"})
    assert p.with_overrides(None, {"phone": "allow"}).mode == "hash"

    admin = PiiPolicy.from_settings(s, unmasked=True)
    assert (admin.mode, dict(admin.columns), admin.enabled) == ("allow", {}, False)
    assert not admin.with_overrides("mask", {"email": "mask"}).enabled  # a source cannot re-mask an admin

    random_key = PiiPolicy.from_settings(Settings())
    assert len(random_key.secret) == 32


# ---------- mask_rows ----------

COLUMNS = ["id", "email", "notes", "status", "created_at", "phone_count", "first_name"]
ROWS: list[list[Any]] = [
    [1, "jane@example.com", "call 082 555 1234", "active", "2024-01-15 10:30:00", 2, "Jane"],
    [2, None, "order 12345", "Active", "2024-01-16 11:00:00", 0, None],
]


def test_mask_rows() -> None:
    rows = copy.deepcopy(ROWS)
    assert policy().mask_rows(COLUMNS, rows) == [
        [1, "j***@example.com", "call ***-***-1234", "active", "2024-01-15 10:30:00", 2, "J***"],
        [2, None, "order 12345", "Active", "2024-01-16 11:00:00", 0, None],
    ]
    assert rows == ROWS  # input untouched


def test_mask_rows_bare_values() -> None:
    values = ["8001015009087", "4111111111111111", "0825551234", "2024-01-15T10:30:00+00:00", "123456789012", "1.5"]
    out = policy().mask_rows(["ref"], [[v] for v in values])
    assert [r[0] for r in out] == [
        "*********9087",
        "****-****-****-1111",
        "***-***-1234",
        "2024-01-15T10:30:00+00:00",
        "123456789012",
        "1.5",
    ]


def test_mask_rows_column_config() -> None:
    p = policy(columns={"email": "allow", "staff.status": "hash"})
    as_tuples: Any = [tuple(r) for r in ROWS]  # driver records are tuples
    out = p.mask_rows(COLUMNS, as_tuples, table="staff")
    assert out[0][1] == "jane@example.com"  # exempt: not even scanned
    assert TOKEN.fullmatch(out[0][3]) and out[0][3] != out[1][3]  # "active" vs "Active": different tokens
    assert out[0][2] == "call ***-***-1234"


def test_mask_rows_allow_mode_with_a_masked_column() -> None:
    p = policy(mode="allow", columns={"notes": "mask"})
    assert p.mask_rows(COLUMNS, ROWS)[0] == [1, "jane@example.com", "***", "active", "2024-01-15 10:30:00", 2, "Jane"]


def test_mask_rows_person_table_and_json_cells() -> None:
    p = policy()
    rows = [["Thabo Nkosi", {"contact": {"email": "t@example.com"}, "n": 3}]]
    assert p.mask_rows(["name", "meta"], rows, table="customers") == [
        ["T***", {"contact": {"email": "t***@example.com"}, "n": 3}]
    ]
    assert p.mask_rows(["name"], [["Fibertech SA"]], table="clients") == [["Fibertech SA"]]


def test_mask_rows_hash_lines_up_across_rows() -> None:
    out = policy(mode="hash").mask_rows(["email"], [["a@example.com"], ["b@example.com"], ["A@example.com"]])
    assert out[0][0] == out[2][0] != out[1][0]


def test_disabled_policy_returns_input() -> None:
    rows = copy.deepcopy(ROWS)
    p = policy(mode="allow")
    assert p.mask_rows(COLUMNS, rows) is rows
    assert p.mask_json({"email": "jane@example.com"}) == {"email": "jane@example.com"}


# ---------- mask_json ----------


def test_mask_json_sample_rows_and_text() -> None:
    out = policy().mask_json(
        {
            "table": "staff",
            "sample": [{"first_name": "Jane", "email": "jane@example.com", "phone": 27825551234, "count": 5}],
            "null_counts": {"email": 3, "phone": 0},
            "sql": "SELECT 1 WHERE email = 'jane@example.com'",
            "message": "3 rows; contact jane@example.com",
            "name": "Jane Smith",
        }
    )
    assert out == {
        "table": "staff",
        "sample": [{"first_name": "J***", "email": "j***@example.com", "phone": 27825551234, "count": 5}],
        "null_counts": {"email": 3, "phone": 0},
        "sql": "SELECT 1 WHERE email = 'j***@example.com'",
        "message": "3 rows; contact j***@example.com",
        "name": "Jane Smith",  # the key "name" is metadata, never a PII column
    }


def test_mask_json_column_stats() -> None:
    stats = {
        "name": "first_name",
        "type": "text",
        "null_count": 4,
        "distinct_count": 57,
        "min": "Aaron",
        "max": "Zanele",
        "most_common": [{"value": "Sipho", "count": 9, "frequency": 0.09}],
    }
    assert policy().mask_json(stats) == {
        "name": "first_name",
        "type": "text",
        "null_count": 4,
        "distinct_count": 57,
        "min": "A***",
        "max": "Z***",
        "most_common": [{"value": "S***", "count": 9, "frequency": 0.09}],
    }
    status = {"name": "status", "min": "active", "most_common": [{"value": "active", "count": 9}]}
    assert policy().mask_json(status) == status
    kpi = {"name": "emails_delivered", "value": "1 234"}  # "name" without "type": not a column description
    assert policy().mask_json(kpi) == kpi
    assert policy().mask_json({"column": "phone", "examples": ["082 555 1234"]}) == {
        "column": "phone",
        "examples": ["***-***-1234"],
    }


def test_mask_json_query_result_shape() -> None:
    result = {
        "columns": [{"name": "id", "type": "integer"}, {"name": "phone", "type": "text"}],
        "rows": [[1, "+27 82 555 1234"], [2, None]],
        "row_count": 2,
        "truncated": False,
    }
    assert policy().mask_json(result) == {**result, "rows": [[1, "***-***-1234"], [2, None]]}
