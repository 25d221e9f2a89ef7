"""How long short-lived things last, where a flow (handlers/) and the retention job (bot/) must
agree: the flow creates them, bot/retention.py deletes them."""

from __future__ import annotations

CODE_MINUTES = 10  # a sign-in code works this long; its email is kept no longer
NOTIFY_FLOW = "notify"  # the flow whose idle sessions are drafts, deleted after draft_days
SIGNIN_FLOW = "signin"
THRESHOLD_FLOW = "threshold"
HANDOFF_FLOW = "handoff"
# Flows of a few minutes. One left untouched this long is forgotten: coming back, the person
# starts afresh instead of meeting a step they no longer remember ("To carry on signing in:
# what is your work email address?" the next day), and the address or question typed into it
# is not kept.
SHORT_FLOWS = (SIGNIN_FLOW, THRESHOLD_FLOW, HANDOFF_FLOW)
SHORT_FLOW_HOURS = 24
