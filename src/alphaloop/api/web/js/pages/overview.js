// Overview: risk mode, P&L of open sessions, alerts (live), model ages, pending work.
import { api, live } from "../api.js";
import { age, card, h, money, pill, table, when } from "../dom.js";

export async function render(view) {
  const [st, papers] = await Promise.all([api.get("/status"), api.get("/paper/sessions", { limit: 20 })]);
  const sessions = papers.sessions;
  const pnl = sessions.reduce((acc, s) => acc + (Number.isFinite(s.equity) ? s.equity : 0), 0);
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
      card("Equity of sessions", money(pnl), h("div.muted", {}, `${sessions.length} session(s)`)),
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
      { label: "last bar", get: (s) => when(s.last_bar) },
    ], { empty: "no session" }),
  );
  return off;
}
