// Users and roles (admins): add a user, change a role, disable, API keys.
import { api, session } from "../api.js";
import { h, pill, table, toast, when } from "../dom.js";

export async function render(view) {
  if (!session.can("users.manage")) {
    view.replaceChildren(h("h1", {}, "Users"), h("p.muted", {}, "only admins manage users"));
    return;
  }
  const [{ users }, keys] = await Promise.all([api.get("/users"), api.get("/keys")]);
  const roles = session.perms.roles;
  const act = (fn) => async (ev) => { ev.preventDefault?.(); try { await fn(ev); render(view); } catch (e) { toast(e.message); } };
  const add = h("form.inline", { id: "add-user", onsubmit: act(async (ev) => {
    const f = new FormData(ev.target);
    await api.post("/users", { name: f.get("name"), password: f.get("password"), role: f.get("role"), reason: "added from the dashboard" });
    toast(`user ${f.get("name")} added`);
  }) }, h("label", {}, "name", h("input", { name: "name", required: true })),
  h("label", {}, "password (12+)", h("input", { name: "password", type: "password", minlength: 12, required: true })),
  h("label", {}, "role", h("select", { name: "role" }, roles.map((r) => h("option", { value: r }, r)))),
  h("button", { type: "submit" }, "Add user"));
  view.replaceChildren(
    h("h1", {}, "Users and roles"), add,
    table(users, [
      { label: "user", get: (u) => u.name },
      { label: "role", get: (u) => h("select", { id: `role-${u.name}`, disabled: u.disabled || u.name === session.user.name,
        onchange: act(async (ev) => { await api.put(`/users/${u.name}/role`, { role: ev.target.value, reason: "changed from the dashboard" }); toast(`${u.name} is now ${ev.target.value}`); }) },
      roles.map((r) => h("option", { value: r, selected: r === u.role }, r))) },
      { label: "status", get: (u) => u.disabled ? pill("disabled", "bad") : pill("active", "good") },
      { label: "since", get: (u) => when(u.created_at) },
      { label: "", get: (u) => u.disabled || u.name === session.user.name ? "" : h("button.danger", { type: "button", id: `disable-${u.name}`,
        onclick: act(async () => { await api.post(`/users/${u.name}/disable`, { reason: "disabled from the dashboard" }); }) }, "Disable") },
    ], { id: "users" }),
    h("h2", {}, "API keys"),
    table(keys.keys || [], [
      { label: "id", get: (k) => String(k.id) }, { label: "user", get: (k) => k.user || k.owner || "" },
      { label: "name", get: (k) => k.name }, { label: "created", get: (k) => when(k.created_at) },
      { label: "", get: (k) => k.revoked_at ? pill("revoked") : h("button.plain", { type: "button", onclick: act(async () => { await api.del(`/keys/${k.id}`); }) }, "Revoke") },
    ], { empty: "no API key" }),
  );
}
