"""English texts of every error code: ``code: (message, hint)`` (twin of ``errors_de``)."""

from __future__ import annotations

ERRORS: dict[str, tuple[str, str]] = {
    "INTERNAL": (
        "The unit failed to handle this request.",
        "Retry; if it persists, report it with the journal (journalctl -u tsed).",
    ),
    "UNAUTHORIZED": ("Not logged in, or the login expired.", "Log in again."),
    "LOCKED_OUT": (
        "Too many failed attempts: locked for a while.",
        "Wait the time named, then try again.",
    ),
    "ATTEMPT_IN_PROGRESS": (
        "An earlier attempt is still being checked.",
        "Wait for the answer to the previous attempt, then retry.",
    ),
    "RATE_LIMITED": (
        "Too many login or pairing attempts in a short time.",
        "Retry in a moment; signing by paired registers is not affected.",
    ),
    "BUSY": (
        "The unit is checking other passwords right now.",
        "Retry in a moment.",
    ),
    "CONFIG_INVALID": (
        "A setting is not valid.",
        "Correct the named setting and save again.",
    ),
    "MULTI_TENANT_LOCKED": (
        "'Mehrere Mandanten in Filialkette' can no longer change.",
        "Decide it before Anlegen; set it back, or reset the unit's credentials first.",
    ),
    "ACTIVATION_NO_VENDOR_KEY": (
        "The unit's vendor key is missing or damaged.",
        "It is not a setting: reinstall the unit's image, or ask the vendor for a fixed one.",
    ),
    "ACTIVATION_MALFORMED": (
        "The file is not an activation document for this unit (or is damaged).",
        "Ask the vendor for the file again and import it unchanged.",
    ),
    "CONFLICT": (
        "The current state does not allow this.",
        "Check the state (tsectl status), then try again.",
    ),
    "ARCHIVE_INCOMPLETE": (
        "The TSS's signatures are not all in the archive yet; nothing was changed.",
        "Fix what the archive run names (tsectl archive status), run 'tsectl archive run', "
        "then try again.",
    ),
    "ARCHIVE_SHRANK": (
        "The local archive lost files since its last off-box copy; not copied.",
        "Restore the archive from the copy (tsectl archive restore --to DIR) and put it back; "
        "the copies then go on.",
    ),
    "FILING_INVALID": (
        "A value of the notification under § 146a (4) AO is not valid.",
        "Correct it and send again (tax number as on the tax assessment, dates as YYYY-MM-DD).",
    ),
    "FILING_INCOMPLETE": (
        "Master data for the notification is missing.",
        "Add the missing master data (tsectl taxpayer / premises / registers set), then make "
        "the notification again.",
    ),
    "PREMISES_UNKNOWN": (
        "These premises are not known.",
        "tsectl premises list shows the premises.",
    ),
    "SUBMISSION_FAILED": (
        "fiskaly SUBMIT DE did not transmit the notification.",
        "Look up the reason in the journal, correct the data and send again, or print the "
        "notification and enter it in Mein ELSTER.",
    ),
    "SUBMISSION_OPEN": (
        "A submission of these premises with other data is still under way.",
        "It is followed to its end: wait until tsectl filing status shows it as final, then "
        "send the changed notification again.",
    ),
    "UPDATE_FAILED": (
        "The update was not installed.",
        "The unit goes on signing with the running version. Details: journalctl -u rauc -u tsed.",
    ),
    "UPDATE_BAD_SIGNATURE": (
        "The update bundle is not signed by the vendor.",
        "Only the vendor's bundles are installed. Download the bundle again from the vendor.",
    ),
    "UPDATE_OTHER_DEVICE_CLASS": (
        "The update bundle is for another device.",
        "Use the bundle for this device (TSE-LAN unit).",
    ),
    "UPDATE_DOWNGRADE": (
        "The update bundle is older than the running version.",
        "Install a newer version; older versions cannot safely read a newer one's data.",
    ),
    "UPDATE_UNAVAILABLE": (
        "Updates are not possible on this system.",
        "Updates exist only on the device itself (RAUC with two system slots); check: "
        "systemctl status rauc.",
    ),
    "UPDATE_DOWNLOAD_FAILED": (
        "The update bundle could not be downloaded.",
        "Check the bundle's address and the proxy (tsectl config show), or copy the bundle onto "
        "the device and install the file.",
    ),
    "STORE_TOO_NEW": (
        "The store was written by a newer tsed; the unit does not start on it.",
        "Boot the newer version again (tsectl update status shows the other slot) or install "
        "an update at least as new; the fiscal data stays untouched.",
    ),
    "ARCHIVE_CONFLICT": (
        "The archive has an entry for this range already.",
        "The archive is write-once: run tsectl archive verify and look at the journal.",
    ),
    "CONFIG_NOT_SAVED": (
        "The configuration was never saved.",
        "Save it once first (setup page 'Speichern', or tsectl config set).",
    ),
    "CREDENTIALS_EXIST": (
        "Every tenant has fiskaly credentials already.",
        "Run the connection test (tsectl test).",
    ),
    "TOO_MANY_OPEN_TRANSACTIONS": (
        "This register has too many open transactions.",
        "Finish or cancel them first; the limit is the setting max_open_per_register.",
    ),
    "EXPORT_FAILED": (
        "fiskaly could not produce the export.",
        "Try again later or with a narrower range; the journal has fiskaly's reason.",
    ),
    "EXPORT_TIMEOUT": (
        "The export took too long.",
        "Big exports take up to an hour: try a narrower range or a longer --wait.",
    ),
    "FORBIDDEN": ("This login may not do that.", "Try again with a login that may."),
    "TENANT_MISMATCH": (
        "The register asks for another tenant than the one it is bound to.",
        "Open the pairing window for the right tenant (tsectl pair --tenant ID).",
    ),
    "MANAGEMENT_CREDENTIALS_REJECTED": (
        "fiskaly refused the vendor's management credentials.",
        "Ask the vendor for a new activation document.",
    ),
    "ACTIVATION_BAD_SIGNATURE": (
        "The activation document is not signed by the vendor (or was changed).",
        "Ask the vendor for a new document.",
    ),
    "ACTIVATION_EXPIRED": (
        "The activation document has expired.",
        "Ask the vendor for a new one (and check the unit's clock if this is unexpected).",
    ),
    "ACTIVATION_NOT_YET_VALID": (
        "The activation document is only valid in the future.",
        "Check the unit's clock (NTP) or ask the vendor for a document valid now.",
    ),
    "ACTIVATION_OTHER_DEVICE": (
        "The activation document is for another unit.",
        "Give the vendor this unit's device id (tsectl status) and ask for a document for it.",
    ),
    "ACTIVATION_REPLAYED": (
        "This activation document was used already.",
        "A document is accepted once: ask the vendor for a new one.",
    ),
    "SETUP_CODE_WRONG": (
        "The setup code is wrong or no longer valid.",
        "The label on the housing, the console or 'tsectl setup-code' shows it; it is valid "
        "until the admin password is set.",
    ),
    "PASSWORD_WRONG": ("The password is wrong.", "Type the current admin password."),
    "INVALID_REQUEST": ("The request is not valid.", "Fix the input as described."),
    "VENDOR_TOOL": ("The vendor tool cannot do that.", "See tsed-vendor --help."),
    "BODY_TOO_LARGE": (
        "The request is too large.",
        "Send smaller bodies; a receipt needs only a few hundred bytes.",
    ),
    "METHOD_NOT_ALLOWED": (
        "This method is not allowed on this path.",
        "See the API description.",
    ),
    "BODY_TIMEOUT": (
        "The request did not arrive whole.",
        "Send the whole request body at once; the connection was closed.",
    ),
    "ORGANIZATION_ADDRESS_MISSING": (
        "fiskaly needs the organization's address.",
        "Give street, zip and town to Anlegen (tsectl: --address), or ask the vendor to "
        "include it in the activation document.",
    ),
    "CONFIRMATION_REQUIRED": (
        "The confirmation is missing.",
        "Confirm the dialog with 'Ja' (tsectl: --yes); the credentials are then created at "
        "fiskaly and shown once.",
    ),
    "CREDENTIALS_REJECTED": (
        "fiskaly refused this API key and secret.",
        "Copy them again from the fiskaly dashboard (TEST environment).",
    ),
    "PASSWORD_TOO_WEAK": (
        "The password is too weak.",
        "Choose at least 10 characters; a short sentence is easy to remember.",
    ),
    "MODE_CONFLICT": (
        "TEST and LIVE never mix.",
        "Reset the register (tsectl reset) and re-initialize it.",
    ),
    "MODE_MISMATCH": (
        "This register still holds TEST state.",
        "Reset it (setup page or tsectl reset --register ID) and start a new transaction; "
        "TEST transactions cannot be finished in LIVE.",
    ),
    "ACTIVATION_DOWNGRADE": (
        "A LIVE unit never goes back to TEST.",
        "Ask the vendor for a LIVE document if management credentials must be renewed.",
    ),
    "ACTIVATION_MISSING": (
        "The vendor activation is still missing.",
        "The vendor must activate this unit first (import the file with tsectl activate FILE).",
    ),
    "CREDENTIALS_TEST_ONLY": (
        "Own credentials are for TEST only.",
        "LIVE credentials are created with 'Anlegen' after the vendor's LIVE activation.",
    ),
    "NOT_FOUND": (
        "Not found.",
        "Check the id; it may belong to another register or unit.",
    ),
    "NO_SUCH_ROUTE": ("There is no such path.", "See the API description."),
    "STORAGE_FAILED": (
        "The unit cannot write its state directory.",
        "Free space or call service. No transaction was accepted.",
    ),
    "STORAGE_FULL": (
        "The unit's storage is full.",
        "Free space (remove copied exports or backups, shrink the journal: journalctl "
        "--vacuum-size=50M); the unit takes receipts again at once. No transaction was "
        "accepted.",
    ),
    "FAILED": ("The command failed.", "See the message above."),
    "ABORTED": (
        "Not confirmed: nothing was changed.",
        "Run the command again and confirm with 'Ja'.",
    ),
    "NOT_RUNNING": (
        "The tsed service is not running.",
        "Start the service (systemctl start tsed) or pass --socket / --state-dir.",
    ),
    "PERMISSION_DENIED": (
        "No permission to use the unit's admin socket.",
        "Run tsectl as root or as the service user tsed.",
    ),
    "USAGE": ("The command line is incomplete or wrong.", "See tsectl --help."),
    "HTTP_ERROR": ("The request was refused.", "See the API description."),
    "TELEMETRY_FAILED": (
        "The telemetry push failed.",
        "Check telemetry.gateway, the credential (tsectl telemetry set-token) and the proxy; "
        "signing is not affected.",
    ),
    "OFFBOX_FAILED": (
        "The off-box copy of the archive failed.",
        "The local archive is unaffected. Check the backup target and run tsectl archive "
        "copy again.",
    ),
    "OFFBOX_AUTH_FAILED": (
        "The backup target refuses the unit.",
        "Check offbox.user and the target's credential.",
    ),
    "OFFBOX_FULL": (
        "The backup target's disk is full.",
        "Free space there; nothing was removed from the local archive.",
    ),
    "OFFBOX_MISSING": (
        "There is no repository at the backup target.",
        "Check offbox.repository; tsectl archive copy creates it on first use.",
    ),
    "OFFBOX_PROXY_FAILED": (
        "The proxy does not let the unit through to the backup target.",
        "Check the proxy settings and password, and ask the network administrator to allow "
        "the target.",
    ),
    "OFFBOX_UNREACHABLE": (
        "The backup target does not answer.",
        "Check that it is on, its address and port (offbox.repository) and the network; the "
        "unit retries at the next archive run.",
    ),
    "OFFBOX_WRONG_PASSWORD": (
        "The repository password does not open this repository.",
        "Enter the password the repository was created with (on the installer's record sheet).",
    ),
    "RESTIC_MISSING": (
        "The restic program is not installed.",
        "apt-get install restic (Debian 12), or use the unit's image.",
    ),
    "FISKALY_ERROR": (
        "Something failed on the way to fiskaly.",
        "Run the connection test (tsectl test) and check the journal.",
    ),
    "FISKALY_REJECTED": (
        "fiskaly refused the request.",
        "Run the connection test (tsectl test) and check the journal.",
    ),
    "FISKALY_ACCESS_DENIED": (
        "fiskaly denies these credentials access to this TSS.",
        "Check the tenant's credentials (tsectl credentials).",
    ),
    "TEST_LIVE_MISMATCH": (
        "TEST and LIVE state were mixed (fiskaly: 403 'You may not access this TSS').",
        "Reset the register (tsectl reset --register ID, or --all) and re-initialize it.",
    ),
    "ADMIN_PIN_BLOCKED": (
        "The TSS admin PIN is blocked.",
        "Set it again with the admin PUK (tsectl tss setup).",
    ),
    "ADMIN_PIN_REJECTED": (
        "fiskaly refused the TSS admin PIN.",
        "The unit does not retry on its own (five wrong PINs block it): set a new PIN with "
        "the PUK (tsectl tss setup), or set up a new TSS.",
    ),
    "FISKALY_BAD_CREDENTIALS": (
        "fiskaly refused the API key and secret.",
        "Create new credentials (Anlegen) or enter the right ones (tsectl credentials set).",
    ),
    "CLIENT_DEREGISTERED": (
        "The register's fiskaly client is deregistered.",
        "The unit registers it again; if it lasts, pair the register again.",
    ),
    "FISKALY_NOT_FOUND": (
        "The TSS, client or transaction does not exist at fiskaly.",
        "Check the id; tsectl tss status shows the unit's TSS.",
    ),
    "FISKALY_LIMIT_REACHED": ("A fiskaly limit was reached.", "See the message."),
    "CLIENT_LIMIT_REACHED": (
        "The TSS serves the most registers it may.",
        "Revoke unused registers (tsectl registers revoke) or set up another tenant/TSS.",
    ),
    "OPEN_TRANSACTION_LIMIT_REACHED": (
        "2000 transactions are open on this TSS.",
        "Registers must finish or cancel them; the unit cancels abandoned ones itself.",
    ),
    "TX_REVISION_CONFLICT": (
        "The transaction changed meanwhile.",
        "Read it and retry.",
    ),
    "TSS_NOT_READY": (
        "The TSS cannot sign in its current state.",
        "Run tsectl tss status and tsectl tss setup.",
    ),
    "TSS_LOCKED": ("fiskaly maintains this TSS right now.", "The unit retries by itself."),
    "TSS_UNUSABLE": (
        "This TSS can no longer sign.",
        "Set up a new TSS (tsectl tss setup) and reset the registers (tsectl reset --all).",
    ),
    "FISKALY_UNAVAILABLE": (
        "fiskaly cannot be reached right now.",
        "The unit retries by itself. If it lasts, check the internet connection and proxy, "
        "then run tsectl test.",
    ),
    "DNS_FAILED": (
        "The name of the fiskaly server cannot be resolved.",
        "Check the unit's DNS server (DHCP) or configure the shop's proxy.",
    ),
    "FISKALY_BUSY": (
        "fiskaly is still working on an earlier request.",
        "The unit retries by itself.",
    ),
    "FISKALY_RATE_LIMITED": ("fiskaly asks to slow down.", "The unit waits and retries."),
    "FISKALY_TIMEOUT": (
        "fiskaly did not answer in time.",
        "The unit retries by itself. If it lasts, check the internet connection and the proxy.",
    ),
    "PROXY_FAILED": (
        "The proxy does not answer or does not let the unit through to fiskaly.",
        "Check proxy host and port (tsectl config show) and that the proxy runs and lets the "
        "unit through.",
    ),
    "PROXY_AUTH_REQUIRED": (
        "The proxy wants credentials (HTTP 407).",
        "Set the proxy user and password, or ask the network administrator for them.",
    ),
    "TLS_FAILED": (
        "The TLS connection to fiskaly failed.",
        "Check the unit's clock and whether a proxy intercepts TLS (it must let the unit "
        "through unmodified).",
    ),
    "FISKALY_BAD_RESPONSE": ("fiskaly answered unexpectedly.", "Check the journal."),
    "FISKALY_V1_NOT_SUPPORTED": (
        "Only fiskaly SIGN DE API V2 is supported; V1 no longer is.",
        "Remove the V1 URL or setting.",
    ),
    "PROCESS_DATA_INVALID": (
        "The receipt data is not valid.",
        "Correct the receipt field the message names.",
    ),
}
