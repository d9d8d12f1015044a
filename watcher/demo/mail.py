"""The e-mail part of ``watcher demo``: a real SMTP server on loopback (``MailSink``), one researcher
subscribed to every alert as it happens and one editor to a daily digest of new indications;
the outbox runs after every round, the digest goes out at the next ``WATCHER_DIGEST_HOUR``, and the
demo prints what the server received."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import TracebackType

from watcher.config import Settings
from watcher.db import Store
from watcher.demo.sink import MailSink, ReceivedMail
from watcher.models import utcnow
from watcher.notify.outbox import enqueue_digests, next_digest_time, notify, send_due
from watcher.subscriptions import SubscriptionSpec, create_subscription

RESEARCHER = "researcher@example.org"
EDITOR = "editor@example.org"


class DemoMail:
    def __init__(self, store: Store, settings: Settings, echo: Callable[[str], None]) -> None:
        self.store = store
        self.base_settings = settings
        self.settings = settings
        self.echo = echo
        self.sink = MailSink()

    def __enter__(self) -> DemoMail:
        self.sink.start()
        self.settings = replace(
            self.base_settings,
            smtp_host=self.sink.host,
            smtp_port=self.sink.port,
            smtp_user="",
            smtp_password="",
            smtp_ssl=False,
            smtp_starttls=False,
            smtp_timeout=5.0,
            mail_from="watcher demo <watcher@example.org>",
        )
        with self.store.session() as session:
            create_subscription(session, SubscriptionSpec(email=RESEARCHER))
            create_subscription(session, SubscriptionSpec(email=EDITOR, mode="daily", kinds=["new_indication"]))
        self.echo(
            f"mail: SMTP server on {self.sink.host}:{self.sink.port}; subscribed {RESEARCHER} (every alert, "
            f"immediately) and {EDITOR} (daily digest of new indications)"
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.sink.stop()

    def after_round(self) -> None:
        report = notify(self.store, self.settings)
        line = f"mail: {report.send.sent} alert e-mail(s) sent to {RESEARCHER}"
        if report.digested:
            line += f"; {report.digested} alert(s) kept for {EDITOR}'s digest"
        self.echo(line)

    def finish(self) -> None:
        """Send the digest as if it were the next digest hour, then show what the server received."""
        now = utcnow()
        enqueue_digests(self.store, self.settings, now=now)
        due = next_digest_time(now, self.settings.digest_hour)
        digests = send_due(self.store, self.settings, now=due).sent
        mails = self.sink.received()
        self.echo(
            f"\n== e-mail: the SMTP server received {len(mails)} message(s) "
            f"({len(mails) - digests} alert mails, {digests} digest sent at {due:%Y-%m-%d %H:%M} UTC) =="
        )
        alert_mails = [m for m in mails if RESEARCHER in m.rcpt_tos]
        digest_mails = [m for m in mails if EDITOR in m.rcpt_tos]
        if alert_mails:
            self._show("one alert e-mail", alert_mails[0])
        if digest_mails:
            self._show("the digest", digest_mails[-1])

    def _show(self, title: str, mail: ReceivedMail) -> None:
        message = mail.message
        self.echo(f"\n-- {title} --")
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
            self.echo(f"{header}: {str(message[header]).strip()}")
        self.echo("")
        self.echo(mail.part("plain").rstrip())
