// What every part of the setup page shares: texts, formats (German dates, sizes), the calls to
// the unit, errors shown with the faulty field highlighted and focused, busy buttons.
"use strict";

let lang = localStorage.getItem("tsed-lang") || "de";
let csrf = null;

const $ = (id) => document.getElementById(id);
const t = (key) => (TEXT[lang] && TEXT[lang][key]) || TEXT.de[key] || key;
const API = "/setup/api/admin/v1";

function fmt(key, values) {
  let text = t(key);
  for (const [name, value] of Object.entries(values || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}

function locale() {
  return lang === "de" ? "de-DE" : "en-GB";
}

// a time from the unit (Unix seconds or ISO 8601) in local time: "1.12.2026, 23:07:24"
function time(value) {
  if (value === null || value === undefined || value === "" || value === 0) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(locale());
}

function day(value) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleDateString(locale());
}

// a calendar day of the unit ("2027-01-02", no time zone) as people read it: "02.01.2027"
function calendarDay(iso) {
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!parts) return iso ? String(iso) : "–";
  return lang === "de" ? `${parts[3]}.${parts[2]}.${parts[1]}` : `${parts[3]}/${parts[2]}/${parts[1]}`;
}

// sizes as people read them: "20 KB", "1,5 MB"
function size(bytes) {
  const number = (value, digits) => value.toLocaleString(locale(), { maximumFractionDigits: digits });
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${number(Math.round(bytes / 1024), 0)} KB`;
  return `${number(bytes / (1024 * 1024), 1)} MB`;
}

function show(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = !text;
}

// an error answer of the unit in the page's language: error.text[lang] when the unit sends it,
// else the page's own text for the error's code, else the unit's message and hint
function errorText(body, status) {
  const err = body && body.error;
  if (!err) return fmt("err_http", { status });
  const own = err.text && err.text[lang];
  if (own && own.message) {
    const label = own.field_label ? `${own.field_label}: ` : "";
    return `${label}${own.message}${own.hint ? " – " + own.hint : ""}`;
  }
  if (TEXT[lang][`err_${err.code}`]) return t(`err_${err.code}`);
  return err.hint ? `${err.message} – ${err.hint}` : err.message;
}

class UnitError extends Error {
  constructor(message, field, code, details) {
    super(message);
    this.field = field || null;
    this.code = code || null;
    this.details = details || {};
  }
}

function clearInvalid() {
  for (const el of document.querySelectorAll("[aria-invalid=true]")) {
    el.removeAttribute("aria-invalid");
    el.classList.remove("invalid");
  }
}

// the input for a config path ("proxy.port") or an element: marked and focused if visible
function markInvalid(target) {
  const inputs = typeof target === "string" ? [...document.querySelectorAll(`[data-field="${CSS.escape(target)}"]`)] : [target];
  const input = inputs.find((el) => el && el.offsetParent !== null);
  if (!input) return false;
  input.setAttribute("aria-invalid", "true");
  input.classList.add("invalid");
  input.focus();
  return true;
}

// the config path an older answer names only in its message ("proxy.port: 70000 is not …")
function fieldOf(message) {
  const match = /^([a-z_]+(?:\.[A-Za-z0-9_ -]+)*): /.exec(message || "");
  return match && document.querySelector(`[data-field="${CSS.escape(match[1])}"]`) ? match[1] : null;
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
    throw new UnitError(t("session_ended"));
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    throw new UnitError(errorText(data, response.status), err.field || fieldOf(err.message), err.code, err.details);
  }
  return data;
}

const api = (method, path, body, raw) => call(method, API + path, body, raw);

// one action of the installer: a fresh message, the button disabled while it runs, an error
// shown in the page's language with its field highlighted and focused
async function guarded(action, button) {
  show("");
  clearInvalid();
  const label = button ? button.textContent : "";
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.dataset.busy = "1";
  }
  try {
    await action();
  } catch (err) {
    show(err.message, "error");
    if (err.field) markInvalid(err.field);
  } finally {
    if (button) {
      button.removeAttribute("aria-busy");
      delete button.dataset.busy;
      button.textContent = label;
      if (!button.dataset.keepDisabled) button.disabled = false;
    }
  }
}

function refuse(text, field) {
  throw new UnitError(text, field);
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function emptyRow(tbody) {
  if (tbody.rows.length) return;
  const columns = tbody.closest("table").tHead.rows[0].cells.length;
  const td = tbody.insertRow().insertCell();
  td.colSpan = columns;
  td.className = "empty";
  td.textContent = t("empty");
}

function detailsCell(row, text) {
  const td = row.insertCell();
  const box = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = t("details");
  const value = document.createElement("span");
  value.className = "mono";
  value.textContent = text || "";
  box.append(summary, value);
  td.append(box);
  return td;
}

function confirmDialog(text) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    dialog.onclose = () => resolve(dialog.returnValue === "yes");
    dialog.showModal();
  });
}

function applyTexts() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
  for (const el of document.querySelectorAll("[data-step-count]")) el.textContent = fmt("step_of", { n: el.dataset.stepCount, m: 8 });
  $("lang").textContent = lang === "de" ? "English" : "Deutsch";
  $("lang").lang = lang === "de" ? "en" : "de";
}

// one step of the connection test in the page's language: its title, what it found (the
// step's detail_id with its detail_args, from text.js) and on trouble what to do
function stepLine(step) {
  const key = (step.detail_id || "").split(".").join("_");
  const own = (name) => Boolean(TEXT[lang] && TEXT[lang][name]);
  const title = own("step_" + step.step) ? t("step_" + step.step) : step.title;
  const tenant = step.tenant ? ` [${step.tenant}]` : "";
  let detail = own(key) ? fmt(key, step.detail_args) : step.detail || "";
  const code = (step.detail_args || {}).code;
  if (step.detail_id === "conn.error" && code && own("err_" + code)) detail = t("err_" + code);
  const trouble = step.verdict === "warn" || step.verdict === "fail";
  let hint = trouble && step.hint ? step.hint : "";
  if (own(key)) hint = trouble && own(key + "_hint") ? fmt(key + "_hint", step.detail_args) : "";
  return `${t("verdict_" + step.verdict)} · ${title}${tenant}: ${detail}${hint ? " → " + hint : ""}`;
}
