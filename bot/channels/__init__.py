"""Channel adapters: each turns its channel's input into an `Incoming` and renders the `Reply`s.
Telegram (telegram.py over telegram_http.py), the console, and email (email/)."""
