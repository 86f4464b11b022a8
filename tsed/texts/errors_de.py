"""German texts of every error code: ``code: (message, hint)``.

The message is what went wrong, without the instance's data (an instance with data of its own
carries a text id, see :mod:`tsed.texts.catalogue`); the hint says what to do.
"""

from __future__ import annotations

ERRORS: dict[str, tuple[str, str]] = {
    # -- the root and the service-level classes ----------------------------------------------
    "INTERNAL": (
        "Die Einheit konnte die Anfrage nicht bearbeiten.",
        "Erneut versuchen; bleibt der Fehler, das Journal an den Service geben "
        "(journalctl -u tsed).",
    ),
    "UNAUTHORIZED": (
        "Anmeldung fehlt oder ist abgelaufen.",
        "Erneut anmelden; die Kasse braucht ein gültiges Token (neu koppeln).",
    ),
    "LOCKED_OUT": (
        "Zu viele Fehlversuche: vorübergehend gesperrt.",
        "Warten Sie die genannte Zeit ab und versuchen Sie es dann erneut.",
    ),
    "ATTEMPT_IN_PROGRESS": (
        "Ein vorheriger Versuch wird noch geprüft.",
        "Auf die Antwort des vorherigen Versuchs warten, dann erneut versuchen.",
    ),
    "RATE_LIMITED": (
        "Zu viele Anmelde- oder Kopplungsversuche in kurzer Zeit.",
        "Gleich erneut versuchen. Gekoppelte Kassen signieren ungestört weiter.",
    ),
    "BUSY": (
        "Die Einheit prüft gerade andere Passwörter.",
        "Gleich erneut versuchen.",
    ),
    "CONFIG_INVALID": (
        "Eine Einstellung ist ungültig.",
        "Die genannte Einstellung korrigieren und erneut speichern.",
    ),
    "MULTI_TENANT_LOCKED": (
        "„Mehrere Mandanten in Filialkette“ kann nicht mehr geändert werden.",
        "Die Auswahl muss vor dem Anlegen feststehen; zurückstellen oder zuerst die "
        "Zugangsdaten der Einheit zurücksetzen.",
    ),
    "ACTIVATION_NO_VENDOR_KEY": (
        "Der Hersteller-Schlüssel der Einheit fehlt oder ist beschädigt.",
        "Das ist keine Einstellung: das Image der Einheit neu installieren oder beim "
        "Hersteller ein korrigiertes anfordern.",
    ),
    "ACTIVATION_MALFORMED": (
        "Die Datei ist keine Freischaltung für diese Einheit (oder beschädigt).",
        "Die Datei beim Hersteller erneut anfordern und unverändert einspielen.",
    ),
    "CONFLICT": (
        "Das ist im aktuellen Zustand nicht möglich.",
        "Den aktuellen Zustand prüfen (tsectl status) und es dann erneut versuchen.",
    ),
    "ARCHIVE_INCOMPLETE": (
        "Die Signaturen der TSS sind noch nicht alle im Archiv; es wurde nichts geändert.",
        "Beheben, woran der Archivlauf scheiterte (tsectl archive status), dann "
        "„tsectl archive run“ und erneut versuchen.",
    ),
    "ARCHIVE_SHRANK": (
        "Dem lokalen Archiv fehlen Dateien seit der letzten Kopie außer Haus; nicht kopiert.",
        "Das Archiv aus der Kopie wiederherstellen (tsectl archive restore --to ORDNER) und "
        "zurücklegen; danach gehen die Kopien weiter.",
    ),
    "FILING_INVALID": (
        "Eine Angabe der Mitteilung nach § 146a Abs. 4 AO ist ungültig.",
        "Die Angabe korrigieren und erneut senden (Steuernummer wie auf dem Steuerbescheid, "
        "Datum als JJJJ-MM-TT).",
    ),
    "FILING_INCOMPLETE": (
        "Für die Mitteilung fehlen Stammdaten.",
        "Die fehlenden Stammdaten ergänzen (tsectl taxpayer set, tsectl premises set, tsectl "
        "registers set), dann "
        "die Mitteilung erneut erstellen.",
    ),
    "PREMISES_UNKNOWN": (
        "Diese Betriebsstätte ist nicht bekannt.",
        "Die Betriebsstätten zeigt: tsectl premises list",
    ),
    "SUBMISSION_FAILED": (
        "fiskaly SUBMIT DE hat die Mitteilung nicht übermittelt.",
        "Den Grund im Journal prüfen, die Daten korrigieren und erneut senden, oder die "
        "Mitteilung ausdrucken und in Mein ELSTER erfassen.",
    ),
    "SUBMISSION_OPEN": (
        "Für diese Betriebsstätte läuft noch eine Übermittlung mit anderen Daten.",
        "Sie wird zu Ende verfolgt: warten, bis tsectl filing status sie als abgeschlossen "
        "zeigt, dann die geänderte Mitteilung erneut senden.",
    ),
    "UPDATE_FAILED": (
        "Das Update wurde nicht installiert.",
        "Die Einheit signiert weiter mit der laufenden Version. Details: journalctl -u rauc "
        "-u tsed.",
    ),
    "UPDATE_BAD_SIGNATURE": (
        "Das Update-Paket ist nicht vom Hersteller signiert.",
        "Nur Update-Pakete des Herstellers werden installiert. Das Paket erneut aus der Quelle "
        "des Herstellers laden.",
    ),
    "UPDATE_OTHER_DEVICE_CLASS": (
        "Das Update-Paket ist für ein anderes Gerät.",
        "Das Update-Paket für dieses Gerät (TSE-LAN-Einheit) verwenden.",
    ),
    "UPDATE_DOWNGRADE": (
        "Das Update-Paket ist älter als die laufende Version.",
        "Eine neuere Version installieren; ältere Versionen können die Daten einer neueren "
        "nicht sicher lesen.",
    ),
    "UPDATE_UNAVAILABLE": (
        "Updates sind auf diesem System nicht möglich.",
        "Updates gibt es nur auf dem Gerät selbst (RAUC mit zwei Systempartitionen); prüfen: "
        "systemctl status rauc.",
    ),
    "UPDATE_DOWNLOAD_FAILED": (
        "Das Update-Paket konnte nicht geladen werden.",
        "Die Adresse des Pakets und den Proxy prüfen (tsectl config show), oder das Paket auf "
        "das Gerät kopieren und die Datei installieren.",
    ),
    "STORE_TOO_NEW": (
        "Der Speicher stammt von einer neueren tsed-Version; die Einheit startet nicht darauf.",
        "Die neuere Version wieder starten (tsectl update status zeigt das andere System) oder "
        "ein mindestens so neues Update installieren; die fiskalischen Daten bleiben "
        "unverändert.",
    ),
    "ARCHIVE_CONFLICT": (
        "Für diesen Zeitraum gibt es schon einen Archiveintrag.",
        "Das Archiv wird nur einmal beschrieben: tsectl archive verify ausführen und das "
        "Journal ansehen.",
    ),
    "CONFIG_NOT_SAVED": (
        "Die Konfiguration wurde noch nie gespeichert.",
        "Zuerst einmal speichern (Einrichtungsseite „Speichern“ oder tsectl config set); "
        "danach ist „Anlegen“ freigeschaltet.",
    ),
    "CREDENTIALS_EXIST": (
        "Alle Mandanten haben schon fiskaly-Zugangsdaten.",
        "Den Verbindungstest ausführen (tsectl test).",
    ),
    "TOO_MANY_OPEN_TRANSACTIONS": (
        "Diese Kasse hat zu viele offene Vorgänge.",
        "Offene Vorgänge der Kasse zuerst beenden oder abbrechen; die Grenze ist die "
        "Einstellung max_open_per_register.",
    ),
    "EXPORT_FAILED": (
        "fiskaly konnte den Export nicht erstellen.",
        "Später erneut versuchen oder einen kürzeren Zeitraum wählen; der Grund steht im Journal.",
    ),
    "EXPORT_TIMEOUT": (
        "Der Export hat zu lange gedauert.",
        "Große Exporte dauern bis zu einer Stunde: einen kürzeren Zeitraum oder eine längere "
        "Wartezeit (--wait) wählen.",
    ),
    "FORBIDDEN": (
        "Diese Anmeldung darf das nicht.",
        "Mit einem berechtigten Zugang erneut versuchen.",
    ),
    "TENANT_MISMATCH": (
        "Die Kasse fragt nach einem anderen Mandanten, als ihr zugeordnet ist.",
        "Das Kopplungsfenster für den richtigen Mandanten öffnen (tsectl pair --tenant ID).",
    ),
    "MANAGEMENT_CREDENTIALS_REJECTED": (
        "fiskaly hat die Verwaltungs-Zugangsdaten des Herstellers abgelehnt.",
        "Beim Hersteller eine neue Freischaltung anfordern.",
    ),
    "ACTIVATION_BAD_SIGNATURE": (
        "Die Freischaltung ist nicht vom Hersteller signiert (oder wurde verändert).",
        "Beim Hersteller eine neue Freischaltung anfordern.",
    ),
    "ACTIVATION_EXPIRED": (
        "Die Freischaltung ist abgelaufen.",
        "Beim Hersteller eine neue anfordern (und die Uhr der Einheit prüfen, falls das "
        "überrascht).",
    ),
    "ACTIVATION_NOT_YET_VALID": (
        "Die Freischaltung ist erst in der Zukunft gültig.",
        "Die Uhr der Einheit prüfen (NTP) oder eine jetzt gültige Freischaltung anfordern.",
    ),
    "ACTIVATION_OTHER_DEVICE": (
        "Die Freischaltung gilt für eine andere Einheit.",
        "Dem Hersteller die Geräte-ID dieser Einheit (tsectl status) nennen und eine "
        "Freischaltung dafür anfordern.",
    ),
    "ACTIVATION_REPLAYED": (
        "Diese Freischaltung wurde schon verwendet.",
        "Eine Freischaltung gilt nur einmal: beim Hersteller eine neue anfordern.",
    ),
    "SETUP_CODE_WRONG": (
        "Der Einrichtungscode stimmt nicht oder ist nicht mehr gültig.",
        "Den Code zeigen das Etikett am Gehäuse, die Konsole oder „tsectl setup-code“; er "
        "gilt, bis das Admin-Passwort gesetzt ist.",
    ),
    "PASSWORD_WRONG": (
        "Das Passwort ist falsch.",
        "Das aktuelle Admin-Passwort eingeben.",
    ),
    "INVALID_REQUEST": (
        "Die Anfrage ist ungültig.",
        "Die Eingabe wie beschrieben korrigieren.",
    ),
    "VENDOR_TOOL": (
        "Das Hersteller-Werkzeug kann das nicht ausführen.",
        "Siehe tsed-vendor --help.",
    ),
    "BODY_TOO_LARGE": (
        "Die Anfrage ist zu groß.",
        "Kleinere Anfragen senden; ein Beleg braucht nur einige hundert Byte.",
    ),
    "METHOD_NOT_ALLOWED": (
        "Diese Methode ist für diese Adresse nicht erlaubt.",
        "Die Beschreibung der Schnittstelle beachten.",
    ),
    "BODY_TIMEOUT": (
        "Die Anfrage kam nicht vollständig an.",
        "Die Anfrage vollständig auf einmal senden; die Verbindung wurde geschlossen.",
    ),
    "ORGANIZATION_ADDRESS_MISSING": (
        "fiskaly braucht die Anschrift des Unternehmens.",
        "Beim Anlegen Straße, PLZ und Ort angeben (tsectl: --address) oder den Hersteller "
        "bitten, sie in die Freischaltung aufzunehmen.",
    ),
    "CONFIRMATION_REQUIRED": (
        "Die Bestätigung fehlt.",
        "Den Dialog mit „Ja“ bestätigen (tsectl: --yes); die Zugangsdaten werden dann bei "
        "fiskaly erzeugt und einmal angezeigt.",
    ),
    "CREDENTIALS_REJECTED": (
        "fiskaly hat API-Key und API-Secret abgelehnt.",
        "Beide erneut aus dem fiskaly-Dashboard (TEST-Umgebung) kopieren.",
    ),
    "PASSWORD_TOO_WEAK": (
        "Das Passwort ist zu schwach.",
        "Mindestens 10 Zeichen wählen; ein kurzer Satz ist leicht zu merken.",
    ),
    "MODE_CONFLICT": (
        "TEST und LIVE dürfen nicht gemischt werden.",
        "Die Kasse zurücksetzen (tsectl reset) und neu initialisieren.",
    ),
    "MODE_MISMATCH": (
        "Diese Kasse hat noch Daten aus dem TEST-Modus.",
        "Die Kasse zurücksetzen (Einrichtungsseite oder tsectl reset --register ID) und einen "
        "neuen Vorgang beginnen; TEST-Vorgänge lassen sich in LIVE nicht beenden.",
    ),
    "ACTIVATION_DOWNGRADE": (
        "Eine LIVE-Einheit geht nie zurück in den TEST-Modus.",
        "Für neue Verwaltungs-Zugangsdaten beim Hersteller eine LIVE-Freischaltung anfordern.",
    ),
    "ACTIVATION_MISSING": (
        "Die Freischaltung durch den Hersteller fehlt noch.",
        "Der Hersteller muss diese Einheit zuerst freischalten (Datei einspielen mit "
        "tsectl activate DATEI).",
    ),
    "CREDENTIALS_TEST_ONLY": (
        "Eigene Zugangsdaten gibt es nur im TEST-Modus.",
        "LIVE-Zugangsdaten entstehen mit „Anlegen“ nach der LIVE-Freischaltung des Herstellers.",
    ),
    "NOT_FOUND": (
        "Nicht gefunden.",
        "Die ID prüfen; sie gehört vielleicht zu einer anderen Kasse oder Einheit.",
    ),
    "NO_SUCH_ROUTE": (
        "Diese Adresse gibt es nicht.",
        "Die Beschreibung der Schnittstelle beachten.",
    ),
    "STORAGE_FAILED": (
        "Die Einheit kann nicht in ihr Datenverzeichnis schreiben.",
        "Speicher frei machen oder den Service rufen. Es wurde kein Vorgang angenommen.",
    ),
    "STORAGE_FULL": (
        "Der Speicher der Einheit ist voll.",
        "Platz schaffen (kopierte Exporte oder Sicherungen entfernen, Journal verkleinern: "
        "journalctl --vacuum-size=50M). Danach nimmt die Einheit sofort wieder Belege an; "
        "es wurde kein Vorgang angenommen.",
    ),
    # -- the command lines -------------------------------------------------------------------
    "FAILED": (
        "Der Befehl ist fehlgeschlagen.",
        "Die Meldung oben beachten.",
    ),
    "ABORTED": (
        "Nicht bestätigt: es wurde nichts geändert.",
        "Den Befehl erneut aufrufen und mit „Ja“ bestätigen.",
    ),
    "NOT_RUNNING": (
        "Der Dienst tsed läuft nicht.",
        "Den Dienst starten (systemctl start tsed) oder --socket / --state-dir angeben.",
    ),
    "PERMISSION_DENIED": (
        "Keine Berechtigung für den Admin-Zugang der Einheit.",
        "tsectl als root oder als Dienstbenutzer tsed aufrufen.",
    ),
    "USAGE": (
        "Der Aufruf ist unvollständig oder falsch.",
        "Siehe tsectl --help.",
    ),
    "HTTP_ERROR": (
        "Die Anfrage wurde abgelehnt.",
        "Die Beschreibung der Schnittstelle beachten.",
    ),
    "TELEMETRY_FAILED": (
        "Die Übertragung der Betriebsdaten ist fehlgeschlagen.",
        "telemetry.gateway, die Zugangsdaten (tsectl telemetry set-token) und den Proxy "
        "prüfen; das Signieren ist nicht betroffen.",
    ),
    # -- the off-box copy --------------------------------------------------------------------
    "OFFBOX_FAILED": (
        "Die Kopie des Archivs außer Haus ist fehlgeschlagen.",
        "Das Archiv auf der Einheit ist nicht betroffen. Das Sicherungsziel prüfen und "
        "tsectl archive copy erneut ausführen.",
    ),
    "OFFBOX_AUTH_FAILED": (
        "Das Sicherungsziel lehnt die Einheit ab.",
        "Benutzer (offbox.user) und Zugangsdaten des Ziels prüfen.",
    ),
    "OFFBOX_FULL": (
        "Der Speicher des Sicherungsziels ist voll.",
        "Dort Platz schaffen; auf der Einheit wurde nichts gelöscht.",
    ),
    "OFFBOX_MISSING": (
        "Am Sicherungsziel gibt es kein Repository.",
        "Den Pfad (offbox.repository) prüfen; tsectl archive copy legt es beim ersten Mal an.",
    ),
    "OFFBOX_PROXY_FAILED": (
        "Der Proxy lässt die Einheit nicht zum Sicherungsziel durch.",
        "Proxy-Einstellungen und -Passwort prüfen und den Netzwerk-Administrator bitten, das "
        "Ziel freizugeben.",
    ),
    "OFFBOX_UNREACHABLE": (
        "Das Sicherungsziel antwortet nicht.",
        "Prüfen, ob es eingeschaltet ist, Adresse und Port (offbox.repository) und das Netz; "
        "die Einheit versucht es beim nächsten Archivlauf erneut.",
    ),
    "OFFBOX_WRONG_PASSWORD": (
        "Das Repository-Passwort passt nicht zu diesem Repository.",
        "Das Passwort eingeben, mit dem das Repository angelegt wurde (es steht auf dem "
        "Übergabeprotokoll des Installateurs).",
    ),
    "RESTIC_MISSING": (
        "Das Programm restic ist nicht installiert.",
        "apt-get install restic (Debian 12) oder das Image der Einheit verwenden.",
    ),
    # -- fiskaly -----------------------------------------------------------------------------
    "FISKALY_ERROR": (
        "Fehler auf dem Weg zu fiskaly.",
        "Den Verbindungstest ausführen (tsectl test) und das Journal ansehen.",
    ),
    "FISKALY_REJECTED": (
        "fiskaly hat die Anfrage abgelehnt.",
        "Den Verbindungstest ausführen (tsectl test) und das Journal ansehen.",
    ),
    "FISKALY_ACCESS_DENIED": (
        "fiskaly verweigert diesen Zugangsdaten den Zugriff auf diese TSS.",
        "Die Zugangsdaten des Mandanten prüfen (tsectl credentials).",
    ),
    "TEST_LIVE_MISMATCH": (
        "TEST- und LIVE-Daten wurden gemischt (fiskaly: 403 E_ACCESS_DENIED).",
        "Die Kasse zurücksetzen (tsectl reset --register ID oder --all) und neu initialisieren.",
    ),
    "ADMIN_PIN_BLOCKED": (
        "Die Admin-PIN der TSS ist gesperrt.",
        "Die PIN mit der Admin-PUK neu setzen (tsectl tss setup).",
    ),
    "ADMIN_PIN_REJECTED": (
        "fiskaly hat die Admin-PIN der TSS abgelehnt.",
        "Die Einheit versucht es nicht von selbst erneut (fünf falsche PINs sperren sie): "
        "eine neue PIN mit der PUK setzen (tsectl tss setup) oder eine neue TSS einrichten.",
    ),
    "FISKALY_BAD_CREDENTIALS": (
        "fiskaly hat API-Key und API-Secret abgelehnt.",
        "Neue Zugangsdaten anlegen (Anlegen) oder die richtigen eingeben (tsectl credentials set).",
    ),
    "CLIENT_DEREGISTERED": (
        "Der fiskaly-Client der Kasse ist abgemeldet.",
        "Die Einheit meldet ihn neu an; bleibt es so, die Kasse neu koppeln.",
    ),
    "FISKALY_NOT_FOUND": (
        "TSS, Client oder Vorgang gibt es bei fiskaly nicht.",
        "Die ID prüfen; tsectl tss status zeigt die TSS der Einheit.",
    ),
    "FISKALY_LIMIT_REACHED": (
        "Eine Grenze von fiskaly ist erreicht.",
        "Die Meldung beachten.",
    ),
    "CLIENT_LIMIT_REACHED": (
        "Die TSS bedient schon die höchste Zahl an Kassen.",
        "Nicht genutzte Kassen entfernen (tsectl registers revoke) oder einen weiteren "
        "Mandanten mit eigener TSS einrichten.",
    ),
    "OPEN_TRANSACTION_LIMIT_REACHED": (
        "Auf dieser TSS sind 2000 Vorgänge offen.",
        "Die Kassen müssen Vorgänge beenden oder abbrechen; verlassene bricht die Einheit "
        "selbst ab.",
    ),
    "TX_REVISION_CONFLICT": (
        "Der Vorgang wurde inzwischen geändert.",
        "Den Vorgang neu lesen und erneut versuchen.",
    ),
    "TSS_NOT_READY": (
        "Die TSS kann in ihrem Zustand nicht signieren.",
        "tsectl tss status und tsectl tss setup ausführen.",
    ),
    "TSS_LOCKED": (
        "fiskaly wartet diese TSS gerade.",
        "Die Einheit versucht es von selbst erneut.",
    ),
    "TSS_UNUSABLE": (
        "Diese TSS kann nicht mehr signieren.",
        "Eine neue TSS einrichten (tsectl tss setup) und die Kassen zurücksetzen "
        "(tsectl reset --all).",
    ),
    "FISKALY_UNAVAILABLE": (
        "fiskaly ist gerade nicht erreichbar.",
        "Die Einheit versucht es von selbst erneut. Bleibt es so, Internetverbindung und "
        "Proxy prüfen, dann tsectl test.",
    ),
    "DNS_FAILED": (
        "Der Name des fiskaly-Servers lässt sich nicht auflösen.",
        "Den DNS-Server der Einheit (DHCP) prüfen oder den Proxy des Geschäfts eintragen.",
    ),
    "FISKALY_BUSY": (
        "fiskaly bearbeitet noch eine frühere Anfrage.",
        "Die Einheit versucht es von selbst erneut.",
    ),
    "FISKALY_RATE_LIMITED": (
        "fiskaly bittet, langsamer anzufragen.",
        "Die Einheit wartet und versucht es erneut.",
    ),
    "FISKALY_TIMEOUT": (
        "fiskaly hat nicht rechtzeitig geantwortet.",
        "Die Einheit versucht es von selbst erneut. Bleibt es so, Internetverbindung und "
        "Proxy prüfen.",
    ),
    "PROXY_FAILED": (
        "Der Proxy antwortet nicht oder lässt die Einheit nicht zu fiskaly durch.",
        "Proxy-Adresse und Proxy-Port prüfen (tsectl config show) und ob der Proxy läuft und "
        "die Einheit zu fiskaly durchlässt.",
    ),
    "PROXY_AUTH_REQUIRED": (
        "Der Proxy verlangt eine Anmeldung (HTTP 407).",
        "Proxy-Benutzer und Proxy-Passwort eintragen oder beim Netzwerk-Administrator erfragen.",
    ),
    "TLS_FAILED": (
        "Die TLS-Verbindung zu fiskaly ist fehlgeschlagen.",
        "Die Uhr der Einheit prüfen und ob ein Proxy TLS aufbricht (er muss die Einheit "
        "unverändert durchlassen).",
    ),
    "FISKALY_BAD_RESPONSE": (
        "fiskaly hat unerwartet geantwortet.",
        "Das Journal ansehen.",
    ),
    "FISKALY_V1_NOT_SUPPORTED": (
        "Nur die fiskaly-Schnittstelle SIGN DE V2 wird unterstützt; V1 nicht mehr.",
        "Die V1-Adresse oder -Einstellung entfernen.",
    ),
    "PROCESS_DATA_INVALID": (
        "Die Belegdaten sind ungültig.",
        "Das genannte Feld des Belegs korrigieren.",
    ),
}
