"""The demo harness: what ``watcher demo`` (and the tests and benchmarks) run against, on loopback.

- ``run``   ``watcher demo``: the whole pipeline over the rounds of the bundled demo site, on a fresh
            embedded database, printing checks, changes and alerts.
- ``site``  ``VersionedSite``, a real local HTTP server whose pages change from round to round.
- ``mail``  the e-mail part of the demo: subscriptions, the outbox after each round, mails printed.
- ``sink``  ``MailSink``, a real local SMTP server that keeps what it receives.

Nothing in the service imports this package.
"""
