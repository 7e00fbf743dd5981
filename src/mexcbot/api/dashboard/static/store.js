// What the live feed has told us, kept for the pages: open orders, balances, tickers, open
// positions, the trading state, stream health. Updates carry whole objects, so applying one twice
// (a resume may replay) is harmless. Pages listen with `onChange` and re-render.

const OPEN = new Set(["PENDING_NEW", "NEW", "PARTIALLY_FILLED", "UNKNOWN"]);
const FILLS_KEPT = 200;

export const store = {
  openOrders: new Map(),
  balances: new Map(),
  balancesError: null,
  tickers: new Map(),
  positions: new Map(),
  risk: null,
  streams: new Map(),
  reconciliation: null,
  fills: [],
  listeners: new Set(),
};

export function onChange(listener) {
  store.listeners.add(listener);
  return () => store.listeners.delete(listener);
}

function changed(topic, message) {
  for (const listener of [...store.listeners]) {
    try {
      listener(topic, message);
    } catch (error) {
      console.error(error);
    }
  }
}

export function reset() {
  for (const key of ["openOrders", "balances", "tickers", "positions", "streams"]) store[key].clear();
  store.fills.length = 0;
  store.risk = store.reconciliation = store.balancesError = null;
}

function keepOrder(order) {
  if (OPEN.has(order.status)) store.openOrders.set(order.client_order_id, order);
  else store.openOrders.delete(order.client_order_id);
}

export function apply(message) {
  const topic = (message.topic || "").split(":")[0];
  const data = message.data || {};
  const snapshot = message.type === "snapshot";
  switch (topic) {
    case "orders":
      if (snapshot) {
        store.openOrders.clear();
        for (const order of data.orders || []) keepOrder(order);
      } else if (data.order) keepOrder(data.order);
      break;
    case "fills":
      if (data.fill) {
        store.fills.unshift(data.fill);
        store.fills.length = Math.min(store.fills.length, FILLS_KEPT);
      }
      if (data.order) keepOrder(data.order);
      break;
    case "balances":
      if (snapshot) {
        store.balances.clear();
        store.balancesError = data.error || null;
        for (const b of data.balances || []) store.balances.set(b.asset, b);
      } else if (data.asset) store.balances.set(data.asset, data);
      break;
    case "tickers":
      for (const t of data.tickers || (data.symbol ? [data] : [])) {
        const known = store.tickers.get(t.symbol) || {};
        store.tickers.set(t.symbol, { ...known, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== null)) });
      }
      break;
    case "positions":
      if (snapshot) {
        store.positions.clear();
        for (const p of data.positions || []) store.positions.set(p.id, p);
      } else if (data.position) {
        const known = store.positions.get(data.position.id);
        const next = { ...data.position };
        if (known && next.mark_price === null) {
          next.mark_price = known.mark_price; // the feed sends no mark; keep the last REST one
          next.unrealised_pnl = known.unrealised_pnl;
        }
        if (next.status === "OPEN") store.positions.set(next.id, next);
        else store.positions.delete(data.position.id);
      }
      break;
    case "risk":
      store.risk = snapshot ? data : { ...(store.risk || {}), ...data };
      break;
    case "streams":
      for (const s of data.streams || (data.stream ? [data] : [])) store.streams.set(s.stream, s);
      break;
    case "reconciliation":
      store.reconciliation = data;
      break;
    default:
      break;
  }
  changed(topic, message);
}
