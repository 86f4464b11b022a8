"""fiskaly SIGN DE API V2: client, Management API v0 client, models, errors and simulator.

This package is the lowest layer of tsed and imports nothing else of tsed, so that it could be
published on its own. The project's error root, :class:`TsedError`, therefore lives in
:mod:`tsed.fiskaly.errors` and is re-exported by :mod:`tsed.errors`.
"""
