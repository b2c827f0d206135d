// The REST and WebSocket client: tokens in sessionStorage, one refresh on 401,
// one socket shared by the pages (topics subscribed per page).

const BASE = "/api/v1";
const store = window.sessionStorage;

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.type = e.type || "HTTPError";
  }
}

export const session = {
  get access() { return store.getItem("al.access"); },
  get refresh() { return store.getItem("al.refresh"); },
  user: null, // {name, role}
  perms: null, // {roles: [...], permissions: {perm: lowest role}}
  save(tokens) {
    store.setItem("al.access", tokens.access_token);
    store.setItem("al.refresh", tokens.refresh_token);
  },
  clear() { store.removeItem("al.access"); store.removeItem("al.refresh"); this.user = null; },
  /** Whether the signed-in user's role holds `permission` (the server checks again). */
  can(permission) {
    if (!this.user || !this.perms) return false;
    const roles = this.perms.roles;
    const lowest = this.perms.permissions[permission];
    return lowest !== undefined && roles.indexOf(this.user.role) >= roles.indexOf(lowest);
  },
};

async function send(method, path, body, retry = true) {
  const headers = { Accept: "application/json" };
  if (session.access) headers.Authorization = `Bearer ${session.access}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(BASE + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && retry && session.refresh && !path.startsWith("/auth/")) {
    if (await refreshTokens()) return send(method, path, body, false);
  }
  const doc = await r.json().catch(() => null);
  if (!r.ok) {
    if (r.status === 401 && !path.startsWith("/auth/")) { session.clear(); window.location.hash = "#/login"; }
    throw new ApiError(r.status, doc);
  }
  return doc;
}

async function refreshTokens() {
  const r = await fetch(`${BASE}/auth/refresh`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  });
  if (!r.ok) { session.clear(); return false; }
  session.save(await r.json());
  return true;
}

export const api = {
  get: (path, params) => {
    const q = params ? `?${new URLSearchParams(
      Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""))}` : "";
    return send("GET", path + q);
  },
  post: (path, body = {}) => send("POST", path, body),
  put: (path, body = {}) => send("PUT", path, body),
  del: (path) => send("DELETE", path),
};

export async function login(username, password) {
  const tokens = await send("POST", "/auth/login", { username, password }, false);
  session.save(tokens);
  return whoami();
}

export async function whoami() {
  session.user = await send("GET", "/auth/me");
  if (!session.perms) session.perms = await (await fetch("/ui/permissions.json")).json();
  return session.user;
}

export async function logout() {
  try { if (session.refresh) await send("POST", "/auth/logout", { refresh_token: session.refresh }, false); }
  finally { session.clear(); live.close(); }
}

/** The live socket: `live.on(topic, fn)` returns an unsubscribe function. */
export const live = {
  sock: null, handlers: new Map(), ready: null, state: "closed",
  connect() {
    if (this.sock) return this.ready;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${BASE}/ws`;
    const sock = new WebSocket(url);
    this.sock = sock;
    this.ready = new Promise((resolve) => {
      sock.onopen = () => sock.send(JSON.stringify({ op: "auth", token: session.access }));
      sock.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        if (msg.op === "ready") {
          this.state = "open";
          document.body.dataset.live = "open";
          const topics = [...this.handlers.keys()];
          if (topics.length) sock.send(JSON.stringify({ op: "subscribe", topics }));
          resolve();
        } else if (msg.topic) {
          for (const fn of this.handlers.get(msg.topic) || []) fn(msg.data, msg);
        }
      };
      sock.onclose = () => {
        this.sock = null; this.state = "closed"; document.body.dataset.live = "closed"; resolve();
      };
    });
    return this.ready;
  },
  on(topic, fn) {
    if (!this.handlers.has(topic)) this.handlers.set(topic, new Set());
    this.handlers.get(topic).add(fn);
    this.connect().then(() => {
      if (this.sock && this.state === "open") {
        this.sock.send(JSON.stringify({ op: "subscribe", topics: [topic] }));
      }
    });
    return () => this.handlers.get(topic)?.delete(fn);
  },
  close() { if (this.sock) this.sock.close(); this.handlers.clear(); },
};
