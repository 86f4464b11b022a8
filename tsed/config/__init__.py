"""The configuration: the model and its validation (the vendor mask's fields), editing it
as the setup page and ``tsectl config`` do, text rules, tenants. Imports :mod:`tsed.state`."""
