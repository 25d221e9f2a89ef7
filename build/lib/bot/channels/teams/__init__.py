"""The Microsoft Teams channel, through the Microsoft 365 Agents SDK (docs/teams.md): auth.py
(the Bot Connector's token on every request, the bot's own token for its replies), render.py
(an activity in, a Reply out as text and an Adaptive Card), channel.py (stored before 202,
handled once, replies and proactive news through the SDK's adapter)."""
