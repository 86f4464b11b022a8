"""The fiscal archive: every signature of every TSS exported, verified, kept write-once for the
retention period and copied off the box. Imports :mod:`tsed.tss` and below."""
