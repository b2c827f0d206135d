// The dashboard's shell: login, navigation and a hash router (#/page/arg).
import { login, logout, session, whoami } from "./api.js";
import { h } from "./dom.js";
import { PAGES } from "./pages/index.js";

const view = document.getElementById("view");
let cleanup = null;

function showNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.filter((p) => p.nav && (!p.needs || session.can(p.needs)))
    .map((p) => h("a", { href: `#/${p.path}`, dataset: { page: p.path } }, p.title)));
  document.getElementById("who").textContent = `${session.user.name} (${session.user.role})`;
  document.getElementById("top").hidden = false;
}

function loginPage(error) {
  document.getElementById("top").hidden = true;
  const msg = h("p.error", { id: "login-error" }, error || "");
  const form = h("form.login", { id: "login" },
    h("h1", {}, "alphaloop"),
    h("label", {}, "User", h("input", { name: "username", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit" }, "Log in"), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    try {
      await login(data.get("username"), data.get("password"));
      showNav();
      window.location.hash = "#/overview";
      route();
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  view.replaceChildren(form);
}

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const raw = window.location.hash.replace(/^#\/?/, "").split("?")[0] || "overview";
  const [path, ...args] = raw.split("/");
  if (path === "login" || !session.access) return loginPage();
  if (!session.user) {
    try { await whoami(); showNav(); } catch { return loginPage(); }
  }
  const page = PAGES.find((p) => p.path === path) || PAGES[0];
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page.path);
  view.replaceChildren(h("p.muted", {}, "loading…"));
  document.body.dataset.page = "";
  try {
    cleanup = (await page.render(view, args.map(decodeURIComponent))) || null;
  } catch (e) {
    view.replaceChildren(h("h1", {}, page.title), h("p.error", {}, `${e.type || "Error"}: ${e.message}`));
  }
  document.body.dataset.page = page.path;
}

document.getElementById("logout").addEventListener("click", async () => {
  await logout();
  window.location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
