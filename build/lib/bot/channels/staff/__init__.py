"""The staff page: the partnership's business unit sees, answers and improves what came in
(docs/staff.md). Server-rendered (Jinja2), no script; mounted on bot/server.py's app at /staff.

pages.py     the routes: sign-in, notifications, hand-offs, unanswered questions, charts, audit
guard.py     sessions, CSRF, the cookies and headers
entra.py     the optional sign-in with a Microsoft 365 account (OpenID Connect, Entra ID)
use.py       the charts of use, from counts (charts.py draws them as SVG)
improve.py   unanswered questions grouped; suggestions as a YAML patch of topics.yaml
templates/, static/   the pages and their stylesheet
"""
