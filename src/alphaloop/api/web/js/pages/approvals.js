// The approvals queue: orders waiting for a person (trader and above decide).
import { api, live, session } from "../api.js";
import { h, num, pill, table, toast, when } from "../dom.js";

export async function render(view) {
  const status = new URLSearchParams(window.location.hash.split("?")[1] || "").get("status") || "pending";
  const { approvals } = await api.get("/approvals", { status });
  const decide = async (a, verb) => {
    const reason = document.getElementById(`reason-${a.id}`).value.trim();
    if (verb === "reject" && !reason) { toast("a rejection needs a reason"); return; }
    try { await api.post(`/approvals/${a.id}/${verb}`, { reason }); toast(`approval ${a.id} ${verb}d`); render(view); }
    catch (e) { toast(e.message); }
  };
  const can = session.can("risk.manage");
  view.replaceChildren(
    h("h1", {}, "Approvals"),
    h("p", {}, ["pending", "approved", "rejected", "expired"].map((s) => [h("a", { href: `#/approvals?status=${s}` }, s), " "])),
    table(approvals, [
      { label: "id", get: (a) => String(a.id) },
      { label: "order", get: (a) => `${a.order.side} ${num(a.order.quantity, 2)} ${a.order.asset}` },
      { label: "session", get: (a) => a.order.session ? h("a", { href: `#/trading/${a.order.session}` }, a.order.session) : "–" },
      { label: "strategy", get: (a) => a.order.strategy ? h("a", { href: `#/strategy/${a.order.strategy}` }, String(a.order.strategy).slice(0, 10)) : "–" },
      { label: "requested", get: (a) => `${when(a.requested_at)} by ${a.requested_by}` },
      { label: "expires", get: (a) => when(a.expires_at) },
      { label: "status", get: (a) => pill(a.status, a.status === "approved" ? "good" : a.status === "rejected" ? "bad" : "warn") },
      { label: "decide", get: (a) => a.status !== "pending" ? `${a.decided_by || ""} ${a.reason || ""}`
        : can ? h("span", {}, h("input", { id: `reason-${a.id}`, placeholder: "reason", size: 16 }), " ",
          h("button", { type: "button", id: `approve-${a.id}`, onclick: () => decide(a, "approve") }, "Approve"), " ",
          h("button.danger", { type: "button", id: `reject-${a.id}`, onclick: () => decide(a, "reject") }, "Reject"))
          : h("span.muted", {}, "a trader decides") },
    ], { id: "approvals", empty: `no ${status} approval` }),
  );
  return live.on("approvals", () => render(view));
}
