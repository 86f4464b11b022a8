"""The notification duty of § 146a Abs. 4 AO: master data, reportable events, the filing.

Per tenant the taxpayer, per premises (Betriebsstätte) the address, per register its data
(:mod:`tsed.filing.model`, validated with German errors, the tax number per Land in
:mod:`tsed.filing.taxnumber`), kept in the state directory's filing store
(:mod:`tsed.filing.store`). Reportable events carry their one-month deadline
(:mod:`tsed.filing.events`); the filing of a premises lists all its registers
(:mod:`tsed.filing.form`: printable page and CSV) and goes to fiskaly SUBMIT DE
(:mod:`tsed.filing.submit`). ``docs/notification.md`` explains the duty and the unit's part.
"""
