// The "Archiv" section of the setup page: what the fiscal archive holds per TSS, its gaps and
// findings, the next run, the off-box copy, the disk; a run on demand with its progress, a
// re-verification, the auditor's export and the DSFinV-K's TSE tables. Loaded after setup.js
// (whose api(), t(), $() and lang it uses); every rule is the daemon's (docs/archive.md).
"use strict";

Object.assign(TEXT.de, {
  archive: "Archiv", ar_tss: "TSS", ar_counter: "Archiviert bis Signaturzähler",
  ar_logs: "Protokolle bis", ar_lag: "Rückstand (Signaturen)", ar_files: "Dateien",
  ar_gaps: "Lücken", ar_findings: "Befunde", ar_last_run: "Letzter Lauf", ar_next_run: "Nächster Lauf",
  ar_disk: "Speicher", ar_offbox: "Kopie außer Haus", ar_run: "Jetzt archivieren",
  ar_verify: "Archiv prüfen", ar_auditor: "Export für den Prüfer", ar_auditor_start: "Export schreiben",
  ar_dsfinvk: "DSFinV-K (TSE-Tabellen)", ar_empty: "keine Einträge", ar_none: "keine",
  ar_not_in_use: "nicht mehr in Gebrauch", ar_running: "Archivierung läuft …",
  ar_done: "Archivierung abgeschlossen.", ar_failed: "Die Archivierung hat nicht alles archiviert: siehe Befunde und Journal.",
  ar_verified: "Archiv geprüft: alle Dateien in Ordnung.", ar_problems: "Das Archiv hat Befunde:",
  ar_written: "Geschrieben in den Prüfer-Ordner der Einheit als „{f}“", ar_complete: "vollständig und geprüft", ar_incomplete: "unvollständig oder nicht geprüft: siehe report.txt",
  ar_day_missing: "Bitte beide Tage vollständig angeben (TT.MM.JJJJ).",
  ar_full_in: "voll in etwa {n} Tagen", ar_per_day: "wächst um {s} am Tag", ar_free: "{s} frei",
  ar_warning: "Der Speicher wird knapp: bitte Platz schaffen (archivierte Dateien werden nie gelöscht).",
  ar_state_done: "abgeschlossen", ar_state_failed: "mit Fehlern", ar_state_running: "läuft",
  ar_offbox_none: "nicht eingerichtet", ar_offbox_age: "letzte Kopie vor {n}",
  ar_progress: "Mandant {tenant}: archiviert bis Signaturzähler {done} von {to}",
  ar_years: "Platz für mehr als 10 Jahre", ar_steps: "Schritte bei fiskaly",
  ar_rows: "{n} Vorgänge, davon {s} signiert", ar_details: "Details", refresh: "Aktualisieren",
});
Object.assign(TEXT.en, {
  archive: "Archive", ar_tss: "TSS", ar_counter: "Archived to signature counter",
  ar_logs: "Logs until", ar_lag: "Behind (signatures)", ar_files: "Files",
  ar_gaps: "Gaps", ar_findings: "Findings", ar_last_run: "Last run", ar_next_run: "Next run",
  ar_disk: "Disk", ar_offbox: "Off-box copy", ar_run: "Archive now",
  ar_verify: "Verify archive", ar_auditor: "Export for the auditor", ar_auditor_start: "Write export",
  ar_dsfinvk: "DSFinV-K (TSE tables)", ar_empty: "no entries", ar_none: "none",
  ar_not_in_use: "no longer in use", ar_running: "Archive run in progress …",
  ar_done: "Archive run finished.", ar_failed: "The archive run did not archive everything: see findings and journal.",
  ar_verified: "Archive verified: every file is fine.", ar_problems: "The archive has findings:",
  ar_written: "Written to the unit's auditor folder as \u201c{f}\u201d", ar_complete: "complete and verified", ar_incomplete: "incomplete or not verified: see report.txt",
  ar_day_missing: "Please give both days in full.",
  ar_full_in: "full in about {n} days", ar_per_day: "grows {s} a day", ar_free: "{s} free",
  ar_warning: "The disk is filling up: add space (archived files are never dropped).",
  ar_state_done: "finished", ar_state_failed: "with errors", ar_state_running: "running",
  ar_offbox_none: "not set up", ar_offbox_age: "last copy {n} ago",
  ar_progress: "Tenant {tenant}: archived to signature counter {done} of {to}",
  ar_years: "room for more than 10 years", ar_steps: "Steps at fiskaly",
  ar_rows: "{n} transactions, {s} signed", ar_details: "Details", refresh: "Refresh",
});

const archiveView = (() => {
  const POLL_MS = 2000;  // while a run is in progress (fiskaly's export takes seconds to minutes)
  let watching = null;

  const fill = (key, values) =>
    Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), t(key));

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "–";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = Number(bytes);
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    const digits = unit === 0 || value >= 100 ? 0 : 1;
    return `${value.toLocaleString(lang === "de" ? "de-DE" : "en-GB", { maximumFractionDigits: digits })} ${units[unit]}`;
  }

  function when(seconds) {
    if (!seconds) return "–";
    return new Date(seconds * 1000).toLocaleString(lang === "de" ? "de-DE" : "en-GB");
  }

  function duration(seconds) {
    const hours = Math.round(seconds / 3600);
    if (hours < 48) return lang === "de" ? `${hours} Std.` : `${hours} h`;
    const days = Math.round(hours / 24);
    return lang === "de" ? `${days} Tagen` : `${days} days`;
  }

  function text(cellParent, value) {
    const td = cellParent.insertCell();
    td.textContent = value === null || value === undefined ? "" : String(value);
    return td;
  }

  function renderTss(data) {
    const body = $("archive-tss").tBodies[0];
    body.replaceChildren();
    const entries = Object.entries(data.tss || {});
    if (!entries.length) {
      const row = body.insertRow();
      const td = text(row, t("ar_empty"));
      td.colSpan = 6;
      return;
    }
    for (const [tssId, item] of entries) {
      const row = body.insertRow();
      const name = text(row, item.tenant || "–");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = t("ar_details");
      const id = document.createElement("span");
      id.className = "mono";
      id.textContent = tssId;
      details.append(summary, id);
      name.append(" ", details);
      name.dataset.label = t("tenant");
      text(row, item.last_counter ?? "–").dataset.label = t("ar_counter");
      text(row, when(item.last_log_time)).dataset.label = t("ar_logs");
      text(row, item.lag_signatures ?? "–").dataset.label = t("ar_lag");
      text(row, (item.gaps || []).length ? item.gaps.join(", ") : t("ar_none")).dataset.label = t("ar_gaps");
      const findings = (item.findings || []).map((f) => `${f.range}: ${(f.findings || []).map((x) => x.code).join(", ")}`);
      text(row, (findings.length ? findings.join("; ") : t("ar_none")) + (item.in_use === false ? ` (${t("ar_not_in_use")})` : ""))
        .dataset.label = t("ar_findings");
    }
  }

  function renderSummary(data) {
    const run = data.run || {};
    const state = run.running ? "ar_state_running" : run.state === "done" ? "ar_state_done" : run.state ? "ar_state_failed" : null;
    $("archive-last-run").textContent = state ? `${when(run.finished_at || run.started_at)} (${t(state)})` : "–";
    $("archive-next-run").textContent = when(data.next_run);
    const disk = [fill("ar_free", { s: size(data.disk_free) })];
    if (data.bytes_per_day !== null && data.bytes_per_day !== undefined) disk.push(fill("ar_per_day", { s: size(data.bytes_per_day) }));
    const days = data.days_until_full;
    if (days !== null && days !== undefined) disk.push(days > 3650 ? t("ar_years") : fill("ar_full_in", { n: days }));
    $("archive-disk").textContent = `${t("ar_files")}: ${data.files || 0} (${size(data.bytes)}) · ${disk.join(", ")}`;
    $("archive-warning").hidden = !data.disk_warning;
    const offbox = data.offbox;
    let copy = t("ar_offbox_none");
    if (offbox && offbox.configured !== false) {
      const age = offbox.age_seconds ?? offbox.copy_age_seconds;
      copy = age === null || age === undefined ? (offbox.state || "–") : fill("ar_offbox_age", { n: duration(age) });
      if (offbox.last_error) copy += ` – ${offbox.last_error}`;
    }
    $("archive-offbox").textContent = copy;
  }

  async function load() {
    if ($("app-view").hidden) return;
    const data = await api("GET", "/archive");
    renderTss(data);
    renderSummary(data);
    if ((data.run || {}).running && !watching) watch();
  }

  function progress(run) {
    // German lines from the run's structured state per TSS; fiskaly's raw steps behind Details
    const list = $("archive-progress");
    list.replaceChildren();
    for (const item of Object.values(run.tss || {})) {
      const line = document.createElement("li");
      const done = item.archived_to ?? "–";
      let textLine = fill("ar_progress", { tenant: item.tenant || "–", done, to: item.to ?? "…" });
      if (item.error) textLine += ` – ${item.error.message}`;
      if (item.finding) textLine += ` – ${t("ar_findings")}: ${item.finding}`;
      line.textContent = textLine;
      list.append(line);
    }
    const details = $("archive-events");
    details.hidden = !(run.events || []).length;
    $("archive-events-text").textContent = (run.events || []).slice(-8).join("\n");
  }

  function watch() {
    const button = $("archive-run");
    button.disabled = true;
    watching = setInterval(async () => {
      try {
        const run = await api("GET", "/archive/run");
        progress(run);
        if (!run.running) {
          clearInterval(watching);
          watching = null;
          button.disabled = false;
          show(t(run.state === "done" ? "ar_done" : "ar_failed"), run.state === "done" ? "ok" : "error");
          await load();
        }
      } catch (err) {
        clearInterval(watching);
        watching = null;
        button.disabled = false;
        show(err.message, "error");
      }
    }, POLL_MS);
  }

  async function runNow() {
    const button = $("archive-run");
    button.disabled = true;  // at once: one run at a time, and the click is seen
    await guarded(async () => {
      try {
        await api("POST", "/archive/run");
      } catch (err) {
        button.disabled = false;
        throw err;
      }
      show(t("ar_running"), "info");
      watch();
    });
  }

  async function verify() {
    const button = $("archive-verify");
    button.disabled = true;
    try {
      await guarded(async () => {
        const data = await api("POST", "/archive/verify");
        if (data.ok) { show(t("ar_verified"), "ok"); return; }
        const bad = (data.files || []).filter((f) => (f.problems || []).length).map((f) => f.file);
        show(`${t("ar_problems")} ${bad.join(", ")}`, "error");
      });
    } finally {
      button.disabled = false;
    }
  }

  function days() {
    const from = $("archive-from");
    const to = $("archive-to");
    for (const input of [from, to]) {
      if (!input.value || (input.validity && input.validity.badInput)) {
        show(t("ar_day_missing"), "error");
        input.focus();
        return null;
      }
    }
    return { from: from.value, to: to.value };
  }

  async function writeExport(path, render) {
    const period = days();
    if (!period) return;
    const buttons = [$("archive-auditor"), $("archive-dsfinvk")];
    for (const button of buttons) button.disabled = true;
    try {
      await guarded(async () => render(await api("POST", path, period)));
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  // the folder's name only: the unit's paths are for tsectl and the technician
  const folder = (data) => String(data.directory || "").split("/").pop();
  const auditor = () => writeExport("/archive/export", (data) =>
    show(`${fill("ar_written", { f: folder(data) })}: ${t(data.ok ? "ar_complete" : "ar_incomplete")}`, data.ok ? "ok" : "error"));
  const dsfinvk = () => writeExport("/archive/dsfinvk", (data) =>
    show(`${fill("ar_written", { f: folder(data) })}: ${fill("ar_rows", { n: data.transactions, s: data.signed })}`, "ok"));

  document.addEventListener("DOMContentLoaded", () => {
    $("archive-run").onclick = runNow;
    $("archive-verify").onclick = verify;
    $("archive-auditor").onclick = auditor;
    $("archive-dsfinvk").onclick = dsfinvk;
    $("archive-refresh").onclick = () => guarded(load);
    // The section loads when the page shows the unit, and again every 30 s while it is open.
    new MutationObserver(() => { if (!$("app-view").hidden) guarded(load); })
      .observe($("app-view"), { attributes: true, attributeFilter: ["hidden"] });
    setInterval(() => { if (!$("app-view").hidden && !document.hidden) load().catch(() => {}); }, 30000);
  });
  return { load };
})();
