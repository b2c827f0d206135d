"""The winners' genealogy as a graph: nodes by generation, edges parent -> child.

:meth:`StrategyDB.genealogy` gives one tree per winner, ``{hash, name,
operator, exploration, sharpe, parents: [tree, ...]}``, where a node's
``operator`` is how it was made from its parents (the first parent first, a
crossover's second parent next). Trees of several winners share ancestors,
and one tree can reach the same ancestor twice; :func:`genealogy_layout`
merges them into one graph keyed by strategy hash and places each node at
its generation (0 for the oldest ancestor shown, then one more than its
oldest-placed parent), so a child always stands right of its parents. Edges
that would close a cycle (none should exist) are dropped and counted.

Missing keys are tolerated: a parent given as a bare hash is a node with
only that hash, and a node without a hash is skipped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alphaloop.reports import chart_layout, format_flag, format_number

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = [
    "GenealogyEdge",
    "GenealogyLayout",
    "GenealogyNode",
    "genealogy_figure",
    "genealogy_layout",
]

#: deepest nesting of parent trees that is read (guards against runaway input)
MAX_DEPTH = 64


@dataclass
class GenealogyNode:
    """One strategy in the graph; ``x`` is its generation, ``y`` its row within it."""

    hash: str
    name: str
    operator: str | None
    exploration: dict[str, Any]
    sharpe: float | None
    winner: bool = False
    x: int = 0
    y: float = 0.0


@dataclass(frozen=True)
class GenealogyEdge:
    """``parent`` -> ``child``, made by ``operator``; ``second`` for a crossover's second parent."""

    parent: str
    child: str
    operator: str
    second: bool


@dataclass
class GenealogyLayout:
    """Nodes (in the order first met) and edges of the merged genealogy."""

    nodes: dict[str, GenealogyNode] = field(default_factory=dict)
    edges: list[GenealogyEdge] = field(default_factory=list)
    dropped_cycles: int = 0


def _as_tree(item: Any) -> Mapping[str, Any] | None:
    if isinstance(item, Mapping):
        return item
    if isinstance(item, str) and item:
        return {"hash": item}
    return None


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _collect(trees: Sequence[Any]) -> GenealogyLayout:
    out = GenealogyLayout()
    seen_edges: set[tuple[str, str]] = set()
    stack: list[tuple[Mapping[str, Any], int, bool]] = []
    for item in reversed(trees):
        tree = _as_tree(item)
        if tree is not None:
            stack.append((tree, 0, True))
    while stack:
        tree, depth, winner = stack.pop()
        h = str(tree.get("hash") or "")
        if not h:
            continue
        node = out.nodes.get(h)
        if node is None:
            node = GenealogyNode(
                hash=h,
                name=str(tree.get("name") or h[:12]),
                operator=tree.get("operator"),
                exploration=dict(tree.get("exploration") or {}),
                sharpe=_float(tree.get("sharpe")),
            )
            out.nodes[h] = node
        else:  # a node met again may carry what a shallower copy left out
            node.operator = node.operator or tree.get("operator")
            node.exploration = node.exploration or dict(tree.get("exploration") or {})
            node.sharpe = node.sharpe if node.sharpe is not None else _float(tree.get("sharpe"))
        node.winner = node.winner or winner
        if depth >= MAX_DEPTH:
            continue
        parents = [p for p in (_as_tree(p) for p in tree.get("parents") or []) if p is not None]
        children = []
        for i, parent in enumerate(parents):
            p = str(parent.get("hash") or "")
            if not p or p == h or (p, h) in seen_edges:
                continue
            seen_edges.add((p, h))
            operator = str(tree.get("operator") or "?")
            out.edges.append(GenealogyEdge(parent=p, child=h, operator=operator, second=i > 0))
            children.append((parent, depth + 1, False))
        stack.extend(reversed(children))
    return out


def genealogy_layout(trees: Sequence[Any]) -> GenealogyLayout:
    """Merge genealogy trees into one graph and place every node.

    Parameters
    ----------
    trees : sequence of mapping
        As :meth:`StrategyDB.genealogy` returns them, one per winner; the
        root of each is marked ``winner``.

    Returns
    -------
    GenealogyLayout
        ``x`` = generation (longest chain of shown ancestors), ``y`` = rows
        of a generation spread evenly around 0 in the order met.
    """
    out = _collect(trees)
    parents: dict[str, list[str]] = {h: [] for h in out.nodes}
    for e in out.edges:
        parents[e.child].append(e.parent)
    # generations by depth-first search; an edge back into the current path closes a cycle
    generation: dict[str, int] = {}
    on_path: set[str] = set()
    cut: set[tuple[str, str]] = set()
    for start in out.nodes:
        if start in generation:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        on_path.add(start)
        while stack:
            h, i = stack[-1]
            if i < len(parents[h]):
                stack[-1] = (h, i + 1)
                p = parents[h][i]
                if p in on_path:
                    cut.add((p, h))
                elif p not in generation:
                    on_path.add(p)
                    stack.append((p, 0))
                continue
            stack.pop()
            on_path.discard(h)
            known = [generation[p] for p in parents[h] if (p, h) not in cut and p in generation]
            generation[h] = 1 + max(known) if known else 0
    out.edges = [e for e in out.edges if (e.parent, e.child) not in cut]
    out.dropped_cycles = len(cut)
    rows: dict[int, list[GenealogyNode]] = {}
    for h, node in out.nodes.items():
        node.x = generation[h]
        rows.setdefault(node.x, []).append(node)
    for column in rows.values():
        mid = (len(column) - 1) / 2
        for i, node in enumerate(column):
            node.y = mid - i
    return out


def _exploration_text(exploration: Mapping[str, Any]) -> str:
    parts = []
    for key, value in exploration.items():
        label = html.escape(str(key).replace("_", " "))
        if isinstance(value, bool) or value is None:
            shown = format_flag(value)
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value) or "none"
        else:
            shown = str(value)
        parts.append(f"{label}: {html.escape(shown)}")
    return "<br>".join(parts) if parts else "not recorded"


def _along(start: float, end: float, share: float = 0.6) -> float:
    return start + share * (end - start)


def genealogy_figure(trees: Sequence[Any]) -> Figure:
    """The merged genealogy as a plotly figure (arrows parent -> child, labelled by operator).

    Text that comes from the database (names, operators, exploration) is
    HTML-escaped before plotly sees it; plotly turns the entities back into
    characters when it draws, and never into markup.
    """
    import plotly.graph_objects as go

    layout = genealogy_layout(trees)
    nodes = layout.nodes
    fig = go.Figure()
    for e in layout.edges:
        a, b = nodes[e.parent], nodes[e.child]
        fig.add_annotation(
            x=b.x, y=b.y, ax=a.x, ay=a.y, xref="x", yref="y", axref="x", ayref="y",
            showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=1.2 if e.second else 1.6,
            arrowcolor="#c27c0e" if e.second else "#5b6877", standoff=10, startstandoff=10,
            text="",
        )  # fmt: skip
    if layout.edges:
        fig.add_scatter(
            # 60% of the way to the child: labels of edges that cross do not sit on each other
            x=[_along(nodes[e.parent].x, nodes[e.child].x) for e in layout.edges],
            y=[_along(nodes[e.parent].y, nodes[e.child].y) for e in layout.edges],
            mode="text",
            text=[
                html.escape(e.operator) + (" (2nd parent)" if e.second else "")
                for e in layout.edges
            ],
            textfont={"size": 10, "color": "#5b6877"},
            hoverinfo="skip",
            name="operator",
            showlegend=False,
        )
    ordered = list(nodes.values())
    hover = [
        f"<b>{html.escape(n.name)}</b><br>{html.escape(n.hash[:12])}<br>"
        f"search Sharpe: {format_number(n.sharpe, decimals=2)}<br>"
        f"made by: {html.escape(str(n.operator or 'seed'))}<br>{_exploration_text(n.exploration)}"
        for n in ordered
    ]
    fig.add_scatter(
        x=[n.x for n in ordered],
        y=[n.y for n in ordered],
        mode="markers+text",
        text=[html.escape(n.name) for n in ordered],
        textposition="top center",
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        marker={
            "size": [16 if n.winner else 11 for n in ordered],
            "color": ["#1f5fa8" if n.winner else "#8a939c" for n in ordered],
            "line": {"width": 1, "color": "#1d2733"},
        },
        name="strategies",
        showlegend=False,
    )
    n_gen = max((n.x for n in ordered), default=0)
    fig.update_layout(
        **chart_layout(
            "Genealogy of the winners (search-span Sharpe on hover; winners in blue)",
            xaxis={
                "title": {"text": "generation"},
                "tickmode": "linear",
                "dtick": 1,
                "range": [-0.5, n_gen + 0.5],
                "zeroline": False,
            },
            yaxis={"visible": False},
        )
    )
    return fig
