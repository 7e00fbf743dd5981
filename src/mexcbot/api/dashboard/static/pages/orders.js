// Orders: the open ones (cancel), the fills as they arrive, the history with filters, and a
// place-order form that shows the symbol's rules and the rounded amounts before sending.

import { newIdempotencyKey, query } from "../api.js";
import { cmp, floorTo, mul, step } from "../decimal.js";
import { alert, clear, errorText, field, formValues, h, num, section, showProblem, table, throttled, time } from "../dom.js";
import { onChange } from "../store.js";

const STATUSES = ["", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PARTIALLY_CANCELED", "REJECTED", "EXPIRED", "UNKNOWN", "LOST", "PENDING_NEW"];

export function orderColumns(ctx, onCancel) {
  const columns = [
    { label: "Time", cell: (o) => time(o.created_at) },
    { label: "Symbol", cell: (o) => o.symbol },
    { label: "Side", cell: (o) => h("span", { class: o.side === "BUY" ? "pos" : "neg" }, o.side) },
    { label: "Type", cell: (o) => o.type },
    { label: "Price", num: true, cell: (o) => num(o.price ?? o.avg_price) },
    { label: "Quantity", num: true, cell: (o) => num(o.quantity ?? o.quote_amount) },
    { label: "Filled", num: true, cell: (o) => num(o.executed_qty, { "data-testid": "executed" }) },
    { label: "Status", cell: (o) => h("span", { "data-testid": "status" }, o.status) },
  ];
  if (onCancel && ctx.canTrade) {
    columns.push({
      label: "",
      cell: (o) => h("button", { type: "button", class: "small danger", "data-testid": "cancel", "aria-label": `Cancel order ${o.client_order_id}`, onclick: () => onCancel(o) }, "Cancel"),
    });
  }
  return columns;
}

/** The place-order form: rules of the chosen symbol, the rounded amounts, then POST. */
function orderForm(ctx, symbols, onPlaced) {
  const { api } = ctx;
  const rulesBox = h("div", { class: "preview", "data-testid": "symbol-rules" });
  const preview = h("div", { class: "preview", "data-testid": "order-preview", "aria-live": "polite" });
  const general = h("div");
  const symbolNames = symbols.filter((s) => s.tradable).map((s) => s.symbol);
  const form = h("form", { class: "form-grid", "data-testid": "order-form", novalidate: true },
    field("Symbol", "symbol", { options: symbolNames, value: symbolNames.includes("BTCUSDT") ? "BTCUSDT" : symbolNames[0] }),
    field("Side", "side", { options: ["BUY", "SELL"] }),
    field("Type", "type", { options: ["LIMIT", "MARKET", "LIMIT_MAKER"] }),
    field("Time in force", "time_in_force", { options: ["GTC", "IOC", "FOK"] }),
    field("Price", "price", { inputmode: "decimal", "data-testid": "order-price" }),
    field("Quantity", "quantity", { inputmode: "decimal", "data-testid": "order-quantity" }),
    field("Quote amount (MARKET)", "quote_amount", { inputmode: "decimal", "data-testid": "order-quote" }),
    h("button", { type: "submit", "data-testid": "place-order" }, "Place order"),
  );
  const el = (name) => form.elements.namedItem(name);
  const rules = () => symbols.find((s) => s.symbol === el("symbol").value);
  let quoteAsk = 0;

  function rounded() {
    const r = rules();
    const values = formValues(form);
    const market = values.type === "MARKET";
    return {
      ...values,
      price: market || !values.price ? undefined : floorTo(values.price, r.price_precision) ?? values.price,
      quantity: values.quantity ? floorTo(values.quantity, r.quantity_precision) ?? values.quantity : undefined,
      quote_amount: market && values.quote_amount ? values.quote_amount : undefined,
      time_in_force: values.type === "LIMIT" ? values.time_in_force : undefined,
    };
  }

  async function update() {
    const r = rules();
    if (!r) return;
    const market = el("type").value === "MARKET";
    el("price").disabled = market;
    el("quote_amount").disabled = !market;
    el("time_in_force").disabled = el("type").value !== "LIMIT";
    clear(rulesBox,
      h("strong", {}, r.symbol), ` · tick ${step(r.price_precision)} · step ${step(r.quantity_precision)} · min quantity ${r.min_quantity} · min notional ${r.min_notional} ${r.quote_asset}`,
      ` · market min ${r.min_notional_market} · status ${r.status}`);
    const order = rounded();
    const lines = [];
    if (order.quantity) lines.push(`Quantity sent: ${order.quantity} ${r.base_asset}`);
    if (order.price) lines.push(`Price sent: ${order.price} ${r.quote_asset}`);
    if (order.quantity && order.price) {
      const notional = mul(order.quantity, order.price);
      lines.push(`Notional: ${notional} ${r.quote_asset}` + (cmp(notional, r.min_notional) < 0 ? ` (below the minimum ${r.min_notional})` : ""));
    }
    if (order.quantity && cmp(order.quantity, r.min_quantity) < 0) lines.push(`Quantity below the minimum ${r.min_quantity}`);
    clear(preview, lines.length ? lines.map((line) => h("div", {}, line)) : "Enter an amount to see what is sent.");
    if (market && order.quote_amount && !order.quantity) {
      const ask = ++quoteAsk;
      try {
        const q = await api("GET", `/trades/calculate/${r.symbol}${query({ side: order.side, amount: order.quote_amount })}`);
        if (ask === quoteAsk) preview.append(h("div", {}, `Buys/sells about ${q.quantity} ${r.base_asset} at the current price`));
      } catch (error) {
        if (ask === quoteAsk) preview.append(h("div", {}, errorText(error)));
      }
    }
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const order = Object.fromEntries(Object.entries(rounded()).filter(([, v]) => v !== undefined));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const placed = await api("POST", "/trades/orders", order, { headers: { "Idempotency-Key": newIdempotencyKey() } });
      showProblem(form, null, general);
      clear(general, alert(`Placed ${placed.side} ${placed.symbol}: ${placed.status} (${placed.client_order_id})`, "ok"));
      onPlaced(placed);
    } catch (error) {
      showProblem(form, error, general);
    } finally {
      button.disabled = false;
    }
  });
  update();
  return h("div", {}, rulesBox, form, preview, general);
}

export default {
  title: "Orders",
  render(root, ctx) {
    const { api, store } = ctx;
    const openBox = h("div");
    const fillsBox = h("div");
    const historyBox = h("div");
    const formBox = h("div");
    const message = h("div", { "aria-live": "polite" });
    const filters = h("form", { class: "form-grid", "data-testid": "history-filters" },
      field("Status", "status", { options: STATUSES.map((s) => [s, s || "any"]) }),
      field("Symbol", "symbol", { placeholder: "BTCUSDT", autocapitalize: "characters" }),
      field("Since", "since", { type: "datetime-local" }),
      h("button", { type: "submit", class: "secondary" }, "Filter"),
    );
    const filterErrors = h("div");
    let cursor = null;
    let history = [];

    async function cancel(order) {
      try {
        const done = await api("DELETE", `/trades/orders/${order.symbol}/${encodeURIComponent(order.client_order_id)}`);
        store.openOrders.delete(done.client_order_id);
        clear(message, alert(`Order ${done.client_order_id}: ${done.status}`, "ok"));
        drawOpen();
        loadHistory(false);
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
    }

    const drawOpen = throttled(() => {
      const open = [...store.openOrders.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
      clear(openBox, table(orderColumns(ctx, cancel), open, { testid: "open-orders", rowTestid: (o) => `order-${o.client_order_id}`, empty: "No open orders." }));
      clear(fillsBox, table(
        [
          { label: "Time", cell: (f) => time(f.time) },
          { label: "Symbol", cell: (f) => f.symbol },
          { label: "Price", num: true, cell: (f) => num(f.price) },
          { label: "Quantity", num: true, cell: (f) => num(f.quantity) },
          { label: "Fee", num: true, cell: (f) => h("span", {}, num(f.commission), ` ${f.commission_asset}`) },
          { label: "Order", cell: (f) => f.client_order_id },
        ],
        store.fills.slice(0, 20),
        { testid: "fills", rowTestid: (f) => `fill-${f.client_order_id}`, empty: "No fills since this page opened." },
      ));
    });

    async function loadHistory(more) {
      const values = formValues(filters);
      if (values.since) values.since = new Date(values.since).toISOString();
      try {
        const page = await api("GET", `/trades/orders${query({ ...values, limit: 50, cursor: more ? cursor : null })}`);
        history = more ? history.concat(page.orders) : page.orders;
        cursor = page.next_cursor;
        showProblem(filters, null, filterErrors);
      } catch (error) {
        showProblem(filters, error, filterErrors);
      }
      clear(historyBox,
        table(orderColumns(ctx, null), history, { testid: "order-history", rowTestid: (o) => `history-${o.client_order_id}`, empty: "No orders match." }),
        cursor ? h("button", { type: "button", class: "secondary", onclick: () => loadHistory(true) }, "More") : null);
    }
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      loadHistory(false);
    });

    root.append(
      message,
      section("Open orders", openBox),
      ctx.canTrade ? section("Place an order", formBox) : null,
      section("Fills (live)", fillsBox),
      section("History", filters, filterErrors, historyBox),
    );
    if (ctx.canTrade) {
      api("GET", "/market/symbols")
        .then((symbols) => clear(formBox, orderForm(ctx, symbols, () => loadHistory(false))))
        .catch((error) => clear(formBox, alert(errorText(error))));
    }
    drawOpen();
    loadHistory(false);
    let reload = null;
    const off = onChange((topic) => {
      if (topic !== "orders" && topic !== "fills") return;
      drawOpen();
      clearTimeout(reload);
      reload = setTimeout(() => loadHistory(false), 300);
    });
    return () => {
      off();
      clearTimeout(reload);
    };
  },
};
