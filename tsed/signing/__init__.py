"""Signing receipts: the operations the register API calls (:mod:`.operations`), the service
that does them and the completion it holds (late signing, recovery), idempotency, the breaker,
the receipt and outcome shapes, metrics. Never imports :mod:`tsed.provisioning`."""
