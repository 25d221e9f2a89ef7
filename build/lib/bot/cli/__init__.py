"""Command-line tools: run, chat, ask, check, eval, outbox, serve (`safeguarding-assistant`)."""
