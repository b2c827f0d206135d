// The risk panel: mode and limits, states, and the kill switch (trader and above).
import { api, live, session } from "../api.js";
import { h, num, pill, table, toast, when } from "../dom.js";

export async function render(view) {
  const [limits, states, kill] = await Promise.all([api.get("/risk/limits"), api.get("/risk/states"), api.get("/risk/kill")]);
  const modeRows = Object.entries(limits.modes).flatMap(([mode, m]) =>
    Object.entries({ ...m.limits, ...m.thresholds }).map(([k, v]) => ({ mode, k, v })));
  const killBox = h("section", { id: "kill" });
  const drawKill = (active) => {
    const on = active.length > 0;
    killBox.replaceChildren(
      h("h2", {}, "Kill switch"),
      h("p", { id: "kill-state" }, on ? pill("ENGAGED", "bad") : pill("off", "good"), " ",
        on ? active.map((k) => `${k.scope}${k.target ? ` ${k.target}` : ""} by ${k.actor}: ${k.reason} (${when(k.at || k.created_at)})`).join("; ") : ""));
    if (!session.can("risk.manage")) return;
    const reason = h("input", { name: "reason", id: "kill-reason", size: 40, placeholder: "reason (required, audited)" });
    const act = async (clear) => {
      if (!reason.value.trim()) { toast("a reason is required"); return; }
      try {
        const r = await api.post("/risk/kill", { scope: "all", clear, reason: reason.value.trim() });
        drawKill(r.active); toast(clear ? "kill switch cleared" : "kill switch engaged");
      } catch (e) { toast(e.message); }
    };
    killBox.append(h("div.inline", {}, reason, " ",
      on ? h("button.plain", { type: "button", id: "kill-clear", onclick: () => act(true) }, "Clear")
        : h("button.danger", { type: "button", id: "kill-engage", onclick: () => act(false) }, "Stop everything")));
  };
  drawKill(kill.active);
  const off = live.on("risk", async (data) => { if (data && "kill" in data) drawKill((await api.get("/risk/kill")).active); });
  const modeForm = session.can("policy.manage") ? h("form.inline", { id: "mode-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try { await api.put("/policy/mode", { mode: f.get("mode"), reason: f.get("reason") }); toast("mode changed"); render(view); }
    catch (e) { toast(e.message); }
  } }, h("select", { name: "mode" }, Object.keys(limits.modes).map((m) => h("option", { value: m, selected: m === limits.mode }, m))),
  h("input", { name: "reason", placeholder: "reason", required: true }), h("button", { type: "submit" }, "Set mode")) : null;
  view.replaceChildren(
    h("h1", {}, "Risk"),
    h("p", {}, "mode ", pill(limits.mode, limits.mode === "normal" ? "good" : "warn"), ` · policy version ${limits.version}`),
    modeForm,
    killBox,
    h("div.row", {},
      h("section", {}, h("h2", {}, "Limits and thresholds by mode"),
        table(modeRows, [{ label: "mode", get: (r) => r.mode }, { label: "limit", get: (r) => r.k }, { label: "value", num: true, get: (r) => num(r.v, 4) }], { id: "limits" })),
      h("section", {}, h("h2", {}, "States"),
        table(Object.entries(states.strategies.by_state), [{ label: "lifecycle state", get: ([k]) => k }, { label: "strategies", num: true, get: ([, v]) => String(v) }], { empty: "no strategy left backtest" }),
        h("p", {}, `blocked symbols: ${states.blocked.symbols.join(", ") || "none"}; blocked strategies: ${states.blocked.strategies.join(", ") || "none"}`),
        h("p", {}, `open sessions: ${states.sessions.length}; pending approvals: ${states.approvals_pending}`))),
  );
  return off;
}
