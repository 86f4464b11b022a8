"""The connection test's step outcomes (``conn.<step>.<outcome>``) and what to do about them
(``….hint``), German and English: same ids, same placeholders.

A step result carries its id and values (``detail_id``, ``detail_args``); its English
``detail`` and ``hint`` are these English lines filled in (the journal reads them), tsectl and
the console print the German ones, and the setup page has the same ids in
``tsed/net/static/text.js`` (``conn_dns_ip``: the dots become underscores). The values are
data (host names, counters, symbolic error names such as ``ECONNREFUSED``), never words.
"""

from __future__ import annotations

DE: dict[str, str] = {
    # -- any step -------------------------------------------------------------------------------
    "conn.timeout": "keine Antwort innerhalb von {seconds} s",
    "conn.timeout.hint": "Den Netzweg zu fiskaly prüfen (und den Proxy).",
    "conn.unexpected": "unerwarteter Fehler ({error})",
    "conn.unexpected.hint": "Erneut testen; bleibt der Fehler, das Journal an den Service geben "
    "(journalctl -u tsed).",
    "conn.error": "Fehler {code}",
    "conn.error.hint": "Dem Hinweis des Fehlers folgen und erneut testen.",
    # -- configuration --------------------------------------------------------------------------
    "conn.config.not_saved": "die Konfiguration wurde noch nie gespeichert",
    "conn.config.not_saved.hint": "Zuerst die Konfiguration speichern; der Test prüft die "
    "gespeicherte.",
    "conn.config.ok": "gespeichert am {saved}, Modus {mode}",
    # -- DNS ------------------------------------------------------------------------------------
    "conn.dns.ip": "{host} ist eine IP-Adresse (keine Namensauflösung nötig)",
    "conn.dns.ok": "{host} → {addresses}",
    "conn.dns.by_proxy": "die Einheit kann {host} selbst nicht auflösen; das übernimmt der Proxy",
    "conn.dns.unresolvable": "{host} lässt sich nicht auflösen ({reason})",
    "conn.dns.unresolvable.hint": "Den DNS-Server der Einheit (DHCP) prüfen oder einen Proxy "
    "eintragen, wenn die Filiale nur über einen Proxy ins Internet kommt.",
    # -- proxy ----------------------------------------------------------------------------------
    "conn.proxy.none": "kein Proxy gespeichert: die Einheit verbindet sich direkt",
    "conn.proxy.unreachable": "der Proxy {proxy} ist nicht erreichbar ({reason})",
    "conn.proxy.unreachable.hint": "Proxy-Host und -Port prüfen (beim Netzwerk-Administrator "
    "erfragen) und ob der Proxy läuft.",
    "conn.proxy.ok": "{proxy} lässt die Einheit zu {target} durch",
    "conn.proxy.needs_credentials": "der Proxy {proxy} verlangt Anmeldedaten (HTTP 407)",
    "conn.proxy.needs_credentials.hint": "Proxy-Benutzer und -Passwort beim "
    "Netzwerk-Administrator erfragen und eintragen.",
    "conn.proxy.credentials_refused": "der Proxy {proxy} lehnt die Proxy-Anmeldedaten ab "
    "(HTTP 407)",
    "conn.proxy.credentials_refused.hint": "Proxy-Benutzer und -Passwort prüfen (beim "
    "Netzwerk-Administrator erfragen).",
    "conn.proxy.refused": "der Proxy {proxy} verweigert den Weg zu {target} (HTTP {status})",
    "conn.proxy.refused.hint": "Der Proxy muss HTTPS-Verbindungen (CONNECT) zu fiskaly auf "
    "Port 443 erlauben: mit dem Netzwerk-Administrator klären.",
    "conn.proxy.no_answer": "der Proxy {proxy} hat ohne Antwort geschlossen (Weg zu {target})",
    "conn.proxy.no_answer.hint": "Proxy-Host und -Port prüfen: unter dieser Adresse antwortet "
    "kein HTTP-Proxy.",
    # the saved proxy while the built-in simulator signs (it does not use the proxy)
    "conn.saved_proxy.unreachable": "Proxy {proxy}: keine Verbindung ({reason}); {target} über "
    "den Proxy nicht geprüft. Signiert wird derzeit mit dem eingebauten Simulator (ohne Proxy).",
    "conn.saved_proxy.unreachable.hint": "Proxy-Host und -Port prüfen (beim "
    "Netzwerk-Administrator erfragen) oder den Proxy aus der Konfiguration entfernen, wenn die "
    "Einheit direkt ins Internet kommt.",
    "conn.saved_proxy.ok": "Proxy {proxy} erreichbar, {target} über den Proxy erreichbar. "
    "Signiert wird derzeit mit dem eingebauten Simulator (ohne Proxy).",
    "conn.saved_proxy.needs_credentials": "Proxy {proxy} verlangt Anmeldedaten (HTTP 407); "
    "{target} über den Proxy nicht erreichbar. Signiert wird derzeit mit dem eingebauten "
    "Simulator (ohne Proxy).",
    "conn.saved_proxy.needs_credentials.hint": "Proxy-Benutzer und -Passwort beim "
    "Netzwerk-Administrator erfragen und eintragen.",
    "conn.saved_proxy.credentials_refused": "Proxy {proxy} lehnt die Proxy-Anmeldedaten ab "
    "(HTTP 407); {target} über den Proxy nicht erreichbar. Signiert wird derzeit mit dem "
    "eingebauten Simulator (ohne Proxy).",
    "conn.saved_proxy.credentials_refused.hint": "Proxy-Benutzer und -Passwort beim "
    "Netzwerk-Administrator erfragen und eintragen.",
    "conn.saved_proxy.refused": "Proxy {proxy} antwortet, aber {target} ist über den Proxy "
    "nicht erreichbar (HTTP {status}). Signiert wird derzeit mit dem eingebauten Simulator "
    "(ohne Proxy).",
    "conn.saved_proxy.refused.hint": "Der Proxy muss HTTPS-Verbindungen (CONNECT) zu fiskaly "
    "auf Port 443 erlauben: mit dem Netzwerk-Administrator klären. Mit echten "
    "fiskaly-Zugangsdaten könnte die Einheit so nicht signieren.",
    "conn.saved_proxy.no_answer": "Proxy {proxy} hat ohne Antwort geschlossen; {target} über "
    "den Proxy nicht erreichbar. Signiert wird derzeit mit dem eingebauten Simulator (ohne "
    "Proxy).",
    "conn.saved_proxy.no_answer.hint": "Proxy-Host und -Port prüfen: unter dieser Adresse "
    "antwortet kein HTTP-Proxy.",
    # -- TLS ------------------------------------------------------------------------------------
    "conn.tls.plain": "{url} ist unverschlüsseltes HTTP (Simulator oder Test-Adresse): kein TLS",
    "conn.tls.no_tunnel": "kein Tunnel durch den Proxy (HTTP {status})",
    "conn.tls.no_tunnel.hint": "Der Proxy muss HTTPS-Verbindungen (CONNECT) zu fiskaly auf "
    "Port 443 erlauben: mit dem Netzwerk-Administrator klären.",
    "conn.tls.ok": "{version} mit {host}, Zertifikat geprüft",
    "conn.tls.ok_until": "{version} mit {host}, Zertifikat geprüft, gültig bis {until}",
    "conn.tls.untrusted": "dem Zertifikat von {host} ist nicht zu trauen (X.509-Fehler {code})",
    "conn.tls.untrusted.hint": "Die Uhr der Einheit prüfen und ob ein Proxy TLS aufbricht "
    "(dann dessen Zertifikat beim Netzwerk-Administrator erfragen).",
    "conn.tls.failed": "TLS mit {host} fehlgeschlagen ({reason})",
    "conn.tls.failed.hint": "Die Uhr der Einheit prüfen und ob ein Proxy TLS aufbricht.",
    # -- authentication, TEST/LIVE ---------------------------------------------------------------
    "conn.auth.no_credentials": "noch keine fiskaly-Zugangsdaten ({mode}) für diesen Mandanten",
    "conn.auth.no_credentials.hint": "Anlegen (braucht die Freischaltung des Herstellers) oder "
    "eigene TEST-Zugangsdaten eintragen: tsectl credentials set.",
    "conn.auth.ok": "API-Key {key} angenommen (Organisation {organization})",
    "conn.environment.mismatch": "die Zugangsdaten gehören zu {env}, die Einheit ist im "
    "Modus {mode}",
    "conn.environment.mismatch.hint": "TEST und LIVE nie mischen: die Zugangsdaten des Modus "
    "verwenden (Anlegen); im TEST eingerichtete Kassen zurücksetzen (tsectl reset --all).",
    "conn.environment.ok": "die Umgebung des Tokens ({env}) passt zum Modus",
    # -- TSS, registers ------------------------------------------------------------------------
    "conn.tss.none": "für diesen Mandanten ist noch keine TSS ({mode}) eingerichtet",
    "conn.tss.none.hint": "Einrichten: tsectl tss setup (der Dienst tut es auch beim Start).",
    "conn.tss.not_found": "die TSS {tss} gibt es bei fiskaly nicht",
    "conn.tss.not_found.hint": "Eine neue TSS einrichten: tsectl tss setup --new, danach "
    "tsectl reset --all.",
    "conn.tss.other_mode": "TSS {tss} im Zustand {state} ({env}), die Einheit ist aber im "
    "Modus {mode}",
    "conn.tss.other_mode.hint": "TEST und LIVE nie mischen: die TSS des Modus einrichten "
    "(tsectl tss setup --new).",
    "conn.tss.ok": "TSS {tss} im Zustand {state} ({env}), Seriennummer {serial}…",
    "conn.tss.unfinished": "TSS {tss} im Zustand {state} ({env}): ihre Einrichtung ist "
    "unvollständig",
    "conn.tss.unfinished.hint": "Die Einrichtung abschließen: tsectl tss setup (oder den "
    "Dienst neu starten).",
    "conn.tss.unusable": "TSS {tss} im Zustand {state} ({env}) kann nicht signieren",
    "conn.tss.unusable.hint": "Eine neue TSS einrichten: tsectl tss setup --new, danach "
    "tsectl reset --all.",
    "conn.clients.none_paired": "noch keine Kasse gekoppelt ({registered} Client(s) auf der TSS)",
    "conn.clients.missing": "{missing} von {registers} Kasse(n) ohne angemeldeten Client auf "
    "dieser TSS: {ids}",
    "conn.clients.missing.hint": "Diese Kassen zurücksetzen: tsectl reset mit der Kassen-ID "
    "(oder --all).",
    "conn.clients.ok": "{registers} Kasse(n), alle angemeldet ({registered} von {limit} Clients)",
    "conn.clients.near_limit": "{registers} Kasse(n), alle angemeldet ({registered} von {limit} "
    "Clients): die Grenze der TSS ist nah",
    "conn.clients.near_limit.hint": "Kassen, die nicht mehr gebraucht werden, entfernen "
    "(tsectl registers revoke ID).",
    # -- clock ----------------------------------------------------------------------------------
    "conn.clock.offset": "die Uhr der Einheit weicht um {offset} s von fiskaly ab",
    "conn.clock.far": "die Uhr der Einheit weicht um {offset} s von fiskaly ab: zu viel",
    "conn.clock.far.hint": "Zeitabgleich einschalten (NTP, systemd-timesyncd) und die "
    "Zeitzone der Einheit prüfen; die Belege tragen die Zeit von fiskaly.",
    # -- why a step was skipped --------------------------------------------------------------
    "conn.skip.not_saved": "nicht geprüft: die Konfiguration ist nicht gespeichert",
    "conn.skip.unresolvable": "nicht geprüft: der Name des fiskaly-Servers lässt sich nicht "
    "auflösen",
    "conn.skip.proxy": "nicht geprüft: der Proxy lässt die Einheit nicht durch",
    "conn.skip.no_tls": "nicht geprüft: keine TLS-Verbindung",
    "conn.skip.no_credentials": "nicht geprüft: keine Zugangsdaten",
    "conn.skip.auth_failed": "nicht geprüft: die Anmeldung ist fehlgeschlagen",
    "conn.skip.mismatch": "nicht geprüft: TEST und LIVE passen nicht zusammen",
    "conn.skip.no_tss": "nicht geprüft: keine TSS",
    "conn.skip.tss_unusable": "nicht geprüft: die TSS ist nicht nutzbar",
    "conn.skip.no_answer": "nicht geprüft: keine Antwort von fiskaly zum Vergleich",
}

EN: dict[str, str] = {
    "conn.timeout": "no answer within {seconds} s",
    "conn.timeout.hint": "Check the network path to fiskaly (and the proxy).",
    "conn.unexpected": "unexpected error: {error}",
    "conn.unexpected.hint": "Try again; if it stays, give the journal to the service "
    "(journalctl -u tsed).",
    "conn.error": "error {code}",
    "conn.error.hint": "Follow the error's hint and test again.",
    "conn.config.not_saved": "the configuration has not been saved yet",
    "conn.config.not_saved.hint": "Save the configuration first; the test checks the saved one.",
    "conn.config.ok": "saved {saved}, {mode} mode",
    "conn.dns.ip": "{host} is an IP address (no lookup needed)",
    "conn.dns.ok": "{host} -> {addresses}",
    "conn.dns.by_proxy": "the unit cannot resolve {host} itself; the proxy resolves it",
    "conn.dns.unresolvable": "{host} cannot be resolved ({reason})",
    "conn.dns.unresolvable.hint": "Check the unit's DNS server (DHCP), or enter a proxy if the "
    "branch reaches the internet only through one.",
    "conn.proxy.none": "no proxy saved: the unit connects directly",
    "conn.proxy.unreachable": "the proxy {proxy} is unreachable ({reason})",
    "conn.proxy.unreachable.hint": "Check the proxy host and port (ask the network "
    "administrator) and whether the proxy runs.",
    "conn.proxy.ok": "{proxy} lets the unit through to {target}",
    "conn.proxy.needs_credentials": "the proxy {proxy} wants credentials (HTTP 407)",
    "conn.proxy.needs_credentials.hint": "Ask the network administrator for the proxy user and "
    "password and enter them.",
    "conn.proxy.credentials_refused": "the proxy {proxy} refused the proxy credentials (HTTP 407)",
    "conn.proxy.credentials_refused.hint": "Check the proxy user and password (ask the network "
    "administrator).",
    "conn.proxy.refused": "the proxy {proxy} refused the way to {target} (HTTP {status})",
    "conn.proxy.refused.hint": "The proxy must allow HTTPS connections (CONNECT) to fiskaly on "
    "port 443: settle it with the network administrator.",
    "conn.proxy.no_answer": "the proxy {proxy} closed without an answer (way to {target})",
    "conn.proxy.no_answer.hint": "Check the proxy host and port: no HTTP proxy answers there.",
    "conn.saved_proxy.unreachable": "proxy {proxy}: no connection ({reason}); {target} through "
    "the proxy not checked. The unit signs with the built-in simulator for now (no proxy).",
    "conn.saved_proxy.unreachable.hint": "Check the proxy host and port (ask the network "
    "administrator), or remove the proxy from the configuration if the unit reaches the "
    "internet directly.",
    "conn.saved_proxy.ok": "proxy {proxy} reachable, {target} reachable through the proxy. The "
    "unit signs with the built-in simulator for now (no proxy).",
    "conn.saved_proxy.needs_credentials": "proxy {proxy} wants credentials (HTTP 407); {target} "
    "not reachable through the proxy. The unit signs with the built-in simulator for now (no "
    "proxy).",
    "conn.saved_proxy.needs_credentials.hint": "Ask the network administrator for the proxy "
    "user and password and enter them.",
    "conn.saved_proxy.credentials_refused": "proxy {proxy} refuses the proxy credentials (HTTP "
    "407); {target} not reachable through the proxy. The unit signs with the built-in "
    "simulator for now (no proxy).",
    "conn.saved_proxy.credentials_refused.hint": "Ask the network administrator for the proxy "
    "user and password and enter them.",
    "conn.saved_proxy.refused": "proxy {proxy} answers, but {target} is not reachable through "
    "the proxy (HTTP {status}). The unit signs with the built-in simulator for now (no proxy).",
    "conn.saved_proxy.refused.hint": "The proxy must allow HTTPS connections (CONNECT) to "
    "fiskaly on port 443: settle it with the network administrator. With real fiskaly "
    "credentials the unit could not sign this way.",
    "conn.saved_proxy.no_answer": "proxy {proxy} closed without an answer; {target} not "
    "reachable through the proxy. The unit signs with the built-in simulator for now (no "
    "proxy).",
    "conn.saved_proxy.no_answer.hint": "Check the proxy host and port: no HTTP proxy answers "
    "there.",
    "conn.tls.plain": "{url} is plain HTTP (simulator or test URL): no TLS",
    "conn.tls.no_tunnel": "no tunnel through the proxy (HTTP {status})",
    "conn.tls.no_tunnel.hint": "The proxy must allow HTTPS connections (CONNECT) to fiskaly on "
    "port 443: settle it with the network administrator.",
    "conn.tls.ok": "{version} with {host}, certificate verified",
    "conn.tls.ok_until": "{version} with {host}, certificate verified, valid until {until}",
    "conn.tls.untrusted": "the certificate of {host} is not trusted (X.509 error {code})",
    "conn.tls.untrusted.hint": "Check the unit's clock and whether a proxy breaks TLS open "
    "(then ask the network administrator for its certificate).",
    "conn.tls.failed": "TLS with {host} failed ({reason})",
    "conn.tls.failed.hint": "Check the unit's clock and whether a proxy breaks TLS open.",
    "conn.auth.no_credentials": "no fiskaly {mode} credentials for this tenant",
    "conn.auth.no_credentials.hint": "Create them: 'Anlegen' (needs the vendor's activation), "
    "or own TEST credentials: tsectl credentials set.",
    "conn.auth.ok": "API key {key} accepted (organization {organization})",
    "conn.environment.mismatch": "the credentials are for {env}, but the unit is in {mode} mode",
    "conn.environment.mismatch.hint": "TEST and LIVE never mix: use credentials of the unit's "
    "mode ('Anlegen'); registers set up in TEST must be reset (tsectl reset --all).",
    "conn.environment.ok": "token environment {env} matches the mode",
    "conn.tss.none": "no {mode} TSS is set up for this tenant yet",
    "conn.tss.none.hint": "Set it up: tsectl tss setup (the service also does it at start).",
    "conn.tss.not_found": "TSS {tss} does not exist at fiskaly",
    "conn.tss.not_found.hint": "Set up a new TSS: tsectl tss setup --new, then tsectl reset --all.",
    "conn.tss.other_mode": "TSS {tss} is {state} ({env}), but the unit is in {mode} mode",
    "conn.tss.other_mode.hint": "TEST and LIVE never mix: set up the TSS of the mode (tsectl "
    "tss setup --new).",
    "conn.tss.ok": "TSS {tss} is {state} ({env}), serial {serial}…",
    "conn.tss.unfinished": "TSS {tss} is {state} ({env}): its set-up is not finished",
    "conn.tss.unfinished.hint": "Finish the set-up: tsectl tss setup (or restart the service).",
    "conn.tss.unusable": "TSS {tss} is {state} ({env}) and cannot sign",
    "conn.tss.unusable.hint": "Set up a new TSS: tsectl tss setup --new, then tsectl reset --all.",
    "conn.clients.none_paired": "no registers paired yet ({registered} client(s) on the TSS)",
    "conn.clients.missing": "{missing} of {registers} register(s) have no registered client on "
    "this TSS: {ids}",
    "conn.clients.missing.hint": "Reset them: tsectl reset --register ID (or --all).",
    "conn.clients.ok": "{registers} register(s), all registered ({registered} of {limit} clients)",
    "conn.clients.near_limit": "{registers} register(s), all registered ({registered} of "
    "{limit} clients): close to the TSS's limit",
    "conn.clients.near_limit.hint": "Revoke the registers no longer used (tsectl registers "
    "revoke ID).",
    "conn.clock.offset": "the unit's clock is {offset} s off fiskaly's",
    "conn.clock.far": "the unit's clock is {offset} s off fiskaly's: too far",
    "conn.clock.far.hint": "Enable time synchronisation (NTP, systemd-timesyncd) and check the "
    "unit's time zone settings; receipts show fiskaly's times.",
    "conn.skip.not_saved": "the configuration is not saved",
    "conn.skip.unresolvable": "the fiskaly host cannot be resolved",
    "conn.skip.proxy": "the proxy does not let the unit through",
    "conn.skip.no_tls": "no TLS connection",
    "conn.skip.no_credentials": "no credentials",
    "conn.skip.auth_failed": "authentication failed",
    "conn.skip.mismatch": "TEST/LIVE mismatch",
    "conn.skip.no_tss": "no TSS",
    "conn.skip.tss_unusable": "the TSS is not usable",
    "conn.skip.no_answer": "no answer from fiskaly to compare with",
}
