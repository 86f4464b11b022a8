"""The command lines: ``tsed``, ``tsectl``, the serial console and ``tsed-vendor``. All are
clients of the admin socket or of the package; nothing imports them."""
