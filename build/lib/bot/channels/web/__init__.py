"""The web chat: the assistant on the partnership's own pages (docs/web.md).

channel.py  messages in and out: stored before they are acknowledged, handled once and in
            order per conversation, numbered so every page shows each reply exactly once
render.py   a Reply as the JSON a page draws (no HTML: the page sets text, never markup)
guard.py    who may use it: origins, the conversation's cookie, client addresses, rate limits,
            and the security headers
http.py     the routes on bot/server.py's app: the widget, the panel, its socket and the plain
            HTTP fallback, the demo page
static/     the widget and panel (plain JavaScript and CSS, ours, no build step)
"""
