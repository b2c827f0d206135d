// The factor library and analyses (evaluation and analysis run as jobs).
import { api, live, session } from "../api.js";
import { h, num, pill, table, toast } from "../dom.js";

export async function render(view) {
  const [{ libraries }, datasets, jobs] = await Promise.all([
    api.get("/factors/libraries"), api.get("/datasets"), api.get("/jobs", { kind: "factor.analyze" })]);
  const results = h("div", { id: "factor-jobs" });
  const show = async (job) => {
    if (!job.kind || !job.kind.startsWith("factor.")) return;
    const line = h("div.card", { id: `fjob-${job.id}` }, `job ${job.id} (${job.kind}) `, pill(job.status),
      job.params ? ` ${job.params.expression || job.params.target} on ${job.params.data}` : "");
    if (job.status === "succeeded") {
      const res = (await api.get(`/jobs/${job.id}/result`)).result;
      line.append(h("pre", {}, JSON.stringify(res.factor || res.summary || res, null, 1).slice(0, 1500)));
    }
    if (job.error) line.append(h("p.error", {}, job.error));
    (document.getElementById(`fjob-${job.id}`) || results.appendChild(h("div"))).replaceWith(line);
  };
  const off = live.on("job", show);
  jobs.jobs.slice(0, 5).forEach(show);
  const form = h("form.inline", { id: "factor-form" },
    h("label", {}, "expression or library", h("input", { name: "target", size: 40, value: "Mean($close, 5) / $close", required: true })),
    h("label", {}, "dataset", h("select", { name: "data" }, datasets.datasets.map((d) => h("option", { value: d.name }, d.name)))),
    h("button", { type: "submit", name: "evaluate" }, "Evaluate"),
    h("button", { type: "submit", name: "analyze" }, "Analyze"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const analyze = ev.submitter && ev.submitter.name === "analyze";
    try {
      const job = analyze
        ? await api.post("/factors/analyze", { target: f.get("target"), data: f.get("data") })
        : await api.post("/factors/evaluate", { expression: f.get("target"), data: f.get("data") });
      toast(`job ${job.id} queued`); show(job);
    } catch (e) { toast(e.message); }
  });
  view.replaceChildren(
    h("h1", {}, "Factors"),
    session.can("research.run") ? form : "",  // replaceChildren would print null
    results,
    h("h2", {}, "Libraries"),
    table(libraries, [
      { label: "library", get: (l) => l.name },
      { label: "factors", num: true, get: (l) => num(l.count, 0) },
      { label: "needs", get: (l) => (l.fields || []).join(", ") },
      { label: "description", get: (l) => l.description },
    ], { id: "libraries" }),
  );
  return off;
}
