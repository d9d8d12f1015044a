"""E-mail alerts: subscriptions' deliveries through an outbox, rendered from Jinja2 templates and sent
over SMTP.

- ``outbox``     ``enqueue``, ``enqueue_digests``, ``send_due`` (and ``notify``, all three): the delivery
                 guarantees and the crash rule are in its docstring.
- ``render``     the multipart text + HTML message of a delivery.
- ``smtp``       the SMTP client, with failures sorted into transient and permanent ones.

The e-mail address checks are ``watcher.addresses`` (settings validation uses them too); the local
SMTP server of the demo and the tests is ``watcher.demo.sink``.
"""
