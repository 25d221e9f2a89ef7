"""Microsoft's side of a Teams chat, on loopback: what cannot run here, faked as one HTTP server.

`FakeMicrosoft` serves the keys that sign the Bot Connector's tokens (a JWKS made here), the
bot's token endpoint (client credentials), and the Bot Connector's REST API, which records
every activity the bot sends (its replies, the typing indicator, proactive messages) and
answers a member look-up with a Teams profile. `TeamsUser` is a person in Teams: each message
is an activity signed as the Bot Connector signs it and posted to the assistant's messaging
endpoint on a real uvicorn server (bot/server.py's Service).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import html
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.server import Service
from config.settings import Secret, Settings, TeamsSettings
from tests.web_support import served_web

APP_ID = "00000000-0000-4000-8000-0000000000a1"
TENANT = "00000000-0000-4000-8000-0000000000b2"
BOT_FRAMEWORK = "https://api.botframework.com"
BOT_TOKEN = "bot-token-from-the-fake-login"


# RSA keys already made in this process: making one is 0.1 s of CPU, and tests/test_teams.py
# makes 35. Each Keys a test makes still has a key of its own (a token signed with "another
# key" must be refused); `new_test` hands the same keys out again to the next test, whose
# servers are new. Without it every Keys gets a new key.
_made: list[rsa.RSAPrivateKey] = []
_handed = 0


def new_test() -> None:
    global _handed
    _handed = 0


def _next_key() -> rsa.RSAPrivateKey:
    global _handed
    if _handed == len(_made):
        _made.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    _handed += 1
    return _made[_handed - 1]


class Keys:
    """An RSA key pair whose public half is served as a JWKS; `sign` makes a token with it."""

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private = _next_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


def connector_claims(service_url: str, **changes: Any) -> dict[str, Any]:
    """The claims of a token the Bot Connector sends with each activity (valid for 10 minutes)."""
    now = int(time.time())
    claims = {
        "iss": BOT_FRAMEWORK,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 60,
        "exp": now + 600,
    }
    return {**claims, **changes}


@dataclass
class Sent:
    """One activity the bot sent to the Bot Connector."""

    conversation: str
    reply_to: str | None
    activity: dict[str, Any]
    authorization: str

    @property
    def type(self) -> str:
        return str(self.activity.get("type"))

    @property
    def text(self) -> str:
        """The message as Teams shows it: the HTML's text."""
        raw = str(self.activity.get("text") or "")
        return html.unescape(re.sub(r"<[^>]+>", "", raw.replace("<br>", "\n")))

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [
            action
            for attachment in self.activity.get("attachments") or ()
            for row in attachment["content"]["body"]
            for action in row["actions"]
        ]

    @property
    def buttons(self) -> dict[str, str]:
        """Each button's label and the data its messageBack sends."""
        return {
            a["title"]: a["data"]["msteams"]["text"]
            for a in self.actions
            if a["type"] == "Action.Submit"
        }

    @property
    def links(self) -> dict[str, str]:
        return {a["title"]: a["url"] for a in self.actions if a["type"] == "Action.OpenUrl"}


@dataclass
class FakeMicrosoft:
    """The JWKS, the login endpoint and the Bot Connector, on 127.0.0.1."""

    keys: Keys = field(default_factory=Keys)
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    member_requests: list[str] = field(default_factory=list)
    key_requests: int = 0
    refuse_sends: bool = False
    refused: int = 0
    certificate: x509.Certificate | None = None  # the app's, when it proves itself by one
    url: str = ""
    news: asyncio.Condition = field(default_factory=asyncio.Condition)
    counts: dict[str, int] = field(default_factory=dict)  # messages sent, by conversation
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/keys", self.jwks)
        app.router.add_get("/entra-keys", self.jwks)
        app.router.add_post("/token", self.token)
        app.router.add_post("/v3/conversations/{conversation}/activities", self.activity)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self.activity)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self.member)
        return app

    async def jwks(self, request: web.Request) -> web.Response:
        self.key_requests += 1
        return web.json_response(self.keys.jwks)

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if not (form.get("client_secret") == "teams-app-secret" or self._proven(form)):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {"access_token": BOT_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        )

    def _proven(self, form: dict[str, str]) -> bool:
        """A client assertion signed with the certificate's key, as Entra ID checks it."""
        if self.certificate is None or "client_assertion" not in form:
            return False
        assertion = form["client_assertion"]
        thumbprint = base64.urlsafe_b64encode(self.certificate.fingerprint(hashes.SHA1()))
        if jwt.get_unverified_header(assertion).get("x5t") != thumbprint.decode().rstrip("="):
            return False
        try:
            claims = jwt.decode(
                assertion,
                self.certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=f"{self.url}/token",
            )
        except jwt.PyJWTError:
            return False
        return claims["iss"] == claims["sub"] == APP_ID

    async def activity(self, request: web.Request) -> web.Response:
        if self.refuse_sends:
            self.refused += 1
            return web.json_response({"error": {"code": "ServiceError"}}, status=503)
        body = await request.json()
        self.sent.append(
            Sent(
                request.match_info["conversation"],
                request.match_info.get("reply_to"),
                body,
                request.headers.get("Authorization", ""),
            )
        )
        if body.get("type") == "message":
            conversation = request.match_info["conversation"]
            self.counts[conversation] = self.counts.get(conversation, 0) + 1
        async with self.news:
            self.news.notify_all()
        return web.json_response({"id": f"sent-{next(self._ids)}"})

    async def member(self, request: web.Request) -> web.Response:
        self.member_requests.append(request.match_info["member"])
        profile = self.members.get(request.match_info["member"])
        if profile is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response(profile)

    def messages(self, conversation: str | None = None) -> list[Sent]:
        return [
            s
            for s in self.sent
            if s.type == "message" and (conversation is None or s.conversation == conversation)
        ]


@contextlib.asynccontextmanager
async def fake_microsoft() -> AsyncIterator[FakeMicrosoft]:
    fake = FakeMicrosoft()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def teams_settings(settings: Settings, fake: FakeMicrosoft, **teams: Any) -> Settings:
    """`settings` with the Teams app on, every Microsoft address pointing at `fake`."""
    return dataclasses.replace(
        settings,
        endpoints=dataclasses.replace(settings.endpoints, teams_app_id=APP_ID),
        teams=TeamsSettings(
            tenant_id=TENANT,
            login_url=f"{fake.url}/token",
            jwks_url=f"{fake.url}/keys",
            entra_jwks_url=f"{fake.url}/entra-keys",
            **teams,
        ),
        teams_app_password=Secret("teams-app-secret"),
    )


# `python main.py serve` for the assistant, on 127.0.0.1, until the block ends (the web chat's
# helper serves Teams too).
served = served_web


@dataclass
class TeamsUser:
    """A person writing to the bot in Teams: a personal chat, or a group chat or channel."""

    service: Service
    base: str
    fake: FakeMicrosoft
    conversation: str = field(default_factory=lambda: f"a:personal-{uuid.uuid4().hex[:12]}")
    kind: str = "personal"
    user_id: str = field(default_factory=lambda: f"29:user-{uuid.uuid4().hex[:8]}")
    name: str = "Robin Tester"

    @property
    def conversation_chat(self) -> str:
        """The assistant's key for this conversation."""
        return f"teams:{self.conversation}"

    def activity(self, text: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "type": "message",
            "id": f"in-{uuid.uuid4().hex[:12]}",
            "channelId": "msteams",
            "serviceUrl": self.fake.url,
            "from": {"id": self.user_id, "name": self.name, "aadObjectId": "aad-1"},
            "recipient": {"id": f"28:{APP_ID}", "name": "Safeguarding assistant"},
            "conversation": {"id": self.conversation, "conversationType": self.kind},
            "text": text,
            **extra,
        }

    async def post(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        if token is None:
            token = self.fake.keys.sign(connector_claims(self.fake.url))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Plain HTTP on loopback: no certificates to load (40 ms of CPU a client otherwise).
        async with httpx.AsyncClient(verify=False) as client:
            return await client.post(f"{self.base}/api/messages", json=body, headers=headers)

    async def send(self, body: dict[str, Any]) -> list[Sent]:
        """Post one activity; once it is handled, what the bot sent in reply to it."""
        before = len(self.fake.sent)
        response = await self.post(body)
        assert response.status_code == 202, response.text
        teams = self.service.served[self.service.assistant.settings.partnership].teams
        assert teams is not None
        await teams.intake.drain(20)
        return self.fake.sent[before:]

    async def say(self, text: str, mention: bool = False) -> list[Sent]:
        extra: dict[str, Any] = {}
        if mention:
            at = "<at>Safeguarding assistant</at>"
            text = f"{at} {text}"
            extra["entities"] = [
                {
                    "type": "mention",
                    "text": at,
                    "mentioned": {"id": f"28:{APP_ID}", "name": "Safeguarding assistant"},
                }
            ]
        return await self.send(self.activity(text, **extra))

    async def press(self, label: str, sent: list[Sent] | None = None) -> list[Sent]:
        """Press the button whose label holds `label` on the latest card (or in `sent`)."""
        cards = [s for s in (sent or self.fake.messages(self.conversation)) if s.buttons]
        assert cards, "no card with buttons"
        buttons = cards[-1].buttons
        data = buttons.get(label) or next(d for shown, d in buttons.items() if label in shown)
        return await self.send(
            self.activity(data, value={"button": data}, replyToId=cards[-1].reply_to)
        )


def texts(sent: list[Sent]) -> str:
    return "\n".join(s.text for s in sent if s.type == "message")
