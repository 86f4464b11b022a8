"""The running unit: its options and settings, the backend (simulator or fiskaly), the
registers, the admin and setup operations, the composition root that builds them all in order
(:mod:`tsed.unit.bootstrap`) and the daemon that starts and stops it."""
