// The setup page of the TSE-LAN unit. Every rule is enforced by the daemon; this script only
// shows its answers. Talks to /setup/api/admin/v1/... (the same admin API tsectl uses).
"use strict";

const TEXT = {
  de: {
    title: "TSE-Einheit-LAN Einrichtung", logout: "Abmelden", login: "Anmelden", password: "Passwort",
    test_notice: "Die technische Sicherheitseinrichtung (fiskaly-TSE) ist im Test-Modus eingerichtet",
    no_password: "Es ist noch kein Administrator-Passwort gesetzt. Setzen Sie es an der seriellen Konsole (Befehl „password“) oder auf der Einheit mit „tsectl password“.",
    config: "Konfiguration (KassenSichV-Fiskaly)", name: "Name", usage: "Verwendung", usage_client: "clientseitig",
    created: "Erstellt am", url: "URL", mode: "Modus", mode_hint: "Nur der Hersteller schaltet auf LIVE (Freischaltung).",
    proxy_host: "Proxy-Host", proxy_port: "Proxy-Port", proxy_user: "Proxy-Benutzer", proxy_password: "Proxy-Passwort",
    api_key: "API-Key", api_secret: "API-Secret", anlegen: "Anlegen", multi: "Mehrere Mandanten in Filialkette",
    extended: "Erweitertes Logging", tenants: "Mandanten", vat: "USt-IdNr.", add: "Hinzufügen",
    scope: "Filiale: Geltungsbereich", scope_hint: "Die Konfiguration gilt kettenweit; einzelne Arbeitsplätze (Kassen) können abweichende Einstellungen haben.",
    wp_filter: "Mit Arbeitsplatzeinstellungen", serial: "Kassen-Seriennummer", deadline: "Frist (s)", tenant: "Mandant",
    save: "Speichern", test: "Test", activation: "Freischaltung durch den Hersteller", upload: "Einspielen",
    registers: "Kassen", label: "Bezeichnung", last_seen: "Zuletzt gesehen", pair: "Kopplung öffnen",
    pair_code: "Kopplungscode", valid_until: "gültig bis", fingerprint: "Zertifikat", tse: "TSE-Status",
    env: "Umgebung", state: "Zustand", sig_counter: "Signaturzähler", tx_counter: "Transaktionen", open_tx: "Offen",
    outages: "Ausfalljournal", from: "Von", to: "Bis", reason: "Grund", count: "Belege", export: "TAR-Export",
    export_start: "Export starten", no: "Nein", yes: "Ja", revoke: "Entfernen", saved: "Gespeichert.",
    pw_title: "Admin-Passwort ändern", pw_current: "Aktuelles Passwort", pw_new: "Neues Passwort",
    pw_repeat: "Wiederholen", pw_change: "Passwort ändern", pw_differ: "Die beiden Eingaben sind verschieden.",
    pw_changed: "Passwort geändert. Bitte mit dem neuen Passwort anmelden.",
    not_saved: "Anlegen ist erst möglich, nachdem die Konfiguration einmal gespeichert wurde.",
    no_activation: "Die Freischaltung durch den Hersteller fehlt: Anlegen ist erst danach möglich.",
    have_credentials: "Zugangsdaten sind angelegt.",
    confirm_anlegen: "Jetzt fiskaly-Zugangsdaten anlegen? Das API-Secret wird nur einmal angezeigt.",
    created_credentials: "Zugangsdaten angelegt. Notieren Sie das API-Secret – es wird nur jetzt angezeigt. Speichern Sie dann die Konfiguration und starten Sie den Test.",
    multi_locked: "Gesperrt: Zugangsdaten existieren bereits (ändern nur über Zurücksetzen).",
    multi_open: "Vor dem Anlegen entscheiden.",
    activated: "Freigeschaltet für", not_activated: "Noch nicht freigeschaltet.",
    confirm_revoke: "Kasse entfernen? Sie muss danach neu gekoppelt werden.",
    never: "nie", running: "läuft", download: "Herunterladen", test_running: "Test läuft …",
    logged_out: "Abgemeldet.", session_ended: "Die Sitzung ist abgelaufen. Bitte neu anmelden.",
    name_hint: "höchstens 48 Bytes (ä, ö, ü, ß zählen doppelt)",
    name_blank: "Bitte einen Namen eingeben: nur Leerzeichen sind kein Name.",
    name_long: "Der Name ist zu lang: höchstens 48 Bytes (ä, ö, ü, ß zählen doppelt), jetzt {n}.",
    activation_file: "Freischaltungsdatei (vom Hersteller)",
    cert_fp: "Zertifikat (SHA-256, wie im Browser)", key_hash: "Schlüssel-Hash (für Kassen, die den Schlüssel prüfen)",
    receipts_signed: "Signierte Belege seit dem Start", live_hint: "aktualisiert sich selbst",
    tse_ok: "TSE erreichbar", tse_failing: "TSE gestört seit",
    code_valid: "Code gültig – an der Kasse eingeben oder scannen.", code_used: "Code verwendet",
    paired: "gekoppelt", code_expired: "Code abgelaufen – bei Bedarf neu öffnen.",
    code_replaced: "Dieser Code gilt nicht mehr: ein neuer wurde geöffnet (tsectl oder Konsole).",
  },
  en: {
    title: "TSE-LAN unit setup", logout: "Log out", login: "Log in", password: "Password",
    test_notice: "The technical security device (fiskaly TSE) is set up in test mode",
    no_password: "No admin password is set yet. Set it on the serial console (command 'password') or on the unit with 'tsectl password'.",
    config: "Configuration (KassenSichV-Fiskaly)", name: "Name", usage: "Usage", usage_client: "client side",
    created: "Created on", url: "URL", mode: "Mode", mode_hint: "Only the vendor switches to LIVE (activation).",
    proxy_host: "Proxy host", proxy_port: "Proxy port", proxy_user: "Proxy user", proxy_password: "Proxy password",
    api_key: "API key", api_secret: "API secret", anlegen: "Create (Anlegen)", multi: "Several tenants in the chain",
    extended: "Extended logging", tenants: "Tenants", vat: "VAT ID", add: "Add",
    scope: "Branch: scope", scope_hint: "The configuration applies chain-wide; single workplaces (registers) may have their own settings.",
    wp_filter: "With workplace settings", serial: "Register serial", deadline: "Deadline (s)", tenant: "Tenant",
    save: "Save", test: "Test", activation: "Vendor activation", upload: "Import",
    registers: "Registers", label: "Label", last_seen: "Last seen", pair: "Open pairing",
    pair_code: "Pairing code", valid_until: "valid until", fingerprint: "Certificate", tse: "TSE status",
    env: "Environment", state: "State", sig_counter: "Signature counter", tx_counter: "Transactions", open_tx: "Open",
    outages: "Outage journal", from: "From", to: "To", reason: "Reason", count: "Receipts", export: "TAR export",
    export_start: "Start export", no: "No", yes: "Yes", revoke: "Remove", saved: "Saved.",
    pw_title: "Change the admin password", pw_current: "Current password", pw_new: "New password",
    pw_repeat: "Repeat", pw_change: "Change password", pw_differ: "The two entries differ.",
    pw_changed: "Password changed. Please log in with the new password.",
    not_saved: "'Anlegen' is possible only after the configuration was saved once.",
    no_activation: "The vendor activation is missing: 'Anlegen' is possible only after it.",
    have_credentials: "Credentials exist.",
    confirm_anlegen: "Create the fiskaly credentials now? The API secret is shown only once.",
    created_credentials: "Credentials created. Write down the API secret – it is shown only now. Then save the configuration and run the test.",
    multi_locked: "Locked: credentials exist already (change only through a reset).",
    multi_open: "Decide before 'Anlegen'.",
    activated: "Activated for", not_activated: "Not activated yet.",
    confirm_revoke: "Remove the register? It has to be paired again.",
    never: "never", running: "running", download: "Download", test_running: "Test running …",
    logged_out: "Logged out.", session_ended: "The session has ended. Please log in again.",
    name_hint: "at most 48 bytes (ä, ö, ü, ß count twice)",
    name_blank: "Please enter a name: only spaces is not a name.",
    name_long: "The name is too long: at most 48 bytes (ä, ö, ü, ß count twice), now {n}.",
    activation_file: "Activation file (from the vendor)",
    cert_fp: "Certificate (SHA-256, as in the browser)", key_hash: "Key hash (for registers that pin the key)",
    receipts_signed: "Receipts signed since the start", live_hint: "updates itself",
    tse_ok: "TSE reachable", tse_failing: "TSE failing since",
    code_valid: "Code valid – enter or scan it at the register.", code_used: "Code used",
    paired: "paired", code_expired: "Code expired – open a new one if needed.",
    code_replaced: "This code is no longer valid: a new one was opened (tsectl or console).",
  },
};

let lang = localStorage.getItem("tsed-lang") || "de";
let csrf = null;
let config = null;
// live updates: the page polls /setup/live (see tsed/net/live.py for why polling, not SSE)
let liveTimer = null;
let liveLast = {};  // what was rendered last, per part (re-rendered only when it changed)
let knownRegisters = null;  // ids seen so far: a new one is announced ("Kasse 1 gekoppelt")
let pairingWatch = null;  // the window this page opened: {expires, known}

const $ = (id) => document.getElementById(id);
const t = (key) => (TEXT[lang] && TEXT[lang][key]) || TEXT.de[key] || key;
const API = "/setup/api/admin/v1";

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  $("lang").textContent = lang === "de" ? "English" : "Deutsch";
  if (config) renderConfig(config);
}

function show(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function errorText(body, status) {
  const err = body && body.error;
  if (!err) return `HTTP ${status}`;
  return err.hint ? `${err.message} – ${err.hint}` : err.message;
}

async function call(method, path, body, raw) {
  const headers = {};
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let payload;
  if (raw !== undefined) {
    payload = raw;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  try { data = await response.json(); } catch (_e) { data = null; }
  if (response.status === 401 && path.startsWith(API)) {
    csrf = null;
    showLogin(true);
    throw new Error(t("session_ended"));
  }
  if (!response.ok) throw new Error(errorText(data, response.status));
  return data;
}

const api = (method, path, body, raw) => call(method, API + path, body, raw);

async function guarded(action) {
  show("");  // a fresh answer for every action, never the previous one
  try {
    await action();
  } catch (err) {
    show(err.message, "error");
  }
}

function time(seconds) {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toLocaleString(lang === "de" ? "de-DE" : "en-GB");
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function setMode(mode) {
  for (const badge of [$("mode-badge"), $("f-mode")]) {
    badge.textContent = mode;
    badge.className = "badge " + (mode === "TEST" ? "badge-test" : "badge-live");
    badge.hidden = false;
  }
  $("test-notice").hidden = mode !== "TEST";
}

function showLogin(ended) {
  stopLive();
  $("login-view").hidden = false;
  $("app-view").hidden = true;
  $("logout").hidden = true;
  if (ended) show(t("session_ended"), "error");
}

async function start() {
  applyLanguage();
  const session = await call("GET", "/setup/session");
  if (session.mode) setMode(session.mode);  // the TEST banner on the login page too
  if (!session.logged_in) {
    $("no-password").hidden = session.password_set;
    showLogin(false);
    return;
  }
  csrf = session.csrf;
  let failure = null;
  try {
    await refresh();  // the form appears filled in, never half rendered (buttons, reasons)
  } catch (err) {
    failure = err;
  }
  if (csrf) {  // still logged in (a 401 on the way shows the login again)
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("logout").hidden = false;
    startLive();
  }
  if (failure) throw failure;
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
  $("f-created").textContent = cfg.created_at || "–";
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
  $("f-api-key").textContent = (cfg.credentials || []).map((c) => `${c.api_key} (${c.tenant})`).join(", ") || "–";
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
  const select = $("x-tenant");
  select.replaceChildren();
  const ids = cfg.multi_tenant && Object.keys(tenants).length ? Object.keys(tenants) : ["default"];
  for (const id of ids) select.add(new Option(id, id));
  const pairTenant = $("pair-tenant");
  pairTenant.replaceChildren();
  for (const id of ids) pairTenant.add(new Option(id, id));
  pairTenant.hidden = ids.length < 2;
  renderWorkplaces(cfg);
}

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
      input.setAttribute("aria-label", `${serial} ${key}`);
      td.append(input);
    }
  }
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
  if (!checkName()) { $("f-name").reportValidity(); $("f-name").focus(); return; }
  await guarded(async () => {
    config = await api("PUT", "/config", { values: collectValues() });
    $("f-proxy-password").value = "";
    renderConfig(config);
    show(t("saved"), "ok");
  });
}

function confirmDialog(text) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    dialog.onclose = () => resolve(dialog.returnValue === "yes");
    dialog.showModal();
  });
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
  });
}

async function connectionTest() {
  const list = $("test-result");
  list.replaceChildren();
  await guarded(async () => {
    show(t("test_running"));
    const report = await api("POST", "/test");
    for (const step of report.steps) {
      const li = document.createElement("li");
      li.className = `verdict-${step.verdict}`;
      const tenant = step.tenant ? ` [${step.tenant}]` : "";
      li.textContent = `${step.verdict.toUpperCase()} · ${step.title}${tenant}: ${step.detail || ""}${step.hint ? " → " + step.hint : ""}`;
      list.append(li);
    }
    show(report.lines[0], report.ok ? "ok" : "error");
  });
}

async function addTenant() {
  await guarded(async () => {
    await api("POST", "/tenants", { id: $("t-id").value.trim(), name: $("t-name").value.trim(), vat_id: $("t-vat").value.trim() || null });
    for (const id of ["t-id", "t-name", "t-vat"]) $(id).value = "";
    config = await api("GET", "/config");
    renderConfig(config);
  });
}

async function uploadActivation() {
  const file = $("activation-file").files[0];
  if (!file) return;
  await guarded(async () => {
    const result = await api("POST", "/activation", undefined, await file.text());
    show(`${t("activated")} ${result.mode}. ${result.hint || ""}`, "ok");
    await refresh();
  });
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
    button.onclick = async () => {
      if (!(await confirmDialog(t("confirm_revoke")))) return;
      await guarded(async () => { await api("DELETE", `/registers/${encodeURIComponent(r.id)}`); await loadRegisters(); });
    };
    row.insertCell().append(button);
  }
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
      show(`${names} ${t("paired")}`, "ok");
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
    const data = await api("POST", "/pairing", tenant.hidden || !tenant.value ? {} : { tenant: tenant.value });
    $("pairing").hidden = false;
    $("pair-code").textContent = data.code;
    $("pair-expires").textContent = time(data.expires_at);
    $("pair-fp").textContent = data.fingerprint;
    $("pair-code").classList.remove("used");
    $("pair-state").textContent = t("code_valid");
    $("pair-state").className = "";
    pairingWatch = { expires: data.expires_at };
    const img = document.createElement("img");
    img.alt = "QR";
    img.src = data.qr_image;
    img.id = "pair-qr-img";
    $("pair-qr").replaceChildren(img);
  });
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
    cell(row, tss.tss_id, "mono");
    cell(row, tss.env);
    cell(row, tss.error ? `${tss.state} (${tss.error})` : tss.state);
    cell(row, tss.signature_counter ?? "");
    cell(row, tss.transaction_counter ?? "");
    cell(row, tss.active_transactions ?? "");
  }
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
}

function renderStatus(status) {
  setMode(status.mode);
  const device = status.device || {};
  $("device-fp").textContent = device.fingerprint || "";
  $("device-key").textContent = device.key_sha256 || "";
  $("receipts-signed").textContent = status.receipts_signed ?? "–";
  const tse = status.tse || {};
  $("tse-available").textContent = tse.available ? t("tse_ok") : `${t("tse_failing")} ${tse.since || "?"}: ${tse.reason || ""}`;
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
  const value = $(id).value;
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
    for (let i = 0; i < 720 && job.state === "running"; i += 1) {
      list.replaceChildren(...job.progress.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await api("GET", `/exports/${job.id}`);
    }
    list.replaceChildren(...job.progress.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
    if (job.state !== "done") throw new Error(job.error ? errorText({ error: job.error }) : job.state);
    for (const file of job.files) {
      const link = document.createElement("a");
      link.href = `${API}/exports/${job.id}/files/${file.part}`;
      link.textContent = `${t("download")}: ${file.name} (${file.size} B)`;
      link.download = file.name;
      $("export-files").append(link, document.createElement("br"));
    }
  });
}

async function login(event) {
  event.preventDefault();
  await guarded(async () => {
    const data = await call("POST", "/setup/login", { password: $("login-password").value });
    $("login-password").value = "";
    csrf = data.csrf;
    show("");
    await start();
  });
}

async function changePassword() {
  const fields = ["pw-current", "pw-new", "pw-repeat"].map((id) => $(id));
  const [current, next, repeat] = fields.map((el) => el.value);
  if (next !== repeat) { show(t("pw_differ"), "error"); return; }
  await guarded(async () => {
    try {
      await api("PUT", "/password", { password: next, current });  // the daemon checks current
    } finally {
      for (const el of fields) el.value = "";
    }
    csrf = null;  // a new password ends every session, this one too
    showLogin(false);
    show(t("pw_changed"), "ok");
  });
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
  guarded(start);
});
