// The leaderboard: every Sharpe with its deflated Sharpe, PBO and the dataset's trial count.
import { api } from "../api.js";
import { h, num, pill, table } from "../dom.js";

export async function render(view, [dataArg]) {
  const datasets = (await api.get("/datasets")).datasets.map((d) => d.name);
  const data = dataArg || (datasets.includes("factor-etfs") ? "factor-etfs" : datasets[0]);
  const board = await api.get("/web/leaderboard", { data, limit: 50 });
  const pick = h("select", { id: "dataset", onchange: (ev) => { window.location.hash = `#/strategies/${ev.target.value}`; } },
    datasets.map((d) => h("option", { value: d, selected: d === data }, d)));
  view.replaceChildren(
    h("h1", {}, "Strategy leaderboard"),
    h("p", {}, "dataset ", pick, " · ", h("strong", { id: "trials" }, `${board.n_trials} trials`),
      " counted on this dataset (every candidate evaluated, whatever happened to it). Sharpe ratios are on the search span."),
    table(board.strategies, [
      { label: "strategy", get: (s) => h("a", { href: `#/strategy/${s.hash}` }, s.name) },
      { label: "kind", get: (s) => s.kind },
      { label: "origin", get: (s) => s.session_id ? h("a", { href: `#/research/${s.session_id}` }, `research ${s.session_id}`) : s.origin },
      { label: "Sharpe", num: true, get: (s) => num(s.sharpe) },
      { label: "DSR", num: true, get: (s) => num(s.dsr, 3) },
      { label: "DSR at validation", num: true, get: (s) => num(s.dsr_at_validation, 3) },
      { label: "PBO", num: true, get: (s) => num(s.pbo, 3) },
      { label: "trials", num: true, get: (s) => String(s.n_trials) },
      { label: "gate", get: (s) => s.passed === true ? pill("passed", "good") : s.passed === false ? pill("rejected", "bad") : pill("not validated") },
    ], { id: "leaderboard", empty: "no strategy evaluated on this dataset" }),
    h("p.muted", {}, "DSR: deflated Sharpe ratio with today's trial count (a probability; 0.95 is the research gate's bar); DSR at validation: the gate's figure when the strategy was validated. PBO: probability of backtest overfitting of the search that produced it."),
  );
}
