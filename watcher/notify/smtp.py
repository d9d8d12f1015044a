"""Sending over SMTP (plain, STARTTLS or SSL, optional login), with failures sorted into transient and
permanent ones for the outbox.

One ``SmtpSender`` holds one connection for a whole ``send_due`` run. Once the server is known to be
unreachable (refused, timed out, TLS or login failure), the sender stops trying for the rest of the
run and fails every further message with the same transient error, so an outage costs one timeout,
not one per queued message.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from types import TracebackType

from watcher.config import Settings


class SmtpError(Exception):
    """One message could not be handed over. ``transient``: a later attempt may succeed;
    ``unreachable``: the server itself could not be used (nothing else will go through this run)."""

    def __init__(self, message: str, *, transient: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.unreachable = unreachable


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
    return f"{error.smtp_code} {' '.join(text.split())}"


class SmtpSender:
    """``with SmtpSender(settings) as sender: sender.send(message, sender=..., recipients=[...])``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connection: smtplib.SMTP | None = None
        self._unreachable: SmtpError | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _where(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        try:
            if settings.smtp_ssl:
                connection = smtplib.SMTP_SSL(
                    settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=context
                )
            else:
                connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise self._unusable(f"cannot connect to SMTP server {self._where()}: {_describe(error)}") from None
        try:
            connection.ehlo_or_helo_if_needed()
            if settings.smtp_starttls:
                connection.starttls(context=context)
                connection.ehlo()
            if settings.smtp_user:
                connection.login(settings.smtp_user, settings.smtp_password)
        except smtplib.SMTPAuthenticationError as error:
            connection.close()
            raise self._unusable(
                f"SMTP login as {settings.smtp_user!r} refused by {self._where()}: {_reply(error)}"
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            connection.close()
            raise self._unusable(f"SMTP session with {self._where()} failed: {_describe(error)}") from None
        return connection

    def _unusable(self, message: str) -> SmtpError:
        self._unreachable = SmtpError(message, transient=True, unreachable=True)
        return self._unreachable

    def send(self, message: EmailMessage, *, sender: str, recipients: list[str]) -> None:
        """Hand one message to the server; raises ``SmtpError``."""
        if self._unreachable is not None:
            raise self._unreachable
        reused = self._connection is not None
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.send_message(message, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPServerDisconnected as error:
            self._connection = None
            if reused:  # an idle connection the server closed: one fresh try
                self._connection = self._connect()
                try:
                    self._connection.send_message(message, from_addr=sender, to_addrs=recipients)
                except smtplib.SMTPException as again:
                    raise _classify(again) from None
                return
            raise SmtpError(f"SMTP server {self._where()} disconnected: {_describe(error)}", transient=True) from None
        except smtplib.SMTPException as error:
            raise _classify(error) from None
        except OSError as error:
            self.close()
            raise SmtpError(f"SMTP connection to {self._where()} failed: {_describe(error)}", transient=True) from None


def _classify(error: smtplib.SMTPException) -> SmtpError:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        replies = "; ".join(
            f"{rcpt}: {code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
            for rcpt, (code, text) in error.recipients.items()
        )
        return SmtpError(f"recipient refused: {replies}", transient=not codes or min(codes) < 500)
    if isinstance(error, smtplib.SMTPResponseException):
        what = "sender refused" if isinstance(error, smtplib.SMTPSenderRefused) else "message refused"
        return SmtpError(f"{what}: {_reply(error)}", transient=error.smtp_code < 500)
    return SmtpError(f"SMTP error: {_describe(error)}", transient=True)


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error)
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text or type(error).__name__
