// Audit log (admin): who did what to what, newest first, a page at a time.

import { alert, clear, errorText, h, section, table, time } from "../dom.js";

const PAGE = 100;

export default {
  title: "Audit log",
  render(root, ctx) {
    const box = h("div");
    const pager = h("div", { class: "row" });
    let offset = 0;

    async function load() {
      try {
        const entries = await ctx.api("GET", `/admin/audit?limit=${PAGE}&offset=${offset}`);
        clear(box, table(
          [
            { label: "Time", cell: (e) => time(e.time) },
            { label: "Actor", cell: (e) => e.actor },
            { label: "Action", cell: (e) => e.action },
            { label: "Target", cell: (e) => e.target || "" },
            { label: "Result", cell: (e) => e.result },
          ],
          entries, { testid: "audit", empty: "No entries." }));
        clear(pager,
          h("button", { type: "button", class: "secondary", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Newer"),
          h("button", { type: "button", class: "secondary", disabled: entries.length < PAGE, onclick: () => { offset += PAGE; load(); } }, "Older"));
      } catch (error) {
        clear(box, alert(errorText(error)));
      }
    }

    root.append(section("Entries", box, pager));
    load();
  },
};
