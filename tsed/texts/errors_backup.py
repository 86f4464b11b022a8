"""The texts of the backup's and restore's error codes, German and English: ``code: (message,
hint)``, same codes in both (:mod:`tsed.texts.errors_de` and ``errors_en`` hold the others)."""

from __future__ import annotations

DE: dict[str, tuple[str, str]] = {
    "BACKUP_FAILED": (
        "Die Sicherung kann nicht erstellt oder gelesen werden; an der Einheit wurde nichts "
        "geändert.",
        "Die Meldung lesen, Datei oder Passwort korrigieren und den Befehl erneut ausführen "
        "(docs/backup.md).",
    ),
    "BACKUP_WRONG_PASSWORD": (
        "Das Passwort öffnet diese Sicherung nicht.",
        "Das Passwort angeben, mit dem sie erstellt wurde (auf dem Einrichtungsblatt). An der "
        "Einheit wurde nichts geändert.",
    ),
    "BACKUP_DAMAGED": (
        "Die Datei ist keine vollständige Sicherung (beschädigt, abgeschnitten oder eine andere "
        "Datei).",
        "Die Datei erneut kopieren oder die neueste Kopie vom Sicherungsziel holen (tsectl "
        "backup fetch). An der Einheit wurde nichts geändert.",
    ),
    "BACKUP_TOO_NEW": (
        "Die Sicherung stammt von einer neueren tsed-Version als dieser.",
        "Erst die Einheit aktualisieren, dann wiederherstellen. An der Einheit wurde nichts "
        "geändert.",
    ),
    "BACKUP_PASSWORD_TOO_WEAK": (
        "Das Sicherungspasswort ist zu kurz (mindestens 12 Zeichen).",
        "Ein längeres Passwort wählen und auf dem Einrichtungsblatt notieren: ohne es kann "
        "niemand die Sicherung wiederherstellen.",
    ),
    "BACKUP_UNIT_HOLDS_DATA": (
        "Diese Einheit hat schon eigene fiskalische Daten; die Wiederherstellung würde sie "
        "ersetzen.",
        "Nur wenn sie wirklich ersetzt werden sollen: tsectl backup restore DATEI --replace "
        "(mit Bestätigung); die bisherigen Daten bleiben unter .replaced-<Zeit> erhalten.",
    ),
    "BACKUP_DAEMON_RUNNING": (
        "Die Einheit läuft; wiederhergestellt wird nur bei angehaltener Einheit.",
        "Erst anhalten (systemctl stop tsed), wiederherstellen, dann wieder starten "
        "(systemctl start tsed). Es wurde nichts geändert.",
    ),
    "RESTORE_PLAN_UNREADABLE": (
        "Der Plan einer unterbrochenen Wiederherstellung (restore-swap.json) ist unlesbar oder "
        "stammt von einer neueren tsed-Version; es wurde nichts verändert.",
        "Die Sicherung erneut einspielen: tsectl backup restore DATEI --replace --abandon-swap "
        "(der Plan wird als .abandoned-swap-<Zeit>.json aufbewahrt, der jetzige Stand unter "
        ".replaced-<Zeit>; nichts wird gelöscht).",
    ),
    "RESTORE_UNFINISHED": (
        "Eine unterbrochene Wiederherstellung kann nicht abgeschlossen werden; ihr Plan bleibt "
        "erhalten, die Einheit startet nicht auf halb altem, halb neuem Stand.",
        "Als root tsectl backup restore --finish ausführen (schließt den Tausch ab und gibt "
        "die Dateien dem Dienstbenutzer), oder das Zustandsverzeichnis dem Dienstbenutzer "
        "zurückgeben (chown -R tsed:tsed /var/lib/tsed) und die Einheit neu starten. Es ging "
        "nichts verloren.",
    ),
}

EN: dict[str, tuple[str, str]] = {
    "BACKUP_FAILED": (
        "The backup cannot be made or read; nothing on the unit was changed.",
        "Read the message, correct the file or the password and run the command again "
        "(docs/backup.md).",
    ),
    "BACKUP_WRONG_PASSWORD": (
        "The password does not open this backup.",
        "Give the password it was created with (on the installer's record sheet). Nothing on "
        "the unit was changed.",
    ),
    "BACKUP_DAMAGED": (
        "The file is not a complete tsed backup (damaged, cut off or another file).",
        "Copy it again, or take the newest copy from the off-box target (tsectl backup fetch). "
        "Nothing on the unit was changed.",
    ),
    "BACKUP_TOO_NEW": (
        "The backup was written by a newer tsed than this unit runs.",
        "Update the unit first, then restore. Nothing on the unit was changed.",
    ),
    "BACKUP_PASSWORD_TOO_WEAK": (
        "The backup password is too short (at least 12 characters).",
        "Choose a longer one and write it on the installer's record sheet: without it nobody "
        "can restore the backup.",
    ),
    "BACKUP_UNIT_HOLDS_DATA": (
        "This unit already holds fiscal data of its own; the restore would replace it.",
        "Only if it really is to be replaced: tsectl backup restore FILE --replace (with "
        "confirmation); the old data stays under .replaced-<time>.",
    ),
    "BACKUP_DAEMON_RUNNING": (
        "The unit is running; a restore needs it stopped.",
        "Stop it (systemctl stop tsed), restore, then start it again (systemctl start tsed). "
        "Nothing was changed.",
    ),
    "RESTORE_PLAN_UNREADABLE": (
        "The plan of an interrupted restore (restore-swap.json) is unreadable or was written by "
        "a newer tsed; nothing was changed.",
        "Restore the backup again: tsectl backup restore FILE --replace --abandon-swap (the "
        "plan is kept as .abandoned-swap-<time>.json, the state there now in .replaced-<time>; "
        "nothing is deleted).",
    ),
    "RESTORE_UNFINISHED": (
        "An interrupted restore cannot be finished; its plan is kept, and the unit does not "
        "start on half old, half new state.",
        "Run tsectl backup restore --finish as root (it finishes the swap and gives the files "
        "to the service user), or give the state directory back to the service user (chown -R "
        "tsed:tsed /var/lib/tsed) and start the unit again. Nothing was lost.",
    ),
}
