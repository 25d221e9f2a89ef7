"""Put a question in the configured IMAP mailbox, as if a practitioner had emailed it.

For trying the email channel locally against pymap (README, docs/email.md):

    python -m bot.channels.email.try_local "What is an SCR?" [--from jane.doe@nhs.net]

It APPENDs the email over IMAP with the settings' login, which is what delivery does on a real
mail server. Not used by the assistant itself.
"""

from __future__ import annotations

import argparse
import email.utils
import sys
from email.message import EmailMessage

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

from config.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.channels.email.try_local")
    parser.add_argument("question")
    parser.add_argument("--from", dest="sender", default="jane.doe@nhs.net")
    args = parser.parse_args(argv)
    settings = load_settings()
    if settings.email is None or settings.email.source != "imap":
        print("The settings have no email section with source: imap.", file=sys.stderr)
        return 1
    s = settings.email
    message = EmailMessage()
    message["From"] = args.sender
    message["To"] = settings.mail.from_address
    message["Subject"] = args.question[:60]
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain="local.test")
    message.set_content(args.question)
    kind = {"tls": MailBox, "starttls": MailBoxStartTls}.get(s.imap_security, MailBoxUnencrypted)
    with kind(s.imap_host, s.imap_port).login(
        s.imap_username, settings.email_password.reveal(), s.imap_folder
    ) as mailbox:
        mailbox.append(message.as_bytes(), s.imap_folder, flag_set=[])
    print(f"Emailed {args.question!r} from {args.sender} to the assistant's mailbox.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
