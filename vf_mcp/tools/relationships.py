"""get_table_relationships: declared and inferred foreign keys, their classification, join paths, Mermaid."""

from __future__ import annotations

import time
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute.graph import (
    Link,
    join_clause,
    junctions,
    mermaid,
    path_tables,
    shortest_paths,
)
from vf_mcp.db.relationships import MAX_VERIFIED, Graph, Links, graph_links, load_graph
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.relationships import Edge, JoinPath, Relationships
from vf_mcp.tools.common import SourceArg, ToolDef, app_of, respond, tool_errors

MAX_MERMAID_EDGES = 400

OptTable = Annotated[str | None, Field(description="Table: name, schema.name or quoted")]


@tool_errors
async def get_table_relationships(
    ctx: Context[App],
    table_name: OptTable = None,
    to_table: Annotated[str | None, Field(description="With table_name: join paths to this table")] = None,
    source: SourceArg = None,
) -> Annotated[CallToolResult, Relationships]:
    """Foreign keys both ways, declared and inferred (coverage measured), with junction tables.

    No arguments: the whole graph (with Mermaid); table_name: its edges; to_table: join paths as FROM ... JOIN.
    """
    app = app_of(ctx, source)
    return await relationships(app, table_name, to_table)


TOOLS = (ToolDef(get_table_relationships),)


async def relationships(app: App, table_name: str | None, to_table: str | None) -> CallToolResult:
    """The tool's answer for the three modes: path (both names), one table, or the whole graph."""
    started = time.perf_counter()
    if to_table and not table_name:
        raise InvalidArgumentError("to_table needs table_name: the join path goes from table_name to to_table.")
    graph = await _graph(app)
    src = await _table_key(app, graph, table_name) if table_name else None
    dst = await _table_key(app, graph, to_table) if to_table else None
    done = await _links(app, graph, None if src is None or dst is not None else {src})
    links = done.links

    if src is not None and dst is not None:
        paths = shortest_paths(links, src, dst, limit=3)
        used = [links[i] for i in dict.fromkeys(i for p in paths for i in p)]
        out_paths = [
            JoinPath(
                tables=path_tables(links, src, p),
                join_sql=join_clause(graph.tables, links, src, p),
                inferred=sum(not links[i].declared for i in p),
            )
            for p in paths
        ]
        if out_paths:
            msg = f"{len(out_paths)} shortest join path(s) from {src} to {dst}, {len(paths[0])} join(s) each"
        else:
            msg = f"No join path from {src} to {dst}: no chain of declared or inferred keys connects them"
        return _respond(graph, used, [], done, msg, started, paths=out_paths)

    pairs = [list(p) for p in junctions(graph.tables, links)]
    if src is not None:
        mine = [lk for lk in links if src in (lk.table, lk.ref_table)]
        m2m = [p for p in pairs if src in p]
        outgoing = sum(lk.table == src for lk in mine)
        msg = (
            f"{src}: {len(mine)} edge(s), {outgoing} outgoing (keys in {src}) and {len(mine) - outgoing} "
            f"incoming; {sum(not lk.declared for lk in mine)} inferred; {len(m2m)} many-to-many"
        )
        return _respond(graph, mine, m2m, done, msg, started)

    linked = {k for lk in links for k in (lk.table, lk.ref_table)}
    isolated = sorted(k for k in graph.tables if k not in linked)
    text, cut = mermaid(graph.tables, links, max_edges=MAX_MERMAID_EDGES)
    inferred = sum(not lk.declared for lk in links)
    msg = (
        f"{len(graph.tables)} tables, {len(links)} edges ({len(links) - inferred} declared, {inferred} inferred"
        f"{f', {done.rejected} rejected on coverage' if done.rejected else ''}), {len(pairs)} many-to-many, "
        f"{len(isolated)} isolated"
    )
    cap = app.settings.max_rows
    if len(links) > cap:
        msg += f"; edges listed: the first {cap} (max_rows): ask per table with table_name for the rest"
    if cut:
        msg += f"; the diagram shows the first {MAX_MERMAID_EDGES} edges"
    return _respond(graph, links[:cap], pairs, done, msg, started, isolated=isolated, mermaid_text=text)


def _respond(
    graph: Graph,
    links: list[Link],
    m2m: list[list[str]],
    done: Links,
    message: str,
    started: float,
    *,
    isolated: list[str] | None = None,
    paths: list[JoinPath] | None = None,
    mermaid_text: str | None = None,
) -> CallToolResult:
    unverified = sum(not lk.declared and lk.checked is None for lk in links)
    message += f" ({(time.perf_counter() - started) * 1000.0:.0f} ms){done.note}"
    if unverified:
        message += (
            f". {unverified} inferred edge(s) not yet checked against the data (at most {MAX_VERIFIED} per call: "
            "call again to check more)"
        )
    result = Relationships(
        tables=len(graph.tables),
        edges=[_edge(lk) for lk in links],
        many_to_many=m2m,
        isolated=isolated,
        paths=paths,
        mermaid=mermaid_text,
        exact=all(lk.exact for lk in links),
        unverified=unverified,
        message=message,
    )
    return respond(result, _body(result))


def _edge(lk: Link) -> Edge:
    cov = lk.coverage
    return Edge(
        table=lk.table,
        columns=list(lk.columns),
        ref_table=lk.ref_table,
        ref_columns=list(lk.ref_columns),
        kind="declared" if lk.declared else "inferred",
        cardinality=lk.cardinality,
        name=lk.name,
        confidence=lk.confidence,
        coverage=None if cov is None else round(cov, 4),
        orphans=lk.orphans,
        evidence=lk.evidence(),
    )


def _body(r: Relationships) -> str:
    """Edges one per line, then many-to-many, isolated tables, join clauses and the diagram."""
    lines = ["table(columns) -> ref_table(columns) N:1|1:1 [inferred confidence: evidence]"] if r.edges else []
    for e in r.edges:
        line = f"{e.table}({', '.join(e.columns)}) -> {e.ref_table}({', '.join(e.ref_columns)})"
        line += " 1:1" if e.cardinality == "one-to-one" else " N:1"
        if e.kind == "inferred":
            line += f" inferred {e.confidence}"
        if e.evidence:
            line += f": {e.evidence}"
        lines.append(line)
    lines += [f"many-to-many: {a} <-> {b} via {j}" for a, b, j in r.many_to_many]
    if r.isolated:
        lines.append("isolated: " + ", ".join(r.isolated))
    for n, p in enumerate(r.paths or [], start=1):
        lines.append(f"-- path {n}: {' > '.join(p.tables)}\n{p.join_sql}")
    if r.mermaid:
        lines.append(r.mermaid)
    return "\n".join(lines)


async def _graph(app: App) -> Graph:
    """Tables, declared keys and inference candidates (vf_mcp.db.relationships.load_graph, cached)."""
    return await load_graph(app.catalog)


async def _links(app: App, graph: Graph, focus: set[str] | None) -> Links:
    """Declared edges plus candidates with measured coverage (shared with check_data_quality and rank labels)."""
    return await graph_links(app.catalog, graph, focus)


async def _table_key(app: App, graph: Graph, name: str) -> str:
    rel = await app.catalog.resolve(name)
    if rel.qualified in graph.tables:
        return rel.qualified
    if rel.parent:
        raise InvalidArgumentError(
            f"{rel.qualified} is a partition of {rel.parent}: keys belong to the parent, ask for {rel.parent}."
        )
    raise InvalidArgumentError(
        f"{rel.qualified} is a {rel.kind_name}: relationships are keys between tables (see list_tables)."
    )
