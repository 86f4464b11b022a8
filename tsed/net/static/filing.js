// The "Meldung an das Finanzamt" section of the setup page (§ 146a Abs. 4 AO): master data per
// tenant (taxpayer), premises (address) and register; the pending filings per premises with
// reasons and deadline; the filing: printable page, CSV, fiskaly SUBMIT DE, or marked as filed.
// Loaded after setup.js (api(), t(), fmt(), $(), show(), guarded(), confirmDialog()); every rule
// is the daemon's (docs/notification.md), the page shows its answers at the input they name.
"use strict";

const filingView = (() => {
  const POLL_MS = 300;  // while a submission runs (the simulator steps every 0.05 s, fiskaly slower)
  const LAENDER = {
    BW: "Baden-Württemberg", BY: "Bayern", BE: "Berlin", BB: "Brandenburg", HB: "Bremen", HH: "Hamburg",
    HE: "Hessen", MV: "Mecklenburg-Vorpommern", NI: "Niedersachsen", NW: "Nordrhein-Westfalen",
    RP: "Rheinland-Pfalz", SL: "Saarland", SN: "Sachsen", ST: "Sachsen-Anhalt", SH: "Schleswig-Holstein", TH: "Thüringen",
  };
  const KINDS = ["1", "2", "3", "4", "5"];  // the ELSTER form's types (tsed.filing.model)
  let data = null, uid = 0;  // what was rendered last ({status, master, tenants}); inputs' ids
  const el = (tag, props) => Object.assign(document.createElement(tag), props || {});
  const stateText = (state) => `${TEXT.de[`fi_st_${state}`] ? t(`fi_st_${state}`) : state} (${state})`;
  const eventText = (e) => (TEXT.de[`fi_ev_${e.kind}`] ? t(`fi_ev_${e.kind}`) : e.text);

  // -- forms: a label for every input, the error of the unit at the input it names --------

  function input(form, key, labelKey, value, options) {
    const opts = options || {};
    const id = `fi-${(uid += 1)}`;
    const label = el("label", { htmlFor: id, textContent: t(labelKey) });
    let field;
    if (opts.choices) {
      field = el("select");
      for (const [v, text] of opts.choices) field.add(new Option(text, v));
    } else {
      field = el("input", { type: opts.type || "text", autocomplete: "off" });
      if (opts.placeholder) field.placeholder = opts.placeholder;
    }
    field.id = id;
    field.name = key;
    field.dataset.field = `filing.${key}`;
    field.value = value === null || value === undefined ? "" : String(value);
    const box = el("span", { className: "fi-input" });
    box.append(field);
    if (opts.hint) {
      box.append(" ", el("small", { id: `${id}-hint`, textContent: opts.hint }));
      field.setAttribute("aria-describedby", `${id}-hint`);
    }
    box.append(el("small", { id: `${id}-error`, className: "fi-field-error", hidden: true }));
    form.append(label, box);
    return field;
  }

  const values = (form) => Object.fromEntries([...form.querySelectorAll("[data-field]")].map((f) => [f.name, f.value.trim()]));

  function clearFieldErrors(form) {
    for (const note of form.querySelectorAll(".fi-field-error")) {
      note.hidden = true;
      note.textContent = "";
      const field = $(note.id.replace(/-error$/, ""));
      if (field) field.setAttribute("aria-describedby", (field.getAttribute("aria-describedby") || "").replace(note.id, "").trim());
    }
  }

  // one PUT of a form: the error of the unit is shown at the input it names (and on top)
  async function save(form, method, url, body, what) {
    clearFieldErrors(form);
    await guarded(async () => {
      try {
        await api(method, url, body);
      } catch (err) {
        const field = typeof err.field === "string" ? form.querySelector(`[data-field="${CSS.escape(err.field)}"]`) : null;
        if (field) {
          const note = $(`${field.id}-error`);
          note.textContent = err.message;
          note.hidden = false;
          note.setAttribute("role", "alert");
          field.setAttribute("aria-describedby", `${field.getAttribute("aria-describedby") || ""} ${note.id}`.trim());
        }
        err.field = field;  // common.js marks and focuses exactly this input
        throw err;
      }
      await load();
      show(fmt("fi_saved", { what }), "ok");
    }, form.querySelector("button[type=submit]"));
  }

  // a form in ``parent``: its inputs in a grid (``grid``), its button below; ``finish()`` adds
  // the button once the inputs are in
  // the key of a URL left empty: said at its input (the unit would not know what was meant)
  const missing = (form, name, key) => guarded(async () => refuse(t(key), form.querySelector(`[name=${name}]`)));

  function formIn(parent, buttonKey, onsubmit) {
    const form = el("form", { className: "fi-form" });
    form.noValidate = true;  // the unit checks, and names the field in German
    const grid = el("div", { className: "grid" });
    form.append(grid);
    parent.append(form);
    const finish = () => {
      const actions = el("div", { className: "actions" });
      actions.append(el("button", { type: "submit", textContent: t(buttonKey) }));
      form.append(actions);
      form.onsubmit = (event) => { event.preventDefault(); onsubmit(form); };
    };
    return { form: grid, finish };
  }

  function item(parent, summary, open) {
    const box = el("details", { className: "fi-item", open: Boolean(open) });
    box.append(el("summary", { textContent: summary }));
    parent.append(box);
    return box;
  }

  const empty = (parent) => parent.append(el("p", { className: "empty", textContent: t("empty") }));

  // -- master data ----------------------------------------------------------------------
  function tenantIds() {
    const list = data.tenants.multi_tenant && data.tenants.tenants.length ? data.tenants.tenants.map((x) => x.id) : ["default"];
    for (const row of [...data.master.taxpayers, ...data.master.premises, ...data.master.registers]) {
      if (!list.includes(row.tenant_id)) list.push(row.tenant_id);
    }
    return list;
  }

  function renderTaxpayers() {
    const box = $("fi-taxpayers");
    box.replaceChildren();
    for (const tenant of tenantIds()) {
      const tp = data.master.taxpayers.find((x) => x.tenant_id === tenant);
      const head = `${fmt("fi_taxpayer_of", { tenant })}: ${tp ? `${tp.name}, ${t("fi_tax_number")} ${tp.tax_number}` : t("fi_not_entered")}`;
      const details = item(box, head, !tp);
      const { form, finish } = formIn(details, "save", (f) => {
        const body = values(f);
        if (tp && tp.legal_form) body.legal_form = tp.legal_form;  // set with tsectl: kept
        save(f, "PUT", `/filing/taxpayers/${encodeURIComponent(tenant)}`, body, fmt("fi_taxpayer_of", { tenant }));
      });
      const a = tp ? tp.address : {};
      input(form, "person", "fi_person", tp ? tp.person : "legal",
        { choices: [["legal", t("fi_person_legal")], ["natural", t("fi_person_natural")]] });
      input(form, "name", "fi_name", tp && tp.name);
      input(form, "first_name", "fi_first_name", tp && tp.first_name);
      input(form, "last_name", "fi_last_name", tp && tp.last_name);
      input(form, "tax_number", "fi_tax_number", tp && tp.tax_number, { hint: t("fi_tax_hint") });
      input(form, "land", "fi_land", tp ? tp.land : "",
        { choices: [["", t("fi_land_auto")], ...Object.entries(LAENDER).map(([k, v]) => [k, `${k} – ${v}`])] });
      addressInputs(form, a);
      finish();
    }
  }

  function addressInputs(form, a) {
    for (const key of ["street", "house_number", "zip_code", "town"]) input(form, key, `fi_${key}`, a[key]);
  }

  function tenantChoice(form) {
    const ids = tenantIds();
    if (ids.length > 1) return input(form, "tenant", "tenant", ids[0], { choices: ids.map((id) => [id, id]) });
    return null;
  }

  function renderPremises() {
    const box = $("fi-premises");
    box.replaceChildren();
    if (!data.master.premises.length) empty(box);
    for (const p of data.master.premises) {
      const a = p.address;
      const details = item(box, `${p.name} (${p.premises_id}): ${a.street} ${a.house_number}, ${a.zip_code} ${a.town}`, false);
      const { form, finish } = formIn(details, "save", (f) =>
        save(f, "PUT", `/filing/premises/${encodeURIComponent(p.premises_id)}`, values(f), p.name));
      input(form, "name", "fi_designation", p.name);
      addressInputs(form, a);
      finish();
    }
    const details = item(box, t("fi_new_premises"), !data.master.premises.length);
    const { form, finish } = formIn(details, "fi_add_premises", (f) => {
      const body = values(f);
      const id = body.premises_id;
      delete body.premises_id;
      if (!id) return missing(f, "premises_id", "fi_id_missing");
      if (!("tenant" in body)) body.tenant = tenantIds()[0];
      return save(f, "PUT", `/filing/premises/${encodeURIComponent(id)}`, body, body.name || id);
    });
    input(form, "premises_id", "fi_premises_id", "", { hint: t("fi_id_hint"), placeholder: "filiale-1" });
    tenantChoice(form);
    input(form, "name", "fi_designation", "");
    addressInputs(form, {});
    finish();
  }

  function renderRegisters() {
    const box = $("fi-registers");
    box.replaceChildren();
    if (!data.master.registers.length) empty(box);
    for (const r of data.master.registers) {
      const where = data.master.premises.find((p) => p.premises_id === r.premises_id);
      const state = r.paired_on ? fmt("fi_paired_on", { day: calendarDay(r.paired_on) }) : t("fi_not_paired");
      const details = item(box, `${r.serial} – ${state}${where ? ` – ${where.name}` : ""}`, !r.premises_id);
      const { form, finish } = formIn(details, "save", (f) =>
        save(f, "PUT", `/filing/registers/${encodeURIComponent(r.key)}`, values(f), r.serial));
      const premises = data.master.premises.filter((p) => p.tenant_id === r.tenant_id);
      input(form, "premises", "fi_premises_one", r.premises_id,
        { choices: [["", t("fi_choose")], ...premises.map((p) => [p.premises_id, `${p.name} (${p.premises_id})`])] });
      input(form, "kind", "fi_kind", r.kind, { choices: KINDS.map((k) => [k, `${k} – ${t(`fi_kind_${k}`)}`]) });
      input(form, "maker", "fi_maker", r.maker);
      input(form, "model", "fi_model", r.model);
      input(form, "serial", "fi_serial", r.serial);
      input(form, "software", "fi_software", r.software);
      input(form, "software_version", "fi_version", r.software_version);
      input(form, "purchased_on", "fi_purchased", r.purchased_on, { type: "date" });
      input(form, "first_use_on", "fi_first_use", r.first_use_on,
        { type: "date", hint: r.paired_on ? fmt("fi_first_use_default", { day: calendarDay(r.paired_on) }) : "" });
      input(form, "decommissioned_on", "fi_decommissioned", r.decommissioned_on, { type: "date" });
      input(form, "decommission_reason", "fi_reason", r.decommission_reason);
      finish();
    }
    const details = item(box, t("fi_new_register"), false);
    const { form, finish } = formIn(details, "fi_add_register", (f) => {
      const body = values(f);
      const serial = body.serial;
      delete body.serial;
      if (!serial) return missing(f, "serial", "fi_serial_missing");
      return save(f, "PUT", `/filing/registers/${encodeURIComponent(serial)}`, body, serial);
    });
    input(form, "serial", "fi_serial", "");
    tenantChoice(form);
    finish();
  }

  // -- pending filings and the filing ---------------------------------------------------

  // per premises its open events; an event of a whole tenant (a TSS) concerns each of its
  // premises, or stands alone while the tenant has none (as the overview counts them)
  function groups() {
    const found = new Map();
    const add = (key, premises, tenant, event) => {
      if (!found.has(key)) found.set(key, { premises, tenant, events: [] });
      found.get(key).events.push(event);
    };
    for (const e of data.status.pending) {
      const own = data.master.premises.filter((p) => (e.premises ? p.premises_id === e.premises : p.tenant_id === e.tenant));
      if (own.length) for (const p of own) add(p.premises_id, p, p.tenant_id, e);
      else add(`tenant:${e.tenant}`, null, e.tenant, e);
    }
    return [...found.values()];
  }

  function deadline(events) {
    const first = events.reduce((a, b) => (a.days_left <= b.days_left ? a : b));
    const day = calendarDay(first.due_on);
    const n = first.days_left;
    if (n < 0) return { text: fmt(n === -1 ? "fi_overdue_one" : "fi_overdue", { day, n: -n }), overdue: true };
    return { text: fmt(n === 0 ? "fi_due_today" : n === 1 ? "fi_due_one" : "fi_due", { day, n }), overdue: false };
  }

  function renderPending() {
    const box = $("fi-pending");
    box.replaceChildren();
    const all = groups();
    if (!all.length) empty(box);
    for (const group of all) {
      const card = el("article", { className: "fi-due" });
      const p = group.premises;
      card.dataset.premises = p ? p.premises_id : "";
      card.append(el("h4", { textContent: p ? fmt("fi_premises_head", { name: p.name, id: p.premises_id }) : fmt("fi_no_premises", { tenant: group.tenant }) }));
      const due = deadline(group.events);
      card.append(el("p", { className: due.overdue ? "fi-deadline verdict-fail" : "fi-deadline", textContent: due.text }));
      const list = el("ul", { className: "fi-reasons" });
      list.setAttribute("aria-label", t("fi_reasons"));
      for (const e of group.events) {
        list.append(el("li", { textContent: fmt("fi_event", { text: eventText(e), subject: e.subject, day: calendarDay(e.occurred_on) }) }));
      }
      card.append(list);
      if (!p) {
        card.append(el("p", { textContent: t("fi_no_premises_hint") }));
        box.append(card);
        continue;
      }
      // a submission that did not get through stays in view until a later one does
      const last = data.status.submissions.filter((s) => s.premises === p.premises_id).pop();
      const failed = last && last.state !== "TRANSMISSION_SUCCEEDED";
      const state = el("p", { className: failed && last.final ? "fi-state verdict-fail" : "fi-state" });
      if (failed) state.textContent = `${fmt("fi_state", { state: stateText(last.state) })}${last.error ? ` – ${last.error}` : ""}`;
      state.setAttribute("aria-live", "polite");
      const actions = el("div", { className: "actions" });
      const button = (key, action) => {
        const b = el("button", { type: "button", textContent: t(key) });
        b.dataset.action = key;
        b.onclick = () => action(p, b, state);
        actions.append(b);
      };
      button("fi_print", printView);
      button("fi_csv", downloadCsv);
      button("fi_submit", submit);
      button("fi_filed", markFiled);
      card.append(actions, state);
      box.append(card);
    }
  }

  function renderSubmissions() {
    const body = $("fi-submissions").tBodies[0];
    body.replaceChildren();
    for (const s of [...data.status.submissions].reverse()) {
      const row = body.insertRow();
      const name = (data.master.premises.find((p) => p.premises_id === s.premises) || {}).name;
      cell(row, name ? `${name} (${s.premises})` : s.premises);
      cell(row, stateText(s.state), s.state === "TRANSMISSION_SUCCEEDED" ? "verdict-ok" : s.final ? "verdict-fail" : "");
      cell(row, s.error || "–");
    }
    emptyRow(body);
  }

  function printView(p) {
    const win = window.open("", "_blank");  // now, in the click: later it is a blocked pop-up
    guarded(async () => {
      if (!win) { show(t("fi_popup"), "error"); return; }
      try {
        const doc = await api("GET", `/filing/premises/${encodeURIComponent(p.premises_id)}/html`);
        // the unit's printable page, styled by the page's own style sheet (no inline style)
        const page = new DOMParser().parseFromString(doc.content, "text/html");
        for (const style of page.querySelectorAll("style")) style.remove();
        page.head.append(Object.assign(page.createElement("link"), { rel: "stylesheet", href: new URL("/setup/static/setup.css", location.href).href }));
        page.body.className = "filing-print";
        const blob = new Blob([`<!DOCTYPE html>\n${page.documentElement.outerHTML}`], { type: "text/html" });
        win.location.href = URL.createObjectURL(blob);
      } catch (err) {
        win.close();
        throw err;
      }
    });
  }

  function downloadCsv(p, button) {
    guarded(async () => {
      const doc = await api("GET", `/filing/premises/${encodeURIComponent(p.premises_id)}/csv`);
      // with a byte order mark: a spreadsheet then reads the umlauts as UTF-8
      const url = URL.createObjectURL(new Blob(["\ufeff", doc.content], { type: "text/csv;charset=utf-8" }));
      const link = el("a", { href: url, download: `mitteilung-${p.premises_id}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    }, button);
  }

  // the installer's yes is the taxpayer's consent SUBMIT DE asks for (docs/notification.md)
  async function submit(p, button, stateLine) {
    if (!(await confirmDialog(fmt("fi_confirm_submit", { name: p.name, id: p.premises_id })))) return;
    const before = new Set(data.status.submissions.map((s) => s.id));
    let polling = null;
    await guarded(async () => {
      for (const b of button.parentElement.querySelectorAll("button")) b.disabled = true;
      show(fmt("fi_submitting", { name: p.name }), "info");
      // the call returns when the state is final; meanwhile the page shows each state it sees
      polling = setInterval(async () => {
        try {
          const status = await api("GET", "/filing");
          const mine = status.submissions.filter((s) => s.premises === p.premises_id && !before.has(s.id)).pop();
          if (mine && polling) stateLine.textContent = fmt("fi_state", { state: stateText(mine.state) });
        } catch (_err) { /* the next poll, or the answer, tells */ }
      }, POLL_MS);
      let sub;
      try {
        sub = await api("POST", `/filing/premises/${encodeURIComponent(p.premises_id)}/submission`);
      } finally {
        clearInterval(polling);
        polling = null;
        await load().catch(() => {});
      }
      show(fmt("fi_submitted", { name: p.name, state: stateText(sub.state) }), "ok");
    }, button);
  }

  async function markFiled(p, button) {
    if (!(await confirmDialog(fmt("fi_confirm_filed", { name: p.name, id: p.premises_id })))) return;
    await guarded(async () => {
      const done = await api("POST", `/filing/premises/${encodeURIComponent(p.premises_id)}/filed`);
      await load();
      show(fmt(done.closed === 1 ? "fi_marked_one" : "fi_marked", { name: p.name, n: done.closed }), "ok");
    }, button);
  }

  function render() {
    if (!data) return;
    renderPending();
    renderSubmissions();
    renderTaxpayers();
    renderPremises();
    renderRegisters();
  }

  async function load() {
    if ($("app-view").hidden) return;
    const [status, master, tenants] = await Promise.all([
      api("GET", "/filing"), api("GET", "/filing/master-data"), api("GET", "/tenants"),
    ]);
    data = { status, master, tenants };
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("fi-refresh").onclick = () => guarded(load, $("fi-refresh"));
    new MutationObserver(() => { if (!$("app-view").hidden) guarded(load); })
      .observe($("app-view"), { attributes: true, attributeFilter: ["hidden"] });
  });
  liveHooks.push((live) => { if (!live) render(); });  // the language switch: the texts anew
  return { load };
})();
