"""How long short-lived things last, where the part that creates them and the part that deletes
them (bot/ops/retention.py, the email channel) must agree, and /privacy says so."""

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
# An inbound email's record (its Message-ID and sender): rate limits look back a day; a week
# is plenty. The email channel deletes it; /privacy says so.
INBOX_KEEP_SECONDS = 7 * 86400
