"""tsectl's help in German: every command's and option's help text by id (``tsectl --help``,
``tsectl <command> --help``; English is the code's own help text, ``--lang en``).

The id is ``help.`` + the command path + the option: ``help.status`` (the command in the list
of commands), ``help.pair.--minutes`` (an option), ``help.config.key`` (a positional
argument), ``help.archive.run.--no-wait``, ``help.@description`` and ``help.@epilog`` (the
top of ``tsectl --help``). An option that reads the same under every command has one entry
without the path (``help.--config``). :mod:`tsed.cli.helptext` puts them in;
``tests/cli/test_helptext.py`` walks every command's help in German.
"""

from __future__ import annotations

HELP: dict[str, str] = {
    "help.@description": "Die TSE-Einheit-LAN einrichten und prüfen (spricht mit dem laufenden "
    "tsed).",
    "help.@epilog": "Rückgabewerte: 0 erfolgreich, 1 fehlgeschlagen, 2 falscher Aufruf.",
    # options that read the same under every command
    "help.--json": "JSON ausgeben (für Skripte)",
    "help.--lang": "Sprache der Ausgabe (Umgebung TSED_LANG)",
    "help.--socket": "Admin-Socket von tsed (Vorgabe: STATE_DIR/admin.sock)",
    "help.--state-dir": "Zustandsverzeichnis von tsed (Umgebung TSED_STATE_DIR, Vorgabe "
    "/var/lib/tsed)",
    "help.--config": "Konfigurationsdatei (Umgebung TSED_CONFIG, Vorgabe /etc/tsed/tsed.toml)",
    "help.--no-wait": "nur starten, nicht auf das Ende warten",
    "help.--wait": "nach so vielen Sekunden nicht länger warten",
    "help.--reason": "für die Mitteilung an das Finanzamt",
    "help.--date": "der Tag der Außerbetriebnahme (Vorgabe: heute)",
    "help.--confirm": "der Bestätigungstext, den die Einheit verlangt",
    "help.--password-file": "das Passwort der Sicherung aus DATEI lesen",
    # the commands
    "help.status": "Modus, Zustand der TSE, Kassen, Fingerabdruck der Einheit",
    "help.pair": "ein Kopplungsfenster öffnen und den Einmal-Code zeigen",
    "help.registers": "gekoppelte Kassen auflisten, eine entfernen oder ihre Angaben setzen",
    "help.taxpayer": "Steuerpflichtige/r (Meldepflicht § 146a Abs. 4 AO)",
    "help.premises": "Betriebsstätten: auflisten, Angaben setzen",
    "help.filing": "Mitteilungen: Stand, Druck, CSV, Übermittlung, als gemeldet vermerken",
    "help.config": "die Konfiguration zeigen oder ändern",
    "help.test": "Verbindungstest: DNS, Proxy, TLS, Anmeldung, TSS, Uhr",
    "help.credentials": "Anlegen (tsectl credentials create, braucht die Freischaltung des "
    "Herstellers) oder eigene fiskaly-TEST-Zugangsdaten eintragen (tsectl credentials set, "
    "Secret über die Standardeingabe)",
    "help.reset": "eine Kasse neu einrichten (neuer fiskaly-Client) oder alle",
    "help.tss": "TSS je Mandant: Zustand zeigen oder einrichten (--new ersetzt sie)",
    "help.activate": "die Freischaltungsdatei des Herstellers einspielen (LIVE)",
    "help.password": "das Admin-Passwort der Einrichtungsseite setzen (vom Terminal gelesen)",
    "help.setup-code": "der Einmal-Code für das erste Admin-Passwort auf der Einrichtungsseite "
    "(Einrichtungscode)",
    "help.tenants": "Mandanten auflisten oder hinzufügen (Mehrere Mandanten)",
    "help.export": "TAR-Export einer TSS in eine Datei (-o) oder eine TAR-Datei prüfen (verify "
    "DATEI)",
    "help.logging": "Erweitertes Logging ein- oder ausschalten",
    "help.telemetry": "Flotten-Telemetrie: Stand zeigen oder die Zugangsdaten der Einheit für "
    "das Pushgateway setzen (vom Terminal oder der Standardeingabe gelesen)",
    "help.factory-reset": "zurück zum ersten Start (die steuerlichen Aufzeichnungen bleiben)",
    "help.health": "die nächtliche Wartung: der tägliche Gesundheitsbericht, die letzten Tage, "
    "die Zertifikate",
    "help.archive": "das steuerliche Archiv: Stand, Lauf, Prüfung, Export für die Prüfer, die "
    "TSE-Tabellen der DSFinV-K, die Kopie außer Haus",
    "help.backup": "verschlüsselte Sicherung der Einheit: anlegen, zurückspielen, holen",
    "help.decommission": "eine Kasse, eine TSS oder die Einheit außer Betrieb nehmen (vorher "
    "archivieren) oder eine TSS tauschen",
    "help.update": "A/B-Aktualisierung: Stand zeigen, ein signiertes Paket installieren",
    "help.discover": "TSE-Einheiten-LAN im Netz auflisten (mDNS)",
    # pair, registers, config, credentials, reset, tss, activate
    "help.pair.--minutes": "wie lange das Fenster offen bleibt (Vorgabe 5 Minuten)",
    "help.pair.--serial": "die Seriennummer der zu koppelnden Kasse (sagt es, wenn sie schon "
    "gekoppelt ist)",
    "help.pair.--tenant": "der Mandant, an den die Kasse gebunden wird (mehrere Mandanten; "
    "Vorgabe: der erste)",
    "help.registers.register_id": "Kassen-ID (revoke, set) oder Seriennummer",
    "help.config.key": "Schlüssel mit Punkten, z. B. proxy.host",
    "help.config.value": "neuer Wert (leere Zeichenkette löscht ihn)",
    "help.credentials.--api-key": "set: der API-Key von fiskaly",
    "help.credentials.--tenant": "set: Kennung des Mandanten (bei mehreren Mandanten)",
    "help.credentials.--yes": "create: bestätigen („Ja“)",
    "help.credentials.--address": "create: MANDANT=STRASSE;PLZ;ORT, wenn die Freischaltung "
    "keine Anschrift enthält (mehrfach möglich)",
    "help.reset.--register": "Kassen-ID (tsectl registers listet sie)",
    "help.reset.--all": "alle gekoppelten Kassen",
    "help.tss.--new": "setup: die TSS durch eine neue ersetzen",
    "help.activate.file": "die signierte Freischaltungsdatei",
    # tenants, export, factory-reset
    "help.tenants.id": "Kennung des Mandanten (add)",
    "help.tenants.--name": "Firmenname (add)",
    "help.tenants.--vat-id": "USt-IdNr., z. B. DE123456789 (add)",
    "help.export.--tss": "TSS-ID (Vorgabe: die TSS des Mandanten)",
    "help.export.--tenant": "Kennung des Mandanten (Vorgabe: der erste)",
    "help.export.--from": "Anfangsdatum (JJJJ-MM-TT, UTC)",
    "help.export.--to": "Enddatum, einschließlich (JJJJ-MM-TT, UTC)",
    "help.export.--output": "wohin die TAR-Datei geschrieben wird",
    "help.export.--wait": "nach so vielen Sekunden aufgeben",
    "help.export.action": "verify: eine TAR-Exportdatei hier prüfen (ohne laufenden tsed)",
    "help.export.file": "verify: die TAR-Datei",
    "help.export.--start-counter": "verify: der Export beginnt beim Signaturzähler N",
    "help.export.--end-counter": "verify: … und reicht bis N (einschließlich)",
    "help.export.--filtered": "verify: der Export wurde nach Client, Transaktion oder Datum "
    "gefiltert (Lücken sind dann normal)",
    "help.factory-reset.--yes": "ohne Rückfrage bestätigen",
    # archive
    "help.health.action": "run: die Wartung jetzt laufen lassen und auf ihr Ende warten",
    "help.health.--wait": "so viele Sekunden auf ihr Ende warten (Vorgabe 3600)",
    # archive
    "help.archive.status": "je TSS: zuletzt archivierter Zähler und Zeitpunkt, Rückstand, Befunde",
    "help.archive.run": "jede TSS jetzt archivieren, mit Fortschritt",
    "help.archive.verify": "das ganze Archiv erneut prüfen (Manifest, TAR-Prüfung)",
    "help.archive.export": "das Verzeichnis für die Prüfer: die TAR-Dateien eines Zeitraums und "
    "ein Bericht",
    "help.archive.offbox-password": "das Passwort des Repositorys außer Haus im Tresor "
    "speichern (wird abgefragt, nie angezeigt)",
    "help.archive.copy": "das Archiv jetzt außer Haus kopieren (restic backup nach "
    "offbox.repository)",
    "help.archive.check": "die Kopie außer Haus prüfen (restic check, --subset: Anteil der "
    "Daten, der zurückgelesen wird)",
    "help.archive.restore": "die Kopie außer Haus in ein leeres Verzeichnis zurückholen (--to "
    "VERZEICHNIS)",
    "help.archive.copy-status": "Zustand und Alter der Kopie außer Haus, wie zuletzt vermerkt",
    "help.archive.dsfinvk": "der TSE-Teil der DSFinV-K für einen Zeitraum: tse.csv und "
    "transactions_tse.csv",
    "help.archive.run.--wait": "nach so vielen Sekunden nicht länger warten",
    "help.archive.export.--from": "erster Tag (JJJJ-MM-TT, UTC)",
    "help.archive.export.--to": "letzter Tag",
    "help.archive.export.--tenant": "nur die TSS dieses Mandanten",
    "help.archive.copy.--source": "das zu kopierende Verzeichnis (Vorgabe STATE_DIR/archive)",
    "help.archive.check.--subset": "Anteil der Daten, die gelesen werden, z. B. 5%% oder 1/10",
    "help.archive.restore.--to": "neues oder leeres Verzeichnis",
    "help.archive.restore.--snapshot": "Snapshot-ID (Vorgabe: der neueste)",
    "help.archive.dsfinvk.--from": "erster Tag (JJJJ-MM-TT, UTC)",
    "help.archive.dsfinvk.--to": "letzter Tag",
    "help.archive.dsfinvk.--tenant": "nur die Kassen dieses Mandanten",
    # backup
    "help.backup.create": "eine verschlüsselte Sicherung der laufenden Einheit schreiben",
    "help.backup.restore": "eine Sicherung zurückspielen (tsed muss dafür angehalten sein)",
    "help.backup.fetch": "die neueste Sicherung vom Ziel außer Haus holen",
    "help.backup.create.--output": "die Sicherung zusätzlich nach DATEI kopieren",
    "help.backup.create.--nightly": "das Passwort im Tresor behalten: jede Nacht eine "
    "Sicherung, außer Haus kopiert, wenn ein Ziel eingerichtet ist",
    "help.backup.restore.file": "die Sicherungsdatei (*.tsedbackup)",
    "help.backup.restore.--replace": "eine Einheit mit steuerlichen Daten ersetzen (verlangt die "
    "Eingabe ERSETZEN; die alten Daten werden beiseitegelegt)",
    "help.backup.restore.--archive-from": "Ordner mit den Dateien des Archivs (tsectl archive "
    "restore --to VERZEICHNIS): die verzeichneten Dateien werden von dort genommen",
    "help.backup.restore.--archive-from-offbox": "die Dateien des Archivs aus der Kopie außer "
    "Haus nehmen, die in der Konfiguration der Sicherung steht (restic)",
    "help.backup.restore.--finish": "ohne DATEI: eine unterbrochene Wiederherstellung "
    "abschließen (als root, wenn tsed selbst es nicht kann)",
    "help.backup.restore.--abandon-swap": "den unlesbaren Plan einer unterbrochenen "
    "Wiederherstellung beiseitelegen (aufbewahrt) und die ganze Sicherung einspielen",
    "help.backup.fetch.--to": "neuer oder leerer Ordner",
    # decommission
    "help.decommission.status": "die Schritte der Außerbetriebnahme und die noch offenen",
    "help.decommission.resume": "nach einem fehlgeschlagenen Schritt weitermachen",
    "help.decommission.register": "eine Kasse (ihr fiskaly-Client wird abgemeldet)",
    "help.decommission.tss": "die TSS eines Mandanten (bei fiskaly stillgelegt: endgültig)",
    "help.decommission.exchange": "eine neue TSS für einen Mandanten, die alte wird stillgelegt",
    "help.decommission.unit": "jede TSS und jede Kasse der Einheit",
    "help.decommission.register.register": "wie tsectl registers sie listet",
    "help.decommission.tss.--tenant": "der Mandant (Vorgabe: default)",
    "help.decommission.exchange.--tenant": "der Mandant (Vorgabe: default)",
    # update, discover
    "help.update.status": "laufende Version, gestarteter Slot, der andere Slot, letztes Ergebnis",
    "help.update.install": "ein signiertes Paket installieren (Datei oder http(s)-Adresse)",
    "help.update.install.source": "das Paket: eine Datei auf dieser Einheit oder eine "
    "http(s)-Adresse",
    "help.update.install.--no-wait": "nicht auf das Ergebnis warten",
    "help.discover.--seconds": "wie lange gelauscht wird (Sekunden)",
    "help.discover.--interface": "IPv4-Adresse der Schnittstelle, auf der gefragt wird "
    "(mehrfach möglich)",
}
