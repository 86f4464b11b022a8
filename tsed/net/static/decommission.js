// The "Außerbetriebnahme" section of the setup page: a register, a TSS or the whole unit taken
// out of service, or a TSS exchange, step by step (archive, verification and off-box copy first,
// the irreversible step last), what is left to do, and "resume" after a failed step. Loaded
// after setup.js (whose api(), t(), $(), show() and guarded() it uses); every rule is the
// daemon's (docs/decommission.md), the page only shows its answers.
"use strict";

Object.assign(TEXT.de, {
  decommission: "Außerbetriebnahme", dc_kind: "Was", dc_register: "Kasse (ID)", dc_tenant_id: "Mandant",
  dc_reason: "Grund", dc_date: "Datum", dc_confirm: "Bestätigung (genau abtippen)",
  dc_start: "Außerbetriebnahme starten", dc_resume: "Fortsetzen", dc_none: "Keine Außerbetriebnahme begonnen.",
  dc_kind_register: "Kasse", dc_kind_tss: "TSS", dc_kind_exchange: "TSS-Tausch", dc_kind_unit: "Einheit",
  dc_state_pending: "offen", dc_state_running: "läuft", dc_state_done: "erledigt", dc_state_failed: "FEHLER",
  dc_irreversible: "unumkehrbar", dc_left: "Noch zu tun", dc_running: "Außerbetriebnahme läuft …",
  dc_done: "Außerbetriebnahme abgeschlossen.", dc_failed: "Ein Schritt ist fehlgeschlagen: Ursache beheben, dann „Fortsetzen“.",
  dc_headline: "Außerbetriebnahme ({kind}) am {day}: {reason}",
  dc_hint: "Erst werden Archiv, Prüfung und Kopie außer Haus erledigt, dann der unumkehrbare Schritt. Den genauen Bestätigungstext nennt der erste Versuch.",
});
Object.assign(TEXT.en, {
  decommission: "Decommissioning", dc_kind: "What", dc_register: "Register (id)", dc_tenant_id: "Tenant",
  dc_reason: "Reason", dc_date: "Date", dc_confirm: "Confirmation (type it exactly)",
  dc_start: "Start decommissioning", dc_resume: "Resume", dc_none: "No decommissioning started.",
  dc_kind_register: "Register", dc_kind_tss: "TSS", dc_kind_exchange: "TSS exchange", dc_kind_unit: "Unit",
  dc_state_pending: "pending", dc_state_running: "running", dc_state_done: "done", dc_state_failed: "FAILED",
  dc_irreversible: "irreversible", dc_left: "Left to do", dc_running: "Decommissioning in progress …",
  dc_done: "Decommissioning finished.", dc_failed: "A step failed: fix the cause, then \u201cResume\u201d.",
  dc_headline: "Decommissioning ({kind}) on {day}: {reason}",
  dc_hint: "The archive, its check and the off-box copy come first, the irreversible step last. The first attempt names the exact confirmation to type.",
});

const decommissionView = (() => {
  const POLL_MS = 1500;  // while a plan runs (an archive run takes seconds to minutes)
  let watching = null;

  const fill = (key, values) =>
    Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), t(key));

  function render(plan) {
    const head = $("dc-plan");
    const list = $("dc-steps");
    const left = $("dc-left");
    list.replaceChildren();
    left.replaceChildren();
    $("dc-resume").hidden = !plan || plan.state !== "failed";
    if (!plan) {
      head.textContent = t("dc_none");
      return;
    }
    head.textContent = `${fill("dc_headline", { kind: t(`dc_kind_${plan.kind}`), day: plan.day, reason: plan.reason })} – ${t(`dc_state_${plan.state}`)}`;
    for (const step of plan.steps || []) {
      const line = document.createElement("li");
      line.className = `step-${step.state}`;
      const mark = step.irreversible ? ` (${t("dc_irreversible")})` : "";
      line.textContent = `${step.text}${mark} – ${t(`dc_state_${step.state}`)}${step.detail ? `: ${step.detail}` : ""}`;
      list.append(line);
    }
    for (const text of plan.left || []) {
      const item = document.createElement("li");
      item.textContent = text;
      left.append(item);
    }
    $("dc-left-box").hidden = !(plan.left || []).length;
  }

  async function load() {
    if ($("app-view").hidden) return;
    const data = await api("GET", "/decommission");
    render(data.plan);
    if (data.plan && data.plan.state === "running" && !watching) watch();
    return data.plan;
  }

  function watch() {
    $("dc-start").disabled = true;
    watching = setInterval(async () => {
      try {
        const plan = await load();
        if (!plan || plan.state !== "running") {
          clearInterval(watching);
          watching = null;
          $("dc-start").disabled = false;
          if (plan) show(t(plan.state === "done" ? "dc_done" : "dc_failed"), plan.state === "done" ? "ok" : "error");
        }
      } catch (err) {
        clearInterval(watching);
        watching = null;
        $("dc-start").disabled = false;
        show(err.message, "error");
      }
    }, POLL_MS);
  }

  function fields() {
    const kind = $("dc-kind").value;
    $("dc-register-label").hidden = kind !== "register";
    $("dc-tenant-label").hidden = kind !== "tss" && kind !== "exchange";
  }

  async function start() {
    const kind = $("dc-kind").value;
    const body = { kind, reason: $("dc-reason").value };
    if ($("dc-confirm").value) body.confirm = $("dc-confirm").value;
    if ($("dc-date").value) body.date = $("dc-date").value;
    if (kind === "register") body.register = $("dc-register").value.trim();
    if ((kind === "tss" || kind === "exchange") && $("dc-tenant").value.trim()) body.tenant = $("dc-tenant").value.trim();
    await guarded(async () => {
      const data = await api("POST", "/decommission", body);
      render(data.plan);
      show(t("dc_running"), "info");
      watch();
    });
  }

  async function resume() {
    await guarded(async () => {
      const data = await api("POST", "/decommission/resume");
      render(data.plan);
      show(t("dc_running"), "info");
      watch();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("dc-kind").onchange = fields;
    $("dc-start").onclick = start;
    $("dc-resume").onclick = resume;
    fields();
    new MutationObserver(() => { if (!$("app-view").hidden) guarded(load); })
      .observe($("app-view"), { attributes: true, attributeFilter: ["hidden"] });
  });
  return { load };
})();
