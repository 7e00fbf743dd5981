// Positions: open (live PnL) and closed, one position's chart with its stop, ladder and
// trailing levels, edit its exits, close it; open a new one with a market buy.

import { arrays, alert, clear, errorText, field, formValues, h, num, pnl, section, showProblem, table, throttled, time } from "../dom.js";
import { chart } from "../chart.js";
import { onChange } from "../store.js";
import { exitFields, exitsBody, fillMarkers, positionLevels } from "./exits.js";

function columns(ctx, open) {
  const cols = [
    { label: "#", cell: (p) => h("a", { href: `#/positions/${p.id}`, "aria-label": `Position ${p.id}` }, String(p.id)) },
    { label: "Symbol", cell: (p) => p.symbol },
    { label: "Type", cell: (p) => p.type },
    { label: "Quantity", num: true, cell: (p) => num(open ? p.quantity : p.entered_quantity) },
    { label: "Entry", num: true, cell: (p) => num(p.average_entry) },
  ];
  if (open) {
    cols.push(
      { label: "Mark", num: true, cell: (p) => num(p.mark_price) },
      { label: "Unrealised", num: true, cell: (p) => pnl(p.unrealised_pnl) },
      { label: "Stop", num: true, cell: (p) => num(p.stop_price, { "data-testid": "stop" }) },
      { label: "Peak", num: true, cell: (p) => num(p.trailing_peak) },
      { label: "TP done", num: true, cell: (p) => String(p.take_profits_done) },
    );
  } else {
    cols.push({ label: "Closed", cell: (p) => time(p.closed_at) });
  }
  cols.push(
    { label: "Realised", num: true, cell: (p) => pnl(p.realised_pnl) },
    { label: "PnL %", num: true, cell: (p) => pnl(p.pnl_percent) },
    { label: "Status", cell: (p) => h("span", { "data-testid": "position-status" }, p.status) },
  );
  return cols;
}

function openForm(ctx, onOpened) {
  const general = h("div");
  const form = h("form", { "data-testid": "open-position-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Symbol", "symbol", { value: "BTCUSDT", autocapitalize: "characters", "data-testid": "position-symbol" }),
      field("Spend (quote amount)", "quote_amount", { inputmode: "decimal", "data-testid": "position-quote" }),
    ),
    exitFields(),
    h("button", { type: "submit", "data-testid": "open-position" }, "Buy at market and open"),
    general,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = arrays(formValues(form));
    const body = { symbol: values.symbol, quote_amount: values.quote_amount, exits: exitsBody(values) };
    try {
      const opened = await ctx.api("POST", "/positions", body);
      showProblem(form, null, general);
      clear(general, alert(`Opened position ${opened.position.id} (${opened.entry_order.status})`, "ok"));
      onOpened(opened.position);
    } catch (error) {
      showProblem(form, error, general);
    }
  });
  return form;
}

function detail(ctx, position, onChanged) {
  const box = h("div", { "data-testid": "position-detail" });
  const general = h("div", { "aria-live": "polite" });
  const plot = chart({ levels: positionLevels(position) }, `Price of ${position.symbol} with the position's levels`);
  let candles = [];
  let current = position;
  let places;
  const draw = () => plot.update({ candles, levels: positionLevels(current, places), markers: fillMarkers(current) });
  ctx.api("GET", `/market/symbols/${position.symbol}`).then((rules) => {
    places = rules.price_precision;
    draw();
  }).catch(() => {});
  ctx.api("GET", `/market/klines/${position.symbol}?interval=1m&limit=120`).then((rows) => {
    candles = rows.map((k) => ({ t: k.open_time, open: k.open, high: k.high, low: k.low, close: k.close }));
    draw();
  }).catch(() => draw());
  const summary = h("p");
  const describe = () => clear(summary, `${current.symbol} · ${current.status} · quantity `, num(current.quantity), " · entry ", num(current.average_entry), " · stop ", num(current.stop_price, { "data-testid": "detail-stop" }),
    current.exit_failed_reason ? h("span", { class: "bad" }, ` · exit failed: ${current.exit_failed_reason}`) : "");
  describe();
  box.append(summary, plot.canvas, general);
  if (ctx.canTrade && position.status === "OPEN") {
    const form = h("form", { "data-testid": "edit-exits-form", novalidate: true }, exitFields(position.exits), field("Notes", "notes", { value: position.notes || "" }),
      h("div", { class: "row" },
        h("button", { type: "submit", "data-testid": "save-exits" }, "Save exits"),
        h("button", { type: "button", class: "danger", "data-testid": "close-position", onclick: close }, "Close at market"),
      ));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = arrays(formValues(form));
      try {
        const kept = Object.fromEntries(["trigger_price", "max_slippage_percent", "break_even_after_take_profit"].map((k) => [k, (position.exits || {})[k]]).filter(([, v]) => v !== null && v !== undefined));
        const saved = await ctx.api("PUT", `/positions/${position.id}`, { exits: { ...kept, ...exitsBody(values) }, notes: values.notes ?? null });
        showProblem(form, null, general);
        clear(general, alert("Exits saved.", "ok"));
        update(saved);
        onChanged();
      } catch (error) {
        showProblem(form, error, general);
      }
    });
    box.append(form);
  }
  async function close() {
    if (!window.confirm(`Sell what is left of position ${position.id} at market?`)) return;
    try {
      const closed = await ctx.api("PUT", `/positions/${position.id}/close`);
      clear(general, alert(`Closing: exit order ${closed.exit_order ? closed.exit_order.status : "none (dust)"}`, "ok"));
      update(closed.position);
      onChanged();
    } catch (error) {
      clear(general, alert(errorText(error)));
    }
  }
  function update(next) {
    current = { ...current, ...next, mark_price: next.mark_price ?? current.mark_price };
    describe();
    draw();
  }
  return { box, update, dispose: () => plot.dispose(), id: position.id };
}

export default {
  title: "Positions",
  render(root, ctx) {
    const { api, store } = ctx;
    const openBox = h("div");
    const closedBox = h("div");
    const detailBox = h("div");
    const message = h("div");
    let closed = [];
    let shown = null;

    const drawOpen = throttled(() => {
      const open = [...store.positions.values()].sort((a, b) => b.id - a.id);
      clear(openBox, table(columns(ctx, true), open, { testid: "open-positions", rowTestid: (p) => `position-${p.id}`, empty: "No open positions." }));
    });
    async function loadClosed() {
      try {
        closed = (await api("GET", "/positions?status=CLOSED&limit=50")).positions;
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
      clear(closedBox, table(columns(ctx, false), closed, { testid: "closed-positions", rowTestid: (p) => `closed-${p.id}`, empty: "No closed positions." }));
    }
    async function loadOpen() {
      try {
        for (const p of await api("GET", "/positions/open")) store.positions.set(p.id, p);
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
      drawOpen();
    }
    async function show(id) {
      try {
        const position = await api("GET", `/positions/${id}`);
        if (shown) shown.dispose();
        shown = detail(ctx, position, () => { loadOpen(); loadClosed(); });
        clear(detailBox, section(`Position ${id}`, shown.box));
      } catch (error) {
        clear(detailBox, alert(errorText(error)));
      }
    }

    root.append(
      message,
      section("Open positions", openBox),
      detailBox,
      ctx.canTrade ? section("Open a position", openForm(ctx, (p) => { location.hash = `#/positions/${p.id}`; })) : null,
      section("Closed positions", closedBox),
    );
    drawOpen();
    loadOpen();
    loadClosed();
    if (ctx.params[0]) show(ctx.params[0]);
    let reload = null;
    const off = onChange((topic, message_) => {
      if (topic !== "positions") return;
      drawOpen();
      const p = message_.data && message_.data.position;
      if (shown && p && p.id === shown.id) shown.update(p);
      clearTimeout(reload);
      reload = setTimeout(() => { loadOpen(); loadClosed(); }, 300);
    });
    const timer = setInterval(loadOpen, 5000);
    return () => {
      off();
      clearInterval(timer);
      clearTimeout(reload);
      if (shown) shown.dispose();
    };
  },
};
