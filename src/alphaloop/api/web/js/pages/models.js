// The model registry: versions with out-of-sample metrics; one version's lineage and drift.
import { api } from "../api.js";
import { age, h, num, pill, table, when } from "../dom.js";
import { lineChart } from "../svg.js";

async function detail(view, ref) {
  const m = await api.get(`/models/${ref}`);
  const ics = (m.segments || []).map((s) => s.ic ?? s.value).filter((x) => Number.isFinite(x));
  view.replaceChildren(
    h("h1", {}, m.ref || ref),
    h("p", {}, `stage `, pill(m.stage || "–"), ` · trained ${when(m.created_at)} (${age(m.created_at)} ago)`),
    h("h2", {}, "Metrics (out of sample)"),
    table(Object.entries(m.metrics || {}), [{ label: "metric", get: ([k]) => k }, { label: "value", num: true, get: ([, v]) => num(v, 4) }]),
    ics.length > 1 ? lineChart(ics, { label: "rolling information coefficient", fmt: (v) => v.toFixed(3) }) : null,
    h("h2", {}, "Lineage"),
    h("ol", { id: "lineage" }, (m.lineage || []).map((r) => h("li", {}, h("a", { href: `#/models/${r}` }, r)))),
    h("h2", {}, "Drift alerts"),
    table(m.alerts || [], [
      { label: "at", get: (a) => when(a.at || a.created_at) }, { label: "kind", get: (a) => a.kind || a.check },
      { label: "message", get: (a) => a.message || JSON.stringify(a) }], { id: "drift", empty: "no drift found" }),
    h("h2", {}, "Stage history"),
    table(m.stage_history || [], [
      { label: "at", get: (c) => when(c.at) }, { label: "from", get: (c) => c.from_stage ?? c.from },
      { label: "to", get: (c) => c.to_stage ?? c.to }, { label: "by", get: (c) => c.actor }]),
    h("h2", {}, "Used by"),
    table(m.usage || [], [{ label: "strategy", get: (u) => u.strategy_hash ? h("a", { href: `#/strategy/${u.strategy_hash}` }, u.strategy_hash.slice(0, 12)) : JSON.stringify(u) }]),
  );
}

export async function render(view, args) {
  if (args.length) return detail(view, args.join("/"));
  const { models } = await api.get("/models");
  view.replaceChildren(
    h("h1", {}, "Model registry"),
    table(models, [
      { label: "model", get: (m) => h("a", { href: `#/models/${m.ref}` }, m.ref) },
      { label: "stage", get: (m) => pill(m.stage || "–", m.stage === "production" ? "good" : "") },
      { label: "dataset", get: (m) => m.dataset || "–" },
      { label: "age", get: (m) => age(m.created_at) },
      { label: "IC", num: true, get: (m) => num((m.metrics || {}).ic ?? (m.metrics || {}).ic_mean, 4) },
    ], { id: "models", empty: "no model registered yet" }),
  );
}
