// The audit trail: who did what, on what and why; the hash chain checked on demand.
import { api } from "../api.js";
import { h, table, when } from "../dom.js";

export async function render(view) {
  const params = new URLSearchParams(window.location.hash.split("?")[1] || "");
  const actor = params.get("actor") || "";
  const { entries } = await api.get("/audit", { limit: 200, actor: actor || undefined });
  const verdict = h("span", { id: "verify" });
  const form = h("form.inline", { onsubmit: (ev) => {
    ev.preventDefault();
    window.location.hash = `#/audit?actor=${encodeURIComponent(new FormData(ev.target).get("actor"))}`;
  } }, h("label", {}, "actor", h("input", { name: "actor", value: actor })), h("button", { type: "submit" }, "Filter"),
  h("button.plain", { type: "button", id: "verify-chain", onclick: async () => {
    const r = await api.get("/audit/verify");
    verdict.textContent = r.ok ? `chain intact (${r.checked ?? r.entries ?? ""} entries)` : `chain BROKEN: ${r.problem || r.error || JSON.stringify(r)}`;
    verdict.className = r.ok ? "good" : "bad";
  } }, "Verify the chain"), verdict);
  view.replaceChildren(
    h("h1", {}, "Audit log"), form,
    table(entries.slice().reverse(), [
      { label: "#", num: true, get: (e) => String(e.seq) },
      { label: "at", get: (e) => when(e.at) },
      { label: "actor", get: (e) => e.actor },
      { label: "action", get: (e) => e.action },
      { label: "target", get: (e) => e.subject },
      { label: "reason", get: (e) => (e.payload && e.payload.reason) || "" },
    ], { id: "audit" }),
  );
}
