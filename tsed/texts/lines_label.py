"""The printed setup-code label's lines (``tsed-vendor label``), German and English."""

from __future__ import annotations

DE: dict[str, str] = {
    "label.setup": "Im Browser einrichten (im Netz der Filiale):",
    "label.code": "Einrichtungscode für das erste Admin-Passwort:",
    "label.once": "Gilt, bis das Admin-Passwort gesetzt ist. Danach ungültig.",
    "label.written": "Etikett geschrieben: {path} (Einheit {host}, {url}). Der Code steht nur "
    "auf dem Etikett; die Einheit kennt nur seinen Hash.",
}

EN: dict[str, str] = {
    "label.setup": "Set up in the browser (on the shop's LAN):",
    "label.code": "Setup code for the first admin password:",
    "label.once": "Valid until the admin password is set. Void after that.",
    "label.written": "label written: {path} (unit {host}, {url}). The code is on the label "
    "only; the unit keeps only its hash.",
}
