"""One module per conversation. Handlers know nothing of Telegram, SQL or SMTP."""
