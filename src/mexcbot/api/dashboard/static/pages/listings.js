// Listings: upcoming ones with a countdown to their open, and recent ones with the snipes the
// rules fired at them and each snipe's latency (armed -> fired -> accepted -> filled).

import { optional } from "../api.js";
import { alert, clear, errorText, h, num, section, table, time, unavailable } from "../dom.js";
import { onChange } from "../store.js";

/** "2d 03:04:05" until `at` (ms), from `now` (ms); "open" once it passed. */
export function countdown(at, now) {
  const left = Math.floor((at - now) / 1000);
  if (!Number.isFinite(left)) return "—";
  if (left <= 0) return "open";
  const d = Math.floor(left / 86400);
  const hms = [Math.floor((left % 86400) / 3600), Math.floor((left % 3600) / 60), left % 60].map((v) => String(v).padStart(2, "0")).join(":");
  return d ? `${d}d ${hms}` : hms;
}

function latency(snipe) {
  const steps = [["armed", snipe.armed_ms], ["fired", snipe.fired_ms], ["accepted", snipe.accepted_ms], ["filled", snipe.filled_ms]].filter(([, v]) => v !== null && v !== undefined);
  return steps.map(([k, v]) => `${k} ${v} ms`).join(" · ") || "—";
}

export default {
  title: "Listings",
  render(root, ctx) {
    const upcomingBox = h("div");
    const recentBox = h("div");
    const message = h("div");
    let upcoming = [];
    let skew = 0; // server time - local time, so the countdown follows the bot's clock

    function drawUpcoming() {
      const now = Date.now() + skew;
      clear(upcomingBox, table(
        [
          { label: "Symbol", cell: (l) => l.symbol },
          { label: "Status", cell: (l) => l.status },
          { label: "Opens", cell: (l) => time(l.open_time) },
          { label: "In", cell: (l) => h("span", { class: "countdown", "data-testid": "countdown" }, l.open_time ? countdown(Date.parse(l.open_time), now) : "unknown") },
          { label: "Seen by", cell: (l) => (l.sources || []).map((s) => s.source || s).join(", ") },
          { label: "First seen", cell: (l) => time(l.first_seen_at) },
        ],
        upcoming, { testid: "upcoming-listings", rowTestid: (l) => `listing-${l.symbol}`, empty: "No listings announced." }));
    }

    async function load() {
      try {
        const [next, recent] = await Promise.all([optional("/listings?view=upcoming"), optional("/listings?view=recent")]);
        if (next === null) {
          clear(root, unavailable("New listings"));
          return;
        }
        if (next.server_time) skew = Date.parse(next.server_time) - Date.now();
        upcoming = next.listings;
        drawUpcoming();
        const snipes = ((recent && recent.listings) || []).flatMap((l) => (l.snipes && l.snipes.length ? l.snipes : [null]).map((s) => ({ listing: l, snipe: s })));
        clear(recentBox, table(
          [
            { label: "Symbol", cell: ({ listing }) => listing.symbol },
            { label: "Opened", cell: ({ listing }) => time(listing.opened_at || listing.trading_at || listing.open_time) },
            { label: "Rule", cell: ({ snipe }) => (snipe ? snipe.rule_name || String(snipe.rule_id) : "no snipe") },
            { label: "Outcome", cell: ({ snipe }) => (snipe ? h("span", { "data-testid": "snipe-outcome" }, snipe.outcome) : "—") },
            { label: "Quantity", num: true, cell: ({ snipe }) => num(snipe && snipe.quantity) },
            { label: "Average", num: true, cell: ({ snipe }) => num(snipe && snipe.average_price) },
            { label: "Latency", cell: ({ snipe }) => (snipe ? h("span", { "data-testid": "snipe-latency" }, latency(snipe)) : "—") },
            { label: "Attempts", num: true, cell: ({ snipe }) => (snipe ? String(snipe.attempts ?? "—") : "—") },
          ],
          snipes, { testid: "recent-listings", rowTestid: ({ listing }) => `recent-${listing.symbol}`, empty: "No recent listings." }));
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
    }

    root.append(message, section("Upcoming", upcomingBox), section("Recent listings and snipes", recentBox));
    load();
    const tick = setInterval(drawUpcoming, 1000);
    const refresh = setInterval(load, 15000);
    let reload = null;
    const off = onChange((topic) => {
      if (topic !== "listings" && topic !== "autobuy") return;
      clearTimeout(reload);
      reload = setTimeout(load, 200);
    });
    return () => {
      clearInterval(tick);
      clearInterval(refresh);
      clearTimeout(reload);
      off();
    };
  },
};
