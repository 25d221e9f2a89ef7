"""Signing in to the staff page with Microsoft Entra ID (OpenID Connect), against a stand-in for
Entra on loopback: a real HTTP server (uvicorn) that answers as Entra's v2.0 endpoints do
(discovery, the keys, authorize, token) and signs ID tokens with an RSA key of its own. What it
cannot be is Microsoft; everything on our side (the redirect, the cookie, the code exchange with
PKCE, the token's signature, issuer, audience, expiry and nonce) runs for real."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.assistant import Assistant
from config.settings import Secret, SettingsError, StaffSettings, load_settings
from tests.staff_support import staff_client
from tests.web_support import port_of

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CLIENT_SECRET = "the-app-secret"
# The shipped pack's registry (the `assistant` fixture's): an administrator and an SLO.
ADMIN, SLO = "board.admin@example.org", "alex.example@example.org"


@dataclasses.dataclass
class FakeEntra:
    """Entra's v2.0 endpoints for one tenant; `account` is who signs in at its page."""

    base: str = ""
    account: str = ADMIN
    key: Any = dataclasses.field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    issuer_override: str | None = None
    codes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"{self.base}/{TENANT}/v2.0"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"/{TENANT}/v2.0/.well-known/openid-configuration", self.discovery),
                Route(f"/{TENANT}/discovery/v2.0/keys", self.keys),
                Route(f"/{TENANT}/oauth2/v2.0/authorize", self.authorize),
                Route(f"/{TENANT}/oauth2/v2.0/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/token",
                "jwks_uri": f"{self.base}/{TENANT}/discovery/v2.0/keys",
            }
        )

    async def keys(self, request: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": "k1", "use": "sig"}]})

    async def authorize(self, request: Request) -> Response:
        """The person signs in as `account` at once, and is sent back with a code."""
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        back = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        given = {k: v[0] for k, v in form.items()}
        asked = self.codes.pop(given.get("code", ""), None)
        verifier = given.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            asked is None
            or given.get("client_secret") != CLIENT_SECRET
            or challenge != asked["challenge"]
            or given.get("redirect_uri") != asked["redirect_uri"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer_override or self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": asked["nonce"],
            "preferred_username": self.account,
            "name": "Someone",
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"id_token": token, "token_type": "Bearer"})


@contextlib.asynccontextmanager
async def running(entra: FakeEntra) -> AsyncIterator[FakeEntra]:
    server = uvicorn.Server(
        uvicorn.Config(entra.app(), host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    entra.base = f"http://127.0.0.1:{port_of(server)}"
    try:
        yield entra
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with running(FakeEntra()) as fake:
        yield fake


def with_entra(assistant: Assistant, entra: FakeEntra) -> None:
    # (An http:// authority only because the stand-in has no certificate; `check` insists on
    # https:// for a real one.)
    staff = StaffSettings(
        entra_tenant=TENANT,
        entra_client_id=CLIENT_ID,
        entra_authority=entra.base,
        public_url="https://staff.test",
    )
    assistant.settings = dataclasses.replace(
        assistant.settings, staff=staff, oauth_client_secret=Secret(CLIENT_SECRET)
    )


async def through_entra(page: httpx.AsyncClient) -> httpx.Response:
    """Press "sign in with Microsoft", sign in at Entra, come back: the page it ends on."""
    signin = await page.get("/staff/signin")
    assert 'href="/staff/oidc/start"' in signin.text
    start = await page.get("/staff/oidc/start")
    assert start.status_code == 303
    async with httpx.AsyncClient() as browser_at_entra:
        at_entra = await browser_at_entra.get(start.headers["location"])
    assert at_entra.status_code == 302
    back = urlsplit(at_entra.headers["location"])
    return await page.get(f"{back.path}?{back.query}")


async def test_a_staff_account_signs_in_with_entra(assistant: Assistant, entra: FakeEntra) -> None:
    with_entra(assistant, entra)
    async with staff_client(assistant) as page:
        landed = await through_entra(page)
        assert landed.status_code == 200 and "You're signed in" in unescape(landed.text)
        home = await page.get("/staff")
        assert home.status_code == 200 and "Use of the assistant" in home.text
        trail = await page.get("/staff/audit")
        assert "staff_signed_in" in trail.text and "staff:entra" in trail.text


async def test_entra_signs_in_only_the_partnerships_staff(
    assistant: Assistant, entra: FakeEntra
) -> None:
    with_entra(assistant, entra)
    entra.account = SLO  # a real account, but not on the staff
    async with staff_client(assistant) as page:
        landed = await through_entra(page)
        assert landed.status_code == 403
        assert "That Microsoft account is not on the partnership's staff." in unescape(landed.text)
        assert (await page.get("/staff")).status_code == 303


async def test_a_callback_that_did_not_start_here_or_a_token_not_from_the_tenant_is_refused(
    assistant: Assistant, entra: FakeEntra
) -> None:
    with_entra(assistant, entra)
    async with staff_client(assistant) as page:
        # Someone else's callback (a code and state from another browser): no cookie to match.
        start = await page.get("/staff/oidc/start")
        async with httpx.AsyncClient() as other:
            at_entra = await other.get(start.headers["location"])
        back = urlsplit(at_entra.headers["location"])
        async with staff_client(assistant) as stranger:
            forged = await stranger.get(f"{back.path}?{back.query}")
            assert forged.status_code == 403 and "did not start here" in unescape(forged.text)
        # A token for another issuer (another tenant) is not accepted.
        entra.issuer_override = "https://login.microsoftonline.com/another-tenant/v2.0"
        landed = await through_entra(page)
        assert landed.status_code == 403 and "could not be checked" in unescape(landed.text)
        assert (await page.get("/staff")).status_code == 303


async def test_without_entra_settings_there_is_no_entra_sign_in(assistant: Assistant) -> None:
    async with staff_client(assistant) as page:
        assert "oidc/start" not in (await page.get("/staff/signin")).text
        assert (await page.get("/staff/oidc/start")).status_code == 404


def test_entra_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        f"staff:\n  entra_client_id: {CLIENT_ID}\n  public_url: http://assistant.example.org/x\n"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "staff.entra_tenant: needed with staff.entra_client_id" in message
    assert "staff.public_url: 'http://assistant.example.org/x' must be an https://" in message
    path.write_text(
        f"staff:\n  entra_client_id: {CLIENT_ID}\n  entra_tenant: {TENANT}\n"
        "  public_url: https://assistant.example.org\n"
    )
    loaded = load_settings(path, environ={"OAUTH_CLIENT_SECRET": CLIENT_SECRET})
    assert loaded.staff.entra_tenant == TENANT
    assert loaded.oauth_client_secret.reveal() == CLIENT_SECRET
