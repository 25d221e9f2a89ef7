"""The staff page driven over HTTP without a browser (httpx on the ASGI app, as a browser would
post its forms): for the tests of what each partnership's staff may see."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from bot.assistant import Assistant
from bot.channels.staff.pages import StaffRoutes

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def staff_client(assistant: Assistant | None, app: Any = None) -> httpx.AsyncClient:
    """A client of `assistant`'s staff page (or of `app`, serve's whole app). https, so that
    the Secure cookies are sent."""
    if app is None:
        assert assistant is not None
        app = Starlette(routes=StaffRoutes(assistant).routes())
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://staff.test", timeout=30
    )


async def sign_in(
    client: httpx.AsyncClient,
    address: str,
    code_for: Callable[[str], Awaitable[str]],
    root: str = "/staff",
) -> httpx.Response:
    """Sign in on the page at `root` as `address`, with the code `code_for(address)` reads
    from its mail; returns the page the browser ends on."""
    page = await client.get(f"{root}/signin")
    token = csrf_of(page.text)
    sent = await client.post(f"{root}/signin", data={"csrf": token, "email": address})
    assert sent.status_code == 200, sent.text
    code = await code_for(address)
    return await client.post(
        f"{root}/code", data={"csrf": token, "email": address, "code": code}, follow_redirects=True
    )
