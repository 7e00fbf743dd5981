// Auto-buy rules: the list (enable / disable, dry run, edit, delete) and a create / edit form
// that shows the API's validation message next to the field it names; the executions so far.

import { optional } from "../api.js";
import { arrays, alert, clear, errorText, field, formValues, h, num, section, showProblem, table, time, unavailable } from "../dom.js";
import { onChange } from "../store.js";
import { exitFields, exitsBody } from "./exits.js";

const TRIGGERS = ["NEW_LISTING", "PRICE_BELOW", "PRICE_ABOVE", "PERCENT_DROP", "PERCENT_RISE", "VOLUME_SURGE"];
const RULE_FIELDS = ["name", "enabled", "symbol", "quote_asset", "name_filter", "trigger", "buy_amount_quote", "max_buy_price", "max_slippage_percent", "min_volume_24h", "allow_pre_trading", "cooldown_seconds", "max_executions", "order_type", "risk_check", "exits"];

function check(label, name, checked, testid) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 7)}`;
  return h("div", { class: "field check" },
    h("input", { id, name, type: "checkbox", checked: Boolean(checked), "data-testid": testid }),
    h("label", { for: id }, label),
    h("small", { class: "field-error", "data-error-for": name, role: "alert" }));
}

function ruleForm(ctx, rule, onSaved, onCancel) {
  const r = rule || { enabled: true, symbol: "*", trigger: { type: "NEW_LISTING" }, max_slippage_percent: "5", order_type: "LIMIT_IOC", risk_check: true };
  const trigger = r.trigger || {};
  const general = h("div", { "data-testid": "rule-form-error" });
  const form = h("form", { "data-testid": "rule-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Name", "name", { value: r.name || "", "data-testid": "rule-name" }),
      field("Symbol (* = any new listing)", "symbol", { value: r.symbol || "*", "data-testid": "rule-symbol" }),
      field("Quote asset (for *)", "quote_asset", { value: r.quote_asset || "" }),
      field("Base asset filter (regex, for *)", "name_filter", { value: r.name_filter || "" }),
      field("Trigger", "trigger.type", { options: TRIGGERS, value: trigger.type || "NEW_LISTING", "data-testid": "rule-trigger" }),
      field("Trigger value", "trigger.value", { inputmode: "decimal", value: trigger.value || "", hint: "a price, a percent, or k for a volume surge" }),
      field("Window (seconds)", "trigger.window_seconds", { inputmode: "numeric", "data-kind": "int", value: trigger.window_seconds ?? "" }),
      field("Buy amount (quote)", "buy_amount_quote", { inputmode: "decimal", value: r.buy_amount_quote || "", "data-testid": "rule-amount" }),
      field("Max buy price", "max_buy_price", { inputmode: "decimal", value: r.max_buy_price || "" }),
      field("Max slippage %", "max_slippage_percent", { inputmode: "decimal", value: r.max_slippage_percent || "" }),
      field("Min 24h volume (quote)", "min_volume_24h", { inputmode: "decimal", value: r.min_volume_24h || "" }),
      field("Cooldown (seconds)", "cooldown_seconds", { inputmode: "numeric", "data-kind": "int", value: r.cooldown_seconds ?? "" }),
      field("Max executions", "max_executions", { inputmode: "numeric", "data-kind": "int", value: r.max_executions ?? "" }),
      field("Order type", "order_type", { options: ["LIMIT_IOC", "MARKET"], value: r.order_type || "LIMIT_IOC" }),
      check("Enabled", "enabled", r.enabled, "rule-enabled"),
      check("Fire at the announced open (pre-trading)", "allow_pre_trading", r.allow_pre_trading),
      check("Risk check", "risk_check", r.risk_check),
    ),
    exitFields(r.exits || {}),
    h("div", { class: "row" },
      h("button", { type: "submit", "data-testid": "save-rule" }, rule ? "Save rule" : "Create rule"),
      h("button", { type: "button", class: "secondary", onclick: onCancel }, "Cancel"),
    ),
    general,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = arrays(formValues(form));
    for (const name of ["enabled", "allow_pre_trading", "risk_check"]) values[name] = form.elements.namedItem(name).checked;
    const exits = exitsBody(values);
    const body = Object.fromEntries(RULE_FIELDS.filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
    body.exits = Object.keys(exits).length ? exits : null;
    try {
      const saved = rule ? await ctx.api("PUT", `/autobuy/rules/${rule.id}`, body) : await ctx.api("POST", "/autobuy/rules", body);
      showProblem(form, null, general);
      onSaved(saved);
    } catch (error) {
      showProblem(form, error, general);
    }
  });
  return form;
}

function dryRun(result) {
  return h("div", { class: "preview", "data-testid": "dry-run" },
    h("strong", {}, result.would_buy ? "Would buy now" : "Would not buy now"),
    result.would_buy ? h("div", {}, `${result.symbol}: `, num(result.quantity), " at most ", num(result.limit_price), " for ", num(result.quote_amount), ` (reference ${result.reference_price ?? "—"})`) : null,
    (result.reasons || []).length ? h("ul", {}, result.reasons.map((reason) => h("li", {}, reason))) : null,
    (result.matching_listings || []).length ? h("div", {}, `Matching listings: ${result.matching_listings.map((l) => l.symbol || l).join(", ")}`) : null);
}

export default {
  title: "Auto-buy rules",
  render(root, ctx) {
    const { api } = ctx;
    const listBox = h("div");
    const formBox = h("div");
    const execBox = h("div");
    const message = h("div", { "aria-live": "polite" });
    let rules = [];

    async function act(rule, path, method = "POST") {
      try {
        const result = await api(method, `/autobuy/rules/${rule.id}${path}`);
        if (path === "/evaluate") clear(message, dryRun(result));
        else clear(message, alert(`Rule ${rule.name}: done.`, "ok"));
        if (path !== "/evaluate") load();
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
    }

    function edit(rule) {
      clear(formBox, section(rule ? `Edit ${rule.name}` : "New rule", ruleForm(ctx, rule, (saved) => {
        clear(formBox);
        clear(message, alert(`Rule ${saved.name || ""} saved.`, "ok"));
        load();
      }, () => clear(formBox))));
      formBox.querySelector("input")?.focus();
    }

    function draw() {
      const columns = [
        { label: "Name", cell: (r) => r.name },
        { label: "Symbol", cell: (r) => r.symbol },
        { label: "Trigger", cell: (r) => `${r.trigger.type}${r.trigger.value ? ` ${r.trigger.value}` : ""}` },
        { label: "Amount", num: true, cell: (r) => num(r.buy_amount_quote) },
        { label: "Runs", num: true, cell: (r) => `${r.executions ?? 0}${r.max_executions ? ` / ${r.max_executions}` : ""}` },
        { label: "Last", cell: (r) => time(r.last_executed_at) },
        { label: "State", cell: (r) => h("span", { "data-testid": "rule-state" }, r.enabled ? "enabled" : "disabled") },
        { label: "", cell: (r) => h("div", { class: "row" },
          h("button", { type: "button", class: "small secondary", "data-testid": "dry-run-rule", onclick: () => act(r, "/evaluate") }, "Dry run"),
          ctx.canTrade ? [
            h("button", { type: "button", class: "small", "data-testid": "toggle-rule", onclick: () => act(r, r.enabled ? "/disable" : "/enable") }, r.enabled ? "Disable" : "Enable"),
            h("button", { type: "button", class: "small secondary", "data-testid": "edit-rule", onclick: () => edit(r) }, "Edit"),
            h("button", { type: "button", class: "small danger", "data-testid": "delete-rule", onclick: () => window.confirm(`Delete rule ${r.name}?`) && act(r, "", "DELETE") }, "Delete"),
          ] : null) },
      ];
      clear(listBox,
        ctx.canTrade ? h("button", { type: "button", "data-testid": "new-rule", onclick: () => edit(null) }, "New rule") : null,
        table(columns, rules, { testid: "rules", rowTestid: (r) => `rule-${r.id}`, empty: "No rules yet." }));
    }

    async function load() {
      try {
        const [page, executions] = await Promise.all([optional("/autobuy/rules"), optional("/autobuy/executions")]);
        if (page === null) {
          clear(root, unavailable("Auto-buy"));
          return;
        }
        rules = page.rules;
        draw();
        clear(execBox, table(
          [
            { label: "Time", cell: (e) => time(e.created_at) },
            { label: "Rule", cell: (e) => String(e.rule_id) },
            { label: "Symbol", cell: (e) => e.symbol },
            { label: "Outcome", cell: (e) => e.outcome },
            { label: "Quantity", num: true, cell: (e) => num(e.quantity) },
            { label: "Average", num: true, cell: (e) => num(e.average_price) },
            { label: "Why", cell: (e) => e.reason || e.detail || "" },
          ],
          (executions && executions.executions) || [], { testid: "executions", empty: "No executions yet." }));
      } catch (error) {
        clear(message, alert(errorText(error)));
      }
    }

    root.append(message, formBox, section("Rules", listBox), section("Executions", execBox));
    load();
    let reload = null;
    const off = onChange((topic) => {
      if (topic !== "autobuy") return;
      clearTimeout(reload);
      reload = setTimeout(load, 300);
    });
    return () => {
      off();
      clearTimeout(reload);
    };
  },
};
