"""tsed: the daemon of a TSE-LAN unit.

Layers (enforced by ``tests/test_layers.py``):

* ``tsed.fiskaly``: the fiskaly SIGN DE V2 client, Management API client and the built-in
  simulator. Imports nothing else of tsed.
* ``tsed`` top level: configuration, vault, store, signing and provisioning services.
* ``tsed.net``: everything that faces the LAN (register API, admin API and setup page,
  pairing, TLS identity, mDNS, serial console). Never talks to fiskaly directly.
* ``tsed.unit`` (its composition root ``tsed.unit.bootstrap``) and ``tsed.cli.tsed`` wire the
  layers together.
"""

__version__ = "0.1.0"
