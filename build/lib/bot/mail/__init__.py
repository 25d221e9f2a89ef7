"""Outgoing email: the message type at the bottom (message.py), the transports (transport.py), the
notification's Word copy (document.py), and the outbox worker on top (outbox.py)."""
