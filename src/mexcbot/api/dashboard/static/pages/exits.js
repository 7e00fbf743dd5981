// The exit rules of a position as form fields (open and edit share them), and the levels they
// put on a price chart.

import { byPercent, fixed } from "../decimal.js";
import { field, h } from "../dom.js";

const TAKE_PROFIT_ROWS = 3;

/** Fields named like the API's body ("exits.stop_loss.price"), so its errors land on them. */
export function exitFields(exits = {}) {
  const stop = exits.stop_loss || {};
  const trail = exits.trailing || {};
  const tps = exits.take_profits || [];
  return h("fieldset", { class: "form-grid", "data-testid": "exit-fields" },
    h("legend", {}, "Exits"),
    field("Stop price", "exits.stop_loss.price", { inputmode: "decimal", value: stop.price || "", "data-testid": "stop-price" }),
    field("Stop % below entry", "exits.stop_loss.percent", { inputmode: "decimal", value: stop.percent || "" }),
    field("Trailing: activate at % above entry", "exits.trailing.activation_percent", { inputmode: "decimal", value: trail.activation_percent || "" }),
    field("Trailing: callback %", "exits.trailing.callback_percent", { inputmode: "decimal", value: trail.callback_percent || "" }),
    Array.from({ length: TAKE_PROFIT_ROWS }, (_, i) => [
      field(`Take profit ${i + 1}: % above entry`, `exits.take_profits.${i}.percent`, { inputmode: "decimal", value: (tps[i] && tps[i].percent) || "" }),
      field(`Take profit ${i + 1}: fraction`, `exits.take_profits.${i}.fraction`, { inputmode: "decimal", placeholder: "0.5", value: (tps[i] && tps[i].fraction) || "" }),
    ]),
  );
}

/** The exits part of a form's values in the API's shape (take profits as a list). */
export function exitsBody(values) {
  const exits = values.exits || {};
  if (exits.take_profits) exits.take_profits = Object.values(exits.take_profits);
  return exits;
}

/** Chart levels of a position: entry, stop (or trailing stop), take profits, trailing peak;
 * labelled to the symbol's price precision when it is known (the tables show exact values). */
export function positionLevels(p, places) {
  return levelsOf(p).map((level) => ({ ...level, price: places === undefined ? level.price : fixed(level.price, places) }));
}

function levelsOf(p) {
  const levels = [];
  if (p.average_entry) levels.push({ price: p.average_entry, label: "entry", color: "#5b6475" });
  if (p.stop_price) levels.push({ price: p.stop_price, label: p.stop_trigger === "trailing" ? "trailing stop" : "stop", color: "#d2453d", dash: true });
  const exits = p.exits || {};
  (exits.take_profits || []).forEach((tp, i) => {
    const price = tp.price || (p.average_entry && tp.percent ? byPercent(p.average_entry, tp.percent) : null);
    if (price) levels.push({ price, label: `TP${i + 1}${i < p.take_profits_done ? " ✓" : ""}`, color: "#1a9f5b", dash: true });
  });
  const trail = exits.trailing;
  if (trail && !p.trailing_peak) {
    const from = trail.activation_price || (p.average_entry && trail.activation_percent ? byPercent(p.average_entry, trail.activation_percent) : null);
    if (from) levels.push({ price: from, label: "trail from", color: "#3b6fd8", dash: true });
  }
  if (p.trailing_peak) levels.push({ price: p.trailing_peak, label: "peak", color: "#3b6fd8" });
  return levels;
}

export function fillMarkers(p) {
  return (p.fills || []).map((f) => ({ t: Date.parse(f.time), price: f.price, side: f.side, label: f.side }));
}
