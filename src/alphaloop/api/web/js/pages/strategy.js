// One strategy: tearsheet (metrics, growth and drawdown), validation, lifecycle, genealogy.
import { api, session } from "../api.js";
import { h, num, pct, pill, table, toast, when } from "../dom.js";
import { genealogy, lineChart } from "../svg.js";

const SHOWN = [
  ["sharpe_ratio", "Sharpe", num], ["sharpe", "Sharpe", num], ["annual_return", "annual return", pct],
  ["annual_volatility", "annual volatility", pct], ["max_drawdown", "max drawdown", pct],
  ["sortino_ratio", "Sortino", num], ["win_rate", "win rate", pct], ["turnover", "turnover", num],
  ["n_round_trips", "round trips", (x) => num(x, 0)], ["costs_bps_of_capital", "costs (bp of capital)", num],
  ["cost_drag_annual", "cost drag / year", pct], ["years", "years", num],
];

function metrics(ev, nTrials) {
  const rows = SHOWN.filter(([k]) => ev.metrics && k in ev.metrics)
    .map(([k, label, f]) => ({ label, value: f(ev.metrics[k]) }));
  rows.push({ label: "trials on the dataset", value: String(nTrials) });
  return table(rows, [{ label: "metric", get: (r) => r.label }, { label: ev.protocol, num: true, get: (r) => r.value }]);
}

export async function render(view, [ref]) {
  const [st, eq, life, tree] = await Promise.all([
    api.get(`/strategies/${ref}`), api.get(`/web/strategies/${ref}/equity`),
    api.get(`/web/strategies/${ref}/lifecycle`), api.get(`/strategies/${ref}/genealogy`, { depth: 4 })]);
  const validated = st.evaluations.filter((e) => e.validation);
  const moves = h("div");
  if (session.can("policy.manage")) {
    for (const action of ["demote", "retire"]) {
      moves.append(h("button.danger", { type: "button", id: `lifecycle-${action}`, onclick: async () => {
        const reason = window.prompt(`Reason to ${action}?`);
        if (!reason) return;
        try { await api.post(`/lifecycle/${st.hash}`, { action, reason }); toast(`${action}d`); render(view, [ref]); }
        catch (e) { toast(e.message); }
      } }, action), " ");
    }
  }
  view.replaceChildren(
    h("h1", {}, st.name),
    h("p.muted", {}, `${st.hash.slice(0, 16)} · ${st.dataset} · ${st.kind} · ${st.origin}`,
      st.session_id ? [" · ", h("a", { href: `#/research/${st.session_id}` }, `research session ${st.session_id}`)] : null),
    h("h2", {}, "Tearsheet"),
    h("div.row", {},
      h("div", {}, lineChart(eq.values, { label: `growth of 1 (${eq.protocol || "no stored returns"}, drawdown shaded)`, drawdown: true })),
      h("div", { id: "metrics" }, st.evaluations.map((e) => metrics(e, st.n_trials)))),
    h("h2", {}, "Validation"),
    validated.length ? h("div", { id: "validation" }, validated.map((e) => h("div", {},
      h("p", {}, e.passed ? pill("passed", "good") : pill("rejected", "bad"), ` protocol ${e.protocol}`),
      table(e.validation.gates || [], [
        { label: "gate", get: (g) => g.name },
        { label: "value", num: true, get: (g) => num(g.value, 3) },
        { label: "threshold", num: true, get: (g) => num(g.threshold, 3) },
        { label: "", get: (g) => g.passed ? pill("ok", "good") : pill("failed", "bad") },
      ]),
      h("ul", {}, (e.validation.reasons || []).map((r) => h("li", {}, r))))))
      : h("p.muted", { id: "validation" }, "not validated yet (a backtest only)"),
    h("h2", {}, "Lifecycle"),
    h("p", { id: "lifecycle" }, "state ", pill(life.state.state), life.state.since ? ` since ${when(life.state.since)}` : ""),
    table(life.history, [
      { label: "at", get: (t) => when(t.at) }, { label: "from", get: (t) => t.from }, { label: "to", get: (t) => t.to },
      { label: "event", get: (t) => t.event }, { label: "by", get: (t) => t.actor }, { label: "reason", get: (t) => t.reason },
    ], { empty: "no transition yet" }),
    moves,
    h("h2", {}, "Genealogy"),
    genealogy(tree),
    h("h2", {}, "Spec"),
    h("pre", {}, JSON.stringify(st.spec, null, 2)),
  );
}
