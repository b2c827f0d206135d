// Overview: risk mode, P&L of open sessions, alerts (live), model ages, pending work.
import { api, live } from "../api.js";
import { age, card, h, money, pill, table, when } from "../dom.js";

export async function render(view) {
  const [st, papers] = await Promise.all([api.get("/status"), api.get("/paper/sessions", { limit: 20 })]);
  const sessions = papers.sessions;
  // P&L of each session since its start (the server's figure: last equity less the first)
  const curves = await Promise.all(sessions.slice(0, 10).map((s) => api.get(`/paper/sessions/${s.id}/pnl`, { limit: 1 })));
  const pnlOf = new Map(sessions.slice(0, 10).map((s, i) => [s.id, curves[i].pnl ?? null]));
  const pnl = [...pnlOf.values()].reduce((acc, x) => acc + (Number.isFinite(x) ? x : 0), 0);
  const alerts = h("ul", { id: "alerts" });
  const noAlert = h("li.muted", {}, "no alert since this page opened");
  alerts.append(noAlert);
  for (const k of st.kills) alerts.append(h("li.bad", {}, `kill switch on ${k.scope}${k.target ? ` ${k.target}` : ""}: ${k.reason}`));
  const off = live.on("alerts", (data) => {
    noAlert.remove();
    alerts.prepend(h("li.warn", {}, `${when(new Date().toISOString())} ${data.message || data.kind || JSON.stringify(data)}`));
  });
  const mode = st.risk_mode;
  view.replaceChildren(
    h("h1", {}, "Overview"),
    h("div.cards", {},
      card("Risk mode", pill(mode, mode === "normal" ? "good" : "warn")),
      card("P&L of sessions", h("span", { id: "pnl", class: pnl >= 0 ? "good" : "bad" }, money(pnl)),
        h("div.muted", {}, `${Math.min(sessions.length, 10)} most recent session(s)`)),
      card("Pending approvals", String(st.approvals_pending)),
      card("Kill switches", String(st.kills.length)),
      card("Strategies in lifecycle", String(st.strategies.list.length))),
    h("div.row", {},
      h("section", {}, h("h2", {}, "Alerts"), alerts),
      h("section", {}, h("h2", {}, "Production models"),
        table(st.models, [
          { label: "model", get: (m) => m.ref || m.name },
          { label: "age", get: (m) => age(m.trained_at || m.created_at) },
          { label: "stage", get: (m) => m.stage || "production" },
        ], { empty: "no model in production" }))),
    h("h2", {}, "Paper and live sessions"),
    table(sessions, [
      { label: "id", get: (s) => h("a", { href: "#/trading/" + s.id }, String(s.id)) },
      { label: "name", get: (s) => s.name },
      { label: "mode", get: (s) => s.mode },
      { label: "status", get: (s) => s.status },
      { label: "bars", num: true, get: (s) => `${s.position}/${s.n_bars ?? "?"}` },
      { label: "equity", num: true, get: (s) => money(s.equity) },
      { label: "P&L", num: true, get: (s) => money(pnlOf.get(s.id)) },
      { label: "last bar", get: (s) => when(s.last_bar) },
    ], { empty: "no session" }),
  );
  return off;
}
