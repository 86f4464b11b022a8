"""The notices of ``tsectl status`` and ``tsectl health`` (``notice.<domain>.<what>``), German
and English: same ids, same placeholders (:mod:`tsed.texts.notices`)."""

from __future__ import annotations

DE: dict[str, str] = {
    "notice.tss.recreated": "Die TSS {old} wurde gelöscht oder ersetzt; eine neue TSS {new} "
    "wurde selbsttätig eingerichtet.",
    "notice.archive.unavailable": "Archiv: lässt sich nicht öffnen; es wird nichts archiviert "
    "(Journal: journalctl -u tsed).",
    "notice.archive.findings": "Archiv: der Export der TSS {tss}, Zähler {first}..{last}, hat "
    "Befunde ({codes}), aufbewahrt als {path}; siehe tsectl archive status",
    "notice.archive.tss_stopped": "Archiv: der letzte Lauf brach bei TSS {tss} ab (Fehler "
    "{code}); siehe tsectl archive status",
    "notice.archive.unfinished": "Archiv: der letzte Lauf ({reason}) wurde nicht fertig; "
    "siehe tsectl archive status",
    "notice.archive.disk": "Archiv: der Speicher ist in etwa {days} Tagen voll",
    "notice.archive.offbox": "Archiv: die Kopie außer Haus ist {state}; siehe tsectl archive "
    "copy-status",
    "notice.archive.offbox.failing": "fehlerhaft",
    "notice.archive.offbox.stale": "veraltet",
    "notice.reconcile.finding": "Wartung: die spät signierte Transaktion {tx} (TSS {tss}, "
    "Signaturzähler {counter}) liegt in keinem archivierten Export; siehe tsectl archive status",
    "notice.reconcile.more": "Wartung: {count} weitere spät signierte Transaktion(en) liegen in "
    "keinem archivierten Export (tsectl health)",
    "notice.housekeeping.failed": "Wartung: in der Nacht zum {day} schlug fehl: {steps}; siehe "
    "tsectl health",
    "notice.housekeeping.stale": "Wartung: der letzte Gesundheitsbericht ist {hours} Stunden "
    "alt; der nächtliche Lauf fand nicht statt (Journal: TSED_EVENT=housekeeping_done)",
    "notice.certificate.unreadable": "Das Zertifikat der TSE {tss} (Mandant {tenant}) konnte "
    "nicht gelesen werden. Verbindungstest ausführen (tsectl test).",
    "notice.certificate.expired": "Das Zertifikat der TSE {tss} (Mandant {tenant}) ist am {day} "
    "abgelaufen: fiskaly signiert mit dieser TSE nicht mehr. Sofort eine neue TSE einrichten "
    "(tsectl tss setup --new) und dem Finanzamt mitteilen (§ 146a Abs. 4 AO).",
    "notice.certificate.expires": "Das Zertifikat der TSE {tss} (Mandant {tenant}) läuft am "
    "{day} ab (noch {days} Tage). Rechtzeitig eine neue TSE einrichten (tsectl tss setup --new) "
    "und dem Finanzamt mitteilen (§ 146a Abs. 4 AO).",
    "notice.certificate.expires.one": "Das Zertifikat der TSE {tss} (Mandant {tenant}) läuft "
    "am {day} ab (noch 1 Tag). Rechtzeitig eine neue TSE einrichten (tsectl tss setup --new) "
    "und dem Finanzamt mitteilen (§ 146a Abs. 4 AO).",
    # a step of last night's connection test that found trouble (tsectl health)
    "health.test_step": "    Verbindungstest, {title}: {detail}",
    # the notification duty's lines of tsectl status (tsed.cli.tsectl_filing)
    "filing.none": "Meldepflicht (§ 146a Abs. 4 AO): keine offene Mitteilung",
    "filing.due": "Mitteilung fällig bis {due} (noch {days} Tage): {what} ({subject}), "
    "Betriebsstätte {premises}, Mandant {tenant}",
    "filing.due.one": "Mitteilung fällig bis {due} (noch 1 Tag): {what} ({subject}), "
    "Betriebsstätte {premises}, Mandant {tenant}",
    "filing.overdue": "Mitteilung fällig bis {due} (FRIST VERSÄUMT seit {days} Tagen): {what} "
    "({subject}), Betriebsstätte {premises}, Mandant {tenant}",
    "filing.overdue.one": "Mitteilung fällig bis {due} (FRIST VERSÄUMT seit 1 Tag): {what} "
    "({subject}), Betriebsstätte {premises}, Mandant {tenant}",
    "filing.all_premises": "alle",
    "filing.submission": "Übermittlung {id} ({premises}): {state}",
    "filing.submission_error": "Übermittlung {id} ({premises}): {state} – {error}",
    "filing.kind.register_paired": "Kasse in Betrieb genommen",
    "filing.kind.register_removed": "Kasse außer Betrieb genommen",
    "filing.kind.tss_created": "TSE in Betrieb genommen",
    "filing.kind.tss_disabled": "TSE außer Betrieb genommen",
    "filing.kind.certification_changed": "BSI-Zertifizierung der TSE geändert",
    "filing.kind.premises_changed": "Daten der Betriebsstätte geändert",
}

EN: dict[str, str] = {
    "notice.tss.recreated": "The TSS {old} was deleted or replaced; a new TSS {new} was set up "
    "automatically.",
    "notice.archive.unavailable": "archive: cannot be opened; nothing is archived (journal: "
    "journalctl -u tsed).",
    "notice.archive.findings": "archive: the export of TSS {tss} counters {first}..{last} has "
    "findings ({codes}), kept as {path}; see tsectl archive status",
    "notice.archive.tss_stopped": "archive: the last run stopped for TSS {tss} (error {code}); "
    "see tsectl archive status",
    "notice.archive.unfinished": "archive: the last run ({reason}) did not finish; see tsectl "
    "archive status",
    "notice.archive.disk": "archive: the disk is full in about {days} days",
    "notice.archive.offbox": "archive: the off-box copy is {state}; see tsectl archive copy-status",
    "notice.archive.offbox.failing": "failing",
    "notice.archive.offbox.stale": "stale",
    "notice.reconcile.finding": "housekeeping: the late-signed transaction {tx} (TSS {tss}, "
    "signature counter {counter}) is in no archived export; see tsectl archive status",
    "notice.reconcile.more": "housekeeping: {count} more late-signed transaction(s) are in no "
    "archived export (tsectl health)",
    "notice.housekeeping.failed": "housekeeping: last night's {steps} failed ({day}); see "
    "tsectl health",
    "notice.housekeeping.stale": "housekeeping: the last health record is {hours} hours old; the "
    "nightly run did not happen (journal: TSED_EVENT=housekeeping_done)",
    "notice.certificate.unreadable": "The certificate of TSE {tss} (tenant {tenant}) could not "
    "be read. Run the connection test (tsectl test).",
    "notice.certificate.expired": "The certificate of TSE {tss} (tenant {tenant}) expired on "
    "{day}: fiskaly no longer signs with this TSE. Set up a new TSE now (tsectl tss setup --new) "
    "and notify the tax office (§ 146a Abs. 4 AO).",
    "notice.certificate.expires": "The certificate of TSE {tss} (tenant {tenant}) expires on "
    "{day} ({days} days left). Set up a new TSE in time (tsectl tss setup --new) and notify the "
    "tax office (§ 146a Abs. 4 AO).",
    "notice.certificate.expires.one": "The certificate of TSE {tss} (tenant {tenant}) expires "
    "on {day} (1 day left). Set up a new TSE in time (tsectl tss setup --new) and notify the "
    "tax office (§ 146a Abs. 4 AO).",
    "health.test_step": "    connection test, {title}: {detail}",
    "filing.none": "notification duty (§ 146a Abs. 4 AO): no notification open",
    "filing.due": "notification due by {due} ({days} days left): {what} ({subject}), "
    "premises {premises}, tenant {tenant}",
    "filing.due.one": "notification due by {due} (1 day left): {what} ({subject}), "
    "premises {premises}, tenant {tenant}",
    "filing.overdue": "notification due by {due} (DEADLINE MISSED {days} days ago): {what} "
    "({subject}), premises {premises}, tenant {tenant}",
    "filing.overdue.one": "notification due by {due} (DEADLINE MISSED 1 day ago): {what} "
    "({subject}), premises {premises}, tenant {tenant}",
    "filing.all_premises": "all",
    "filing.submission": "submission {id} ({premises}): {state}",
    "filing.submission_error": "submission {id} ({premises}): {state} – {error}",
    "filing.kind.register_paired": "register put into service",
    "filing.kind.register_removed": "register taken out of service",
    "filing.kind.tss_created": "TSE put into service",
    "filing.kind.tss_disabled": "TSE taken out of service",
    "filing.kind.certification_changed": "BSI certification of the TSE changed",
    "filing.kind.premises_changed": "premises data changed",
}
