"""The e-mail commands (subscribe, unsubscribe, subscriptions, notify), their one-line errors, the
e-mail settings, address checks, and SMTP login against a real server."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from alert_factory import CLINIC_A, URL_A, change_both, two_clinic_sources

from watcher.addresses import check_email
from watcher.config import ConfigError, Settings, load_settings
from watcher.db import Store
from watcher.demo.sink import MailSink
from watcher.errors import InputError
from watcher.notify.smtp import SmtpError, SmtpSender


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return str(lines[0])


def test_commands(store: Store, settings: Settings, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    a, b = two_clinic_sources(store)
    for args, message in [
        (("not-an-address",), "invalid e-mail address 'not-an-address'"),
        (("a@b",), "has no dot"),
        (("x@example.org", "--kind", "nope"), "unknown alert kind 'nope'"),
        (("x@example.org", "--min-severity", "extreme"), "unknown severity 'extreme'"),
        (("x@example.org", "--digest", "weekly"), "unknown digest mode 'weekly'"),
        (("x@example.org", "--indication", "flu_like"), "unknown indication 'flu_like'"),
        (("x@example.org", "--clinic", "Nobody"), "no clinic 'Nobody'"),
        (("x@example.org", "--source", "999"), "no source '999'"),
        (("x@example.org", "--source", "https://unknown.example/"), "no source"),
    ]:
        assert message in one_line_error(run_cli("subscribe", *args))
    assert run_cli("subscriptions", "--json").json() == []

    made = run_cli(
        "subscribe",
        "Reader@Example.ORG",
        "--clinic",
        CLINIC_A,
        "--kind",
        "claim_strengthened",
        "--kind",
        "new_indication",
        "--min-severity",
        "high",
        "--json",
    ).json()
    assert made["created"] is True and made["email"] == "Reader@example.org"
    assert (made["clinics"], made["kinds"], made["min_severity"], made["mode"]) == (
        [CLINIC_A],
        ["claim_strengthened", "new_indication"],
        "high",
        "immediate",
    )
    again = run_cli(
        "subscribe",
        "Reader@Example.ORG",
        "--clinic",
        CLINIC_A,
        "--kind",
        "new_indication",
        "--kind",
        "claim_strengthened",
        "--min-severity",
        "high",
        "--json",
    ).json()
    assert again["created"] is False and again["id"] == made["id"]
    digest = run_cli(
        "subscribe", "digest@example.org", "--digest", "daily", "--source", URL_A, "--indication", "schizophrenia"
    )
    assert digest.code == 0 and digest.out.startswith("subscribed: #") and "daily" in digest.out
    assert "e-mail is disabled until WATCHER_SMTP_HOST is set" in digest.err
    rows = run_cli("subscriptions", "--json").json()
    assert [r["email"] for r in rows] == ["Reader@example.org", "digest@example.org"]
    assert rows[1]["sources"] == [URL_A] and rows[1]["indications"] == ["schizophrenia"]
    assert "digest@example.org" in run_cli("subscriptions").out

    disabled = run_cli("notify")
    assert disabled.code == 0 and disabled.out.strip().splitlines() == [
        "e-mail is disabled: set WATCHER_SMTP_HOST to send alerts (nothing enqueued or sent)"
    ]
    assert run_cli("notify", "--json").json() == {"disabled": True}

    change_both(store, settings, a, b)
    with MailSink() as sink:
        monkeypatch.setenv("WATCHER_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WATCHER_SMTP_PORT", str(sink.port))
        report = run_cli("notify", "--json").json()
        assert (report["enqueued"], report["digested"], report["sent"]) == (2, 1, 2)
        assert report["outbox"] == {"sent": 2, "pending": 1}, "the digest waits for WATCHER_DIGEST_HOUR"
        assert {m.rcpt_tos[0] for m in sink.received()} == {"Reader@example.org"}
        text = run_cli("notify")
        assert text.code == 0 and "sent 0" in text.out and "1 delivery(ies) waiting" in text.out
        assert "retry-failed" not in text.out and run_cli("notify", "--retry-failed", "--json").json()["reset"] == 0

    monkeypatch.setenv("WATCHER_SMTP_PORT", "smtp")
    assert "WATCHER_SMTP_PORT='smtp' is invalid" in one_line_error(run_cli("notify"))
    monkeypatch.setenv("WATCHER_SMTP_PORT", "2525")
    monkeypatch.setenv("WATCHER_SMTP_SSL", "1")
    monkeypatch.setenv("WATCHER_SMTP_STARTTLS", "yes")
    assert "are exclusive" in one_line_error(run_cli("notify"))
    monkeypatch.delenv("WATCHER_SMTP_SSL")

    assert "no active subscription 99" in one_line_error(run_cli("unsubscribe", "reader@example.org", "--id", "99"))
    out = run_cli("unsubscribe", "reader@example.org", "--id", str(made["id"]))
    assert out.code == 0 and out.out.strip() == f"unsubscribed #{made['id']} Reader@example.org (immediate)"
    token = rows[1]["unsubscribe_token"]
    assert run_cli("unsubscribe", token).out.startswith(f"unsubscribed #{rows[1]['id']} digest@example.org")
    assert "no active subscription with this token" in one_line_error(run_cli("unsubscribe", token))
    assert "no active subscription for 'nobody@example.org'" in one_line_error(
        run_cli("unsubscribe", "nobody@example.org")
    )
    assert run_cli("subscriptions", "--json").json() == []


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("reader@example.org", True),
        ("first.last+tag@sub.example.co.jp", True),
        ("o'brien@example.org", True),
        ("", False),
        ("reader", False),
        ("reader@", False),
        ("@example.org", False),
        ("a@@example.org", False),
        ("a b@example.org", False),
        ("reader@example", False),
        ("reader@-bad-.org", False),
        ("a..b@example.org", False),
        (".a@example.org", False),
        ("Reader <reader@example.org>", False),
        ("reader@example.org\nBcc: victim@example.org", False),
        ("読者@example.org", False),
    ],
)
def test_address_checks(address: str, ok: bool) -> None:
    if ok:
        assert check_email(address) == address
    else:
        with pytest.raises(InputError, match="invalid e-mail address"):
            check_email(address)


def test_mail_settings() -> None:
    defaults = load_settings({})
    assert (defaults.smtp_host, defaults.smtp_port, defaults.smtp_starttls, defaults.smtp_ssl) == ("", 25, False, False)
    assert (defaults.public_url, defaults.mail_from, defaults.digest_hour) == (
        "http://127.0.0.1:8000",
        "watcher@localhost",
        8,
    )
    custom = load_settings(
        {
            "WATCHER_SMTP_HOST": "mail.example.org",
            "WATCHER_SMTP_PORT": "587",
            "WATCHER_SMTP_STARTTLS": "1",
            "WATCHER_SMTP_USER": "u",
            "WATCHER_SMTP_PASSWORD": "p",
            "WATCHER_MAIL_FROM": "Watcher <alerts@example.org>",
            "WATCHER_PUBLIC_URL": "https://watch.example.org/",
            "WATCHER_DIGEST_HOUR": "6",
            "WATCHER_SMTP_MAX_ATTEMPTS": "3",
            "WATCHER_SMTP_TIMEOUT": "10",
        }
    )
    assert (custom.smtp_port, custom.smtp_starttls, custom.public_url, custom.digest_hour) == (
        587,
        True,
        "https://watch.example.org",
        6,
    )
    assert load_settings(custom.as_env()) == custom, "settings survive the trip through the environment"
    for env, message in [
        ({"WATCHER_SMTP_PORT": "70000"}, "WATCHER_SMTP_PORT"),
        ({"WATCHER_SMTP_HOST": "user@mail"}, "WATCHER_SMTP_HOST"),
        ({"WATCHER_SMTP_SSL": "maybe"}, "WATCHER_SMTP_SSL"),
        ({"WATCHER_SMTP_SSL": "1", "WATCHER_SMTP_STARTTLS": "1"}, "exclusive"),
        ({"WATCHER_SMTP_PASSWORD": "secret"}, "WATCHER_SMTP_USER is empty"),
        ({"WATCHER_SMTP_TIMEOUT": "0"}, "WATCHER_SMTP_TIMEOUT"),
        ({"WATCHER_SMTP_MAX_ATTEMPTS": "0"}, "WATCHER_SMTP_MAX_ATTEMPTS"),
        ({"WATCHER_MAIL_FROM": "not an address"}, "WATCHER_MAIL_FROM"),
        ({"WATCHER_PUBLIC_URL": "ftp://x"}, "WATCHER_PUBLIC_URL"),
        ({"WATCHER_DIGEST_HOUR": "24"}, "WATCHER_DIGEST_HOUR"),
    ]:
        with pytest.raises(ConfigError, match=message) as caught:
            load_settings(env)
        assert "\n" not in str(caught.value)


def test_smtp_login_against_a_real_server() -> None:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "hello", "a@example.org", "b@example.org"
    message.set_content("body")
    with MailSink(login="watcher", password="s3cret") as sink:
        base = load_settings(
            {"WATCHER_SMTP_HOST": "127.0.0.1", "WATCHER_SMTP_PORT": str(sink.port), "WATCHER_SMTP_TIMEOUT": "5"}
        )
        good = load_settings({**base.as_env(), "WATCHER_SMTP_USER": "watcher", "WATCHER_SMTP_PASSWORD": "s3cret"})
        with SmtpSender(good) as sender:
            sender.send(message, sender="a@example.org", recipients=["b@example.org"])
            sender.send(message, sender="a@example.org", recipients=["c@example.org"])
        assert [m.rcpt_tos for m in sink.received()] == [["b@example.org"], ["c@example.org"]]
        bad = load_settings({**base.as_env(), "WATCHER_SMTP_USER": "watcher", "WATCHER_SMTP_PASSWORD": "wrong"})
        with SmtpSender(bad) as sender, pytest.raises(SmtpError, match="SMTP login as 'watcher' refused") as caught:
            sender.send(message, sender="a@example.org", recipients=["b@example.org"])
        assert caught.value.transient and caught.value.unreachable
        with SmtpSender(base) as sender, pytest.raises(SmtpError) as refused:
            sender.send(message, sender="a@example.org", recipients=["b@example.org"])
        assert refused.value.transient is False, "5xx (authentication required) is permanent"
        assert len(sink.received()) == 2
