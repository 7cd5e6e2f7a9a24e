"""The relationship graph, as pure functions: FK inference by naming, classification, join paths, Mermaid.

Nothing here touches the database: the tool loads tables and declared keys, `infer` proposes FK-less
edges, the database measures their coverage, `verified` turns that into a confidence, and the rest
(junction tables, shortest join paths, the SQL join clause, the erDiagram) works on the finished edges.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

from vf_mcp.identifiers import quote_ident

REJECT_BELOW = 0.5
"""Inferred edges whose values are found in the target less often than this are dropped."""

FEW_OTHER_COLUMNS = 2
"""A table with exactly two outgoing edges and at most this many other columns is a junction table."""

INT_TYPES = frozenset({"int2", "int4", "int8", "numeric"})
TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})

# Rule -> score of the name evidence alone (the measured coverage multiplies it).
NAMED_AFTER = 0.95
SAME_AS_DECLARED = 0.85
ROLE_PREFIX = 0.8
LAST_WORD = 0.75

_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse"}

# PostgreSQL reserved and type/function-name keywords: never usable as a bare table alias.
# fmt: off
_RESERVED = frozenset(
    {
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
        "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
        "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
        "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except",
        "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in",
        "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like",
        "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
        "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
        "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to", "trailing",
        "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window", "with"
    }
)
# fmt: on


@dataclass(frozen=True)
class Table:
    """A table (or partitioned parent) with its columns and unique keys."""

    schema: str
    name: str
    rows: int | None  # planner estimate
    columns: tuple[str, ...]
    types: tuple[str, ...]  # base type names (domains resolved)
    notnull: tuple[bool, ...]
    pk: tuple[str, ...]
    uniques: tuple[tuple[str, ...], ...]  # every non-partial unique key, the primary key included

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    def type_of(self, column: str) -> str | None:
        try:
            return self.types[self.columns.index(column)]
        except ValueError:
            return None

    def is_unique(self, columns: Iterable[str]) -> bool:
        """Are these columns unique together (some unique key is a subset of them)?"""
        cols = set(columns)
        return any(set(u) <= cols for u in self.uniques)

    def nullable(self, columns: Iterable[str]) -> bool:
        idx = {c: i for i, c in enumerate(self.columns)}
        return any(not self.notnull[idx[c]] for c in columns if c in idx)


@dataclass(frozen=True)
class Link:
    """One edge: table(columns) -> ref_table(ref_columns), declared or inferred."""

    table: str  # schema.name keys
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    declared: bool
    one_to_one: bool
    nullable: bool
    name: str | None = None
    validated: bool = True
    score: float = 1.0  # inferred: strength of the name evidence
    rules: tuple[str, ...] = ()
    checked: int | None = None  # inferred: non-null values examined (None: not checked)
    matched: int | None = None
    exact: bool = True  # inferred: coverage measured on every row

    @property
    def key(self) -> tuple[str, tuple[str, ...], str]:
        return (self.table, self.columns, self.ref_table)

    @property
    def coverage(self) -> float | None:
        if self.checked is None or self.matched is None or self.checked == 0:
            return None
        return self.matched / self.checked

    @property
    def orphans(self) -> int | None:
        if self.checked is None or self.matched is None:
            return None
        return self.checked - self.matched

    @property
    def confidence(self) -> float | None:
        if self.declared:
            return None
        cov = self.coverage
        return round(self.score * (0.5 if cov is None else cov), 2)

    @property
    def cardinality(self) -> str:
        return "one-to-one" if self.one_to_one else "one-to-many"

    def evidence(self) -> str | None:
        if self.declared:
            return None if self.validated else "NOT VALID: existing rows were never checked"
        ref = f"{self.ref_table}.{self.ref_columns[0]}"
        text = "; ".join(self.rules)
        if self.checked is None:
            return f"{text}; values not checked against {ref}"
        if self.checked == 0:
            return f"{text}; no non-null values to check"
        cov = 100.0 * (self.matched or 0) / self.checked
        how = "all rows" if self.exact else "sampled rows"
        return (
            f"{text}; {cov:.2f}% of {self.checked:,} non-null values ({how}) found in {ref} ({self.orphans:,} orphans)"
        )


# ---------- inference ----------


def singular(word: str) -> str:
    """English singular of the last word of a snake_case name (properties -> property, staff -> staff)."""
    head, _, last = word.rpartition("_")
    prefix = head + "_" if head else ""
    if last in _IRREGULAR:
        return prefix + _IRREGULAR[last]
    if last.endswith("ies") and len(last) > 4:
        return prefix + last[:-3] + "y"
    if last.endswith(("sses", "shes", "ches", "xes", "zzes", "uses")):
        return prefix + last[:-2]
    if last.endswith(("ss", "us", "is")) or len(last) <= 2:
        return word
    if last.endswith("s"):
        return prefix + last[:-1]
    return word


def stems(column: str) -> list[tuple[str, str]]:
    """What a column may be named after: (stem, pattern), e.g. property_id -> [("property", "<x>_id")]."""
    c = column.lower()
    out: list[tuple[str, str]] = []
    for suffix, label in (("_id", "<x>_id"), ("_ref", "<x>_ref")):
        if c.endswith(suffix) and len(c) > len(suffix):
            out.append((c[: -len(suffix)], label))
    if not out and c.endswith("id") and len(c) > 3:
        out.append((c[:-2], "<x>id"))
    return out


def compatible(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return a == b or (a in INT_TYPES and b in INT_TYPES) or (a in TEXT_TYPES and b in TEXT_TYPES)


def infer(tables: Mapping[str, Table], declared: Sequence[Link]) -> list[Link]:
    """Candidate FK-less edges: columns named after a table whose single-column primary key has a compatible type.

    Rules (the strongest wins, each extra one adds a little): named after the table (`<table>_id`,
    `<singular>_id`, `<table>_ref`, `<table>id`); the same column name is a declared FK to that table
    elsewhere; a role prefix before the table name (`assigned_staff_id` -> staff); the last word of the
    table name (`property_id` -> onemap_properties). Columns already in a declared FK are skipped.
    """
    targets = {k: t for k, t in tables.items() if len(t.pk) == 1}
    by_name: dict[str, set[str]] = {}
    by_tail: dict[str, set[str]] = {}
    for k, t in targets.items():
        low = t.name.lower()
        for form in {low, singular(low)}:
            by_name.setdefault(form, set()).add(k)
        parts = singular(low).split("_")
        for i in range(1, len(parts)):
            by_tail.setdefault("_".join(parts[i:]), set()).add(k)
    learned: dict[str, dict[str, list[str]]] = {}
    in_fk: set[tuple[str, str]] = set()
    for d in declared:
        in_fk.update((d.table, c) for c in d.columns)
        ref = tables.get(d.ref_table)
        if len(d.columns) == 1 and ref is not None and ref.pk == d.ref_columns:
            learned.setdefault(d.columns[0].lower(), {}).setdefault(d.ref_table, []).append(f"{d.table}.{d.columns[0]}")

    out: list[Link] = []
    for src in tables.values():
        for col in src.columns:
            if (src.key, col) in in_fk:
                continue
            found: dict[str, list[tuple[float, str]]] = {}
            for stem, pattern in stems(col):
                for form in {stem, singular(stem)}:
                    for k in by_name.get(form, ()):
                        found.setdefault(k, []).append((NAMED_AFTER, f"named {pattern} after the table"))
                    parts = form.split("_")
                    for i in range(1, len(parts)):
                        for k in by_name.get("_".join(parts[i:]), ()):
                            found.setdefault(k, []).append((ROLE_PREFIX, "role prefix + table name"))
                    for k in by_tail.get(singular(form), ()):
                        found.setdefault(k, []).append((LAST_WORD, "named after the last word of the table name"))
            for k, where in learned.get(col.lower(), {}).items():
                found.setdefault(k, []).append((SAME_AS_DECLARED, f"same name as declared FK {', '.join(where[:2])}"))
            best: list[tuple[float, str, tuple[str, ...]]] = []
            for k, hits in found.items():
                tgt = targets[k]
                if k == src.key and col in src.pk:
                    continue  # a table's own key
                if not compatible(src.type_of(col), tgt.type_of(tgt.pk[0])):
                    continue
                rules = tuple(dict.fromkeys(r for _, r in sorted(hits, reverse=True)))
                score = min(0.98, max(s for s, _ in hits) + 0.03 * (len(rules) - 1))
                best.append((score, k, rules))
            if not best:
                continue
            top = max(s for s, _, _ in best)
            winners = [b for b in best if b[0] == top]
            if len(winners) > 1:  # same name in several schemas: prefer the source's schema, then public
                for schema in (src.schema, "public"):
                    near = [b for b in winners if tables[b[1]].schema == schema]
                    if near:
                        winners = near
                        break
            if len(winners) > 1:
                continue  # ambiguous (type_id and five *_types tables): no guess
            score, k, rules = winners[0]
            out.append(
                Link(
                    table=src.key,
                    columns=(col,),
                    ref_table=k,
                    ref_columns=targets[k].pk,
                    declared=False,
                    one_to_one=src.is_unique((col,)),
                    nullable=src.nullable((col,)),
                    score=round(score, 2),
                    rules=rules,
                )
            )
    return out


def verified(cand: Link, checked: int, matched: int, *, exact: bool) -> Link | None:
    """The candidate with its measured coverage, or None when too few values are found in the target."""
    done = replace(cand, checked=checked, matched=matched, exact=exact)
    cov = done.coverage
    if cov is not None and cov < REJECT_BELOW:
        return None
    return done


# ---------- classification ----------


def junctions(tables: Mapping[str, Table], links: Sequence[Link]) -> list[tuple[str, str, str]]:
    """Many-to-many pairs (a, b, junction): a table whose PK or unique key is made of two of its FKs,
    or that has exactly two FKs and few other columns."""
    outgoing: dict[str, list[Link]] = {}
    for link in links:
        if link.table != link.ref_table and not link.one_to_one:
            outgoing.setdefault(link.table, []).append(link)
    out: list[tuple[str, str, str]] = []
    for key, outs in sorted(outgoing.items()):
        t = tables.get(key)
        if t is None or len(outs) < 2:
            continue
        pair: tuple[Link, Link] | None = None
        for a, b in combinations(outs, 2):
            cols = set(a.columns) | set(b.columns)
            if any(set(u) == cols for u in t.uniques):
                pair = (a, b)
                break
        if pair is None and len(outs) == 2:
            a, b = outs
            fk_cols = set(a.columns) | set(b.columns)
            surrogate = set(t.pk) if len(t.pk) == 1 else set()
            others = [c for c in t.columns if c not in fk_cols and c not in surrogate]
            if len(others) <= FEW_OTHER_COLUMNS:
                pair = (a, b)
        if pair is not None:
            x, y = sorted((pair[0].ref_table, pair[1].ref_table))
            out.append((x, y, key))
    return out


# ---------- join paths ----------


def shortest_paths(links: Sequence[Link], src: str, dst: str, *, limit: int = 3) -> list[list[int]]:
    """Up to `limit` shortest paths (lists of link indexes) over the undirected graph, fewest inferred first."""
    if src == dst:
        return [[]]
    adj: dict[str, list[tuple[int, str]]] = {}
    for i, link in enumerate(links):
        if link.table != link.ref_table:
            adj.setdefault(link.table, []).append((i, link.ref_table))
            adj.setdefault(link.ref_table, []).append((i, link.table))
    for nbrs in adj.values():
        nbrs.sort(key=lambda e: (not links[e[0]].declared, e[0]))
    dist = {src: 0}
    queue = deque([src])
    while queue and dst not in dist:
        node = queue.popleft()
        for _, nb in adj.get(node, ()):
            if nb not in dist:
                dist[nb] = dist[node] + 1
                queue.append(nb)
    if dst not in dist:
        return []
    found: list[list[int]] = []
    cap = max(limit * 20, 60)
    stack: list[tuple[str, list[int]]] = [(dst, [])]  # walk back from dst, one BFS level per step
    while stack and len(found) < cap:
        node, acc = stack.pop()
        if node == src:
            found.append(acc[::-1])
            continue
        back = [(nb, [*acc, i]) for i, nb in adj[node] if dist.get(nb) == dist[node] - 1]
        stack.extend(reversed(back))  # declared edges are explored first
    found.sort(key=lambda p: sum(not links[i].declared for i in p))
    return found[:limit]


def path_tables(links: Sequence[Link], src: str, path: Sequence[int]) -> list[str]:
    out = [src]
    for i in path:
        link = links[i]
        out.append(link.ref_table if link.table == out[-1] else link.table)
    return out


def _alias(name: str, used: set[str], counters: dict[str, int]) -> str:
    """A short, unused, non-keyword alias: initials (invoice_line -> il), else 2-3 letters, else a number."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    first = "".join(w[0] for w in words if w[0].isalpha()) or "t"
    tries = [first]
    if len(words) == 1 and words[0][0].isalpha():
        tries += [words[0][:2], words[0][:3]]
    for a in tries:
        if a not in used and a not in _RESERVED:
            used.add(a)
            return a
    n = counters.get(first, 2)
    while f"{first}{n}" in used:
        n += 1
    counters[first] = n + 1
    used.add(f"{first}{n}")
    return f"{first}{n}"


def join_clause(tables: Mapping[str, Table], links: Sequence[Link], src: str, path: Sequence[int]) -> str:
    """`FROM a JOIN b ON ... JOIN c ON ...` with quoted, schema-qualified names (composite keys with AND)."""
    used: set[str] = set()
    counters: dict[str, int] = {}

    def qname(key: str) -> str:
        t = tables[key]
        return f"{quote_ident(t.schema)}.{quote_ident(t.name)}"

    cur = src
    cur_alias = _alias(tables[src].name, used, counters)
    lines = [f"FROM {qname(src)} {cur_alias}"]
    for i in path:
        link = links[i]
        nxt = link.ref_table if link.table == cur else link.table
        nxt_alias = _alias(tables[nxt].name, used, counters)
        pairs = zip(link.columns, link.ref_columns, strict=True)
        if nxt == link.table:
            conds = [f"{nxt_alias}.{quote_ident(c)} = {cur_alias}.{quote_ident(r)}" for c, r in pairs]
        else:
            conds = [f"{nxt_alias}.{quote_ident(r)} = {cur_alias}.{quote_ident(c)}" for c, r in pairs]
        lines.append(f"JOIN {qname(nxt)} {nxt_alias} ON {' AND '.join(conds)}")
        cur, cur_alias = nxt, nxt_alias
    return "\n".join(lines)


# ---------- Mermaid ----------


def mermaid_names(tables: Iterable[Table]) -> dict[str, str]:
    """Mermaid-safe, unique entity names: [A-Za-z_][A-Za-z0-9_]*, schema prefix outside public."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for t in sorted(tables, key=lambda t: (t.schema != "public", t.key)):
        raw = t.name if t.schema == "public" else f"{t.schema}_{t.name}"
        base = re.sub(r"[^A-Za-z0-9_]", "_", raw)
        if not re.match(r"[A-Za-z_]", base):
            base = "t_" + base
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        out[t.key] = name
    return out


def mermaid(tables: Mapping[str, Table], links: Sequence[Link], *, max_edges: int = 400) -> tuple[str, bool]:
    """An erDiagram: parent ||--o{ child (|o when the key is nullable, o| for one-to-one, dotted if inferred).

    Returns (text, truncated).
    """
    names = mermaid_names(tables.values())
    lines = ["erDiagram"]
    for link in links[:max_edges]:
        left = "|o" if link.nullable else "||"
        right = "o|" if link.one_to_one else "o{"
        line = "--" if link.declared else ".."
        label = ", ".join(link.columns).replace('"', "'")
        if not link.declared:
            label += " (inferred)"
        lines.append(f'    {names[link.ref_table]} {left}{line}{right} {names[link.table]} : "{label}"')
    return "\n".join(lines), len(links) > max_edges
