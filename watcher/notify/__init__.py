"""E-mail alerts: subscriptions' deliveries through an outbox, rendered from Jinja2 templates and sent
over SMTP.

- ``outbox``     ``enqueue``, ``enqueue_digests``, ``send_due`` (and ``notify``, all three): the delivery
                 guarantees and the crash rule are in its docstring.
- ``render``     the multipart text + HTML message of a delivery.
- ``smtp``       the SMTP client, with failures sorted into transient and permanent ones.
- ``addresses``  e-mail address checks.
- ``sink``       a local SMTP server that keeps what it receives (the demo and the tests).
"""
