"""The conversation core: one conversation for every channel, and the types it speaks in
(`Incoming`, `Reply`, `Session`, `Turn`, the control words). Knows no channel, SQL or SMTP."""
