// Small DOM helpers: elements are built with textContent (never innerHTML), so nothing the API
// or a user sends can become markup.

/** h("button", {class: "x", onclick: f, "data-testid": "t"}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "text") {
      el.textContent = value;
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An exact number as the API sent it ("—" when absent), right-aligned and tabular. */
export function num(text, attrs = {}) {
  const value = text === null || text === undefined ? "—" : String(text);
  const cls = value.startsWith("-") ? "num neg" : "num";
  return h("span", { class: cls, ...attrs }, value);
}

/** A signed amount coloured by its sign. */
export function pnl(text, attrs = {}) {
  const value = text === null || text === undefined ? "—" : String(text);
  const positive = value !== "—" && !value.startsWith("-") && /[1-9]/.test(value);
  const cls = value.startsWith("-") ? "num neg" : positive ? "num pos" : "num";
  return h("span", { class: cls, ...attrs }, value);
}

export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/**
 * A table: columns = [{label, cell: row => node|string, num?: bool}], rows = [...].
 * `empty` is said when there are no rows.
 */
export function table(columns, rows, { empty = "Nothing here.", testid, rowTestid } = {}) {
  if (!rows.length) return h("p", { class: "empty", "data-testid": testid }, empty);
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "r" : "" }, c.label)));
  const body = rows.map((row) =>
    h(
      "tr",
      { "data-testid": rowTestid ? rowTestid(row) : null },
      columns.map((c) => h("td", { class: c.num ? "r" : "", "data-label": c.label }, c.cell(row))),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { "data-testid": testid }, h("thead", {}, head), h("tbody", {}, body)));
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

/** A notice for a feature the bot does not offer (its route answered 404). */
export function unavailable(what) {
  return h("p", { class: "notice", role: "status", "data-testid": "unavailable" }, `${what} is not available on this bot (the API has no such route).`);
}

export function errorText(error) {
  if (error && error.problem) return error.problem.detail || error.problem.title || error.message;
  return error && error.message ? error.message : String(error);
}

export function alert(text, kind = "error") {
  return h("p", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A labelled input; `name` may be dotted ("exits.stop_loss.price") to build a nested body. */
export function field(label, name, attrs = {}) {
  const id = `f-${name.replaceAll(".", "-")}-${Math.random().toString(36).slice(2, 7)}`;
  const control =
    attrs.options !== undefined
      ? h("select", { id, name, ...without(attrs, "options", "hint") }, attrs.options.map((o) =>
          h("option", { value: Array.isArray(o) ? o[0] : o }, Array.isArray(o) ? o[1] : o),
        ))
      : h("input", { id, name, autocomplete: "off", ...without(attrs, "hint") });
  if (attrs.options !== undefined && attrs.value !== undefined) control.value = attrs.value;
  const describe = `${id}-err`;
  control.setAttribute("aria-describedby", describe);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    attrs.hint ? h("small", { class: "hint" }, attrs.hint) : null,
    h("small", { class: "field-error", id: describe, "data-error-for": name, role: "alert" }),
  );
}

function without(attrs, ...keys) {
  const copy = { ...attrs };
  for (const key of keys) delete copy[key];
  return copy;
}

/** The form's named inputs as a nested object; empty inputs are left out. */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    let value;
    if (el.type === "checkbox") value = el.checked;
    else if (el.value.trim() === "") continue;
    else value = el.dataset.kind === "int" ? Number.parseInt(el.value, 10) : el.value.trim();
    const parts = el.name.split(".");
    let at = out;
    for (const part of parts.slice(0, -1)) at = at[part] ??= {};
    at[parts.at(-1)] = value;
  }
  return out;
}

/** Show an API problem next to the fields it names; what names no field goes to `general`. */
export function showProblem(form, error, general) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!error) {
    clear(general);
    return;
  }
  const problem = error.problem;
  const items = problem && problem.errors ? problem.errors : problem && problem.field ? [{ field: problem.field, message: problem.detail }] : [];
  const leftover = [];
  for (const item of items) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(item.field)}"]`);
    if (slot) {
      slot.textContent = item.message;
      form.querySelector(`[name="${CSS.escape(item.field)}"]`)?.setAttribute("aria-invalid", "true");
    } else leftover.push(`${item.field}: ${item.message}`);
  }
  clear(general, !items.length || leftover.length ? alert(leftover.length ? leftover.join("; ") : errorText(error)) : null);
}

/** `fn` run at most once a frame however often it is called (a burst of ticker updates). */
export function throttled(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

/** Objects whose keys are all indexes ("take_profits.0.percent") become arrays, in order. */
export function arrays(value) {
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => a - b).map((k) => arrays(value[k]));
  }
  return Object.fromEntries(keys.map((k) => [k, arrays(value[k])]));
}
