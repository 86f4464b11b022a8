"""The label of every configuration setting, German (the vendor mask's field names) and English.

Keyed by the dotted path with ``*`` for an id (``tenants.*.name``); :func:`pattern` turns a
concrete path (``tenants.acme.name``) into its key.
"""

from __future__ import annotations

FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Name", "Name"),
    "created_at": ("Erstellt am", "Created at"),
    "language": ("Sprache", "Language"),
    "proxy": ("Proxy", "Proxy"),
    "proxy.host": ("Proxy", "Proxy host"),
    "proxy.port": ("Proxy-Port", "Proxy port"),
    "proxy.username": ("Proxy-Benutzer", "Proxy user"),
    "proxy.password": ("Proxy-Passwort", "Proxy password"),
    "multi_tenant": ("Mehrere Mandanten in Filialkette", "Several tenants in the chain"),
    "tenants": ("Mandanten", "Tenants"),
    "tenants.*": ("Mandant", "Tenant"),
    "tenants.*.name": ("Mandant: Firmenname", "Tenant: company name"),
    "tenants.*.vat_id": ("Mandant: USt-IdNr.", "Tenant: VAT ID"),
    "extended_logging": ("Erweitertes Logging", "Extended logging"),
    "register_deadline": ("Antwortfrist der Kasse", "Register deadline"),
    "workplaces": ("Arbeitsplätze", "Workplaces"),
    "workplaces.*": ("Arbeitsplatz", "Workplace"),
    "workplaces.*.register_deadline": (
        "Arbeitsplatz: Antwortfrist der Kasse",
        "Workplace: register deadline",
    ),
    "workplaces.*.extended_logging": (
        "Arbeitsplatz: Erweitertes Logging",
        "Workplace: extended logging",
    ),
    "workplaces.*.tenant": ("Arbeitsplatz: Mandant", "Workplace: tenant"),
    "pairing_minutes": ("Kopplungsfenster (Minuten)", "Pairing window (minutes)"),
    "abandon_minutes": (
        "Verlassene Vorgänge abbrechen nach (Minuten)",
        "Cancel abandoned transactions after (minutes)",
    ),
    "max_open_per_register": (
        "Offene Vorgänge je Kasse (höchstens)",
        "Open transactions per register (at most)",
    ),
    "archive_hour": ("Stunde des Archivlaufs", "Hour of the archive run"),
    "console_port": ("Serielle Konsole", "Serial console"),
    "telemetry": ("Betriebsdaten", "Telemetry"),
    "telemetry.enabled": ("Betriebsdaten senden", "Send telemetry"),
    "telemetry.gateway": ("Betriebsdaten: Pushgateway", "Telemetry: Pushgateway"),
    "telemetry.interval": ("Betriebsdaten: Abstand (Sekunden)", "Telemetry: interval (s)"),
    "telemetry.chain": ("Betriebsdaten: Filialkette", "Telemetry: chain"),
    "telemetry.shop": ("Betriebsdaten: Filiale", "Telemetry: shop"),
    "telemetry.auth": ("Betriebsdaten: Anmeldeart", "Telemetry: authentication"),
    "telemetry.username": ("Betriebsdaten: Benutzer", "Telemetry: user"),
    "telemetry.ca_file": ("Betriebsdaten: CA-Datei", "Telemetry: CA file"),
    "telemetry.token": ("Betriebsdaten: Zugangsdaten", "Telemetry: credential"),
    "offbox": ("Archiv: Kopie außer Haus", "Archive: off-box copy"),
    "offbox.repository": ("Archiv: Sicherungsziel", "Archive: backup target"),
    "offbox.user": ("Archiv: Benutzer am Ziel", "Archive: user at the target"),
    "offbox.host_key": ("Archiv: SSH-Hostschlüssel", "Archive: SSH host key"),
    "offbox.ca_file": ("Archiv: CA-Datei", "Archive: CA file"),
    "offbox.check_subset": ("Archiv: Prüfanteil", "Archive: check share"),
    "offbox.timeout_minutes": ("Archiv: Zeitlimit (Minuten)", "Archive: time limit (minutes)"),
    "offbox.password": ("Archiv: Repository-Passwort", "Archive: repository password"),
    "offbox.credential": ("Archiv: Zugangsdaten des Ziels", "Archive: target credential"),
    # what GET /admin/v1/config shows beside the settings (tsed.config.view)
    "usage": ("Verwendung", "Usage"),
    "mode": ("Modus", "Mode"),
    "saved": ("Gespeichert", "Saved"),
    "proxy_password_set": ("Proxy-Passwort gesetzt", "Proxy password set"),
    "credentials_created": ("Zugangsdaten angelegt", "Credentials created"),
    "activation": ("Freischaltung", "Activation"),
    "credentials": ("Zugangsdaten", "Credentials"),
    "url": ("URL", "URL"),
}


def pattern(path: str) -> str:
    """The key of ``path`` in :data:`FIELDS`: ``tenants.acme.name`` → ``tenants.*.name``."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] in ("tenants", "workplaces"):
        return ".".join([parts[0], "*", *parts[2:]])
    return path
