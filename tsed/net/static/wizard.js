// The first-run wizard (Ersteinrichtung): one step per screen, "Schritt N von 8". The unit
// keeps the step (PUT /wizard), so a reload or another browser continues where it was.
"use strict";

const STEPS = 8;
let wizardStep = 0;
let wizardRegisters = null;  // ids when step 7 opened: a new one is "Kasse 1 gekoppelt"

function stepCount(n) {
  $("wz-count").textContent = fmt("step_of", { n, m: STEPS });
}

async function openStep(step) {
  wizardStep = step;
  for (const box of document.querySelectorAll(".wz-step")) box.hidden = Number(box.dataset.step) !== step;
  stepCount(step);
  const enter = STEP_ENTER[step];
  if (enter) await enter();
  const box = document.querySelector(`.wz-step[data-step="${step}"]`);
  if (box) {
    const first = box.querySelector("input:not([type=file]):not([disabled])");
    (first || box.querySelector("h2")).focus({ preventScroll: false });
  }
}

async function goStep(step) {
  await api("PUT", "/wizard", { step });
  await openStep(step);
}

// -- step 1: the first admin password, with the setup code -----------------------------------

async function firstPassword(event) {
  event.preventDefault();
  await guarded(async () => {
    const code = $("fp-code").value.trim();
    const password = $("fp-password").value;
    if (code.replace(/[\s-]/g, "").length !== 8) refuse(t("code_missing"), "setup.code");
    if (password.length < 10) refuse(t("pw_short"), "setup.password");
    if (password !== $("fp-repeat").value) refuse(t("pw_differ"), "setup.repeat");
    let data;
    try {
      data = await call("POST", "/setup/first-password", { code, password });
    } catch (err) {
      const session = await call("GET", "/setup/session").catch(() => null);
      if (session) setLockout(session.lockout);
      if (err.code === "SETUP_CODE_WRONG") err.field = "setup.code";
      if (err.code === "PASSWORD_TOO_WEAK") err.field = "setup.password";
      throw err;
    }
    for (const id of ["fp-code", "fp-password", "fp-repeat"]) $(id).value = "";
    csrf = data.csrf;
    await start();
  }, $("fp-submit"));
  renderLockout();  // a lockout keeps the button disabled, whatever guarded restored
}

// -- step 2: name and proxy --------------------------------------------------------------------

async function enterName() {
  const cfg = await api("GET", "/config");
  config = cfg;
  $("w-name").value = cfg.name || "";
  const proxy = cfg.proxy || {};
  $("w-proxy-host").value = proxy.host || "";
  $("w-proxy-port").value = proxy.port || "";
}

async function saveName(event) {
  event.preventDefault();
  await guarded(async () => {
    const name = $("w-name").value;
    const bytes = new TextEncoder().encode(name.trim()).length;
    if (name.trim() === "") refuse(name === "" ? t("name_missing") : t("name_blank"), "name");
    if (bytes > 48) refuse(fmt("name_long", { n: bytes }), "name");
    const values = { name: name.trim(), "proxy.host": $("w-proxy-host").value.trim() };
    if (values["proxy.host"]) values["proxy.port"] = $("w-proxy-port").value.trim();
    config = await api("PUT", "/config", { values });
    $("unit-name").textContent = config.name ? `– ${config.name}` : "";
    await goStep(3);
  }, $("wz2-next"));
}

// -- step 3: the connection test (starts by itself) --------------------------------------------

async function runWizardTest() {
  const list = $("wz-test-result");
  list.replaceChildren();
  $("wz-test-verdict").textContent = t("test_running");
  await guarded(async () => {
    const report = await api("POST", "/test");
    testLines(list, report);
    $("wz-test-verdict").textContent = report.ok ? t("test_passed") : t("test_problems");
    $("wz-test-verdict").className = report.ok ? "verdict-ok" : "verdict-fail";
  }, $("wz3-again"));
}

// -- step 4: the vendor's activation, or TEST without it -------------------------------------

async function wizardActivation() {
  await guarded(async () => {
    const file = $("w-activation-file").files[0];
    if (!file) refuse(t("file_missing"), "activation.file");
    const result = await api("POST", "/activation", undefined, await file.text());
    setMode(result.mode);
    show(`${t("activated")} ${result.mode}.`, "ok");
    await goStep(5);
  }, $("wz4-upload"));
}

// -- step 5: several tenants decided, Anlegen ----------------------------------------------------

async function enterTenancy() {
  const cfg = await api("GET", "/config");
  config = cfg;
  $("w-multi").checked = !!cfg.multi_tenant;
  $("w-multi").disabled = cfg.credentials_created;
  const button = $("wz5-anlegen");
  let why = "";
  if (!cfg.activation) why = t("wz5_skip_test");
  else if (cfg.credentials_created && (cfg.credentials || []).length) why = t("have_credentials");
  button.disabled = why !== "";
  button.dataset.keepDisabled = why !== "" ? "1" : "";
  $("wz5-why").textContent = why;
}

async function wizardAnlegen() {
  if (!(await confirmDialog(t("confirm_anlegen")))) return;
  await guarded(async () => {
    await saveMulti();
    const result = await api("POST", "/credentials", { confirm: true });
    const secret = $("wz5-secret");
    secret.textContent = `${t("api_secret")}: ${(result.credentials || []).map((c) => c.api_secret).join(", ")}`;
    secret.hidden = false;
    show(t("created_credentials"), "ok");
    await enterTenancy();
  }, $("wz5-anlegen"));
}

async function saveMulti() {
  if ($("w-multi").disabled) return;
  config = await api("PUT", "/config", { values: { multi_tenant: $("w-multi").checked ? "true" : "false" } });
}

// -- step 6: tenants and branches ----------------------------------------------------------------

async function enterTenants() {
  const cfg = await api("GET", "/config");
  config = cfg;
  $("wz6-single").hidden = !!cfg.multi_tenant;
  $("wz6-multi").hidden = !cfg.multi_tenant;
  const tbody = $("wz-tenants").tBodies[0];
  tbody.replaceChildren();
  for (const [id, tenant] of Object.entries(cfg.tenants || {})) {
    const row = tbody.insertRow();
    cell(row, id);
    cell(row, tenant.name);
    cell(row, tenant.vat_id || "");
  }
  emptyRow(tbody);
}

async function wizardTenant() {
  await guarded(async () => {
    const name = $("w-t-name").value.trim();
    await api("POST", "/tenants", { id: $("w-t-id").value.trim(), name, vat_id: $("w-t-vat").value.trim() || null });
    for (const id of ["w-t-id", "w-t-name", "w-t-vat"]) $(id).value = "";
    await enterTenants();
    show(fmt("tenant_added", { name }), "ok");
  }, $("wz6-add"));
}

// -- step 7: pairing, live ------------------------------------------------------------------------

async function enterPairing() {
  const registers = (await api("GET", "/registers")).registers.filter((r) => !r.revoked_at);
  wizardRegisters = new Set(registers.map((r) => r.id));
  renderPaired(registers, []);
  await wizardOpenPairing();
}

async function wizardOpenPairing() {
  await guarded(async () => {
    const data = await api("POST", "/pairing", {});
    $("wz-pair-code").textContent = data.code;
    $("wz-pair-code").classList.remove("used");
    $("wz-pair-expires").textContent = time(data.expires_at);
    $("wz-pair-fp").textContent = data.fingerprint;
    const img = document.createElement("img");
    img.alt = t("pair_qr");
    img.src = data.qr_image;
    img.id = "wz-pair-qr-img";
    $("wz-pair-qr").replaceChildren(img);
    $("wz-pair-state").textContent = t("wz7_waiting");
    $("wz-pair-state").className = "";
  }, $("wz7-new"));
}

function renderPaired(registers, fresh) {
  const list = $("wz-paired");
  list.replaceChildren(...registers.map((r) => Object.assign(document.createElement("li"), { textContent: `${registerName(r)} ${t("paired")}` })));
  $("wz7-next").disabled = registers.length === 0;
  if (fresh.length) {
    const names = fresh.map(registerName).join(", ");
    $("wz-pair-code").classList.add("used");
    $("wz-pair-state").textContent = `${t("code_used")} – ${names} ${t("paired")}`;
    $("wz-pair-state").className = "used";
  }
}

function wizardLive(data) {
  if (!data || wizardStep !== 7 || $("wizard-view").hidden || wizardRegisters === null) return;
  const registers = data.registers.filter((r) => !r.revoked_at);
  const fresh = registers.filter((r) => !wizardRegisters.has(r.id));
  for (const r of fresh) wizardRegisters.add(r.id);
  renderPaired(registers, fresh);
}

// -- step 8: the signed TEST receipt -------------------------------------------------------------

async function signTestReceipt() {
  await guarded(async () => {
    const receipt = await api("POST", "/test-receipt");
    $("wr-register").textContent = receipt.register;
    $("wr-mode").textContent = receipt.mode;
    $("wr-number").textContent = receipt.transaction_number;
    $("wr-counter").textContent = receipt.signature_counter;
    $("wr-time").textContent = time(receipt.time_end);
    $("wr-signature").textContent = receipt.signature;
    $("wr-tss").textContent = receipt.tss_serial_number;
    $("wr-qr").src = receipt.qr_image;
    $("wr-qr-data").textContent = receipt.qr_code_data;
    $("wz-receipt").hidden = false;
    await api("PUT", "/wizard", { step: 8, done: true });  // set up: the overview from now on
    show(t("wz8_signed"), "ok");
    $("wz8-done").focus();
  }, $("wz8-sign"));
}

const STEP_ENTER = {
  2: enterName,
  3: () => runWizardTest(),
  5: enterTenancy,
  6: enterTenants,
  7: enterPairing,
};

function wizardWire() {
  $("first-form").onsubmit = firstPassword;
  $("wz2-form").onsubmit = saveName;
  $("wz3-again").onclick = runWizardTest;
  $("wz3-next").onclick = () => guarded(() => goStep(4), $("wz3-next"));
  $("wz4-upload").onclick = wizardActivation;
  $("wz4-test").onclick = () => guarded(() => goStep(5), $("wz4-test"));
  $("wz5-anlegen").onclick = wizardAnlegen;
  $("wz5-next").onclick = () => guarded(async () => { await saveMulti(); await goStep(6); }, $("wz5-next"));
  $("wz6-add").onclick = wizardTenant;
  $("wz6-next").onclick = () => guarded(() => goStep(7), $("wz6-next"));
  $("wz7-new").onclick = wizardOpenPairing;
  $("wz7-next").onclick = () => guarded(() => goStep(8), $("wz7-next"));
  $("wz8-sign").onclick = signTestReceipt;
  $("wz8-done").onclick = () => guarded(openDashboard, $("wz8-done"));
  liveHooks.push(wizardLive);
}
