"""Signing receipts: the service the register API calls, the completion of late receipts,
the breaker, the receipt and outcome shapes, metrics. Never imports :mod:`tsed.provisioning`."""
