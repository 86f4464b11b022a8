"""The guided decommissioning's lines (``tsectl decommission``, its errors), German and
English: same ids, same placeholders (:mod:`tsed.texts.lines_de` holds the others)."""

from __future__ import annotations

DE: dict[str, str] = {
    "decommission.damaged": "Die Datei der Außerbetriebnahme ist nicht lesbar ({error}).",
    "decommission.damaged.hint": "Datei {path} für den Service des Herstellers aufbewahren: "
    "sie hält eine Außerbetriebnahme fest. Die Einheit signiert weiter.",
    "decommission.reason_missing": "Grund: bitte den Grund der Außerbetriebnahme angeben "
    "(z. B. „Kasse verkauft“).",
    "decommission.reason_missing.hint": "Er steht in der Mitteilung an das Finanzamt.",
    "decommission.reason_long": "Grund: höchstens {max} Zeichen, angegeben {length}.",
    "decommission.day_bad": "Datum: „{day}“ ist kein Tag (JJJJ-MM-TT).",
    "decommission.day_bad.hint": "Beispiel: --date 2026-12-31; ohne Angabe gilt heute.",
    "decommission.day_future": "Datum: der {day} liegt in der Zukunft.",
    "decommission.day_future.hint": "Am Tag der Außerbetriebnahme starten oder einen "
    "vergangenen Tag nennen.",
    "decommission.kind_unknown": "Art: „{kind}“ gibt es nicht (register, tss, exchange, unit).",
    "decommission.busy": "Eine Außerbetriebnahme ({kind}) ist im Gang: {state}.",
    "decommission.busy.hint": "Verfolgen: tsectl decommission status; fortsetzen: "
    "tsectl decommission resume.",
    "decommission.confirm": "Bestätigung: zum Bestätigen genau „{phrase}“ eingeben (das lässt "
    "sich nicht rückgängig machen).",
    "decommission.confirm.hint": "Zuerst werden Archiv, Prüfung und Kopie außer Haus "
    "erledigt, danach der unumkehrbare Schritt.",
    "decommission.nothing": "Keine Außerbetriebnahme zum Fortsetzen.",
    "decommission.nothing.hint": "Eine starten: tsectl decommission register|tss|exchange|unit.",
    "decommission.register_unknown": "Die Kasse {id} ist hier nicht gekoppelt.",
    "decommission.register_unknown.hint": "Die Kassen zeigt: tsectl registers",
    "decommission.tenant_unknown": "Mandant „{tenant}“ hat hier keine TSS.",
    "decommission.tenant_unknown.hint": "Die TSS je Mandant zeigt: tsectl status",
    "decommission.still_running": "Die Außerbetriebnahme läuft noch.",
    "decommission.still_running.hint": "Sie läuft in der Einheit weiter: "
    "tsectl decommission status",
    "decommission.step_failed": "Schritt {number} ({step}) fehlgeschlagen: {detail}",
    "decommission.step_failed.hint": "Ursache beheben, dann: tsectl decommission resume "
    "(tsectl decommission status zeigt alle Schritte).",
}

EN: dict[str, str] = {
    "decommission.damaged": "The decommissioning's file cannot be read ({error}).",
    "decommission.damaged.hint": "Keep {path} for the vendor's service; it records a "
    "decommissioning. The unit goes on signing.",
    "decommission.reason_missing": "reason: give the reason of the decommissioning "
    "(e.g. „Kasse verkauft“).",
    "decommission.reason_missing.hint": "It goes into the notification to the tax office.",
    "decommission.reason_long": "reason: at most {max} characters, got {length}.",
    "decommission.day_bad": "date: '{day}' is not a day (YYYY-MM-DD).",
    "decommission.day_bad.hint": "Example: --date 2026-12-31; without it, today.",
    "decommission.day_future": "date: {day} lies in the future.",
    "decommission.day_future.hint": "Decommission on the day it happens, or name a past day.",
    "decommission.kind_unknown": "kind: '{kind}' is not one of register, tss, exchange, unit.",
    "decommission.busy": "A decommissioning ({kind}) is under way: {state}.",
    "decommission.busy.hint": "Follow it with tsectl decommission status; resume it with "
    "tsectl decommission resume.",
    "decommission.confirm": "confirm: type exactly „{phrase}“ to confirm (this cannot be undone).",
    "decommission.confirm.hint": "The archive is completed and checked first; the "
    "irreversible step comes after.",
    "decommission.nothing": "No decommissioning to resume.",
    "decommission.nothing.hint": "Start one with tsectl decommission register|tss|exchange|unit.",
    "decommission.register_unknown": "Register {id} is not paired here.",
    "decommission.register_unknown.hint": "tsectl registers lists them.",
    "decommission.tenant_unknown": "Tenant '{tenant}' has no TSS here.",
    "decommission.tenant_unknown.hint": "tsectl status shows the TSS per tenant.",
    "decommission.still_running": "The decommissioning is still running.",
    "decommission.still_running.hint": "It goes on in the unit: tsectl decommission status",
    "decommission.step_failed": "Step {number} ({step}) failed: {detail}",
    "decommission.step_failed.hint": "Fix the cause, then: tsectl decommission resume "
    "(tsectl decommission status shows every step).",
}
