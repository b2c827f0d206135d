// Research sessions: start one, watch its batches live (progress, funnel), stop it, read reports.
import { api, live, session } from "../api.js";
import { h, num, pill, table, toast, when } from "../dom.js";
import { funnel } from "../svg.js";

const FINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

function rejectionFunnel(detail) {
  // a candidate may fail several gates: each is removed once, at its most frequent reason
  const steps = [{ gate: "evaluated", removed: 0, left: detail.evaluated }];
  let left = detail.evaluated;
  const counts = Object.entries(detail.rejections || {}).sort((a, b) => b[1] - a[1]);
  for (const [gate, n] of counts) {
    const out = Math.min(n, left);
    if (out === 0) continue;
    left -= out;
    steps.push({ gate, removed: out, left });
  }
  const also = counts.map(([gate, n]) => `${gate} ${n}`).join(", ");
  return h("div", {}, funnel(steps), also ? h("p.muted", {}, `failed gates (a candidate may fail several): ${also}`) : null);
}

async function sessionReport(view, id) {
  const rep = await api.get(`/research/sessions/${id}/report`);
  const sum = rep.summary || {};
  view.replaceChildren(
    h("h1", {}, `Research session ${rep.id}: ${rep.goal}`),
    h("p", {}, `dataset ${rep.dataset} · status `, pill(rep.status), ` · ${rep.n_evaluations} evaluated · `,
      h("strong", {}, `${rep.n_trials} trials on ${rep.dataset}`)),
    h("h2", {}, "Rejection funnel"),
    sum.funnel ? funnel(sum.funnel) : h("p.muted", {}, "no funnel recorded"),
    h("h2", {}, "Candidates"),
    table(rep.candidates, [
      { label: "name", get: (c) => h("a", { href: `#/strategy/${c.hash}` }, c.name) },
      { label: "kind", get: (c) => c.kind },
      { label: "Sharpe", num: true, get: (c) => num(c.sharpe) },
      { label: "trials", num: true, get: () => String(rep.n_trials) },
      { label: "gate", get: (c) => c.passed ? pill("passed", "good") : pill(c.reason || "rejected", "bad") },
    ], { id: "candidates" }),
    h("h2", {}, "Holdout"),
    h("p", { id: "holdout" }, rep.holdout
      ? (rep.holdout.evaluated ? `evaluated once on the final pick(s) after ${rep.holdout.trials_before} trials`
        : rep.holdout.reason || "not evaluated") : "not evaluated"),
  );
}

export async function render(view, [id]) {
  if (id) return sessionReport(view, id);
  const [list, datasets, jobs] = await Promise.all([
    api.get("/research/sessions", { limit: 20 }), api.get("/datasets"), api.get("/jobs", { kind: "research" })]);
  const watch = h("div", { id: "watch" });
  const running = new Map();
  const stopBox = (job, sid) => {
    // keep what was typed when a batch redraws the card
    const typed = document.getElementById(`stop-reason-${job.id}`)?.value || "";
    const reason = h("input", { id: `stop-reason-${job.id}`, name: "reason", size: 30, value: typed,
      placeholder: "reason (required, audited)" });
    const stop = async () => {
      if (!reason.value.trim()) { toast("a reason is required"); return; }
      try {
        const r = await api.post(`/research/sessions/${sid}/stop`, { reason: reason.value.trim() });
        const full = { ...(running.get(job.id) || job), ...r.job, session_status: r.session.status };
        running.set(job.id, full);
        draw(full);
        toast(`research session ${sid} stopped (job ${r.job.id} ${r.job.status})`);
      } catch (e) { toast(e.message); }
    };
    return h("div.inline.stop", {}, reason, " ",
      h("button.danger", { type: "button", id: `stop-${job.id}`, onclick: stop }, "Stop"));
  };
  const draw = (job) => {
    const p = job.progress || {};
    const d = p.detail;
    const batch = d && d.batch !== undefined ? d : null;  // the first note names the session only
    const sid = d && d.session_id !== undefined ? d.session_id : job.result_session;
    const done = FINAL.has(job.status);
    const box = h("div.card", { id: `job-${job.id}`, dataset: { status: job.status } },
      h("strong", {}, `job ${job.id} · `), pill(job.status, job.status === "succeeded" ? "good" : done && job.status !== "succeeded" ? "bad" : ""),
      sid !== undefined ? h("span", { class: "session" }, " · ", h("a", { href: `#/research/${sid}` }, `session ${sid}`),
        job.session_status ? [" ", pill(job.session_status, job.session_status === "finished" ? "good" : "bad")] : null) : null,
      h("div.bar", {}, h("span", { style: null })),
      h("p", {}, p.total ? `${p.done}/${p.total} candidates evaluated` : (p.step || "queued")),
      batch ? h("p", {}, `batch ${batch.batch}: ${batch.passed} passed, ${batch.failed} failed; best `,
        batch.best ? `${batch.best.name || ""} Sharpe ${num(batch.best.sharpe)}` : "–") : null,
      batch ? rejectionFunnel(batch) : null,
      job.error ? h("p.error", {}, job.error) : null,
      job.status === "running" && sid !== undefined && session.can("research.run") ? stopBox(job, sid) : null,
      job.result_session ? h("a", { href: `#/research/${job.result_session}`, class: "report" }, "open the report") : null);
    box.querySelector(".bar span").style.width = `${p.total ? Math.round((100 * p.done) / p.total) : done ? 100 : 0}%`;
    (document.getElementById(`job-${job.id}`) || watch.appendChild(h("div"))).replaceWith(box);
  };
  const onNews = async (job) => {
    if (job.kind && job.kind !== "research") return;
    const full = { ...(running.get(job.id) || {}), ...job, id: job.id ?? job.job };
    if (job.job) Object.assign(full, { id: job.job, status: job.status, progress: job.progress });
    running.set(full.id, full);
    if (full.status === "succeeded" && !full.result_session) {
      const res = await api.get(`/jobs/${full.id}/result`);
      full.result_session = res.result.session_id;
    }
    const sid = full.progress?.detail?.session_id;
    if (FINAL.has(full.status) && full.status !== "succeeded" && sid !== undefined && !full.session_status) {
      full.session_status = (await api.get(`/research/sessions/${sid}`)).status;  // interrupted, failed
    }
    draw(full);
  };
  const offs = [live.on("research", onNews), live.on("job", onNews)];
  for (const j of jobs.jobs.filter((j) => !FINAL.has(j.status))) onNews(j);

  const form = h("form.inline", { id: "start-research" },
    h("label", {}, "goal", h("input", { name: "goal", size: 34, value: "momentum, technical only", required: true })),
    h("label", {}, "dataset", h("select", { name: "data" },
      datasets.datasets.map((d) => h("option", { value: d.name }, d.name)))),
    h("label", {}, "budget", h("input", { name: "budget", type: "number", min: 1, value: 2, size: 4 })),
    h("label", {}, "batch", h("input", { name: "batch_size", type: "number", min: 1, value: 2, size: 4 })),
    h("label", {}, "seed", h("input", { name: "seed", type: "number", min: 0, value: 7, size: 4 })),
    h("button", { type: "submit" }, "Start research"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      const job = await api.post("/research/sessions", {
        goal: f.get("goal"), data: f.get("data"), budget: Number(f.get("budget")),
        batch_size: Number(f.get("batch_size")), seed: Number(f.get("seed")), reason: "started from the dashboard" });
      toast(`research job ${job.id} queued`);
      onNews(job);
    } catch (e) { toast(e.message); }
  });
  view.replaceChildren(
    h("h1", {}, "Research sessions"),
    session.can("research.run") ? form : h("p.muted", {}, "your role may read sessions but not start them"),
    watch,
    h("h2", {}, "Sessions"),
    table(list.sessions, [
      { label: "id", get: (s) => h("a", { href: `#/research/${s.id}` }, String(s.id)) },
      { label: "goal", get: (s) => s.goal },
      { label: "dataset", get: (s) => s.dataset },
      { label: "status", get: (s) => s.status },
      { label: "batches", num: true, get: (s) => String(s.n_batches ?? "–") },
      { label: "started", get: (s) => when(s.created_at) },
    ], { id: "sessions", empty: "no research session yet" }),
  );
  const ds = form.querySelector("select");
  if ([...ds.options].some((o) => o.value === "factor-etfs")) ds.value = "factor-etfs";
  return () => offs.forEach((off) => off());
}
