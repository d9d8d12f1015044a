"""A real SMTP server on loopback that keeps every message it receives (aiosmtpd), for the demo and the
tests: ``with MailSink() as sink: ... sink.messages``."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            raise LookupError(f"no text/{subtype} part")
        return str(body.get_content()).replace("\r\n", "\n")


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        # Login is enforced here rather than with aiosmtpd's auth_required, which warns without TLS.
        if self.sink.login is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        with self.sink.lock:
            self.sink.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 OK"


class MailSink:
    """An aiosmtpd server on 127.0.0.1 and an ephemeral port (``port`` once started).

    ``login``/``password``: require SMTP AUTH (without TLS: loopback only, for tests)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, login: str | None = None, password: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.login = login
        self.password = password
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> MailSink:
        class _EphemeralController(Controller):
            def _trigger_server(self) -> None:
                # Bound to port 0: learn the real port before the controller connects to itself.
                server: Any = self.server
                self.port = server.sockets[0].getsockname()[1]
                super()._trigger_server()  # type: ignore[no-untyped-call]

        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's chatter (and its own deprecations)
        options: dict[str, Any] = {}
        if self.login is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = _EphemeralController(_Handler(self), hostname=self.host, port=self.port, **options)
        controller.start()
        self.port = int(controller.port)
        self._controller = controller
        return self

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.login
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def received(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.messages)
