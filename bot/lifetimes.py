"""How long short-lived things last, where a flow (handlers/) and the retention job (bot/) must
agree: the flow creates them, bot/retention.py deletes them."""

from __future__ import annotations

CODE_MINUTES = 10  # a sign-in code works this long; its email is kept no longer
NOTIFY_FLOW = "notify"  # the flow whose idle sessions are drafts, deleted after draft_days
