"""The running unit: its options, the backend (simulator or fiskaly), the registers, the
admin and setup operations, and the daemon, the composition root that builds them all."""
