"""Static reference data for the VelocityFibre demo: places, projects, companies and name pools."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

# (code, name) of the nine South African provinces.
REGIONS: tuple[tuple[str, str], ...] = (
    ("GP", "Gauteng"),
    ("NW", "North West"),
    ("LP", "Limpopo"),
    ("MP", "Mpumalanga"),
    ("KZN", "KwaZulu-Natal"),
    ("WC", "Western Cape"),
    ("EC", "Eastern Cape"),
    ("FS", "Free State"),
    ("NC", "Northern Cape"),
)

# (code, name, category, region id)
MUNICIPALITIES: tuple[tuple[str, str, str, int], ...] = (
    ("JHB", "City of Johannesburg", "metro", 1),
    ("TSH", "City of Tshwane", "metro", 1),
    ("EKU", "City of Ekurhuleni", "metro", 1),
    ("EMF", "Emfuleni", "local", 1),
    ("MOG", "Mogale City", "local", 1),
    ("RWC", "Rand West City", "local", 1),
    ("MID", "Midvaal", "local", 1),
    ("JBM", "JB Marks", "local", 2),
    ("MAD", "Madibeng", "local", 2),
    ("RUS", "Rustenburg", "local", 2),
    ("POL", "Polokwane", "local", 3),
    ("MBO", "Mbombela", "local", 4),
)


class Suburb(NamedTuple):
    name: str
    municipality_id: int
    postal_code: str
    lat: float
    lon: float


SUBURBS: tuple[Suburb, ...] = (
    Suburb("Lawley", 1, "1830", -26.3838, 27.8127),
    Suburb("Lenasia South", 1, "1829", -26.3925, 27.8398),
    Suburb("Ennerdale", 1, "1830", -26.4013, 27.8326),
    Suburb("Mohadin", 8, "2531", -26.6925, 27.0703),
    Suburb("Ikageng", 8, "2539", -26.7197, 27.0614),
    Suburb("Promosa", 8, "2531", -26.7334, 27.0401),
    Suburb("Ivory Park", 1, "1689", -25.9934, 28.1978),
    Suburb("Tembisa", 3, "1632", -25.9958, 28.2268),
    Suburb("Rabie Ridge", 1, "1684", -26.0012, 28.1822),
    Suburb("Soshanguve", 2, "0152", -25.5234, 28.1003),
    Suburb("Hammanskraal", 2, "0400", -25.4021, 28.2789),
    Suburb("Mamelodi", 2, "0122", -25.7203, 28.3968),
    Suburb("Nellmapius", 2, "0162", -25.7389, 28.3602),
    Suburb("Diepsloot", 1, "2189", -25.9331, 28.0123),
    Suburb("Cosmo City", 1, "2188", -26.0223, 27.9302),
    Suburb("Zandspruit", 1, "2169", -26.0195, 27.9154),
    Suburb("Kagiso", 5, "1754", -26.1602, 27.7801),
    Suburb("Munsieville", 5, "1739", -26.0812, 27.7498),
    Suburb("Azaadville", 5, "1750", -26.1498, 27.7394),
    Suburb("Sebokeng", 4, "1983", -26.5803, 27.8408),
    Suburb("Evaton", 4, "1984", -26.5312, 27.8702),
    Suburb("Boipatong", 4, "1901", -26.6701, 27.8297),
    Suburb("Orange Farm", 1, "1841", -26.4801, 27.8603),
    Suburb("Katlehong", 3, "1431", -26.3497, 28.1502),
    Suburb("Vosloorus", 3, "1475", -26.3503, 28.2004),
    Suburb("Daveyton", 3, "1520", -26.1503, 28.4127),
)


class Project(NamedTuple):
    code: str
    name: str
    client_id: int
    suburb_ids: tuple[int, ...]  # 1-based ids into SUBURBS
    share: float  # share of the OneMap properties
    start: date
    status: str
    budget_zar: int


PROJECTS: tuple[Project, ...] = (
    Project("LAW", "Lawley Ext 3 FTTH", 1, (1, 2, 3), 0.22, date(2024, 9, 2), "active", 48_500_000),
    Project("MOH", "Mohadin FTTH", 3, (4, 5, 6), 0.14, date(2024, 10, 14), "active", 31_200_000),
    Project("IVP", "Ivory Park Phase 2", 1, (7, 8, 9), 0.16, date(2024, 11, 4), "active", 36_750_000),
    Project("SOS", "Soshanguve South", 2, (10, 11), 0.12, date(2025, 1, 20), "active", 27_900_000),
    Project("MAM", "Mamelodi East", 2, (12, 13), 0.11, date(2025, 3, 3), "active", 25_400_000),
    Project("DIE", "Diepsloot Connect", 10, (14, 15, 16), 0.10, date(2025, 5, 12), "on_hold", 22_800_000),
    Project("KAG", "Kagiso & Munsieville", 4, (17, 18, 19), 0.09, date(2025, 8, 4), "active", 19_600_000),
    Project("SEB", "Sebokeng Pilot", 5, (20, 21, 22), 0.06, date(2026, 2, 2), "planning", 12_300_000),
)

# One zone per (project, suburb) pair, in this order.
ZONES: tuple[tuple[int, int], ...] = tuple(
    (pid, sid) for pid, p in enumerate(PROJECTS, start=1) for sid in p.suburb_ids
)

# (name, client_type, email domain)
CLIENTS: tuple[tuple[str, str, str], ...] = (
    ("City of Johannesburg Metropolitan Municipality", "municipality", "joburg.org.za"),
    ("City of Tshwane Metropolitan Municipality", "municipality", "tshwane.gov.za"),
    ("JB Marks Local Municipality", "municipality", "jbmarks.gov.za"),
    ("Mogale City Local Municipality", "municipality", "mogalecity.gov.za"),
    ("Emfuleni Local Municipality", "municipality", "emfuleni.gov.za"),
    ("Ekurhuleni Metropolitan Municipality", "municipality", "ekurhuleni.gov.za"),
    ("Gauteng Department of e-Government", "government", "gauteng.gov.za"),
    ("Lawley Community Trust", "community", "lawleytrust.org.za"),
    ("Ikageng Housing Development", "developer", "ikagenghousing.co.za"),
    ("Open Access Fibre Holdings", "investor", "oafholdings.co.za"),
    ("Township Connect NPC", "community", "townshipconnect.org.za"),
    ("Ubuntu Digital Fund", "investor", "ubuntudigital.co.za"),
    ("Mzansi Broadband Partners", "isp", "mzansibroadband.co.za"),
    ("Khanya Property Developers", "developer", "khanyaproperty.co.za"),
)

CONTRACTORS: tuple[str, ...] = (
    "Mthembu Civils (Pty) Ltd",
    "Ndlovu Fibre Solutions",
    "Khanyisa Telecoms",
    "Bokamoso Networks",
    "Siyakhula Construction",
    "Lesedi Trenching CC",
    "Naidoo & Sons Cabling",
    "Botha Infrastructure",
    "Masakhane Fibre Works",
    "Tshwane Splicing Services",
    "Ubuntu Connect Installers",
    "Phakama Projects",
    "Kgotso Civils",
    "Amandla Fibre",
    "Letsatsi Telecom Services",
    "Rivoningo Engineering",
    "Vukani Network Builders",
    "Sizwe Cable Contractors",
)

# Contractor status column; one stray spelling ('Active') is planted on purpose.
CONTRACTOR_STATUSES: tuple[str, ...] = (
    "active", "active", "active", "active", "active", "active", "Active", "active", "active",
    "active", "active", "suspended", "active", "active", "active", "active", "inactive", "active",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Thabo", "Sipho", "Naledi", "Lerato", "Bongani", "Zanele", "Nomvula", "Mpho", "Kagiso", "Tshepo",
    "Lindiwe", "Sizwe", "Ayanda", "Thandeka", "Johan", "Pieter", "Annelie", "Ruan", "Priya", "Ravi",
    "Fatima", "Ahmed", "Michelle", "Jacques", "Karabo", "Palesa", "Lebogang", "Themba", "Nkosinathi",
    "Refilwe", "Busisiwe", "Mandla", "Precious", "Tumelo", "Dineo", "Sibusiso", "Nandi", "Kabelo",
    "Zodwa", "Andile", "Carmen", "Wandile", "Mbali", "Neo", "Vusi", "Boitumelo",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Mokoena", "Dlamini", "Nkosi", "Ndlovu", "Khumalo", "Mthembu", "Botha", "van der Merwe", "Naidoo",
    "Pillay", "Mahlangu", "Sithole", "Zulu", "Molefe", "Maluleke", "Baloyi", "Pretorius", "Coetzee",
    "Govender", "Moodley", "Mabaso", "Shabalala", "Nel", "Smith", "Hendricks", "Petersen", "Masilela",
    "Radebe", "Mkhize", "Ngcobo", "Tshabalala", "Sibiya", "Modise", "Kekana", "Chauke",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Mandela", "Sisulu", "Tambo", "Biko", "Sobukwe", "Masakhane", "Ubuntu", "Khumalo", "Protea",
    "Jacaranda", "Acacia", "Marula", "Msasa", "Impala", "Kudu", "Eland", "Springbok", "Tshabalala",
    "Moshoeshoe", "Luthuli", "Hani", "Slovo", "Dube", "Mabaso", "Main", "Church", "Station", "Market",
    "Sunflower", "Aloe", "Fynbos", "Blue Crane", "Hadeda", "Ibis", "Kingfisher", "Makhulong",
    "Siyabonga", "Khanya", "Letsatsi", "Thabong",
)  # fmt: skip
STREET_SUFFIXES: tuple[str, ...] = ("Street", "Street", "Street", "Avenue", "Crescent", "Close", "Drive")

# SA cellphone and landline prefixes (without the leading 0).
PHONE_PREFIXES: tuple[str, ...] = (
    "60", "61", "63", "66", "67", "71", "72", "73", "74", "76", "78", "79", "81", "82", "83", "84",
    "11", "12", "10",
)  # fmt: skip

# 1Map property workflow statuses and their weights.
ONEMAP_STATUSES: tuple[tuple[str, float], ...] = (
    ("Survey: Pending", 0.17),
    ("Pole Permission: Approved", 0.19),
    ("Pole Permission: Declined", 0.02),
    ("Home Sign Ups: Approved", 0.09),
    ("Home Sign Ups: Approved & Installation Scheduled", 0.17),
    ("Home Sign Ups: Declined", 0.04),
    ("Home Installation: In Progress", 0.05),
    ("Home Installation: Installed", 0.27),
)

PROPERTY_TYPES: tuple[tuple[str, str, float], ...] = (
    ("residential", "Free-standing or semi-detached home", 0.835),
    ("backyard_rental", "Backyard rooms let on a residential stand", 0.045),
    ("business", "Spaza shop, salon or other small business", 0.055),
    ("informal", "Informal dwelling", 0.035),
    ("church", "Place of worship", 0.012),
    ("school", "School or creche", 0.008),
    ("clinic", "Clinic or health post", 0.004),
    ("government", "Municipal or government building", 0.006),
)

ONT_MODELS: tuple[tuple[str, str, bool, int], ...] = (
    ("Nokia", "G-240W-F", True, 4),
    ("Nokia", "G-140W-C", True, 4),
    ("Nokia", "XS-2426G-B", True, 4),
    ("Nokia", "G-010G-P", False, 1),
)

FIRMWARE: tuple[str, ...] = ("3FE49362IJHK46", "3FE49362JJIJ50", "3FE49568HJIL97", "3FE49985KJLH22")

ISPS: tuple[str, ...] = (
    "Vox Telecom", "Afrihost", "Cool Ideas", "Webafrica", "RSAWEB", "Axxess", "Herotel", "Mweb",
)  # fmt: skip

SERVICE_PLANS: tuple[tuple[str, int, int, int], ...] = (
    ("Kasi Lite 10/10", 10, 10, 199),
    ("Kasi Home 25/25", 25, 25, 349),
    ("Family 50/50", 50, 50, 499),
    ("Streamer 100/50", 100, 50, 649),
    ("Power 200/100", 200, 100, 849),
    ("Business 500/250", 500, 250, 1499),
)

CABLE_TYPES: tuple[tuple[str, int, str, int], ...] = (
    ("ADSS 12F", 12, "aerial", 9),
    ("ADSS 24F", 24, "aerial", 13),
    ("ADSS 48F", 48, "aerial", 21),
    ("Duct 96F", 96, "underground", 38),
    ("Duct 144F", 144, "underground", 52),
    ("Drop 1F flat", 1, "drop", 3),
)

DEPARTMENTS: tuple[str, ...] = (
    "Executive", "Operations", "Network Planning", "Field Services", "Finance", "Customer & Sales",
)  # fmt: skip

# (title, department id, grade)
JOB_TITLES: tuple[tuple[str, int, str], ...] = (
    ("Managing Director", 1, "E1"),
    ("Operations Manager", 2, "M2"),
    ("Project Manager", 2, "M3"),
    ("Network Planner", 3, "P2"),
    ("GIS Analyst", 3, "P3"),
    ("Site Supervisor", 4, "S1"),
    ("Field Technician", 4, "T2"),
    ("Fibre Splicer", 4, "T1"),
    ("Accountant", 5, "P2"),
    ("Customer Liaison Officer", 6, "S2"),
)

SKILLS: tuple[tuple[str, str], ...] = (
    ("Fusion splicing", "technical"),
    ("OTDR testing", "technical"),
    ("Aerial cabling", "technical"),
    ("Working at heights", "safety"),
    ("First aid", "safety"),
    ("QGIS", "planning"),
    ("1Map administration", "planning"),
    ("Nokia NetAct", "technical"),
    ("Community liaison", "soft"),
    ("Driver's licence code 10", "logistics"),
)

EQUIPMENT_TYPES: tuple[tuple[str, str, int], ...] = (
    ("Fusion splicer", "test_and_splice", 185_000),
    ("OTDR", "test_and_splice", 142_000),
    ("Optical power meter", "test_and_splice", 9_800),
    ("Cleaver", "test_and_splice", 14_500),
    ("Extension ladder", "access", 6_200),
    ("Trenching machine", "civils", 410_000),
    ("Generator 5kVA", "power", 21_000),
    ("Laptop", "it", 18_500),
)

MATERIALS: tuple[tuple[str, str, str, int], ...] = (
    ("MAT-DROP-1F", "Drop cable 1F flat", "m", 3),
    ("MAT-ADSS-24", "ADSS cable 24F", "m", 13),
    ("MAT-ADSS-48", "ADSS cable 48F", "m", 21),
    ("MAT-POLE-7M", "Wooden pole 7m", "each", 1450),
    ("MAT-POLE-9M", "Steel pole 9m", "each", 3900),
    ("MAT-SPL-1X8", "PLC splitter 1x8", "each", 210),
    ("MAT-SPL-1X16", "PLC splitter 1x16", "each", 380),
    ("MAT-ONT-240W", "Nokia G-240W-F ONT", "each", 1250),
    ("MAT-ONT-010G", "Nokia G-010G-P ONT", "each", 640),
    ("MAT-CLAMP", "Drop clamp", "each", 14),
    ("MAT-HOOK", "Pole hook", "each", 22),
    ("MAT-FAT-8", "Fibre access terminal 8-port", "each", 890),
    ("MAT-DUCT-25", "Micro duct 25mm", "m", 11),
    ("MAT-SLEEVE", "Splice protection sleeve", "each", 2),
    ("MAT-CONN-SC", "SC/APC field connector", "each", 35),
    ("MAT-ROSETTE", "Fibre wall rosette", "each", 48),
)

MEETING_TITLES: tuple[str, ...] = (
    "Weekly progress review", "Contractor coordination", "Toolbox talk", "Client steering committee",
    "Wayleave working session", "Quality walk-through", "Month-end reconciliation", "Community meeting",
)  # fmt: skip

NOTES: tuple[str, ...] = (
    "Customer requested afternoon slot",
    "Dog on premises - call ahead",
    "Drop routed via neighbour's pole",
    "Re-terminated connector after low light level",
    "Landlord consent on file",
    "Wall rosette mounted in lounge",
    "Trench reinstated",
)

FAILURE_REASONS: tuple[str, ...] = (
    "No access to property",
    "Customer not home",
    "Pole not yet planted",
    "Wayleave not granted",
    "Damaged drop cable",
    "Incorrect address on work order",
)
