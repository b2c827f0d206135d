// Paper and live trading: a session's equity, positions, orders and fills; fills and P&L
// ticks stream in over the WebSocket.
import { api, live } from "../api.js";
import { h, money, num, pill, table, when } from "../dom.js";
import { lineChart } from "../svg.js";

export async function render(view, [idArg]) {
  const { sessions } = await api.get("/paper/sessions", { limit: 50 });
  const id = idArg || (sessions[0] && String(sessions[0].id));
  const pick = h("select", { id: "session", onchange: (ev) => { window.location.hash = `#/trading/${ev.target.value}`; } },
    sessions.map((s) => h("option", { value: s.id, selected: String(s.id) === id }, `${s.id} · ${s.name} (${s.mode}, ${s.status})`)));
  if (!id) {
    view.replaceChildren(h("h1", {}, "Trading"), h("p.muted", {}, "no paper or live session yet"));
    return null;
  }
  const [info, pos, orders, fills, pnl] = await Promise.all([
    api.get(`/paper/sessions/${id}`), api.get(`/paper/sessions/${id}/positions`), api.get(`/paper/sessions/${id}/orders`),
    api.get(`/paper/sessions/${id}/fills`), api.get(`/paper/sessions/${id}/pnl`)]);
  const equity = pnl.equity.map((r) => r.equity);
  const chart = h("div", { id: "equity" }, lineChart(equity, { label: "equity", fmt: (v) => money(v), drawdown: true }));
  // a recorded fill's quantity is signed; a streamed one has a side
  const signed = (f) => (f.side === "sell" ? -f.quantity : f.quantity);
  const fillRow = (f) => h("tr", {}, h("td", {}, when(f.time || f.event?.ts)), h("td", {}, f.asset || f.symbol),
    h("td.num", {}, num(signed(f), 2)), h("td.num", {}, num(f.price, 3)), h("td.num", {}, num(f.cost ?? f.commission, 2)));
  const fillBody = h("tbody", {}, fills.fills.slice().reverse().map(fillRow));
  const fillTable = h("table", { id: "fills" },
    h("thead", {}, h("tr", {}, ["time", "asset", "quantity", "price", "cost"].map((c, i) => h(i > 1 ? "th.num" : "th", {}, c)))), fillBody);
  const tick = h("span", { id: "tick" }, `equity ${money(info.equity)}`);
  // status, bar, positions and orders as the API has them; redrawn (at most once a second)
  // while the session's ticks stream in
  const state = h("span", { id: "state" });
  const positions = h("div", { id: "positions-box" });
  const orderBox = h("div", { id: "orders-box" });
  const drawState = (s, p, o) => {
    const option = pick.selectedOptions[0];
    if (option) option.textContent = `${s.id} · ${s.name} (${s.mode}, ${s.status})`;
    state.replaceChildren(pill(s.mode, s.mode === "live" ? "bad" : ""), " ", pill(s.status), " ", tick,
      ` · bar ${s.position}/${s.n_bars ?? "?"} · feed ${s.feed}`);
    positions.replaceChildren(table(Object.entries(p.positions), [{ label: "asset", get: ([a]) => a },
      { label: "quantity", num: true, get: ([, q]) => num(q, 2) }], { id: "positions", empty: "flat" }));
    orderBox.replaceChildren(table(o.orders.slice(-50).reverse(), [
      { label: "id", get: (r) => String(r.order_id) }, { label: "asset", get: (r) => r.asset },
      { label: "side", get: (r) => r.side }, { label: "qty", num: true, get: (r) => num(r.quantity, 2) },
      { label: "status", get: (r) => r.status }, { label: "avg price", num: true, get: (r) => num(r.avg_price, 3) }], { id: "orders" }));
  };
  let pending = null;
  let closed = false;
  let streamed = false;
  const ACTIVE = new Set(["created", "running"]);
  // redraw one second after a tick; while the session runs, every few seconds anyway (its
  // end, and sessions that publish no ticks)
  const refresh = (delay = 1000) => {
    if (pending || closed) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        const [s, p, o] = await Promise.all([api.get(`/paper/sessions/${id}`),
          api.get(`/paper/sessions/${id}/positions`), api.get(`/paper/sessions/${id}/orders`)]);
        if (closed) return;
        if (!streamed) tick.textContent = `equity ${money(s.equity)}`;
        drawState(s, p, o);
        if (ACTIVE.has(s.status)) refresh(3000);
      } catch (e) { if (!closed) refresh(5000); }
    }, delay);
  };
  drawState(info, pos, orders);
  if (ACTIVE.has(info.status)) refresh(3000);
  const offs = [
    live.on("fills", (data) => {
      if (data.event?.source !== `paper-${id}`) return; // another session's, or the live loop's
      fillBody.prepend(fillRow(data));
    }),
    live.on("pnl", (data) => {
      if (String(data.session) !== String(id)) return;
      equity.push(data.equity);
      streamed = true;
      tick.textContent = `equity ${money(data.equity)} · P&L ${money(data.pnl)} (live)`;
      chart.replaceChildren(lineChart(equity, { label: "equity", fmt: (v) => money(v), drawdown: true }));
      refresh();
    }),
  ];
  view.replaceChildren(
    h("h1", {}, "Paper and live trading"),
    h("p", {}, pick, " ", state),
    chart,
    h("div.row", {},
      h("section", {}, h("h2", {}, "Positions"), positions),
      h("section", {}, h("h2", {}, "Orders"), orderBox)),
    h("h2", {}, "Fills (newest first; new ones stream in)"),
    fillTable,
  );
  return () => { closed = true; clearTimeout(pending); offs.forEach((off) => off()); };
}
