// API tokens (admin): list, create (the token is shown once), revoke.

import { alert, clear, errorText, field, formValues, h, section, showProblem, table, time } from "../dom.js";

export default {
  title: "Tokens",
  render(root, ctx) {
    const box = h("div");
    const created = h("div", { "aria-live": "polite" });
    const general = h("div");
    const form = h("form", { class: "form-grid", "data-testid": "token-form", novalidate: true },
      field("Name", "name", { "data-testid": "new-token-name" }),
      field("Role", "role", { options: ["read", "trade", "admin"] }),
      h("button", { type: "submit", "data-testid": "create-token" }, "Create token"));

    async function load() {
      try {
        const tokens = await ctx.api("GET", "/admin/tokens");
        clear(box, table(
          [
            { label: "Name", cell: (t) => t.name },
            { label: "Role", cell: (t) => t.role },
            { label: "Created", cell: (t) => time(t.created_at) },
            { label: "Last used", cell: (t) => time(t.last_used_at) },
            { label: "Revoked", cell: (t) => time(t.revoked_at) },
            { label: "", cell: (t) => (t.revoked_at ? "" : h("button", { type: "button", class: "small danger", "data-testid": "revoke-token", onclick: () => revoke(t) }, "Revoke")) },
          ],
          tokens, { testid: "tokens", rowTestid: (t) => `token-${t.name}` }));
      } catch (error) {
        clear(box, alert(errorText(error)));
      }
    }

    async function revoke(token) {
      if (!window.confirm(`Revoke the token ${token.name}? It stops working at once.`)) return;
      try {
        await ctx.api("DELETE", `/admin/tokens/${encodeURIComponent(token.name)}`);
        load();
      } catch (error) {
        clear(created, alert(errorText(error)));
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await ctx.api("POST", "/admin/tokens", formValues(form));
        showProblem(form, null, general);
        form.reset();
        clear(created, h("div", { class: "alert ok", role: "status" },
          `Token ${made.name} (${made.role}), shown once: `, h("code", { "data-testid": "new-token" }, made.token)));
        load();
      } catch (error) {
        showProblem(form, error, general);
      }
    });

    root.append(section("New token", form, general, created), section("Tokens", box));
    load();
  },
};
