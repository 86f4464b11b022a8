"""The unit's state on disk: every path of the state directory, atomic file writes, the
vault of secrets, the SQLite store and its rows. Imports only :mod:`tsed.errors` and
:mod:`tsed.logs`."""
