"""Mail the portal sends: one-time passwords, user ID reminders and links.

:class:`SmtpMailer` speaks real SMTP (host, port, optional STARTTLS and login)
from a worker thread so the event loop never waits on the mail server. The
message builders only need a society and the values to put in; the wording is
ours, the facts (society name, sender, link validity) come from societies.yml.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol, Sequence

from bot.domain.societies import Society

logger = logging.getLogger(__name__)


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise."""


class SmtpMailer:
    """Delivers through an SMTP server; the dev server in dev mode, the operator's otherwise."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send_sync, message)


def _sender(society: Society, override: str | None) -> str:
    address = override or society.mail_sender
    return formataddr((society.name, address))


def _message(society: Society, sender: str | None, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = _sender(society, sender)
    msg["To"] = str(Address(addr_spec=to))
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=(sender or society.mail_sender).rpartition("@")[2] or None)
    msg.set_content(body, charset="utf-8")
    return msg


def email_otp_message(
    society: Society, sender: str | None, to: str, code: str, valid_minutes: int
) -> EmailMessage:
    body = (
        f"{society.name}のKOSMO Webにログインするためのワンタイムパスワードです。\n\n"
        f"    {code}\n\n"
        f"有効期限は{valid_minutes}分です。一度使うと無効になります。\n"
        "新しいコードを送った場合は、このコードは使えなくなります。\n"
        "ログインした覚えがない場合は、このメールを破棄してください。\n"
    )
    return _message(society, sender, to, f"【{society.short_name}】ログイン用ワンタイムパスワード", body)


def user_id_reminder_message(
    society: Society, sender: str | None, to: str, user_ids: Sequence[str]
) -> EmailMessage:
    listed = "\n".join(f"    {uid}" for uid in user_ids)
    body = (
        f"{society.name}のKOSMO Webで、このメールアドレスが登録されているユーザIDをお知らせします。\n\n"
        f"{listed}\n\n"
        "お問い合わせの覚えがない場合は、このメールを破棄してください。\n"
    )
    return _message(society, sender, to, f"【{society.short_name}】ユーザIDのお知らせ", body)


def verify_email_message(
    society: Society, sender: str | None, to: str, link: str, valid_minutes: int
) -> EmailMessage:
    body = (
        f"{society.name}のKOSMO Webで、このメールアドレスが登録されようとしています。\n"
        "次のリンクを開くと、登録が確定します。\n\n"
        f"{link}\n\n"
        f"リンクの有効期限は{valid_minutes}分です。\n"
        "登録した覚えがない場合は、このメールを破棄してください。\n"
    )
    return _message(society, sender, to, f"【{society.short_name}】メールアドレス確認のお願い", body)


def reset_password_message(
    society: Society, sender: str | None, to: str, link: str, valid_minutes: int
) -> EmailMessage:
    body = (
        f"{society.name}のKOSMO Webのパスワード再設定を受け付けました。\n"
        "次のリンクから新しいパスワードを設定してください。\n\n"
        f"{link}\n\n"
        f"有効期限は{valid_minutes}分です。\n"
        "再設定を申し込んだ覚えがない場合は、このメールを破棄してください。\n"
    )
    return _message(society, sender, to, f"【{society.short_name}】パスワード再設定のご案内", body)


def unlock_ticket_opened_message(society: Society, sender: str | None, to: str, ticket_id: str) -> EmailMessage:
    """To the owner of the user ID a ticket was opened for; says nothing of whether it matched."""
    body = (
        f"{society.name}のKOSMO Webで、このメールアドレスが登録されたユーザIDについて、\n"
        "アカウントのロック解除のお申し込みを受け付けました。\n\n"
        f"    受付番号: {ticket_id}\n\n"
        "担当者がご本人確認のうえ対応し、結果をこのメールアドレスにお知らせします。\n"
        "解除まで数日かかることがあります。\n"
        f"お申し込みの覚えがない場合は、{society.contact}へご連絡ください。\n"
    )
    return _message(society, sender, to, f"【{society.short_name}】ロック解除のお申し込みを受け付けました", body)


def unlock_ticket_closed_message(
    society: Society, sender: str | None, to: str, ticket_id: str, unlocked: bool
) -> EmailMessage:
    """How the ticket ended: unlocked, or not (identity not confirmed)."""
    if unlocked:
        subject = f"【{society.short_name}】アカウントのロックを解除しました"
        outcome = (
            "アカウントのロックを解除しました。\n"
            "KOSMO Webにログインしてお試しください。\n"
        )
    else:
        subject = f"【{society.short_name}】ロック解除のお申し込みについて"
        outcome = (
            "ご本人確認ができなかったため、ロックは解除しませんでした。\n"
            f"お手数ですが、{society.contact}へお問い合わせください。\n"
        )
    body = (
        f"{society.name}のKOSMO Webのロック解除のお申し込み（受付番号: {ticket_id}）について、\n"
        "担当者の確認が終わりました。\n\n"
        f"{outcome}\n"
        f"お申し込みの覚えがない場合は、{society.contact}へご連絡ください。\n"
    )
    return _message(society, sender, to, subject, body)
