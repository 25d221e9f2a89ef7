"""Who may talk to the bot, and the bot's own token for talking back.

In: every request to the messaging endpoint carries a JWT from the Bot Connector. It is checked
by the SDK's own `JwtTokenValidator` (signature, expiry, audience = our app id, issuer, tenant
binding): a request without a valid token gets 401 and reaches no handler. The validator looks
its signing keys up at Microsoft's fixed addresses; `KeySource` gives it the keys from the
addresses in the settings instead (teams.jwks_url, teams.entra_jwks_url), so the assistant
never reaches an address it was not configured with, and tests serve the keys on loopback.

Out: replies and proactive messages go to the Bot Connector with the bot's own token, from the
client-credentials grant of its app registration (teams.login_url, with TEAMS_APP_PASSWORD or a
certificate, teams.certificate_file), cached until shortly before it expires. `Connections`
hands the SDK that one token source.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes
from jwt import PyJWK, PyJWKClient, decode, encode
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    ClaimsIdentity,
    Connections,
)
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator

from config.certificates import read_app_certificate
from config.settings import Secret, TeamsSettings

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A token is renewed this long before it expires.
RENEW_SECONDS = 300.0
# The SDK's own addresses for the keys, which KeySource maps to the settings' addresses.
BOT_FRAMEWORK_KEYS = AuthenticationConstants.PUBLIC_ABS_JWKS_URL
ENTRA_KEYS_SUFFIX = "/discovery/v2.0/keys"
ENTRA_HOST = "https://login.microsoftonline.com/"


def audience_of(authorization: str | None) -> str | None:
    """The app id a request's token is for, read WITHOUT checking it: only to choose which
    partnership's bot checks it (`TokenCheck`). None if there is no readable token."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        audience = decode(token.strip(), options={"verify_signature": False}).get("aud")
    except Exception:
        return None
    return audience if isinstance(audience, str) else None


class KeySource:
    """The signing keys, from the configured addresses only: what the SDK's validator asks of
    its key manager (`get_signing_key`), with a cached PyJWKClient per address."""

    def __init__(self, teams: TeamsSettings) -> None:
        self.addresses = {
            BOT_FRAMEWORK_KEYS: teams.url(teams.jwks_url),
            "entra": teams.url(teams.entra_jwks_url),
        }
        self.timeout = teams.timeout_seconds
        self._clients: dict[str, PyJWKClient] = {}
        self._lock = threading.Lock()

    def address(self, wanted: str) -> str:
        if wanted in self.addresses:
            return self.addresses[wanted]
        if wanted.startswith(ENTRA_HOST) and wanted.endswith(ENTRA_KEYS_SUFFIX):
            return self.addresses["entra"]
        raise ValueError("no signing keys configured for this issuer")

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> PyJWK:
        address = self.address(jwks_uri)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise ValueError("the token names no signing key")

        def find() -> PyJWK:
            with self._lock:  # PyJWKClient's cache is not thread-safe
                client = self._clients.get(address)
                if client is None:
                    client = self._clients[address] = PyJWKClient(address, timeout=self.timeout)
                return client.get_signing_key(kid)

        return await asyncio.to_thread(find)


class TokenCheck:
    """The Bot Connector's token on a request, checked by the SDK's validator."""

    def __init__(self, app_id: str, teams: TeamsSettings) -> None:
        self.app_id = app_id
        self.configuration = AgentAuthConfiguration(
            client_id=app_id,
            tenant_id=teams.tenant_id,
            issuers=list(teams.accepted_issuers),
            validate_issuer=True,
            anonymous_allowed=False,
        )
        self.validator = JwtTokenValidator(self.configuration)
        # An instance attribute over the class's shared manager: only the configured addresses.
        self.validator._jwk_client_manager = KeySource(teams)  # type: ignore[assignment]

    async def claims(self, authorization: str | None) -> ClaimsIdentity | None:
        """The token's verified claims, or None (no token, not a bearer token, or invalid in
        any way: the caller answers 401). Only the failure's type is logged."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return await self.validator.validate_token(token.strip())
        except Exception as exc:
            log.warning("Teams request refused: %s", type(exc).__name__)
            return None


class AppToken(AccessTokenProviderBase):
    """The bot's own token for the Bot Connector (client credentials), cached."""

    def __init__(
        self, app_id: str, secret: Secret, teams: TeamsSettings, certificate: Path | None = None
    ) -> None:
        self.app_id = app_id
        self._secret = secret
        self.teams = teams
        self.certificate = certificate  # the PEM file (teams.certificate_file), resolved
        self._configuration = AgentAuthConfiguration(client_id=app_id, tenant_id=teams.tenant_id)
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        # One token serves every call: the Bot Connector's scope, whatever the SDK asks for.
        async with self._lock:
            if force_refresh or time.time() >= self._expires - RENEW_SECONDS:
                self._token, lifetime = await self._fetch()
                self._expires = time.time() + lifetime
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "scope": self.teams.connector_scope,
        }
        if self.certificate is not None:
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = await asyncio.to_thread(self._assertion)
        else:
            form["client_secret"] = self._secret.reveal()
        timeout = aiohttp.ClientTimeout(total=self.teams.timeout_seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.teams.url(self.teams.login_url), data=form) as response,
        ):
            body = await response.json(content_type=None)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status != 200 or not isinstance(token, str):
            error = body.get("error", response.status) if isinstance(body, dict) else "?"
            raise PermissionError(f"no token for the Bot Connector: {error}")
        return token, float(body.get("expires_in", 3600))

    def _assertion(self) -> str:
        """The app's proof by certificate: a short-lived JWT signed with its private key, naming
        the certificate by its SHA-1 thumbprint (what Entra ID asks for, instead of a secret)."""
        assert self.certificate is not None
        try:
            certificate, key = read_app_certificate(self.certificate)
        except (OSError, ValueError) as exc:
            raise PermissionError(f"teams.certificate_file: {exc}") from None
        thumbprint = certificate.fingerprint(hashes.SHA1())
        now = int(time.time())
        claims = {
            "aud": self.teams.url(self.teams.login_url),
            "iss": self.app_id,
            "sub": self.app_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "exp": now + 600,
        }
        x5t = base64.urlsafe_b64encode(thumbprint).decode().rstrip("=")
        return encode(claims, key, algorithm="RS256", headers={"x5t": x5t})

    def get_token_credential(self) -> Any:
        raise NotImplementedError("the Teams channel only needs app tokens")

    async def acquire_token_on_behalf_of(self, scopes: list[str], user_assertion: str) -> str:
        raise NotImplementedError("the Teams channel only needs app tokens")

    async def get_agentic_application_token(
        self, tenant_id: str, agent_app_instance_id: str
    ) -> str | None:
        raise NotImplementedError("the Teams channel only needs app tokens")

    async def get_agentic_instance_token(
        self, tenant_id: str, agent_app_instance_id: str
    ) -> tuple[str, str]:
        raise NotImplementedError("the Teams channel only needs app tokens")

    async def get_agentic_user_token(
        self, tenant_id: str, agent_app_instance_id: str, agentic_user_id: str, scopes: list[str]
    ) -> str | None:
        raise NotImplementedError("the Teams channel only needs app tokens")


class OneConnection(Connections):
    """The SDK's connection manager, with the one token source every call uses."""

    def __init__(self, token: AppToken) -> None:
        self.token = token

    def get_connection(self, connection_name: str) -> AccessTokenProviderBase:
        return self.token

    def get_default_connection(self) -> AccessTokenProviderBase:
        return self.token

    def get_token_provider(
        self, claims_identity: ClaimsIdentity, service_url: str
    ) -> AccessTokenProviderBase:
        return self.token

    def get_token_provider_from_activity(
        self, claims_identity: ClaimsIdentity, activity: Any
    ) -> AccessTokenProviderBase:
        return self.token

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self.token.configuration
