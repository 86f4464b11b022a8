"""Provisioning: the vendor activation and its document, fiskaly credentials ("Anlegen"),
the switch to LIVE, the register reset, the connection test. Never imports
:mod:`tsed.signing`."""
