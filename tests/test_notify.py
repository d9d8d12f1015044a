"""E-mail alerts through a real SMTP server (aiosmtpd on loopback): message content and headers,
escaping, digests, filters, unsubscribing, SMTP outages with backoff, and the crash rule."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr, parsedate_to_datetime

import pytest
from alert_factory import (
    CLINIC_A,
    CLINIC_B,
    EN_OLD,
    JA_OLD,
    SCRIPT,
    URL_A,
    URL_B,
    change_both,
    feed,
    two_clinic_sources,
)
from sqlalchemy import select

from watcher.config import Settings
from watcher.db import Store
from watcher.demo.sink import MailSink, ReceivedMail
from watcher.models import Alert, Delivery, Snapshot, Subscription, utcnow
from watcher.notify import outbox
from watcher.notify.outbox import claim_lease, enqueue, enqueue_digests, notify, retry_failed, send_due
from watcher.subscriptions import SubscriptionSpec, create_subscription, unsubscribe

PUBLIC = "https://watcher.example.org"
MESSAGE_ID = re.compile(r"^<delivery-\d+\.[0-9a-f]{16}@watcher\.example\.org>$")


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, sink: MailSink) -> Settings:
    return replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_timeout=60.0,
        mail_from="watcher <alerts@watcher.example.org>",
        public_url=PUBLIC,
        digest_hour=8,
        smtp_retry_backoff=30.0,
    )


def subscribe(store: Store, email: str, **filters: object) -> Subscription:
    with store.session() as session:
        subscription, created = create_subscription(session, SubscriptionSpec(email=email, **filters))  # type: ignore[arg-type]
        assert created
        return subscription


def alert_ids(mail: ReceivedMail) -> list[int]:
    return [int(i) for i in str(mail.message["X-Watcher-Alerts"]).split(",")]


def alerts_by_id(store: Store) -> dict[int, Alert]:
    with store.session() as session:
        return {a.id: a for a in session.scalars(select(Alert))}


def deliveries(store: Store) -> list[Delivery]:
    with store.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_alert_mails_content_headers_and_escaping(store: Store, mail_settings: Settings, sink: MailSink) -> None:
    a, b = two_clinic_sources(store)
    subscription = subscribe(store, "reader@example.org")
    change_both(store, mail_settings, a, b)
    alerts = alerts_by_id(store)
    assert len(alerts) == 6

    report = notify(store, mail_settings)
    assert (report.enqueued, report.send.sent, report.send.retrying) == (6, 6, 0)
    mails = sink.received()
    assert len(mails) == 6
    assert sorted(i for m in mails for i in alert_ids(m)) == sorted(alerts), "one mail per alert"
    assert {m.mail_from for m in mails} == {"alerts@watcher.example.org"}
    assert {tuple(m.rcpt_tos) for m in mails} == {("reader@example.org",)}
    ids = [str(m.message["Message-ID"]) for m in mails]
    assert all(MESSAGE_ID.match(i) for i in ids) and len(set(ids)) == 6

    mail = next(
        m
        for m in mails
        if alerts[alert_ids(m)[0]].kind == "claim_strengthened" and alerts[alert_ids(m)[0]].source_id == b
    )
    alert = alerts[alert_ids(mail)[0]]
    message = mail.message
    # Names as the dashboard shows them, not machine ids.
    assert (
        message["Subject"]
        == f"[watcher] [high] claim strengthened: depression うつ病 (possible -> proven) - {CLINIC_B}"
    )
    assert parseaddr(str(message["From"])) == ("watcher", "alerts@watcher.example.org")
    assert message["To"] == "reader@example.org"
    assert abs(parsedate_to_datetime(str(message["Date"])) - utcnow()) < timedelta(minutes=5)
    assert str(message["List-Unsubscribe"]).strip() == f"<{PUBLIC}/unsubscribe/{subscription.unsubscribe_token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    with store.session() as session:
        old_sha = session.get(Snapshot, alert.old_snapshot_id).sha256  # type: ignore[union-attr]
        new_sha = session.get(Snapshot, alert.new_snapshot_id).sha256  # type: ignore[union-attr]
    text, html = mail.part("plain"), mail.part("html")
    for part in (text, html):
        assert CLINIC_B in part and URL_B in part and "claim strengthened" in part and "depression うつ病" in part
        assert old_sha in part and new_sha in part
        assert "2026-03-01 00:00 UTC" in part and "2026-03-02 00:00 UTC" in part
        assert f"{PUBLIC}/sources/{b}" in part and f"{PUBLIC}/alerts/{alert.id}" in part
        assert "/api/" not in part  # people get dashboard pages, not JSON
        assert "1 possible → 4 proven" in part
    assert f"{PUBLIC}/diff/{b}?from={alert.old_snapshot_id}&to={alert.new_snapshot_id}" in text
    assert f"{PUBLIC}/diff/{b}?from={alert.old_snapshot_id}&amp;to={alert.new_snapshot_id}" in html
    # The change is highlighted: [-…-]/{+…+} in text, <del>/<ins> in HTML.
    assert "TMS therapy [-may help with depression-]." in text
    assert "TMS therapy {+is clinically proven to cure depression <script>" in text
    assert re.search(r"TMS therapy <del[^>]*>may help with depression</del>\.", html)
    assert re.search(r"TMS therapy <ins[^>]*>is clinically proven to cure depression &lt;script&gt;", html)
    # Page text is text: the literal <script> is escaped in HTML and kept as is in the text part.
    assert SCRIPT in text
    assert "<script" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert f"Unsubscribe: {PUBLIC}/unsubscribe/{subscription.unsubscribe_token}" in text

    japanese = next(
        m
        for m in mails
        if alerts[alert_ids(m)[0]].kind == "claim_strengthened" and alerts[alert_ids(m)[0]].source_id == a
    )
    assert "エクソソーム点滴[-は-]、うつ病[-の症状を和らげる可能性があり-]ます。" in japanese.part("plain")
    assert CLINIC_A in str(japanese.message["Subject"])

    # Nothing twice: a second run finds nothing to enqueue or send.
    again = notify(store, mail_settings)
    assert (again.enqueued, again.send.sent) == (0, 0) and len(sink.received()) == 6


def test_daily_digest_groups_by_clinic_and_waits_for_the_digest_hour(
    store: Store, mail_settings: Settings, sink: MailSink
) -> None:
    a, b = two_clinic_sources(store)
    subscribe(store, "digest@example.org", mode="daily")
    change_both(store, mail_settings, a, b)
    morning = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # after today's 08:00: due tomorrow 08:00

    assert enqueue_digests(store, mail_settings, now=morning) == 6
    assert enqueue(store, mail_settings, now=morning) == 0, "no immediate subscription"
    [digest] = deliveries(store)
    assert digest.kind == "digest" and digest.next_attempt_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert send_due(store, mail_settings, now=morning).sent == 0
    assert send_due(store, mail_settings, now=datetime(2026, 11, 24, 7, 59, tzinfo=UTC)).sent == 0
    assert not sink.received()

    assert send_due(store, mail_settings, now=datetime(2026, 11, 24, 8, 0, tzinfo=UTC)).sent == 1
    [mail] = sink.received()
    assert mail.message["Subject"] == "[watcher] digest 2026-11-24: 6 alerts from 2 clinics (4 high)"
    assert sorted(alert_ids(mail)) == sorted(alerts_by_id(store))
    text, html = mail.part("plain"), mail.part("html")
    head_a, head_b = text.index(f"== {CLINIC_A}: 3 alerts =="), text.index(f"== {CLINIC_B}: 3 alerts ==")
    assert head_a < head_b, "clinics in alphabetical order"
    assert head_a < text.index(URL_A) < head_b < text.index(URL_B)
    assert URL_B not in text[:head_b] and URL_A not in text[head_b : text.index("-- \n")]
    assert re.findall(r'<h2 class="clinic"[^>]*>([^<]*)</h2>', html) == [f"{CLINIC_A} (3)", f"{CLINIC_B} (3)"]
    assert "&lt;script&gt;" in html and "<script" not in html
    # A summary first: one line per alert, before the first clinic's section.
    summary = text[text.index("In this digest:") : head_a].strip().splitlines()[1:]
    assert len(summary) == 6 and all(line.startswith("- [") for line in summary)
    assert f"- [high] claim strengthened: depression うつ病 (possible → proven) ({CLINIC_B})" in summary
    assert html.index('<ul class="summary">') < html.index('<h2 class="clinic"')

    # Alerts after the digest went out wait for the next one; the sent digest is never sent again.
    feed(store, mail_settings, b, URL_B, [EN_OLD], day0=2)
    assert enqueue_digests(store, mail_settings, now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC)) >= 1
    assert send_due(store, mail_settings, now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC)).sent == 0
    assert send_due(store, mail_settings, now=datetime(2026, 11, 25, 8, 0, tzinfo=UTC)).sent == 1
    second = sink.received()[1]
    assert "2026-11-25" in str(second.message["Subject"]) and not set(alert_ids(second)) & set(alert_ids(mail))
    assert second.message["Message-ID"] != mail.message["Message-ID"]


def test_filters_history_and_unsubscribe(store: Store, mail_settings: Settings, sink: MailSink) -> None:
    a, b = two_clinic_sources(store)
    everything = subscribe(store, "all@example.org")
    subscribe(store, "clinic@example.org", clinics=[CLINIC_B])
    subscribe(store, "source@example.org", sources=[URL_A])
    subscribe(store, "kind@example.org", kinds=["new_indication", "reference_removed"])
    subscribe(store, "indication@example.org", indications=["depression"])
    subscribe(store, "severity@example.org", min_severity="medium")
    subscribe(store, "combined@example.org", clinics=[CLINIC_A], min_severity="high", kinds=["new_indication"])
    subscribe(store, "category@example.org", categories=["誇大広告", "false_advertising"])
    change_both(store, mail_settings, a, b)
    subscribe(store, "late@example.org")  # created after the alerts: none of them is sent to it

    notify(store, mail_settings)
    alerts = alerts_by_id(store)
    got: dict[str, set[int]] = {}
    for mail in sink.received():
        got.setdefault(mail.rcpt_tos[0], set()).update(alert_ids(mail))

    def expected(keep) -> set[int]:  # type: ignore[no-untyped-def]
        return {i for i, alert in alerts.items() if keep(alert)}

    assert got["all@example.org"] == set(alerts)
    assert got["clinic@example.org"] == expected(lambda x: x.source_id == b)
    assert got["source@example.org"] == expected(lambda x: x.source_id == a)
    assert got["kind@example.org"] == expected(lambda x: x.kind in {"new_indication", "reference_removed"})
    assert got["indication@example.org"] == expected(lambda x: x.indication == "depression")
    assert got["severity@example.org"] == expected(lambda x: x.severity in {"medium", "high"})
    assert got["severity@example.org"] != set(alerts), "the low reference_added is filtered out"
    assert got["combined@example.org"] == expected(lambda x: x.source_id == a and x.kind == "new_indication")
    assert len(got["combined@example.org"]) == 1
    # Clinic A's exosome claim turned to proof (誇大広告), clinic B's TMS "cures" (虚偽広告): one alert each.
    in_category = expected(lambda x: bool({"exaggeration", "false_advertising"} & set((x.categories or "").split(","))))
    assert got["category@example.org"] == in_category
    assert {alerts[i].source_id for i in in_category} == {a, b} and in_category != set(alerts)
    assert "late@example.org" not in got

    # Unsubscribing stops mail: new alerts go to the others, not to the unsubscribed address.
    with store.session() as session:
        assert [s.email for s in unsubscribe(session, everything.unsubscribe_token)] == ["all@example.org"]
    before = len(sink.received())
    feed(store, mail_settings, a, URL_A, [JA_OLD], day0=2)
    notify(store, mail_settings)
    later = sink.received()[before:]
    recipients = {m.rcpt_tos[0] for m in later}
    assert later and "all@example.org" not in recipients and "late@example.org" in recipients


def test_smtp_down_then_up_sends_each_alert_exactly_once(store: Store, mail_settings: Settings) -> None:
    with MailSink() as probe:
        port = probe.port  # a port with nothing listening once the probe is stopped
    settings = replace(mail_settings, smtp_port=port)
    a, b = two_clinic_sources(store)
    subscribe(store, "reader@example.org")
    subscribe(store, "depression@example.org", indications=["depression"])
    change_both(store, settings, a, b)
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    first = notify(store, settings, now=t0)
    assert (first.enqueued, first.send.sent, first.send.retrying) == (8, 0, 8)
    assert len(first.send.errors) == 1 and f"cannot connect to SMTP server 127.0.0.1:{port}" in first.send.errors[0]
    rows = deliveries(store)
    assert {(d.status, d.attempts) for d in rows} == {("pending", 1)}
    assert {d.next_attempt_at for d in rows} == {t0 + timedelta(seconds=30)}
    assert all(d.last_error and "cannot connect" in d.last_error for d in rows)

    assert notify(store, settings, now=t0 + timedelta(seconds=29)).send.retrying == 0, "backing off: not due"
    second = notify(store, settings, now=t0 + timedelta(seconds=30))
    assert (second.send.sent, second.send.retrying) == (0, 8)
    assert {(d.status, d.attempts, d.next_attempt_at) for d in deliveries(store)} == {
        ("pending", 2, t0 + timedelta(seconds=30 + 60))
    }, "exponential: 30 s, then 60 s"

    with MailSink(port=port) as sink:
        assert notify(store, settings, now=t0 + timedelta(seconds=60)).send.sent == 0, "still backing off"
        third = notify(store, settings, now=t0 + timedelta(seconds=90))
        assert (third.enqueued, third.send.sent, third.send.retrying, third.send.failed) == (0, 8, 0, 0)
        fourth = notify(store, settings, now=t0 + timedelta(days=1))
        assert (fourth.enqueued, fourth.send.sent) == (0, 0)
        received = Counter((m.rcpt_tos[0], i) for m in sink.received() for i in alert_ids(m))
    assert len(received) == 8 and set(received.values()) == {1}, "every alert exactly once per subscriber"
    assert {(d.status, d.attempts, d.last_error) for d in deliveries(store)} == {("sent", 3, None)}


def test_gives_up_after_max_attempts_until_retried(store: Store, mail_settings: Settings) -> None:
    with MailSink() as probe:
        port = probe.port
    settings = replace(mail_settings, smtp_port=port, smtp_max_attempts=2)
    a, b = two_clinic_sources(store)
    subscribe(store, "reader@example.org", sources=[URL_B], kinds=["new_indication"])
    change_both(store, settings, a, b)
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert notify(store, settings, now=t0).send.retrying == 1
    assert notify(store, settings, now=t0 + timedelta(hours=1)).send.failed == 1
    [row] = deliveries(store)
    assert row.status == "failed" and "gave up after 2 attempts" in (row.last_error or "")
    assert notify(store, settings, now=t0 + timedelta(hours=2)).send.sent == 0
    with MailSink(port=port) as sink:
        assert retry_failed(store, now=t0 + timedelta(hours=3)) == 1
        assert notify(store, settings, now=t0 + timedelta(hours=3)).send.sent == 1
        assert len(sink.received()) == 1


def test_crash_between_send_and_record_resends_with_the_same_message_id(
    store: Store, mail_settings: Settings, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_clinic_sources(store)
    subscribe(store, "reader@example.org", sources=[URL_B])
    change_both(store, mail_settings, a, b)
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert enqueue(store, mail_settings, now=t0) == 3

    def crash(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("power cut after the SMTP server accepted the message")

    monkeypatch.setattr(outbox, "_record_sent", crash)
    with pytest.raises(RuntimeError):
        send_due(store, mail_settings, now=t0)
    monkeypatch.undo()
    [first] = sink.received()
    crashed = next(d for d in deliveries(store) if d.status == "sending")
    assert crashed.attempts == 1 and crashed.message_id == first.message["Message-ID"]

    # Another run before the claim expires leaves it alone (its sender may still be at work) ...
    report = send_due(store, mail_settings, now=t0 + timedelta(seconds=10))
    assert report.sent == 2 and crashed.message_id not in report.message_ids
    # ... and re-sends it, with the same Message-ID, once the claim has expired.
    later = t0 + claim_lease(mail_settings) + timedelta(seconds=1)
    report = send_due(store, mail_settings, now=later)
    assert (report.sent, report.message_ids) == (1, [crashed.message_id])
    ids = Counter(str(m.message["Message-ID"]) for m in sink.received())
    assert ids[str(crashed.message_id)] == 2 and len(ids) == 3 and sum(ids.values()) == 4
    resent = sink.received()[-1]
    assert (resent.part("plain"), resent.part("html"), resent.message["Subject"]) == (
        first.part("plain"),
        first.part("html"),
        first.message["Subject"],
    ), "the same message"
    assert {(d.status, d.message_id is not None) for d in deliveries(store)} == {("sent", True)}
    assert send_due(store, mail_settings, now=later + timedelta(days=1)).sent == 0


def test_unsubscribed_pending_deliveries_are_cancelled(store: Store, mail_settings: Settings, sink: MailSink) -> None:
    a, b = two_clinic_sources(store)
    subscription = subscribe(store, "reader@example.org", sources=[URL_A])
    change_both(store, mail_settings, a, b)
    assert enqueue(store, mail_settings) == 3
    with store.session() as session:
        unsubscribe(session, "Reader@Example.org")
    assert send_due(store, mail_settings).sent == 0 and not sink.received()
    assert {d.status for d in deliveries(store)} == {"cancelled"}
    with store.session() as session:
        assert session.get(Subscription, subscription.id).active is False  # type: ignore[union-attr]
