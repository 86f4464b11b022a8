// The setup page of the TSE-LAN unit: the start (first password, login, wizard or overview)
// and the full configuration form. Every rule is enforced by the daemon; this script only shows
// its answers. Talks to /setup/api/admin/v1/... (the same admin API tsectl uses). Shared parts:
// text.js (texts), common.js (calls, formats, errors); wizard.js, dashboard.js.
"use strict";

let config = null;
// live updates: the page polls /setup/live (see tsed/net/live.py for why polling, not SSE)
let liveTimer = null;
let liveLast = {};  // what was rendered last, per part (re-rendered only when it changed)
let knownRegisters = null;  // ids seen so far: a new one is announced ("Kasse 1 gekoppelt")
let pairingWatch = null;  // the window this page opened: {expires, known}
let lockout = null;  // the login's standing: {attempts_left, retry_after, at}
let lockTimer = null;
const VIEWS = ["first-view", "login-view", "wizard-view", "dashboard-view", "app-view"];

const liveHooks = [];  // the wizard and the overview follow the live updates too

function applyLanguage() {
  applyTexts();
  if (config) renderConfig(config);
  for (const hook of liveHooks) hook(null);
  if (lockout) renderLockout();
}





function setMode(mode) {
  for (const badge of [$("mode-badge"), $("f-mode")]) {
    badge.textContent = mode;
    badge.className = "badge " + (mode === "TEST" ? "badge-test" : "badge-live");
    badge.hidden = false;
  }
  $("test-notice").hidden = mode !== "TEST";
}

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  const inside = id !== "login-view" && id !== "first-view";
  $("logout").hidden = !inside;
  if (!inside) $("cert-banner").hidden = true;  // certbanner.js shows it again after a login
  $("to-dashboard").hidden = id !== "app-view";
}

function focusFirst(view) {
  const field = $(view).querySelector("input:not([type=hidden]):not([disabled]), select, button.primary");
  if (field && field.offsetParent !== null) field.focus();
}

function showLogin(ended) {
  stopLive();
  showView("login-view");
  if (ended) show(t("session_ended"), "error");
  focusFirst("login-view");
}

async function start() {
  applyLanguage();
  const session = await call("GET", "/setup/session");
  if (session.mode) setMode(session.mode);  // the TEST banner on the login page too
  setLockout(session.lockout);
  if (!session.logged_in) {
    if (session.password_set) {
      showLogin(false);
    } else {  // first boot: step 1 of the wizard, the first password with the setup code
      showView("first-view");
      focusFirst("first-view");
    }
    return;
  }
  csrf = session.csrf;
  const wizard = await api("GET", "/wizard");
  if (!wizard.done) {
    showView("wizard-view");
    startLive();
    await openStep(wizard.step);
    return;
  }
  await openDashboard();
}

// the full form: filled in before it shows, never half rendered (buttons, reasons)
async function openForm() {
  let failure = null;
  try {
    await refresh();
  } catch (err) {
    failure = err;
  }
  if (csrf) {  // still logged in (a 401 on the way shows the login again)
    showView("app-view");
    startLive();
    $("f-name").focus();
  }
  if (failure) throw failure;
}

function setLockout(standing) {
  lockout = standing ? { ...standing, at: Date.now() } : null;
  renderLockout();
}

// a warning before the last attempt, a countdown while locked; the unit keeps the standing,
// so a reload shows the same
function renderLockout() {
  if (lockTimer !== null) clearTimeout(lockTimer);
  lockTimer = null;
  const pairs = [[$("login-lock"), $("login-form").querySelector("button[type=submit]")], [$("first-lock"), $("fp-submit")]];
  if (!lockout) { for (const [box, submit] of pairs) { box.hidden = true; submit.disabled = false; } return; }
  const wait = Math.ceil(lockout.retry_after - (Date.now() - lockout.at) / 1000);
  let text = "";
  if (wait > 0) {
    text = fmt("lock_wait", { s: wait });
    lockTimer = setTimeout(renderLockout, 1000);
  } else if (lockout.attempts_left === 1) {
    text = t("lock_last");
  } else if (lockout.attempts_left < 5) {
    text = fmt("lock_left", { n: lockout.attempts_left });
  }
  for (const [box, submit] of pairs) {  // the login and the first password share the count
    submit.disabled = wait > 0;
    box.textContent = text;
    box.className = wait > 0 || lockout.attempts_left === 1 ? "lock warn" : "lock";
    box.hidden = !text;
  }
}

async function refresh() {
  const [cfg, status] = await Promise.all([api("GET", "/config"), api("GET", "/status")]);
  config = cfg;
  renderConfig(cfg);
  renderStatus(status);
  await Promise.all([loadRegisters(), loadTse(), loadOutages()]);
}

function renderConfig(cfg) {
  $("unit-name").textContent = cfg.name ? `– ${cfg.name}` : "";
  if (document.activeElement !== $("f-name")) $("f-name").value = cfg.name || "";
  checkName();
  $("f-created").textContent = time(cfg.created_at);
  $("f-url").textContent = cfg.url || "";
  const proxy = cfg.proxy || {};
  $("f-proxy-host").value = proxy.host || "";
  $("f-proxy-port").value = proxy.port || "";
  $("f-proxy-user").value = proxy.username || "";
  $("f-proxy-password").placeholder = cfg.proxy_password_set ? "••••••" : "";
  $("f-multi").checked = !!cfg.multi_tenant;
  $("f-multi").disabled = cfg.credentials_created;
  $("multi-why").textContent = cfg.credentials_created ? t("multi_locked") : t("multi_open");
  $("f-extended").checked = !!cfg.extended_logging;
  $("f-api-key").textContent = (cfg.credentials || []).map((c) => `${c.api_key} (${c.tenant})`).join(", ") || t("empty");
  const button = $("anlegen");
  let why = "";
  if (!cfg.saved) why = t("not_saved");
  else if (!cfg.activation) why = t("no_activation");
  else if (cfg.credentials_created && (cfg.credentials || []).length) why = t("have_credentials");
  button.disabled = why !== "";
  $("anlegen-why").textContent = why;
  $("activation-state").textContent = cfg.activation ? `${t("activated")} ${cfg.activation}` : t("not_activated");
  $("tenants-box").hidden = !cfg.multi_tenant && !$("f-multi").checked;
  const tbody = $("tenants").tBodies[0];
  tbody.replaceChildren();
  const tenants = cfg.tenants || {};
  for (const [id, tenant] of Object.entries(tenants)) {
    const row = tbody.insertRow();
    cell(row, id);
    cell(row, tenant.name);
    cell(row, tenant.vat_id || "");
  }
  emptyRow(tbody);
  const select = $("x-tenant");
  select.replaceChildren();
  const ids = cfg.multi_tenant && Object.keys(tenants).length ? Object.keys(tenants) : ["default"];
  for (const id of ids) select.add(new Option(id, id));
  const pairTenant = $("pair-tenant");
  pairTenant.replaceChildren();
  for (const id of ids) pairTenant.add(new Option(id, id));
  $("pair-tenant-label").hidden = ids.length < 2;
  renderWorkplaces(cfg);
}

const WORKPLACE_LABELS = { register_deadline: "deadline", extended_logging: "extended", tenant: "tenant" };

function renderWorkplaces(cfg, keepTyped) {
  const tbody = $("workplaces").tBodies[0];
  const typed = {};  // a live update must not take away what the installer is typing
  if (keepTyped) for (const input of tbody.querySelectorAll("[data-key]")) typed[`${input.closest("tr").dataset.serial}\n${input.dataset.key}`] = input.value;
  tbody.replaceChildren();
  const places = { ...(cfg.workplaces || {}) };
  for (const r of window.tsedRegisters || []) if (!(r.serial in places)) places[r.serial] = {};
  for (const [serial, wp] of Object.entries(places)) {
    const has = Object.keys(wp).length > 0;
    if ($("wp-filter").checked && !has) continue;
    const row = tbody.insertRow();
    row.dataset.serial = serial;
    cell(row, serial, "mono");
    for (const [key, kind] of [["register_deadline", "number"], ["extended_logging", "bool"], ["tenant", "text"]]) {
      const td = row.insertCell();
      const input = document.createElement(kind === "bool" ? "select" : "input");
      if (kind === "bool") {
        for (const [value, label] of [["", "–"], ["true", t("yes")], ["false", t("no")]]) input.add(new Option(label, value));
        input.value = wp[key] === undefined ? "" : String(wp[key]);
      } else {
        input.value = wp[key] === undefined ? "" : String(wp[key]);
        input.placeholder = "–";
      }
      input.dataset.key = key;
      if (`${serial}\n${key}` in typed) input.value = typed[`${serial}\n${key}`];
      input.setAttribute("aria-label", `${serial}: ${t(WORKPLACE_LABELS[key])}`);
      input.dataset.field = `workplaces.${serial}.${key}`;
      td.append(input);
    }
  }
  emptyRow(tbody);
}

function checkName() {
  // the server's rule (tsed/config/model.py): 1 to 48 bytes of UTF-8, not only spaces
  const input = $("f-name");
  const bytes = new TextEncoder().encode(input.value.trim()).length;
  let problem = "";
  if (input.value !== "" && input.value.trim() === "") problem = t("name_blank");
  else if (bytes > 48) problem = t("name_long").replace("{n}", bytes);
  input.setCustomValidity(problem);
  return problem === "";
}

function collectValues() {
  const values = {
    name: $("f-name").value.trim() === "" ? $("f-name").value : $("f-name").value.trim(),
    "proxy.host": $("f-proxy-host").value.trim(),
    "multi_tenant": $("f-multi").checked ? "true" : "false",
    "extended_logging": $("f-extended").checked ? "true" : "false",
  };
  if (values["proxy.host"]) {
    values["proxy.port"] = $("f-proxy-port").value.trim();
    values["proxy.username"] = $("f-proxy-user").value.trim();
  }
  const password = $("f-proxy-password").value;
  if (password) values["proxy.password"] = password;
  if ($("f-multi").disabled) delete values.multi_tenant;
  for (const row of $("workplaces").tBodies[0].rows) {
    for (const input of row.querySelectorAll("[data-key]")) {
      const before = ((config.workplaces || {})[row.dataset.serial] || {})[input.dataset.key];
      const now = input.value.trim();
      if (now !== (before === undefined ? "" : String(before))) values[`workplaces.${row.dataset.serial}.${input.dataset.key}`] = now;
    }
  }
  return values;
}

async function save(event) {
  event.preventDefault();
  if (!checkName()) { $("f-name").reportValidity(); markInvalid($("f-name")); return; }
  await guarded(async () => {
    config = await api("PUT", "/config", { values: collectValues() });
    $("f-proxy-password").value = "";
    renderConfig(config);
    show(`${t("saved")} ${t("next_after_save")}`, "ok");
  }, $("save"));
}


async function anlegen() {
  if (!(await confirmDialog(t("confirm_anlegen")))) return;
  await guarded(async () => {
    const result = await api("POST", "/credentials", { confirm: true });
    const created = result.credentials || [];
    $("f-api-key").textContent = created.map((c) => `${c.api_key} (${c.tenant_id})`).join(", ");
    const secret = $("f-api-secret");
    secret.textContent = created.map((c) => c.api_secret).join(", ");
    secret.classList.add("revealed");
    show(t("created_credentials"), "ok");
    const cfg = await api("GET", "/config");
    config = cfg;
    setMode(cfg.mode);
    $("anlegen").disabled = true;
    $("anlegen-why").textContent = t("have_credentials");
    $("save").classList.add("attention");
  }, $("anlegen"));
}

function testLines(list, report) {
  list.replaceChildren();
  for (const step of report.steps) {
    const li = document.createElement("li");
    li.className = `verdict-${step.verdict}`;
    li.textContent = stepLine(step);
    list.append(li);
  }
}

async function connectionTest() {
  const list = $("test-result");
  list.replaceChildren();
  await guarded(async () => {
    show(t("test_running"));
    const report = await api("POST", "/test");
    testLines(list, report);
    show(report.ok ? t("test_passed") : t("test_problems"), report.ok ? "ok" : "error");
  }, $("test"));
}

async function addTenant() {
  await guarded(async () => {
    await api("POST", "/tenants", { id: $("t-id").value.trim(), name: $("t-name").value.trim(), vat_id: $("t-vat").value.trim() || null });
    for (const id of ["t-id", "t-name", "t-vat"]) $(id).value = "";
    config = await api("GET", "/config");
    renderConfig(config);
  }, $("tenant-add"));
}

async function uploadActivation() {
  await guarded(async () => {
    const file = $("activation-file").files[0];
    if (!file) refuse(t("file_missing"), "activation.file");
    const result = await api("POST", "/activation", undefined, await file.text());
    await refresh();
    show(`${t("activated")} ${result.mode}. ${t("next_after_activation")}`, "ok");
  }, $("activation-upload"));
}

async function loadRegisters() {
  const data = await api("GET", "/registers");
  renderRegisters(data.registers);
}

function renderRegisters(registers) {
  liveLast.registers = JSON.stringify(registers);
  const before = (window.tsedRegisters || []).map((r) => r.serial).join("\n");
  window.tsedRegisters = registers.filter((r) => !r.revoked_at);
  noteNewRegisters(window.tsedRegisters);
  const tbody = $("registers").tBodies[0];
  tbody.replaceChildren();
  for (const r of window.tsedRegisters) {
    const row = tbody.insertRow();
    cell(row, r.label || "");
    cell(row, r.serial, "mono");
    cell(row, r.tenant_id);
    cell(row, r.last_seen_at ? time(r.last_seen_at) : t("never"));
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("revoke");
    button.setAttribute("aria-label", `${t("revoke")}: ${registerName(r)}`);
    button.onclick = async () => {
      const name = registerName(r);
      if (!(await confirmDialog(fmt("confirm_revoke", { name })))) return;
      await guarded(async () => {
        await api("DELETE", `/registers/${encodeURIComponent(r.id)}`);
        await loadRegisters();
        show(fmt("revoked", { name }), "ok");
      }, button);
    };
    row.insertCell().append(button);
  }
  emptyRow(tbody);
  const after = window.tsedRegisters.map((r) => r.serial).join("\n");
  if (config && after !== before) renderWorkplaces(config, true);
}

function registerName(r) {
  return r.label || r.serial;
}

function noteNewRegisters(registers) {
  const ids = new Set(registers.map((r) => r.id));
  if (knownRegisters !== null) {
    const fresh = registers.filter((r) => !knownRegisters.has(r.id));
    if (fresh.length) {
      const names = fresh.map(registerName).join(", ");
      show(`${names} ${t("paired")}. ${t("next_after_pair")}`, "ok");
      if (pairingWatch) {
        $("pair-code").classList.add("used");
        const state = $("pair-state");
        state.textContent = `${t("code_used")} – ${names} ${t("paired")}`;
        state.className = "used";
        pairingWatch = null;
      }
    }
  }
  knownRegisters = ids;
}

async function openPairing() {
  await guarded(async () => {
    const tenant = $("pair-tenant");
    const data = await api("POST", "/pairing", $("pair-tenant-label").hidden || !tenant.value ? {} : { tenant: tenant.value });
    $("pairing").hidden = false;
    $("pair-code").textContent = data.code;
    $("pair-expires").textContent = time(data.expires_at);
    $("pair-fp").textContent = data.fingerprint;
    $("pair-code").classList.remove("used");
    $("pair-state").textContent = t("code_valid");
    $("pair-state").className = "";
    pairingWatch = { expires: data.expires_at };
    const img = document.createElement("img");
    img.alt = t("pair_qr");
    img.src = data.qr_image;
    img.id = "pair-qr-img";
    $("pair-qr").replaceChildren(img);
  }, $("pair"));
}

async function loadTse() {
  renderTse(await api("GET", "/tss"));
}

function renderTse(data) {
  liveLast.tss = JSON.stringify(data);
  const tbody = $("tse").tBodies[0];
  tbody.replaceChildren();
  for (const [tenant, tss] of Object.entries(data.tss)) {
    const row = tbody.insertRow();
    cell(row, tenant);
    detailsCell(row, tss.tss_id);
    cell(row, tss.env);
    const state = TEXT[lang][`tss_${tss.state}`] ? t(`tss_${tss.state}`) : tss.state;  // fiskaly's name otherwise
    cell(row, tss.error ? `${state} (${tss.error})` : state);
    cell(row, tss.signature_counter ?? "");
    cell(row, tss.transaction_counter ?? "");
    cell(row, tss.active_transactions ?? "");
  }
  emptyRow(tbody);
}

async function loadOutages() {
  renderOutages((await api("GET", "/outages")).outages);
}

function renderOutages(outages) {
  liveLast.outages = JSON.stringify(outages);
  const tbody = $("outages").tBodies[0];
  tbody.replaceChildren();
  for (const o of outages) {
    const row = tbody.insertRow();
    cell(row, time(o.started_at));
    cell(row, o.ended_at ? time(o.ended_at) : t("running"));
    cell(row, o.reason);
    cell(row, o.count);
  }
  emptyRow(tbody);
}

function renderStatus(status) {
  setMode(status.mode);
  const device = status.device || {};
  $("device-fp").textContent = device.fingerprint || "";
  $("device-key").textContent = device.key_sha256 || "";
  $("receipts-signed").textContent = status.receipts_signed ?? "–";
  const tse = status.tse || {};
  $("tse-available").textContent = tse.available ? t("tse_ok") : `${t("tse_failing")} ${time(tse.since)}: ${tse.reason || ""}`;
  $("tse-available").className = tse.available ? "verdict-ok" : "verdict-fail";
  const pairing = status.pairing || {};
  if (pairingWatch && !$("pair-code").classList.contains("used")) {
    if (pairing.open && pairing.expires_at !== pairingWatch.expires) {
      $("pair-state").textContent = t("code_replaced");
      pairingWatch = null;
    } else if (!pairing.open && Date.now() / 1000 >= pairingWatch.expires) {
      $("pair-state").textContent = t("code_expired");
      pairingWatch = null;
    }
  }
}

function renderLive(data) {
  // registers before the pairing state: a used code shows as used, never as expired
  if (JSON.stringify(data.registers) !== liveLast.registers) renderRegisters(data.registers);
  renderStatus(data.status);
  if (data.tss && JSON.stringify(data.tss) !== liveLast.tss) renderTse(data.tss);
  if (JSON.stringify(data.outages) !== liveLast.outages) renderOutages(data.outages);
  for (const hook of liveHooks) hook(data);
}

function stopLive() {
  if (liveTimer !== null) clearTimeout(liveTimer);
  liveTimer = null;
}

function startLive() {
  stopLive();
  liveTimer = setTimeout(livePoll, 0);
}

async function livePoll() {
  liveTimer = null;
  if (!csrf) return;
  let seconds = 3;
  try {
    const response = await fetch("/setup/live", { credentials: "same-origin" });
    if (response.status === 401) { csrf = null; showLogin(true); return; }
    if (response.ok) {
      const data = await response.json();
      seconds = data.poll_seconds || seconds;
      if (csrf) renderLive(data);
    }
  } catch (_e) {
    // the unit is out of reach for a moment (Wi-Fi, restart): the next poll tries again
  }
  // a tab in the background asks less often; a logout in the meantime ends the loop
  if (csrf && liveTimer === null) liveTimer = setTimeout(livePoll, (document.hidden ? 5 : 1) * seconds * 1000);
}

function dateSeconds(id, endOfDay) {
  const input = $(id);
  if (input.validity.badInput) refuse(t("date_bad"), input.dataset.field);  // half typed
  const value = input.value;
  if (!value) return null;
  const date = new Date(value + (endOfDay ? "T23:59:59" : "T00:00:00"));
  return Math.floor(date.getTime() / 1000);
}

async function startExport() {
  await guarded(async () => {
    const body = { tenant: $("x-tenant").value };
    const from = dateSeconds("x-from", false);
    const to = dateSeconds("x-to", true);
    if (from !== null) body.start_date = from;
    if (to !== null) body.end_date = to;
    let job = await api("POST", "/exports", body);
    const list = $("export-progress");
    $("export-files").replaceChildren();
    $("export-state").textContent = t("export_running");
    for (let i = 0; i < 720 && job.state === "running"; i += 1) {
      list.replaceChildren(...job.progress.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await api("GET", `/exports/${job.id}`);
    }
    list.replaceChildren(...job.progress.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
    if (job.state !== "done") { $("export-state").textContent = ""; throw new UnitError(job.error ? errorText({ error: job.error }) : job.state); }
    $("export-state").textContent = fmt("export_done", { n: job.files.length });
    for (const file of job.files) {
      const link = document.createElement("a");
      link.href = `${API}/exports/${job.id}/files/${file.part}`;
      link.textContent = `${t("download")}: ${t("export")} ${file.part} (${size(file.size)})`;
      link.download = file.name;
      $("export-files").append(link, document.createElement("br"));
    }
  }, $("export"));
}

async function login(event) {
  event.preventDefault();
  const button = $("login-form").querySelector("button[type=submit]");
  await guarded(async () => {
    let data;
    try {
      data = await call("POST", "/setup/login", { password: $("login-password").value });
    } catch (err) {
      $("login-password").value = "";
      const session = await call("GET", "/setup/session").catch(() => null);
      if (session) setLockout(session.lockout);
      if (err.code === "UNAUTHORIZED") throw new UnitError(t("err_login"), null, err.code);
      throw err;
    } finally {
      markInvalid($("login-password"));
    }
    $("login-password").value = "";
    clearInvalid();
    csrf = data.csrf;
    setLockout(null);
    show("");
    await start();
  }, button);
  renderLockout();
}

async function changePassword() {
  const fields = ["pw-current", "pw-new", "pw-repeat"].map((id) => $(id));
  const [current, next, repeat] = fields.map((el) => el.value);
  if (next !== repeat) { show(t("pw_differ"), "error"); markInvalid($("pw-repeat")); return; }
  await guarded(async () => {
    try {
      await api("PUT", "/password", { password: next, current });  // the daemon checks current
    } finally {
      for (const el of fields) el.value = "";
    }
    csrf = null;  // a new password ends every session, this one too
    showLogin(false);
    show(t("pw_changed"), "ok");
  }, $("pw-change"));
}

async function logout() {
  await guarded(async () => {
    await call("POST", "/setup/logout", {});
    csrf = null;
    stopLive();
    show(t("logged_out"), "ok");
    showLogin(false);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang").onclick = () => { lang = lang === "de" ? "en" : "de"; localStorage.setItem("tsed-lang", lang); applyLanguage(); };
  $("login-form").onsubmit = login;
  $("logout").onclick = logout;
  $("config-form").onsubmit = save;
  $("f-name").oninput = checkName;
  $("anlegen").onclick = anlegen;
  $("test").onclick = connectionTest;
  $("tenant-add").onclick = addTenant;
  $("f-multi").onchange = () => { $("tenants-box").hidden = !$("f-multi").checked; };
  $("wp-filter").onchange = () => config && renderWorkplaces(config);
  $("activation-upload").onclick = uploadActivation;
  $("pair").onclick = openPairing;
  $("pw-change").onclick = changePassword;
  $("export").onclick = startExport;
  $("to-dashboard").onclick = () => guarded(openDashboard);
  $("open-form").onclick = () => guarded(openForm, $("open-form"));
  $("wz-skip").onclick = () => guarded(openForm);
  wizardWire();
  guarded(start);
});
