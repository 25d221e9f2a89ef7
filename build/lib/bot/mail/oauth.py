"""App-only OAuth 2.0 tokens (client credentials) for Microsoft 365: Graph, IMAP and SMTP.

msal caches each token and renews it shortly before it expires; it uses blocking HTTP, so it
runs in a worker thread. Nothing here is imported unless an OAuth login is configured.
"""

from __future__ import annotations

import asyncio
from typing import Any

from config.settings import EmailSettings, Secret

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Exchange Online's IMAP and SMTP accept tokens for this resource (app-only XOAUTH2).
OUTLOOK_SCOPE = "https://outlook.office365.com/.default"


class TokenError(Exception):
    """No token: the message names msal's error code only, never the secret."""


class AppTokens:
    def __init__(self, settings: EmailSettings, client_secret: Secret, scope: str) -> None:
        self.settings = settings
        self._secret = client_secret
        self.scope = scope
        self._app: Any = None

    def _application(self) -> Any:
        if self._app is None:
            import msal

            s = self.settings
            self._app = msal.ConfidentialClientApplication(
                s.oauth_client_id,
                client_credential=self._secret.reveal(),
                authority=f"{s.oauth_authority.rstrip('/')}/{s.oauth_tenant}",
            )
        return self._app

    def _acquire(self) -> str:
        result = self._application().acquire_token_for_client(scopes=[self.scope])
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = result.get("error", "unknown") if isinstance(result, dict) else "unknown"
            raise TokenError(f"no access token for {self.scope}: {error}")
        return str(token)

    async def __call__(self) -> str:
        return await asyncio.to_thread(self._acquire)
