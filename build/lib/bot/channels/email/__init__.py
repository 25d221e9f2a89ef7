"""Email as a channel: mailbox sources (IMAP, Microsoft Graph), parsing and loop guards, and the
channel that turns each accepted email into an `Incoming` and the replies into an email in the
same thread, sent through the outbox. See docs/email.md."""
