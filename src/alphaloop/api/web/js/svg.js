// Charts drawn as SVG here: a line chart, a rejection funnel and a genealogy graph.

const NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * A line chart of `values` (equally spaced) with its drawdown shaded below.
 * Options: width, height, label (title text), fmt (axis labels).
 */
export function lineChart(values, { width = 640, height = 220, label = "", fmt = (v) => v.toFixed(2), drawdown = false } = {}) {
  const pad = { l: 56, r: 10, t: 18, b: 20 };
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" });
  svg.append(s("text", { x: pad.l, y: 13 }, label));
  const ys = values.filter((v) => Number.isFinite(v));
  if (ys.length < 2) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no data"));
    return svg;
  }
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
  const X = (i) => pad.l + (i / (values.length - 1)) * (width - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - (v - lo) / span) * (height - pad.t - pad.b);
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(s("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: Y(v), y2: Y(v) }));
    svg.append(s("text", { x: pad.l - 4, y: Y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  if (drawdown) {
    let peak = -Infinity;
    const pts = values.map((v, i) => { peak = Math.max(peak, v); return [X(i), Y(v), Y(peak)]; });
    const d = `M${pts.map(([x, , yp]) => `${x},${yp}`).join("L")}L${pts.reverse().map(([x, y]) => `${x},${y}`).join("L")}Z`;
    svg.append(s("path", { class: "dd", d }));
  }
  const d = values.map((v, i) => `${i ? "L" : "M"}${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join("");
  svg.append(s("path", { class: "line", d }));
  return svg;
}

/** The rejection funnel: [{gate, removed, left}] as horizontal bars (left, then removed). */
export function funnel(steps, { width = 520 } = {}) {
  const rowH = 24, pad = 110;
  const height = steps.length * rowH + 10;
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "rejection funnel", class: "funnel" });
  const top = Math.max(1, ...steps.map((st) => st.left + st.removed));
  steps.forEach((st, i) => {
    const y = 5 + i * rowH;
    const w = (n) => (n / top) * (width - pad - 60);
    svg.append(s("text", { x: 4, y: y + 15 }, st.gate));
    svg.append(s("rect", { x: pad, y, width: w(st.left), height: rowH - 6 }));
    svg.append(s("rect", { class: "removed", x: pad + w(st.left), y, width: w(st.removed), height: rowH - 6 }));
    svg.append(s("text", { x: pad + w(st.left + st.removed) + 4, y: y + 14 },
      st.removed ? `${st.left} left, ${st.removed} out` : `${st.left}`));
  });
  return svg;
}

/**
 * A genealogy graph: `tree` is {hash, name, sharpe, parents: [tree...]}, drawn with the
 * strategy at the bottom and each generation of ancestors one layer up; edges child->parent.
 */
export function genealogy(tree, { width = 760 } = {}) {
  const layers = [];
  const seen = new Map();
  const edges = [];
  (function walk(node, depth) {
    if (!seen.has(node.hash)) {
      seen.set(node.hash, { node, depth });
      (layers[depth] ||= []).push(node.hash);
    }
    for (const p of node.parents || []) { edges.push([node.hash, p.hash]); walk(p, depth + 1); }
  })(tree, 0);
  const boxW = 170, boxH = 38, gapY = 34;
  const height = layers.length * (boxH + gapY) + 10;
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "genealogy", id: "genealogy" });
  const pos = new Map();
  layers.forEach((hashes, depth) => {
    const y = height - 5 - boxH - depth * (boxH + gapY);
    hashes.forEach((hh, i) => pos.set(hh, [((i + 0.5) / hashes.length) * width - boxW / 2, y]));
  });
  for (const [a, b] of edges) {
    const [ax, ay] = pos.get(a), [bx, by] = pos.get(b);
    svg.append(s("path", { class: "edge", d: `M${ax + boxW / 2},${ay}C${ax + boxW / 2},${ay - gapY / 2} ${bx + boxW / 2},${by + boxH + gapY / 2} ${bx + boxW / 2},${by + boxH}` }));
  }
  for (const [hh, { node, depth }] of seen) {
    const [x, y] = pos.get(hh);
    const sharpe = Number.isFinite(node.sharpe) ? node.sharpe.toFixed(2) : "–";
    const link = s("a", { href: `#/strategy/${hh}` },
      s("rect", { x, y, width: boxW, height: boxH, rx: 5 }),
      s("text", { x: x + 6, y: y + 15 }, (node.name || hh).slice(0, 26)),
      s("text", { x: x + 6, y: y + 30 }, `Sharpe ${sharpe}${node.operator ? ` · ${node.operator}` : ""}`));
    svg.append(s("g", { class: depth === 0 ? "node pick" : "node" }, link));
  }
  return svg;
}
