// Exact decimal strings: what the API sends is shown as sent, and what we compute for display
// (a rounded quantity, a notional) is computed on BigInt-scaled integers, never on JS floats.

const PLAIN = /^(-?)(\d*)(?:\.(\d*))?$/;

/** "12.340" -> {n: 12340n, scale: 3}; null when the text is not a plain decimal. */
export function parse(text) {
  if (text === null || text === undefined) return null;
  const m = PLAIN.exec(String(text).trim());
  if (!m || (m[2] === "" && !m[3])) return null;
  const frac = m[3] || "";
  let n = BigInt((m[2] || "0") + frac);
  if (m[1]) n = -n;
  return { n, scale: frac.length };
}

export function isDecimal(text) {
  return parse(text) !== null;
}

function scaled(d, scale) {
  return d.n * 10n ** BigInt(scale - d.scale);
}

export function toText(d) {
  const neg = d.n < 0n;
  const digits = (neg ? -d.n : d.n).toString().padStart(d.scale + 1, "0");
  const cut = digits.length - d.scale;
  const whole = digits.slice(0, cut);
  const frac = digits.slice(cut);
  return (neg ? "-" : "") + whole + (d.scale ? "." + frac : "");
}

export function mul(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  return toText({ n: x.n * y.n, scale: x.scale + y.scale });
}

export function add(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  const s = Math.max(x.scale, y.scale);
  return toText({ n: scaled(x, s) + scaled(y, s), scale: s });
}

export function sub(a, b) {
  const y = parse(b);
  return y ? add(a, toText({ n: -y.n, scale: y.scale })) : null;
}

/** -1, 0 or 1; null when either is not a decimal. */
export function cmp(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  const s = Math.max(x.scale, y.scale);
  const d = scaled(x, s) - scaled(y, s);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function sign(a) {
  return cmp(a, "0");
}

/** Rounded toward zero to `places` decimals (how an exchange rounds a quantity to its step). */
export function floorTo(text, places) {
  const d = parse(text);
  if (!d) return null;
  if (d.scale <= places) return toText({ n: scaled(d, places), scale: places });
  const cut = 10n ** BigInt(d.scale - places);
  return toText({ n: d.n / cut, scale: places });
}

/** Shown with exactly `places` decimals (padded or cut), or as sent when places is unknown. */
export function fixed(text, places) {
  if (text === null || text === undefined) return "—";
  if (places === undefined || places === null) return String(text);
  return floorTo(text, places) ?? String(text);
}

/** The step of `places` decimals: 2 -> "0.01". */
export function step(places) {
  return places <= 0 ? "1" : "0." + "0".repeat(places - 1) + "1";
}

/** "1.2300" -> "1.23", "5.000" -> "5": for display of computed values. */
export function trim(text) {
  if (text === null || text === undefined) return text;
  const s = String(text);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** `text` times 10^places, exactly: shift("5", -2) -> "0.05". */
export function shift(text, places) {
  const d = parse(text);
  if (!d) return null;
  if (places >= 0) return toText({ n: d.n * 10n ** BigInt(places), scale: d.scale });
  return toText({ n: d.n, scale: d.scale - places });
}

/** `price` moved by `percent` (negative below): entry 3200, +5 -> "3360.00". */
export function byPercent(price, percent) {
  const factor = add("1", shift(percent, -2));
  return factor === null ? null : mul(price, factor);
}
