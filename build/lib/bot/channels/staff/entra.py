"""Signing in to the staff page with a Microsoft 365 account: OpenID Connect with Microsoft
Entra ID (the authorization code flow, with PKCE, a state and a nonce), for partnerships on
Microsoft 365 (`staff.entra_client_id`, docs/staff.md). The account's address must still be on
the partnership's staff: Entra says who someone is, the registry what they may do.

    GET <root>/oidc/start      -> Entra's sign-in page (state, nonce and PKCE verifier kept in a
                                  short-lived cookie, SameSite=Lax: Entra sends the browser back)
    GET <root>/oidc/callback   <- ?code&state: the code exchanged for an ID token (with the app's
                                  secret, OAUTH_CLIENT_SECRET), whose signature (Entra's published
                                  keys), issuer, audience, expiry and nonce are checked

The HTTP client is aiohttp (already the Bot API's); the token is checked with PyJWT (MIT,
which msal installs too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt

from config.settings import Secret, StaffSettings

COOKIE = "sa_staff_oidc"
COOKIE_SECONDS = 600  # the time someone has to sign in at Entra
TIMEOUT = aiohttp.ClientTimeout(total=15)
METADATA_SECONDS = 3600.0  # Entra's endpoints and keys are read again after an hour


class Refused(Exception):
    """Entra's answer does not sign anyone in (the text says why, for the page)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def configured(staff: StaffSettings) -> bool:
    return bool(staff.entra_client_id)


class EntraSignIn:
    def __init__(self, staff: StaffSettings, secret: Secret, root: str) -> None:
        self.staff = staff
        self.secret = secret
        self.issuer_base = f"{staff.entra_authority.rstrip('/')}/{staff.entra_tenant}/v2.0"
        self.redirect_uri = f"{staff.public_url.rstrip('/')}{root}/oidc/callback"
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] = {}
        self._read_at = 0.0

    async def _get(self, session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        async with session.get(url) as answer:
            if answer.status != 200:
                raise Refused("Microsoft's sign-in service did not answer. Try again later.")
            data = await answer.json(content_type=None)
        if not isinstance(data, dict):
            raise Refused("Microsoft's sign-in service gave an answer that cannot be read.")
        return data

    async def metadata(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """Entra's endpoints and signing keys (cached for an hour)."""
        if self._metadata is None or time.monotonic() - self._read_at > METADATA_SECONDS:
            metadata = await self._get(
                session, f"{self.issuer_base}/.well-known/openid-configuration"
            )
            keys = await self._get(session, str(metadata["jwks_uri"]))
            self._keys = {k["kid"]: k for k in keys.get("keys", []) if "kid" in k}
            self._metadata, self._read_at = metadata, time.monotonic()
        return self._metadata

    async def start(self) -> tuple[str, str]:
        """(Entra's sign-in address, the value of the cookie that remembers this attempt)."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            metadata = await self.metadata(session)
        query = urlencode(
            {
                "client_id": self.staff.entra_client_id,
                "response_type": "code",
                "response_mode": "query",
                "redirect_uri": self.redirect_uri,
                "scope": "openid profile email",
                "state": state,
                "nonce": nonce,
                "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
                "code_challenge_method": "S256",
                "prompt": "select_account",
            }
        )
        return f"{metadata['authorization_endpoint']}?{query}", f"{state}.{nonce}.{verifier}"

    async def finish(self, query: dict[str, str], remembered: str) -> str:
        """The address of the account Entra signed in; Refused otherwise."""
        parts = remembered.split(".")
        if len(parts) != 3 or not hmac.compare_digest(query.get("state", ""), parts[0]):
            raise Refused("That sign-in did not start here, or took too long. Please try again.")
        if "error" in query or not query.get("code"):
            raise Refused("Microsoft did not sign you in. Please try again.")
        _, nonce, verifier = parts
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            metadata = await self.metadata(session)
            form = {
                "client_id": self.staff.entra_client_id,
                "client_secret": self.secret.reveal(),
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
            async with session.post(str(metadata["token_endpoint"]), data=form) as answer:
                tokens = await answer.json(content_type=None)
                if answer.status != 200 or not isinstance(tokens, dict):
                    raise Refused("Microsoft did not confirm the sign-in. Please try again.")
        return self.address(str(tokens.get("id_token", "")), nonce, metadata)

    def address(self, id_token: str, nonce: str, metadata: dict[str, Any]) -> str:
        """The signed-in account's address, from an ID token checked in full."""
        try:
            kid = jwt.get_unverified_header(id_token).get("kid", "")
            key = jwt.PyJWK(self._keys[kid]) if kid in self._keys else None
            if key is None:
                raise Refused("Microsoft's sign-in could not be checked. Please try again.")
            claims = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=self.staff.entra_client_id,
                issuer=str(metadata["issuer"]),
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
            )
        except (jwt.PyJWTError, ValueError, json.JSONDecodeError) as exc:
            raise Refused("Microsoft's sign-in could not be checked. Please try again.") from exc
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise Refused("That sign-in did not start here. Please try again.")
        return str(claims.get("email") or claims.get("preferred_username") or "")
