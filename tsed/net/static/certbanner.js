// The certificate watch's banner: once a TSS's certificate is within 180, 90 or 30 days of
// its end (or has ended, or could not be read), every view after the login says so at the top
// and names what to do. From GET /health (the nightly housekeeping's reading, counted from
// now); the most urgent certificate first, the TSS ids behind "Details". Loaded after
// setup.js (whose api(), t(), fmt(), day(), $() and liveHooks it uses).
"use strict";

Object.assign(TEXT.de, {
  cb_expires: "Das Zertifikat der TSE von Mandant {tenant} läuft am {day} ab (noch {days} Tage). Rechtzeitig handeln:",
  cb_expires_one: "Das Zertifikat der TSE von Mandant {tenant} läuft am {day} ab (noch 1 Tag). Rechtzeitig handeln:",
  cb_expired: "Das Zertifikat der TSE von Mandant {tenant} ist am {day} abgelaufen: fiskaly signiert mit dieser TSE nicht mehr. Sofort handeln:",
  cb_unreadable: "Das Zertifikat der TSE von Mandant {tenant} konnte nicht gelesen werden. Verbindungstest ausführen (tsectl test).",
  cb_todo: "Eine neue TSE einrichten (tsectl tss setup --new; die Signaturen der alten TSE werden vorher archiviert) und die Außerbetriebnahme der alten sowie die Inbetriebnahme der neuen TSE dem Finanzamt mitteilen (§ 146a Abs. 4 AO).",
  cb_more: "Weitere TSE mit Handlungsbedarf: {n}.",
  cb_tss: "TSS {tss} (Mandant {tenant}): {what}",
});
Object.assign(TEXT.en, {
  cb_expires: "The certificate of tenant {tenant}'s TSE ends on {day} ({days} days left). Act in time:",
  cb_expires_one: "The certificate of tenant {tenant}'s TSE ends on {day} (1 day left). Act in time:",
  cb_expired: "The certificate of tenant {tenant}'s TSE ended on {day}: fiskaly no longer signs with this TSE. Act now:",
  cb_unreadable: "The certificate of tenant {tenant}'s TSE could not be read. Run the connection test (tsectl test).",
  cb_todo: "Set up a new TSE (tsectl tss setup --new; the old TSE's signatures are archived first) and report the old TSE's decommissioning and the new one's commissioning to the tax office (§ 146a (4) AO).",
  cb_more: "More TSEs that need action: {n}.",
  cb_tss: "TSS {tss} (tenant {tenant}): {what}",
});

const CERT_REFRESH_MS = 60000;  // the reading changes once a night; a minute is plenty
let certHealth = null;
let certFetched = 0;
let certFor = null;  // the login (its CSRF token) the reading was made for

function certDue(health) {
  // what the unit counts as due (threshold reached, or unreadable), the fewest days first
  const due = ((health && health.certificates) || []).filter((c) => c.error || c.threshold !== null);
  const rank = (c) => (c.error ? -1e9 : c.days_left);
  return due.sort((a, b) => rank(a) - rank(b));
}

function certLine(cert) {
  if (cert.error) return fmt("cb_unreadable", { tenant: cert.tenant });
  const values = { tenant: cert.tenant, day: day(cert.not_after), days: cert.days_left };
  return `${fmt(cert.days_left < 0 ? "cb_expired" : cert.days_left === 1 ? "cb_expires_one" : "cb_expires", values)} ${t("cb_todo")}`;
}

function renderCertBanner() {
  const banner = $("cert-banner");
  const due = certDue(certHealth);
  if (!csrf || !due.length) { banner.hidden = true; return; }
  const first = due[0];
  $("cert-banner-text").textContent = certLine(first);
  $("cert-banner-more").textContent = due.length > 1 ? fmt("cb_more", { n: due.length - 1 }) : "";
  $("cert-banner-ids").replaceChildren(...due.map((c) => Object.assign(document.createElement("li"), {
    textContent: fmt("cb_tss", { tss: c.tss_id, tenant: c.tenant, what: c.error || day(c.not_after) }),
  })));
  banner.className = "notice-cert " + (first.level === "critical" || first.error ? "critical" : "warn");
  banner.hidden = false;
}

async function refreshCertBanner(force) {
  if (!csrf) { renderCertBanner(); return; }
  if (certFor !== csrf) { certHealth = null; certFor = csrf; force = true; }  // a new login: its own reading
  if (force || Date.now() - certFetched > CERT_REFRESH_MS) {
    certFetched = Date.now();
    try {
      certHealth = await api("GET", "/health");
    } catch (_e) {
      certFetched = 0;  // the banner keeps its last reading; the next live update asks again
    }
  }
  renderCertBanner();
}

// every live update (the views after the login poll it) and a language switch (data null)
liveHooks.push((data) => (data ? refreshCertBanner(false) : renderCertBanner()));
