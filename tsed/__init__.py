"""tsed: the daemon of a TSE-LAN unit.

The package's folders are its domains; imports run one way, from the top down (checked by
``tests/test_layers.py``, the layout is described in ``docs/architecture.md``)::

    cli           the command lines: tsed, tsectl, the serial console, tsed-vendor
    unit          the running unit: options, backend, registers, admin operations, the daemon
    net           what faces the LAN: register API, admin API, setup page, TLS, mDNS
    signing       receipts: the signing service, late completion, breaker, metrics
    provisioning  activation, credentials ("Anlegen"), the LIVE switch, reset, connection test
    archive       the fiscal archive: exports kept write-once and copied off the box
    tss           the unit's TSS at fiskaly: client access, per-tenant registry, exports
    config        the configuration: model, validation, editing
    state         the state directory: paths, atomic files, vault, store
    errors, logs, systemd   leaves every domain may use
    fiskaly       the fiskaly SIGN DE V2 client and simulator; imports nothing else of tsed
"""

__version__ = "0.1.0"
