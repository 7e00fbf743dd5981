// Overview: the mode, balances and equity, exposure and today's PnL against the daily limit,
// the trading state (with the kill switch for admins), and the health of streams and
// reconciliation.

import { add, mul, sign, trim } from "../decimal.js";
import { alert, clear, errorText, h, num, pnl, section, table, throttled, time } from "../dom.js";
import { onChange } from "../store.js";

const QUOTE = "USDT";

/** Equity in USDT at last prices: exact products of decimal strings; unpriced assets listed. */
export function equity(balances, tickers) {
  let total = "0";
  const unpriced = [];
  for (const b of balances) {
    const held = add(b.free, b.locked);
    if (sign(held) === 0) continue;
    if (b.asset === QUOTE) {
      total = add(total, held);
      continue;
    }
    const t = tickers.get(`${b.asset}${QUOTE}`);
    const price = t && (t.last_price || t.bid_price);
    if (price) total = add(total, mul(held, price));
    else unpriced.push(b.asset);
  }
  return { total, unpriced };
}

const STATES = [
  ["ACTIVE", "Resume trading", "", "ACTIVE: entries and exits run."],
  ["REDUCING", "Pause entries", "secondary", "REDUCING: no new entries; exits and cancels still run."],
  ["HALTED", "Kill switch: halt all", "danger", "HALTED: nothing is sent to the exchange, exits included."],
];

export default {
  title: "Overview",
  render(root, ctx) {
    const { store, api } = ctx;
    const balancesBox = h("div");
    const riskBox = h("div");
    const healthBox = h("div");
    const message = h("div", { "aria-live": "polite" });
    let status = ctx.status;
    let restBalances = null;
    let pricesAsked = false;

    root.append(
      h("div", { class: "grid" },
        section("Trading state", riskBox, message),
        section("Balances and equity", balancesBox),
        section("Health", healthBox),
      ),
    );

    async function setState(state) {
      if (state === "HALTED" && !window.confirm("Halt all trading? Nothing will be sent to the exchange, exits included.")) return;
      try {
        store.risk = await api("PUT", "/risk", { state, reason: "dashboard" });
        clear(message, alert(`Trading state is now ${store.risk.state}.`, "ok"));
        draw();
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
    }

    function drawRisk() {
      const risk = store.risk;
      if (!risk) return clear(riskBox, h("p", { class: "empty" }, "Waiting for the trading state…"));
      const limit = risk.limits && risk.limits.daily_loss_limit;
      const used = limit && sign(risk.pnl_today) < 0 ? `${risk.pnl_today.replace("-", "")} of ${limit} lost today` : limit ? `daily loss limit ${limit}` : "no daily loss limit";
      clear(
        riskBox,
        h("p", {}, h("span", { class: "state", "data-state": risk.state, "data-testid": "trading-state" }, risk.state), risk.reason ? ` — ${risk.reason}` : ""),
        h("div", { class: "grid" },
          h("div", {}, h("div", { class: "stat-label" }, "PnL today"), h("div", { class: "stat" }, pnl(risk.pnl_today, { "data-testid": "pnl-today" })), h("small", { class: "hint" }, used)),
          h("div", {}, h("div", { class: "stat-label" }, "Exposure"), h("div", { class: "stat" }, num(risk.exposure_quote ?? "—", { "data-testid": "exposure" })),
            h("small", { class: "hint" }, `${risk.open_positions ?? 0} open positions` + (risk.limits && risk.limits.max_total_exposure_quote ? `, limit ${risk.limits.max_total_exposure_quote}` : ""))),
        ),
        ctx.isAdmin
          ? h("div", { class: "row", "data-testid": "risk-controls" },
              STATES.map(([state, label, cls, title]) =>
                h("button", { type: "button", class: cls, title, disabled: risk.state === state, "data-testid": `state-${state}`, onclick: () => setState(state) }, label)))
          : h("p", { class: "hint" }, "Changing the trading state needs an admin token."),
      );
    }

    function drawBalances() {
      const rows = store.balances.size ? [...store.balances.values()] : restBalances || [];
      const eq = equity(rows, store.tickers);
      const shown = rows.filter((b) => sign(add(b.free, b.locked)) !== 0);
      clear(
        balancesBox,
        h("div", { class: "stat-label" }, `Equity (${QUOTE}, at last prices)`),
        h("div", { class: "stat" }, num(trim(eq.total), { "data-testid": "equity" })),
        eq.unpriced.length ? h("small", { class: "hint" }, `Not valued (no price yet): ${eq.unpriced.join(", ")}`) : null,
        store.balancesError ? alert(store.balancesError) : null,
        table(
          [
            { label: "Asset", cell: (b) => b.asset },
            { label: "Free", num: true, cell: (b) => num(b.free) },
            { label: "Locked", num: true, cell: (b) => num(b.locked) },
          ],
          shown.sort((a, b) => (a.asset < b.asset ? -1 : 1)),
          { testid: "balances", rowTestid: (b) => `balance-${b.asset}`, empty: "No balances yet." },
        ),
      );
    }

    function drawHealth() {
      const streams = new Map(Object.entries((status && status.streams) || {}));
      for (const [name, s] of store.streams) streams.set(name, { ...streams.get(name), ...s });
      const recon = (status && status.reconciliation) || {};
      const live = store.reconciliation;
      clear(
        healthBox,
        status
          ? h("p", {}, "Exchange ", h("strong", { class: status.exchange_reachable ? "ok" : "bad" }, status.exchange_reachable ? "reachable" : "unreachable"),
              ` · clock offset ${status.clock_offset_ms} ms · lost orders ${status.lost_orders} · v${status.version}`)
          : h("p", { class: "empty" }, "Status unavailable."),
        table(
          [
            { label: "Stream", cell: ([name]) => name },
            { label: "State", cell: ([, s]) => h("strong", { class: s.connected ? "ok" : "bad" }, s.connected ? "connected" : "down") },
            { label: "Reconnects", num: true, cell: ([, s]) => String(s.reconnects ?? 0) },
            { label: "Gaps", num: true, cell: ([, s]) => String(s.gaps ?? 0) },
          ],
          [...streams.entries()],
          { testid: "streams", empty: "No exchange streams." },
        ),
        h("p", { "data-testid": "reconciliation" }, `Reconciliation: ${recon.runs ?? (live && live.runs) ?? 0} runs, last ${time((live && live.finished_at) || recon.last_finished_at)}`),
      );
    }

    const draw = throttled(() => {
      drawRisk();
      drawBalances();
      drawHealth();
    });

    async function refresh() {
      try {
        status = await api("GET", "/status");
        if (!store.risk) store.risk = await api("GET", "/risk");
        if (!store.balances.size) restBalances = await api("GET", "/account/balances");
        if (!pricesAsked) {
          pricesAsked = true; // the stream only has the symbols it follows: value the rest once
          for (const t of await api("GET", "/market/tickers")) {
            if (!store.tickers.has(t.symbol)) store.tickers.set(t.symbol, t);
          }
        }
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
      draw();
    }

    draw();
    refresh();
    const timer = setInterval(refresh, 10000);
    const off = onChange((topic) => {
      if (["balances", "risk", "streams", "reconciliation", "tickers"].includes(topic)) draw();
    });
    return () => {
      clearInterval(timer);
      off();
    };
  },
};
