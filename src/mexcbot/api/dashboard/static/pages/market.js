// Market: a candlestick chart per symbol (klines, moved by live ticker updates) with the bot's
// entries and exits marked, the order book and the market's recent trades.

import { cmp } from "../decimal.js";
import { chart } from "../chart.js";
import { alert, clear, errorText, field, h, num, section, table, throttled } from "../dom.js";
import { onChange } from "../store.js";

const INTERVALS = ["1m", "5m", "15m", "30m", "60m", "4h", "1d"];
const INTERVAL_MS = { "1m": 6e4, "5m": 3e5, "15m": 9e5, "30m": 18e5, "60m": 36e5, "4h": 144e5, "1d": 864e5 };

/** The last candle moved by a live price (or a new candle when its interval began). */
export function withPrice(candles, price, now, interval) {
  if (!candles.length || !price) return candles;
  const last = candles.at(-1);
  const span = INTERVAL_MS[interval] || 6e4;
  if (now >= last.t + span) {
    const t = last.t + Math.floor((now - last.t) / span) * span;
    return [...candles.slice(1), { t, open: last.close, high: price, low: price, close: price }];
  }
  const next = { ...last, close: price };
  if (cmp(price, last.high) > 0) next.high = price;
  if (cmp(price, last.low) < 0) next.low = price;
  return [...candles.slice(0, -1), next];
}

export default {
  title: "Market",
  render(root, ctx) {
    const { api, store } = ctx;
    const symbol = (ctx.params[0] || "BTCUSDT").toUpperCase();
    const controls = h("form", { class: "form-grid", "data-testid": "market-controls" });
    const tickerBox = h("div", { "data-testid": "ticker" });
    const bookBox = h("div", { class: "book", "data-testid": "order-book" });
    const tradesBox = h("div");
    const message = h("div");
    const plot = chart({}, `Candles of ${symbol} with the bot's trades`);
    let interval = "1m";
    let candles = [];
    let markers = [];
    let ticker = null;
    let knownSymbols = [symbol];

    const draw = throttled(() => {
      plot.update({ candles, markers });
      const live = store.tickers.get(symbol) || {};
      const t = { ...(ticker || {}), ...live };
      clear(tickerBox,
        h("span", { class: "stat" }, num(t.last_price, { "data-testid": "last-price" })),
        h("span", { class: "hint" }, " bid ", num(t.bid_price), " · ask ", num(t.ask_price),
          t.price_change_percent ? ` · 24h ${t.price_change_percent}%` : "", t.volume ? ` · volume ${t.volume}` : ""));
    });

    async function loadCandles() {
      try {
        const rows = await api("GET", `/market/klines/${symbol}?interval=${interval}&limit=100`);
        candles = rows.map((k) => ({ t: k.open_time, open: k.open, high: k.high, low: k.low, close: k.close }));
        const page = await api("GET", `/trades/orders?symbol=${symbol}&status=FILLED&status=PARTIALLY_CANCELED&limit=200`);
        markers = page.orders.filter((o) => o.avg_price).map((o) => ({
          t: Date.parse(o.exchange_updated_at || o.created_at), price: o.avg_price, side: o.side, label: o.side,
        })).filter((m) => candles.length && m.t >= candles[0].t);
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
      draw();
    }

    async function loadBook() {
      try {
        const [book, trades] = await Promise.all([
          api("GET", `/market/depth/${symbol}?limit=10`),
          api("GET", `/market/trades/${symbol}?limit=20`),
        ]);
        const side = (label, levels, cls) => h("div", {}, h("h3", {}, label), table(
          [{ label: "Price", num: true, cell: (l) => h("span", { class: `num ${cls}` }, l.price) }, { label: "Quantity", num: true, cell: (l) => num(l.quantity) }],
          levels, { empty: "Empty." }));
        clear(bookBox, side("Bids", book.bids, "pos"), side("Asks", book.asks, "neg"));
        clear(tradesBox, table(
          [
            { label: "Time", cell: (t) => new Date(t.time).toLocaleTimeString() },
            { label: "Price", num: true, cell: (t) => h("span", { class: `num ${t.is_buyer_maker ? "neg" : "pos"}` }, t.price) },
            { label: "Quantity", num: true, cell: (t) => num(t.quantity) },
          ],
          [...trades].sort((a, b) => b.time - a.time), { testid: "recent-trades", empty: "No trades yet." }));
      } catch (error) {
        clear(bookBox, alert(errorText(error)));
      }
    }

    function drawControls() {
      const symbolField = field("Symbol", "symbol", { options: knownSymbols, value: symbol });
      const intervalField = field("Interval", "interval", { options: INTERVALS, value: interval });
      clear(controls, symbolField, intervalField);
      symbolField.querySelector("select").addEventListener("change", (e) => {
        location.hash = `#/market/${e.target.value}`;
      });
      intervalField.querySelector("select").addEventListener("change", (e) => {
        interval = e.target.value;
        loadCandles();
      });
    }

    root.append(message, section(`${symbol}`, controls, tickerBox, plot.canvas), h("div", { class: "grid" }, section("Order book", bookBox), section("Recent trades", tradesBox)));
    drawControls();
    api("GET", "/market/symbols").then((all) => {
      knownSymbols = all.map((s) => s.symbol);
      drawControls();
    }).catch(() => {});
    api("GET", `/market/tickers/${symbol}`).then((t) => {
      ticker = t;
      draw();
    }).catch((error) => clear(message, alert(errorText(error))));
    loadCandles();
    loadBook();
    const bookTimer = setInterval(loadBook, 3000);
    const candleTimer = setInterval(loadCandles, 30000);
    const off = onChange((topic, message_) => {
      if (topic === "tickers") {
        const t = store.tickers.get(symbol);
        if (t && t.last_price && message_.topic === `tickers:${symbol}`) candles = withPrice(candles, t.last_price, Date.now(), interval);
        draw();
      } else if (topic === "fills") {
        loadCandles();
      }
    });
    return () => {
      off();
      clearInterval(bookTimer);
      clearInterval(candleTimer);
      plot.dispose();
    };
  },
};
