// The model registry: versions with out-of-sample metrics; one version's lineage (dataset
// hash, spec, parent), stage moves (admins), a drift check run as a job, and its alerts.
import { api, session } from "../api.js";
import { age, h, num, pill, table, toast, when } from "../dom.js";
import { lineChart } from "../svg.js";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
// the registry's allowed moves (candidate -> production | archived, ...)
const MOVES = { candidate: ["production", "archived"], production: ["archived"], archived: ["candidate"] };

const stagePill = (stage) => pill(stage || "–", stage === "production" ? "good" : "");

/** Poll a job until it finishes (the page may have been left: stop when `alive()` says so). */
async function settle(id, alive) {
  for (;;) {
    const job = await api.get(`/jobs/${id}`);
    if (FINISHED.has(job.status) || !alive()) return job;
    await new Promise((r) => setTimeout(r, 400));
  }
}

function driftSummary(res) {
  return h("dl.drift", {},
    h("dt", {}, "recent IC"), h("dd", { id: "drift-recent-ic" }, num(res.recent_ic, 4)),
    h("dt", {}, "IC out of sample"), h("dd", {}, num(res.validation_ic, 4)),
    h("dt", {}, "prediction PSI"), h("dd", { id: "drift-psi" }, num(res.prediction_psi, 3)),
    h("dt", {}, "bars"), h("dd", {}, `${res.n_reference} reference, ${res.n_recent} recent`),
    h("dt", {}, "verdict"), h("dd", { id: "drift-verdict" }, res.degraded ? pill(`${res.alerts.length} alert(s)`, "bad") : pill("no drift", "good")));
}

function lineage(m) {
  const spec = { family: m.family, task: m.task, target: m.target, features: m.features, label: m.label, params: m.params };
  return h("dl", { id: "lineage-facts" },
    h("dt", {}, "dataset"), h("dd", {}, `${m.dataset} v${m.dataset_version}`),
    h("dt", {}, "dataset hash"), h("dd", { id: "dataset-hash" }, h("code", {}, m.dataset_hash)),
    h("dt", {}, "trained on"), h("dd", {}, `${when(m.train_start)} – ${when(m.train_end)} (labels to ${when(m.label_end)})`),
    h("dt", {}, "seed · code"), h("dd", {}, `${m.seed} · ${m.code_version}`),
    h("dt", {}, "parent"), h("dd", { id: "parent" }, m.supersedes ? h("a", { href: `#/models/${m.supersedes}` }, m.supersedes) : "none (first version)"),
    h("dt", {}, "spec"), h("dd", {}, h("pre", { id: "model-spec" }, JSON.stringify(spec, null, 1))));
}

async function detail(view, ref) {
  const m = await api.get(`/models/${ref}`);
  const ics = (m.segments || []).map((s) => s.ic ?? s.value).filter((x) => Number.isFinite(x));
  const actions = h("div", { id: "model-actions" });
  if (session.can("policy.manage")) {
    for (const to of MOVES[m.stage] || []) {
      actions.append(h("button", { type: "button", id: `stage-${to}`, onclick: async () => {
        const reason = window.prompt(`Reason to move ${m.ref} to ${to}?`);
        if (!reason) return;
        try { await api.post("/models/stage", { ref: m.ref, stage: to, reason }); toast(`${m.ref}: ${to}`); await detail(view, m.ref); }
        catch (e) { toast(e.message); }
      } }, to === "production" ? "Promote to production" : `Move to ${to}`), " ");
    }
  }
  const drift = h("div", { id: "drift-job" });
  if (session.can("research.run")) {
    actions.append(h("button", { type: "button", id: "drift-check", onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const job = await api.post("/models/monitor", { ref: m.ref, reason: "drift check from the dashboard" });
        drift.replaceChildren(`job ${job.id} `, pill(job.status));
        const done = await settle(job.id, () => drift.isConnected);
        if (!drift.isConnected) return;
        if (done.status !== "succeeded") { drift.replaceChildren(`job ${job.id} `, pill(done.status, "bad"), h("p.error", {}, done.error || "")); return; }
        const { result } = await api.get(`/jobs/${job.id}/result`);
        await detail(view, m.ref);
        const fresh = document.getElementById("drift-job");
        if (fresh) fresh.replaceChildren(`job ${job.id} `, pill(done.status, "good"), driftSummary(result));
      } catch (e) { toast(e.message); ev.target.disabled = false; }
    } }, "Check drift"));
  }
  view.replaceChildren(
    h("h1", {}, m.ref || ref),
    h("p", {}, "stage ", h("span", { id: "stage" }, stagePill(m.stage)), ` · ${m.family} · trained ${when(m.created_at)} (${age(m.created_at)} ago)`),
    actions,
    h("h2", {}, "Metrics (out of sample)"),
    table(Object.entries(m.metrics || {}), [{ label: "metric", get: ([k]) => k }, { label: "value", num: true, get: ([, v]) => num(v, 4) }], { id: "metrics" }),
    ics.length > 1 ? lineChart(ics, { label: "rolling information coefficient", fmt: (v) => v.toFixed(3) }) : "",
    h("h2", {}, "Lineage"),
    lineage(m),
    h("ol", { id: "lineage" }, (m.lineage || []).map((r) => h("li", {}, h("a", { href: `#/models/${r}` }, r)))),
    h("h2", {}, "Drift"),
    drift,
    table(m.alerts || [], [
      { label: "at", get: (a) => when(a.created_at) }, { label: "kind", get: (a) => a.kind },
      { label: "metric", get: (a) => a.metric },
      { label: "value", num: true, get: (a) => num(a.value, 3) }, { label: "threshold", num: true, get: (a) => num(a.threshold, 3) },
      { label: "message", get: (a) => a.message }], { id: "drift", empty: "no drift found" }),
    h("h2", {}, "Stage history"),
    table(m.stage_history || [], [
      { label: "at", get: (c) => when(c.changed_at) }, { label: "from", get: (c) => c.from_stage ?? "–" },
      { label: "to", get: (c) => c.to_stage }, { label: "reason", get: (c) => c.reason }], { id: "stage-history" }),
    h("h2", {}, "Used by"),
    table(m.usage || [], [
      { label: "strategy", get: (u) => h("a", { href: `#/strategy/${u.strategy_hash}` }, u.strategy_name || u.strategy_hash.slice(0, 12)) },
      { label: "Sharpe", num: true, get: (u) => num(u.sharpe) }], { id: "usage" }),
  );
}

export async function render(view, args) {
  if (args.length) return detail(view, args.join("/"));
  const { models } = await api.get("/models");
  view.replaceChildren(
    h("h1", {}, "Model registry"),
    table(models, [
      { label: "model", get: (m) => h("a", { href: `#/models/${m.ref}` }, m.name) },
      { label: "version", num: true, get: (m) => `v${m.version}` },
      { label: "stage", get: (m) => stagePill(m.stage) },
      { label: "family", get: (m) => m.family },
      { label: "dataset", get: (m) => m.dataset || "–" },
      { label: "age", get: (m) => age(m.created_at) },
      { label: "IC", num: true, get: (m) => num((m.metrics || {}).ic, 4) },
      { label: "rank IC", num: true, get: (m) => num((m.metrics || {}).rank_ic, 4) },
      { label: "IC t (HAC)", num: true, get: (m) => num((m.metrics || {}).ic_tstat_hac, 2) },
    ], { id: "models", empty: "no model registered yet" }),
  );
}
