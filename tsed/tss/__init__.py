"""The unit's TSS at fiskaly: the one place a fiskaly client is built
(:mod:`tsed.tss.access`), the per-tenant TSS registry and register clients, TAR exports and
export jobs."""
