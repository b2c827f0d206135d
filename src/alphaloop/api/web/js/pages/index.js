// Every page: path (#/path), title, whether it is in the navigation, the permission it needs.
import * as approvals from "./approvals.js";
import * as audit from "./audit.js";
import * as factors from "./factors.js";
import * as models from "./models.js";
import * as overview from "./overview.js";
import * as research from "./research.js";
import * as risk from "./risk.js";
import * as strategies from "./strategies.js";
import * as strategy from "./strategy.js";
import * as trading from "./trading.js";
import * as users from "./users.js";

export const PAGES = [
  { path: "overview", title: "Overview", nav: true, render: overview.render },
  { path: "research", title: "Research", nav: true, render: research.render },
  { path: "strategies", title: "Leaderboard", nav: true, render: strategies.render },
  { path: "strategy", title: "Strategy", nav: false, render: strategy.render },
  { path: "models", title: "Models", nav: true, render: models.render },
  { path: "factors", title: "Factors", nav: true, render: factors.render },
  { path: "risk", title: "Risk", nav: true, render: risk.render },
  { path: "approvals", title: "Approvals", nav: true, render: approvals.render },
  { path: "trading", title: "Trading", nav: true, render: trading.render },
  { path: "audit", title: "Audit", nav: true, render: audit.render },
  { path: "users", title: "Users", nav: true, needs: "users.manage", render: users.render },
];
