// A small canvas price chart: candles (or a line), horizontal levels (a stop, take-profits, a
// trailing peak) and markers (the bot's entries and exits). Numbers become floats only to find a
// pixel; every label shows the exact decimal string it was given.

const COLORS = {
  up: "#1a9f5b",
  down: "#d2453d",
  line: "#3b6fd8",
  grid: "rgba(128,128,128,0.18)",
  text: "#6b7280",
  buy: "#1a9f5b",
  sell: "#d2453d",
};

/**
 * Draw into `canvas`:
 * - candles: [{t (ms), open, high, low, close}] (decimal strings), or line: [{t, price}]
 * - levels: [{price, label, color, dash: bool}]
 * - markers: [{t, price, side: "BUY"|"SELL", label}]
 */
export function drawChart(canvas, { candles = [], line = [], levels = [], markers = [] } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 280;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";

  const prices = [];
  const times = [];
  for (const c of candles) {
    prices.push([Number(c.high), c.high], [Number(c.low), c.low]);
    times.push(c.t);
  }
  for (const p of line) {
    prices.push([Number(p.price), p.price]);
    times.push(p.t);
  }
  for (const l of levels) prices.push([Number(l.price), l.price]);
  for (const m of markers) {
    prices.push([Number(m.price), m.price]);
    times.push(m.t);
  }
  if (!prices.length) {
    g.fillStyle = COLORS.text;
    g.fillText("No prices yet", 12, height / 2);
    return;
  }
  const hi = prices.reduce((a, b) => (b[0] > a[0] ? b : a));
  const lo = prices.reduce((a, b) => (b[0] < a[0] ? b : a));
  const span = hi[0] - lo[0] || Math.abs(hi[0]) * 0.01 || 1;
  const top = hi[0] + span * 0.08;
  const bottom = lo[0] - span * 0.08;
  const axisWidth = Math.max(g.measureText(hi[1]).width, g.measureText(lo[1]).width);
  const pad = { l: 8, r: Math.min(width * 0.4, axisWidth + 14), t: 10, b: 18 };
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const y = (v) => pad.t + ((top - Number(v)) / (top - bottom)) * plotH;
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const slot = candles.length ? plotW / candles.length : 0;
  const x = (t) => {
    if (candles.length) {
      const i = candles.findIndex((c) => c.t >= t);
      const at = i < 0 ? candles.length - 1 : i;
      return pad.l + slot * (at + 0.5);
    }
    return pad.l + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW);
  };

  g.strokeStyle = COLORS.grid;
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i += 1) {
    const yy = pad.t + (plotH * i) / 4;
    g.beginPath();
    g.moveTo(pad.l, yy);
    g.lineTo(pad.l + plotW, yy);
    g.stroke();
  }
  g.fillStyle = COLORS.text;
  g.fillText(hi[1], pad.l + plotW + 6, y(hi[0]) + 4);
  g.fillText(lo[1], pad.l + plotW + 6, y(lo[0]) + 4);

  candles.forEach((c, i) => {
    const up = Number(c.close) >= Number(c.open);
    g.strokeStyle = g.fillStyle = up ? COLORS.up : COLORS.down;
    const cx = pad.l + slot * (i + 0.5);
    g.beginPath();
    g.moveTo(cx, y(c.high));
    g.lineTo(cx, y(c.low));
    g.stroke();
    const bodyTop = y(up ? c.close : c.open);
    const bodyH = Math.max(1, Math.abs(y(c.open) - y(c.close)));
    const w = Math.max(1, slot * 0.7);
    g.fillRect(cx - w / 2, bodyTop, w, bodyH);
  });

  if (line.length) {
    g.strokeStyle = COLORS.line;
    g.lineWidth = 1.5;
    g.beginPath();
    line.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.price)) : g.moveTo(x(p.t), y(p.price))));
    g.stroke();
  }

  const taken = []; // label rows in use: a label that would overlap another moves down
  for (const level of [...levels].sort((a, b) => Number(b.price) - Number(a.price))) {
    const yy = y(level.price);
    g.strokeStyle = g.fillStyle = level.color || COLORS.text;
    g.lineWidth = 1;
    g.setLineDash(level.dash ? [5, 4] : []);
    g.beginPath();
    g.moveTo(pad.l, yy);
    g.lineTo(pad.l + plotW, yy);
    g.stroke();
    g.setLineDash([]);
    let ly = yy - 3;
    while (taken.some((t) => Math.abs(t - ly) < 12)) ly += 12;
    taken.push(ly);
    const text = `${level.label} ${level.price}`;
    g.fillStyle = "rgba(255,255,255,0.85)";
    g.fillRect(pad.l + 2, ly - 10, g.measureText(text).width + 6, 13);
    g.fillStyle = level.color || COLORS.text;
    g.fillText(text, pad.l + 5, ly);
  }

  for (const m of markers) {
    const mx = x(m.t);
    const my = y(m.price);
    const buy = m.side === "BUY";
    g.fillStyle = buy ? COLORS.buy : COLORS.sell;
    g.beginPath();
    g.moveTo(mx, my + (buy ? 9 : -9));
    g.lineTo(mx - 5, my + (buy ? 17 : -17));
    g.lineTo(mx + 5, my + (buy ? 17 : -17));
    g.closePath();
    g.fill();
  }
}

/** A canvas that redraws on resize; `update(spec)` redraws with new data. */
export function chart(spec, label) {
  const canvas = document.createElement("canvas");
  canvas.className = "chart";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  let current = spec;
  const redraw = () => canvas.isConnected && drawChart(canvas, current);
  const observer = new ResizeObserver(redraw);
  observer.observe(canvas);
  return {
    canvas,
    update(next) {
      current = next;
      redraw();
    },
    dispose() {
      observer.disconnect();
    },
  };
}
