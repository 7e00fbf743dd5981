// The dashboard's shell: log in with a token, learn the token's role, follow the live feed, and
// show the page the location hash names (#/overview ...).

import { api, session, UNAUTHORIZED } from "./api.js";
import { clear, errorText, h } from "./dom.js";
import { Live } from "./live.js";
import { apply, reset, store } from "./store.js";
import overview from "./pages/overview.js";
import positions from "./pages/positions.js";
import orders from "./pages/orders.js";
import market from "./pages/market.js";
import autobuy from "./pages/autobuy.js";
import listings from "./pages/listings.js";
import audit from "./pages/audit.js";
import tokens from "./pages/tokens.js";

const PAGES = { overview, positions, orders, market, autobuy, listings, audit, tokens };
const ADMIN_PAGES = new Set(["audit", "tokens"]);
const RANK = { read: 0, trade: 1, admin: 2 };

const $ = (id) => document.getElementById(id);
const app = { me: null, status: null, live: null, cleanup: null };

function can(role) {
  return app.me !== null && RANK[app.me.role] >= RANK[role];
}

function context(params) {
  return { api, store, params, me: app.me, status: app.status, canTrade: can("trade"), isAdmin: can("admin"), live: app.live };
}

async function start(token) {
  session.save(token);
  app.me = await api("GET", "/auth/whoami", undefined, { token });
  try {
    app.status = await api("GET", "/status");
  } catch {
    app.status = null;
  }
  reset();
  app.live = new Live(token);
  app.live.addEventListener("message", (event) => apply(event.detail));
  app.live.addEventListener("state", (event) => connection(event.detail));
  app.live.start();
  showShell();
  route();
}

function showShell() {
  $("login").hidden = true;
  $("top").hidden = false;
  document.body.dataset.role = app.me.role;
  $("who").textContent = `${app.me.name} (${app.me.role})`;
  for (const li of document.querySelectorAll("[data-admin]")) li.hidden = !can("admin");
  const banner = $("mode-banner");
  const mode = (app.status && app.status.mode) || "unknown";
  banner.hidden = false;
  banner.dataset.mode = mode;
  banner.textContent = mode === "live" ? "LIVE TRADING: real money" : mode === "paper" ? "PAPER trading (simulated exchange)" : `mode: ${mode}`;
}

function connection(state) {
  const banner = $("conn-banner");
  document.body.dataset.live = state;
  if (state === "live") {
    banner.hidden = true;
    banner.textContent = "";
  } else if (state === "lost" || (state === "connecting" && app.live && app.live.attempt > 0)) {
    banner.hidden = false;
    banner.textContent = "Live updates lost: reconnecting…";
  } else if (state === "unauthorized") {
    logout("The token is no longer valid.");
  }
}

function logout(reason) {
  if (app.live) app.live.stop();
  app.live = null;
  app.me = null;
  session.clear();
  reset();
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  clear($("view"));
  $("top").hidden = true;
  $("mode-banner").hidden = true;
  $("conn-banner").hidden = true;
  delete document.body.dataset.role;
  showLogin(reason);
}

function showLogin(reason) {
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !reason;
  error.textContent = reason || "";
  $("token").value = "";
  $("token").focus();
}

function route() {
  if (!app.me) return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES[name] && (!ADMIN_PAGES.has(name) || can("admin")) ? name : "overview";
  if (page !== name) {
    history.replaceState(null, "", `#/${page}`);
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (app.cleanup) app.cleanup();
  const view = clear($("view"));
  view.dataset.page = page;
  document.title = `${PAGES[page].title} · mexcbot`;
  view.append(h("h1", { class: "page-title" }, PAGES[page].title));
  const body = h("div", { class: "page" });
  view.append(body);
  const cleanup = PAGES[page].render(body, context(rest.map(decodeURIComponent)));
  app.cleanup = typeof cleanup === "function" ? cleanup : null;
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  try {
    await start(token);
  } catch (error) {
    session.clear();
    showLogin(error.status === 401 ? "That token is not valid." : errorText(error));
  }
});
$("logout").addEventListener("click", () => logout());
$("menu").addEventListener("click", () => {
  const open = $("menu").getAttribute("aria-expanded") !== "true";
  $("menu").setAttribute("aria-expanded", String(open));
  document.body.classList.toggle("nav-open", open);
});
$("nav").addEventListener("click", (event) => {
  if (event.target.closest("a")) {
    document.body.classList.remove("nav-open");
    $("menu").setAttribute("aria-expanded", "false");
  }
});
window.addEventListener("hashchange", () => {
  route();
  $("view").focus({ preventScroll: true }); // a keyboard user lands on the new page
});
window.addEventListener(UNAUTHORIZED, () => app.me && logout("The token is no longer valid."));

if (session.token) {
  start(session.token).catch(() => logout("Please log in again."));
} else {
  showLogin();
}
