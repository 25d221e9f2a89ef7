"""The conversation core: one conversation for every channel, and the types it speaks in
(`Incoming`, `Reply`, `Turn`, `Said`). Knows no channel, SQL or SMTP: it loads and saves a chat's
`Session` through the storage it is given."""
