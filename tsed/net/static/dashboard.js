// The overview (Übersicht) of a unit that is set up: mode, TSE, registers, outages, archive,
// filings due, certificate dates, version; what to do next; the full form one click away.
"use strict";

let dashboardData = null;

async function openDashboard() {
  const [cfg, status, extra, outages, archive] = await Promise.all([
    api("GET", "/config"),
    api("GET", "/status"),
    api("GET", "/dashboard"),
    api("GET", "/outages"),
    api("GET", "/archive").catch(() => null),  // a unit without the archive shows "—"
  ]);
  config = cfg;
  dashboardData = { status, extra, outages: outages.outages, archive };
  renderDashboard();
  showView("dashboard-view");
  startLive();
  $("open-form").focus();
}

function archiveText(archive) {
  if (!archive || !archive.tss) return t("db_unknown");
  const items = Object.values(archive.tss);
  const files = items.reduce((sum, item) => sum + (item.files || 0), 0);
  const last = Math.max(0, ...items.map((item) => item.archived_at || 0));
  const next = archive.next_run ? time(archive.next_run) : t("db_unknown");
  if (!files) return fmt("db_archive_none", { next });
  return fmt("db_archive", { files, when: time(last), next });
}

// the notification duty's filings due (tsed.unit.filing_ops.FilingsDue): how many, the nearest
// deadline and its days left; "keine" when none
function filingsText(due) {
  if (!due) return t("db_unknown");
  if (!due.filings) return t("db_filings_none");
  const n = due.days_left;
  const key = n < 0 ? (n === -1 ? "db_day_over" : "db_days_over") : n === 0 ? "db_days_today" : n === 1 ? "db_day_left" : "db_days_left";
  const left = fmt(key, { n: Math.abs(n) });
  return fmt("db_filings", { n: due.filings, day: calendarDay(due.next_due_on), left });
}

function nextSteps(status) {
  const steps = [];
  const cfg = config || {};
  if (status.mode === "TEST" && !cfg.activation) steps.push(t("next_activate"));
  if (cfg.activation && !cfg.credentials_created) steps.push(t("next_anlegen"));
  if (!status.registers) steps.push(t("next_pair"));
  else if (!status.receipts_signed) steps.push(t("next_receipt"));
  const due = dashboardData && dashboardData.extra.filings_due;
  if (due && due.filings) steps.push(t("next_filing"));
  if (!steps.length) steps.push(t("next_done"));
  return steps;
}

function renderDashboard() {
  if (!dashboardData) return;
  const { status, extra, outages, archive } = dashboardData;
  setMode(status.mode);
  $("db-mode").textContent = status.mode === "TEST" ? `TEST – ${t("test_notice")}` : "LIVE";
  const tse = status.tse || {};
  $("db-tse").textContent = tse.available ? t("tse_ok") : `${t("tse_failing")} ${time(tse.since)}: ${tse.reason || ""}`;
  $("db-tse").className = tse.available ? "verdict-ok" : "verdict-fail";
  $("db-registers").textContent = fmt("db_registers", { n: status.registers || 0 });
  const open = outages.filter((o) => !o.ended_at).length;
  $("db-outages").textContent = outages.length ? fmt("db_outages", { n: outages.length, open }) : t("db_no_outages");
  $("db-archive").textContent = archiveText(archive);
  $("db-filings").textContent = filingsText(extra.filings_due);
  $("db-filings").className = extra.filings_due && extra.filings_due.overdue ? "verdict-fail" : "";
  $("db-cert").textContent = fmt("db_cert", { from: day(extra.certificate_not_before), to: day(extra.certificate_not_after) });
  $("db-version").textContent = status.version || t("db_unknown");
  $("next-list").replaceChildren(...nextSteps(status).map((text) => Object.assign(document.createElement("li"), { textContent: text })));
}

function dashboardLive(data) {
  if (!dashboardData) return;
  if (data) {
    dashboardData.status = { ...dashboardData.status, ...data.status, registers: data.registers.filter((r) => !r.revoked_at).length };
    dashboardData.outages = data.outages;
  }
  renderDashboard();
}

liveHooks.push(dashboardLive);
