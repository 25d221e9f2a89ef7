"""Typed settings from config/settings.yaml (optional), the partnership's pack and the environment.

Every option has a default that works on a fresh clone: a SQLite file and an .eml folder under
var/, no Telegram token (console chat) and no SMTP server. What is local to one partnership (its
name, the safety route's contacts, who receives notifications, whose email is answered) comes from
its pack (config/partnership.py), under whatever the settings file says. A file may list several
partnerships for one installation to serve (`load_installation`; the list's rules are in
config/installation.py). Secrets come only from the environment and are wrapped in `Secret`,
whose repr and str never show the value.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from config.certificates import read_app_certificate
from config.colours import TEXT, WHITE, colour_problem
from config.installation import (
    ENTRY_SCALARS,
    OWN_SECRETS,
    SHARED_SECRETS,
    own_place,
    read_entries,
    secret_for,
    shared_only,
)
from config.partnership import REGISTRY_FILE, Pack, is_placeholder, read_pack, shipped_packs
from config.validation import SAFE_LOADER

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = ROOT / "config" / "settings.yaml"
DEFAULT_PARTNERSHIP = "bedford-borough"
# The notification's Word template, in the national knowledge or a pack.
TEMPLATE = Path("templates") / "notification.docx"


def home() -> Path:
    """What relative paths (var/assistant.db, var/outbox) are relative to: ASSISTANT_HOME if
    set; else the project folder of a source checkout; else, installed, the working directory."""
    if os.environ.get("ASSISTANT_HOME"):
        return Path(os.environ["ASSISTANT_HOME"])
    if (ROOT / "pyproject.toml").exists():
        return ROOT
    return Path.cwd()


class Secret:
    """A value that must never be printed. Call `reveal()` where it is really needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        # Equal settings are equal secrets too (a reload compares them); in constant time.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(Exception):
    """Settings that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class BoardSettings:
    """Who the partnership is: from its pack (name, short_name, website), unless the settings
    file says otherwise."""

    name: str = ""
    short_name: str = ""
    area: str = ""
    website: str = ""
    # The domains of its agencies: their staff's email is answered (email.allowed_domains
    # overrides it).
    email_domains: tuple[str, ...] = ()
    case_review_repository: str = (
        "https://learning.nspcc.org.uk/case-reviews/national-case-review-repository"
    )


@dataclass(frozen=True)
class TelegramSettings:
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # Delete the form's messages from the chat once a notification is submitted.
    delete_form_messages: bool = True
    # polling (default) or webhook; `python main.py serve --webhook` overrides it.
    mode: str = "polling"
    # Updates handled at once; the per-chat lock keeps each chat's own messages in order.
    concurrent_updates: int = 64
    # Bot API requests in flight at once; the others wait their turn
    # (bot/channels/telegram_http.py).
    max_requests: int = 8
    # Telegram's documented flood limits (30 messages a second overall, 20 a minute per group).
    # Off only against a local emulator or a self-hosted Bot API server without limits.
    rate_limit: bool = True
    rate_limit_per_second: float = 30.0
    rate_limit_per_group_minute: float = 20.0
    rate_limit_max_retries: int = 3
    # Long polling: seconds between getUpdates calls, and how long each call waits for updates.
    poll_interval_seconds: float = 0.0
    poll_timeout_seconds: float = 10.0
    # setMyCommands that failed at start-up is retried after this long, doubling up to 10 min.
    commands_retry_seconds: float = 5.0
    # Webhook mode: the public HTTPS address Telegram posts to (ending in webhook_path), the
    # path served, and the address the HTTP server listens on. The secret token Telegram sends
    # back with each update comes from TELEGRAM_WEBHOOK_SECRET.
    webhook_url: str = ""
    webhook_path: str = "/telegram"
    webhook_max_connections: int = 40
    # The HTTP server of `serve` (webhook, /healthz, /readyz, /metrics), in either mode.
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    # /readyz gives the database this long to answer before it reports not ready.
    ready_timeout_seconds: float = 2.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""  # empty: no SMTP, emails are written as .eml files to mail.outbox_dir
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str = ""
    timeout_seconds: float = 30.0
    # PEM file of the CA(s) that signed the server's certificate, for a relay with a private CA;
    # empty: the system's trusted CAs.
    ca_file: str = ""


@dataclass(frozen=True)
class MailSettings:
    from_address: str = "assistant@example.org"
    # Who receives notifications: the pack's `recipients`, unless the settings file says.
    board_addresses: tuple[str, ...] = ()
    outbox_dir: str = "var/outbox"
    retry_initial_seconds: float = 30.0
    retry_max_seconds: float = 900.0
    # After this long undelivered, the SLO is told in chat and the failure is logged for the board.
    report_failure_after_minutes: float = 60.0
    # The domain after the @ of our Message-IDs; empty: the domain of from_address.
    message_id_domain: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    draft_days: float = 7.0
    delivered_content_days: float = 30.0
    # Questions the knowledge base could not answer, kept for the board to see (/unanswered).
    unanswered_days: float = 90.0


@dataclass(frozen=True)
class IncomingSettings:
    """Incoming chat messages (bot/channels/intake.py): each is stored before it is acknowledged
    and handled once; these say when another process takes up what one left."""

    # A message still not handled this long after it was stored is handled by whichever
    # instance looks next (its own process died, or hung). At start, at once.
    lease_seconds: float = 30.0
    # Replies still not sent this long after their message was handled are sent again.
    reply_lease_seconds: float = 60.0
    # How often each instance looks for such messages.
    sweep_seconds: float = 10.0
    # A handled message's bare record (no text) is kept this long to recognise a repeat.
    keep_hours: float = 24.0


# The contacts of the safety route, in the order a full route lists them.
CONTACT_KEYS = ("emergency", "front_door", "out_of_hours", "police", "lado", "partnership")


@dataclass(frozen=True)
class Contact:
    """One place to turn to. `confirmed` is false until the partnership has checked the details:
    the shipped values are examples, and `check` lists every unconfirmed contact."""

    name: str
    phone: str = ""
    hours: str = ""
    email: str = ""
    web: str = ""
    confirmed: bool = False


# Not set: a partnership's pack (or the settings) must give it; `check` says which is missing.
UNSET = Contact(name="")


@dataclass(frozen=True)
class ContactSettings:
    """The safety route's contacts (what the assistant gives when a child may be at risk).

    The national numbers are built in; everything local comes from the partnership's pack
    (config/partnership.py), under what the settings file's `contacts:` says.
    """

    emergency: Contact = Contact(
        name="Police or ambulance (emergency)",
        phone="999",
        hours="any time",
        confirmed=True,
    )
    front_door: Contact = UNSET
    out_of_hours: Contact = UNSET
    police: Contact = Contact(
        name="Police (non-emergency)",
        phone="101",
        hours="any time",
        confirmed=True,
    )
    lado: Contact = UNSET
    partnership: Contact = UNSET

    def get(self, key: str) -> Contact:
        contact: Contact = getattr(self, key)
        return contact

    def unconfirmed(self) -> list[str]:
        """The keys of the contacts whose details the partnership has not yet confirmed."""
        return [key for key in CONTACT_KEYS if not self.get(key).confirmed]


@dataclass(frozen=True)
class EmailSettings:
    """The email channel and the hand-off to the partnership (docs/email.md).

    Present in the settings file (even empty, `email:`) means on: the assistant reads its
    mailbox and answers by email, and offers "Ask the partnership" when it cannot answer.
    """

    source: str = "imap"  # imap | graph
    imap_host: str = "localhost"
    imap_port: int = 993
    imap_security: str = "tls"  # tls | starttls | none
    imap_username: str = ""
    imap_login: str = "password"  # password (EMAIL_PASSWORD) | xoauth2 (token from oauth_*)
    imap_folder: str = "INBOX"
    poll_seconds: float = 60.0
    # Microsoft Graph: the one shared mailbox read with app-only credentials.
    graph_mailbox: str = ""
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    # App registration (Graph, IMAP/SMTP XOAUTH2); the client secret is OAUTH_CLIENT_SECRET.
    oauth_tenant: str = ""
    oauth_client_id: str = ""
    oauth_authority: str = "https://login.microsoftonline.com"
    smtp_login: str = "password"  # password (SMTP_PASSWORD) | xoauth2
    # Other addresses of the assistant's own mailbox: mail from them is never answered.
    own_addresses: tuple[str, ...] = ()
    # Who gets answers: senders at these domains ("*.sch.uk": any subdomain) or in the registry;
    # empty: the partnership's (board.email_domains, from its pack's allowed_email_domains).
    allowed_domains: tuple[str, ...] = ()
    # Anyone else: "notice" (one polite reply a day) or "ignore" (nothing).
    outsiders: str = "notice"
    max_per_hour: int = 20  # answers to one sender; more are ignored until the hour is over
    # Hand-off: where questions go, who may answer by subject reference, reminder and closing.
    handoff_address: str = ""  # empty: the partnership's email (contacts.partnership.email)
    staff_addresses: tuple[str, ...] = ()  # empty: the hand-off address only
    handoff_remind_hours: float = 48.0
    handoff_close_days: float = 14.0


@dataclass(frozen=True)
class EndpointSettings:
    """What names this partnership on the channels that many partnerships reach through one
    address (docs/partnerships.md). Its Telegram bot (TELEGRAM_BOT_TOKEN) and its mailbox
    (`email:`) are named by their own settings."""

    # The web widget's site key: the partnership's chat is served under /site/<key>/, so the
    # <script> tag on its own site carries it in the widget's address (docs/web.md).
    web_site_key: str = ""
    # The Microsoft Teams (Bot Framework) app id; its password: TEAMS_APP_PASSWORD__<ID>.
    teams_app_id: str = ""


@dataclass(frozen=True)
class TeamsSettings:
    """The Microsoft Teams channel (docs/teams.md): on for a partnership with an app id
    (endpoints.teams_app_id) and its secret (TEAMS_APP_PASSWORD), at `path` on serve's server.
    Every Microsoft address is a setting, so nothing is fetched from anywhere unconfigured (and
    the tests point them at loopback); "{tenant}" in one stands for `tenant_id`."""

    # The Entra tenant (directory id) of the bot's app registration (a single-tenant bot).
    tenant_id: str = ""
    path: str = "/api/messages"
    # Where the bot gets its own token for the Bot Connector (client credentials).
    login_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    connector_scope: str = "https://api.botframework.com/.default"
    # Where the keys that sign the Bot Connector's requests are published: the Bot Framework's,
    # and the tenant's (Entra-issued tokens).
    jwks_url: str = "https://login.botframework.com/v1/.well-known/keys"
    entra_jwks_url: str = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    # Who may sign a request to the bot (a token from anyone else gets 401).
    issuers: tuple[str, ...] = (
        "https://api.botframework.com",
        "https://sts.windows.net/{tenant}/",
        "https://login.microsoftonline.com/{tenant}/v2.0",
    )
    # A certificate instead of the client secret (TEAMS_APP_PASSWORD): a PEM file with the
    # private key and the certificate uploaded to the app registration (docs/teams.md).
    certificate_file: str = ""
    # A registered SLO whose Teams (Entra ID) identity is their registered address may start
    # /notify without the emailed code (docs/signin.md). Off: everyone signs in by code.
    entra_signin: bool = False
    # How long an HTTP call to the Bot Connector or the token endpoint may take.
    timeout_seconds: float = 15.0

    def url(self, value: str) -> str:
        return value.replace("{tenant}", self.tenant_id or "common")

    @property
    def accepted_issuers(self) -> tuple[str, ...]:
        return tuple(self.url(i) for i in self.issuers)


@dataclass(frozen=True)
class FormSettings:
    # How the notification identifies the child: "initials" (initials, date of birth and an
    # optional LA or NHS number; the full name and address are not asked) or "full".
    identify_child: str = "initials"


@dataclass(frozen=True)
class StaffSettings:
    """The staff page (docs/staff.md). Sign-in is by a code emailed to a staff address; with
    `entra_client_id`, also with a Microsoft 365 account (OpenID Connect with Microsoft Entra
    ID), whose address must still be on the staff. The app registration's client secret is
    OAUTH_CLIENT_SECRET (environment only), as for the email channel's."""

    entra_tenant: str = ""  # the directory (tenant) id
    entra_client_id: str = ""  # the app registration's application (client) id; empty: off
    entra_authority: str = "https://login.microsoftonline.com"
    # The address people reach the assistant at (https://assistant.example.org): Entra sends
    # them back to <public_url>/staff/oidc/callback, which the app registration must list.
    public_url: str = ""


# The web chat's colours when neither the settings nor the pack's `branding:` give them.
WEB_COLOUR = "#1d4f91"
WEB_ACCENT = "#e8f0fb"
SAMESITE = ("Strict", "Lax", "None")


@dataclass(frozen=True)
class WebSettings:
    """The web chat (docs/web.md): the widget for the partnership's own pages, its chat panel
    and socket, served by `python main.py serve` on the HTTP server (telegram.listen_host and
    listen_port)."""

    # On by default: `serve` without a Telegram token runs the web chat alone.
    enabled: bool = True
    # The sites (scheme://host[:port]) whose pages may show the chat. The assistant's own
    # address always may; any other page is refused the widget, the panel and the socket.
    origins: tuple[str, ...] = ()
    # A page laid out like a partnership's site with the widget on it, at / (to try it).
    demo_page: bool = True
    # The panel's heading; empty: "<the partnership's short name> assistant".
    title: str = ""
    # The main colour (header, buttons and your own messages, with white text on it) and the
    # accent (the assistant's messages, with dark text on it); each must give text a contrast
    # of at least 4.5:1. Empty: the pack's `branding:` (colour, accent), else ours.
    colour: str = ""
    accent: str = ""
    # The longest message accepted; a longer one is refused with the limit, and stays typed.
    max_message_chars: int = 4000
    # Messages one conversation may send a minute; messages and new conversations one network
    # address may send or start (a council's staff may share one address behind its proxy).
    messages_per_minute: int = 30
    ip_messages_per_minute: int = 600
    ip_new_conversations_per_hour: int = 300
    # The conversation's cookie: Strict when the chat is on the assistant's own site or the
    # same site; None (with Partitioned) when another site embeds it (docs/web.md).
    cookie_samesite: str = "Strict"
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or
    # networks, such as 127.0.0.1 or 10.0.0.0/8); empty: the connection's own address.
    trusted_proxies: tuple[str, ...] = ()
    # How long a conversation's messages stay on screen for a reload or another tab, after
    # its last message; its state (a draft) follows the retention settings.
    history_hours: float = 24.0

    @property
    def main_colour(self) -> str:
        return self.colour or WEB_COLOUR

    @property
    def accent_colour(self) -> str:
        return self.accent or WEB_ACCENT


@dataclass(frozen=True)
class Settings:
    board: BoardSettings = field(default_factory=BoardSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    incoming: IncomingSettings = field(default_factory=IncomingSettings)
    email: EmailSettings | None = None  # None: no email channel, no hand-off
    contacts: ContactSettings = field(default_factory=ContactSettings)
    form: FormSettings = field(default_factory=FormSettings)
    teams: TeamsSettings = field(default_factory=TeamsSettings)
    endpoints: EndpointSettings = field(default_factory=EndpointSettings)
    web: WebSettings = field(default_factory=WebSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    database: str = "var/assistant.db"
    # What start-up derives from the knowledge, kept between starts (knowledge/cache.py);
    # empty: the default place (`cache_path`); "off": nothing kept.
    cache_dir: str = ""
    # The national knowledge; empty: the knowledge installed with the program.
    knowledge_dir: str = ""
    # The partnership served, and where its pack is (empty: the packs installed with the program).
    partnership: str = DEFAULT_PARTNERSHIP
    partnerships_dir: str = ""
    # The installation's default partnership (the file's `partnership:`; the same as
    # `partnership` unless these are the settings of another one it serves): the rows of a
    # database from before there were several partnerships are its own.
    default_partnership: str = field(default=DEFAULT_PARTNERSHIP, metadata={"derived": True})
    # The registry of liaison officers; empty: the pack's liaison_officers.yaml.
    registry_file: str = ""
    # Addresses whose /reload (signed in as an administrator of their partnership) also re-reads
    # the installation's partnerships and starts the new ones (docs/partnerships.md).
    installation_admins: tuple[str, ...] = ()
    log_level: str = "INFO"
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    email_password: Secret = field(default_factory=lambda: Secret(""))
    oauth_client_secret: Secret = field(default_factory=lambda: Secret(""))
    # Webhook mode: Telegram sends it in X-Telegram-Bot-Api-Secret-Token with every update.
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    # The Teams app's client secret (its app registration's), with endpoints.teams_app_id.
    teams_app_password: Secret = field(default_factory=lambda: Secret(""))

    @property
    def teams_enabled(self) -> bool:
        """A Teams app, and its secret or its certificate."""
        return bool(
            self.endpoints.teams_app_id and (self.teams_app_password or self.teams.certificate_file)
        )

    @property
    def partnership_email(self) -> str:
        """Where users are sent when the assistant cannot help: the partnership contact's email,
        the one place it is set (`contacts.partnership.email`; `check` warns until confirmed)."""
        return self.contacts.partnership.email

    def path(self, value: str) -> Path:
        """Resolve a configured path; relative paths are relative to `home()`."""
        p = Path(value)
        return p if p.is_absolute() else home() / p

    @property
    def cache_path(self) -> Path | None:
        """Where derived files are kept: `cache_dir`; by default var/cache in a checkout or
        under ASSISTANT_HOME, else (an installed wheel, run from any folder) the user's cache
        folder, so that `ask` leaves nothing in the folder it is run from. None: "off"."""
        if self.cache_dir == "off":
            return None
        if self.cache_dir:
            return self.path(self.cache_dir)
        if os.environ.get("ASSISTANT_HOME") or (ROOT / "pyproject.toml").exists():
            return home() / "var" / "cache"
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "safeguarding-assistant"

    @property
    def allowed_email_domains(self) -> tuple[str, ...]:
        """Whose email is answered: email.allowed_domains, else the partnership's domains."""
        if self.email is not None and self.email.allowed_domains:
            return self.email.allowed_domains
        return self.board.email_domains

    @property
    def knowledge_path(self) -> Path:
        """The national knowledge's folder."""
        if self.knowledge_dir:
            return self.path(self.knowledge_dir)
        return shipped_packs().parent

    @property
    def pack_path(self) -> Path:
        """The folder of the partnership's pack."""
        packs = self.path(self.partnerships_dir) if self.partnerships_dir else shipped_packs()
        return packs / self.partnership

    @property
    def template_path(self) -> Path:
        """The notification's Word template: the pack's own, else the national one."""
        own = self.pack_path / TEMPLATE
        return own if own.is_file() else self.knowledge_path / TEMPLATE

    @property
    def registry_path(self) -> Path:
        return (
            self.path(self.registry_file) if self.registry_file else self.pack_path / REGISTRY_FILE
        )

    def database_target(self) -> str:
        """What `database:` names: a postgresql:// URL as it is, else the SQLite file's path."""
        if is_database_url(self.database):
            return self.database
        return str(self.path(self.database))


DATABASE_URL = re.compile(r"postgres(?:ql)?://", re.IGNORECASE)


def is_database_url(value: str) -> bool:
    return bool(DATABASE_URL.match(value))


def _database_problems(value: str) -> list[str]:
    """A URL is postgresql://user@host:port/name; its password belongs in the environment."""
    if not is_database_url(value):
        return []
    parts = urlsplit(value)
    problems = []
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        problems.append("database: the port in the URL is not a number")
    if parts.password is not None:
        problems.append(
            "database: remove the password from the URL; give it in the environment "
            "(DATABASE_PASSWORD or PGPASSWORD), never in the settings file"
        )
    if not parts.hostname and "host=" not in parts.query:
        problems.append("database: the URL needs a host, as in postgresql://user@host/name")
    return problems


_SECTIONS: dict[str, type] = {
    "board": BoardSettings,
    "telegram": TelegramSettings,
    "mail": MailSettings,
    "smtp": SmtpSettings,
    "retention": RetentionSettings,
    "incoming": IncomingSettings,
    "email": EmailSettings,
    "form": FormSettings,
    "endpoints": EndpointSettings,
    "web": WebSettings,
    "staff": StaffSettings,
    "teams": TeamsSettings,
}
_SCALARS = (
    "database",
    "cache_dir",
    "knowledge_dir",
    "partnership",
    "partnerships_dir",
    "registry_file",
    "installation_admins",
    "log_level",
)
_SECRET_KEYS = ("token", "password", "secret")


def _coerce(section: str, name: str, default: Any, value: Any, problems: list[str]) -> Any:
    where = f"{section}.{name}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false, got {value!r}")
    elif isinstance(default, int | float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return type(default)(value)
        problems.append(f"{where}: expected a number, got {value!r}")
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        # An empty list only where the default is empty (an optional list).
        if (
            isinstance(value, list)
            and all(isinstance(v, str) and v for v in value)
            and (value or not default)
        ):
            return tuple(value)
        problems.append(f"{where}: expected a list of text values")
    elif isinstance(value, str):
        return value
    else:
        problems.append(f"{where}: expected text, got {value!r}")
    return default


def _section(cls: type, raw: Any, section: str, problems: list[str], defaults: Any = None) -> Any:
    defaults = cls() if defaults is None else defaults
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        problems.append(f"{section}: expected a mapping of options")
        return defaults
    known = {f.name for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if any(s in str(key).lower() for s in _SECRET_KEYS):
            problems.append(
                f"{section}.{key}: secrets are read only from the environment, not the file"
            )
        elif key not in known:
            problems.append(f"{section}.{key}: unknown option")
        else:
            values[key] = _coerce(section, key, getattr(defaults, key), value, problems)
    return dataclasses.replace(defaults, **values)


_CONTACT_FIELDS = {f.name: f.default for f in fields(Contact) if f.name != "name"}


def _contacts(
    raw: Any, problems: list[str], defaults: ContactSettings, where_file: str = ""
) -> ContactSettings:
    """`contacts:` over `defaults`. Each contact given replaces the one in `defaults` field by
    field; `confirmed` stays false unless it says true."""
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        problems.append(f"{where_file}contacts: expected a mapping of contact -> details")
        return defaults
    values: dict[str, Contact] = {}
    for key, details in raw.items():
        where = f"{where_file}contacts.{key}"
        if key not in CONTACT_KEYS:
            problems.append(f"{where}: unknown contact (known: {', '.join(CONTACT_KEYS)})")
            continue
        if not isinstance(details, dict):
            problems.append(f"{where}: expected name, phone, hours, email, web, confirmed")
            continue
        shipped = defaults.get(key)
        given: dict[str, Any] = {}
        for name, value in details.items():
            if name == "name":
                if isinstance(value, str) and value.strip():
                    given[name] = value.strip()
                else:
                    problems.append(f"{where}.name: expected text")
            elif name in _CONTACT_FIELDS:
                default = _CONTACT_FIELDS[name]
                value = "" if value is None and not isinstance(default, bool) else value
                if isinstance(value, int) and not isinstance(value, bool) and name == "phone":
                    value = str(value)  # an unquoted number in YAML
                given[name] = _coerce(where, name, default, value, problems)
            else:
                problems.append(f"{where}.{name}: unknown field")
        given.setdefault("confirmed", False)
        values[key] = dataclasses.replace(shipped, **given)
        email = values[key].email
        if email and "@" not in email and not is_placeholder(email):  # (placeholders: named)
            problems.append(f"{where}.email: not an email address: {email!r}")
        if not (values[key].phone or values[key].email or values[key].web):
            problems.append(f"{where}: give at least a phone, an email or a web page")
        if key == "partnership" and not values[key].email:
            problems.append(f"{where}.email: needed: replies and hand-offs give this address")
    return dataclasses.replace(defaults, **values)


def _move_old_contact_email(raw: dict[str, Any]) -> list[str]:
    """Earlier releases had the partnership's email twice, `board.contact_email` (shown in
    replies) and `contacts.partnership.email` (the safety route). It is now only the latter; a
    file that still says `board.contact_email` keeps working, its value moved there."""
    board = raw.get("board")
    if not isinstance(board, dict) or "contact_email" not in board:
        return []
    old = board.pop("contact_email")
    contacts = raw.setdefault("contacts", {}) or {}
    partnership = contacts.get("partnership") if isinstance(contacts, dict) else None
    if not isinstance(contacts, dict) or (
        partnership is not None and not isinstance(partnership, dict)
    ):
        return []  # _contacts names what is wrong with them
    raw["contacts"] = contacts
    given = (partnership or {}).get("email")
    if given and given != old:
        return [
            f"board.contact_email ({old}) and contacts.partnership.email ({given}) differ: the "
            "partnership's email is now set only in contacts.partnership.email; remove "
            "board.contact_email"
        ]
    contacts["partnership"] = {**(partnership or {}), "email": old}
    return []


def pack_defaults(pack: Pack, problems: list[str]) -> dict[str, Any]:
    """The settings a partnership's pack gives, before the settings file: who it is, its
    contacts, who receives notifications, whose email is answered, how long data is kept."""
    where = f"{pack.id}/partnership.yaml: "
    board = BoardSettings(
        name=pack.name,
        short_name=pack.short_name,
        area=pack.area,
        website=pack.website,
        email_domains=pack.allowed_email_domains,
    )
    mail = MailSettings(board_addresses=pack.recipients)
    retention = _section(RetentionSettings, pack.retention or None, f"{where}retention", problems)
    contacts = _contacts(pack.contacts or None, problems, ContactSettings(), where)
    return {
        "board": board,
        "mail": mail,
        "retention": retention,
        "contacts": contacts,
        "web": _branding(pack.branding, f"{where}branding", problems),
    }


BRANDING = ("colour", "accent")


def _branding(raw: dict[str, Any], where: str, problems: list[str]) -> WebSettings:
    """The web chat's colours from the pack's `branding:` (checked with the web settings)."""
    for key in sorted(set(raw) - set(BRANDING)):
        problems.append(f"{where}.{key}: unknown field (known: {', '.join(BRANDING)})")
    web = _section(WebSettings, {k: v for k, v in raw.items() if k in BRANDING}, where, problems)
    # A colour the pack gets wrong is named here, where it is, and not again as web.colour.
    for key, against in (("colour", WHITE), ("accent", TEXT)):
        value = getattr(web, key)
        if value and (problem := colour_problem(value, against, f"{where}.{key}")):
            problems.append(problem)
            web = dataclasses.replace(web, **{key: ""})
    return web


def _missing_contacts(contacts: ContactSettings) -> list[str]:
    return [
        f"contacts.{key}: not set: give it in the partnership's pack (partnership.yaml)"
        for key in CONTACT_KEYS
        if not contacts.get(key).name
    ]


def default_settings() -> Settings:
    """The settings of a fresh installation: no settings file, no environment (tests, bench)."""
    return load_settings(path=None, environ={"ASSISTANT_SETTINGS": ""}, use_file=False)


@dataclass(frozen=True)
class InstallationSettings:
    """Every partnership one installation serves, each with its whole settings (config/
    installation.py). `default` is the partnership of a database from before there were several:
    its rows become this one's when the database is upgraded."""

    default: str
    partnerships: tuple[Settings, ...]
    file: Path | None = None

    def get(self, partnership: str) -> Settings | None:
        return next((s for s in self.partnerships if s.partnership == partnership), None)

    @property
    def first(self) -> Settings:
        """The default partnership's settings if it is served, else the first's: what is the
        installation's own (the database, the HTTP server, logging) is the same in all."""
        return self.get(self.default) or self.partnerships[0]


def _read_file(
    path: Path | None, environ: Mapping[str, str], use_file: bool
) -> tuple[Path | None, dict[str, Any]]:
    if path is None:
        env_path = environ.get("ASSISTANT_SETTINGS")
        path = Path(env_path) if env_path else DEFAULT_SETTINGS_FILE
        if not env_path and (not path.exists() or not use_file):
            return None, {}
    try:
        loaded = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise SettingsError(f"{path}: expected a mapping of settings")
    return path, loaded or {}


def _raise(path: Path | None, problems: list[str]) -> None:
    if problems:
        where = f"{path}: " if path else ""
        unique = dict.fromkeys(problems)  # shared settings' problems, once for all partnerships
        raise SettingsError("\n".join(where + p for p in unique))


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    use_file: bool = True,
    partnership: str | None = None,
) -> Settings:
    """Read the settings of one partnership (`partnership`, default the file's `partnership:`)
    from `path` (default config/settings.yaml if it exists and `use_file`), its pack and
    `environ`; with a `partnerships:` list in the file, its entry there too.

    Environment: TELEGRAM_BOT_TOKEN, SMTP_PASSWORD, TELEGRAM_WEBHOOK_SECRET (each also as
    NAME__<ID> for one partnership: config/installation.py), and ASSISTANT_SETTINGS (another
    settings file), ASSISTANT_DATABASE (the SQLite path or a postgresql:// URL),
    ASSISTANT_CACHE_DIR (`cache_dir`), DATABASE_PASSWORD (the PostgreSQL password, or libpq's
    PGPASSWORD).
    Raises SettingsError listing every problem.
    """
    path, raw = _read_file(path, environ, use_file)
    problems = _move_old_contact_email(raw)
    entries = read_entries(raw, problems)
    default = _default_partnership(raw, problems)
    chosen = partnership or default
    settings = _build(raw, entries.get(chosen), chosen, chosen == default, environ, problems)
    _raise(path, problems)
    return settings


def load_installation(
    path: Path | None = None, environ: Mapping[str, str] = os.environ, use_file: bool = True
) -> InstallationSettings:
    """Every partnership the settings file lists under `partnerships:`, or the one it names by
    `partnership:` when there is no list; each with its settings as `load_settings` gives them.
    Two partnerships may not share an endpoint (a bot, a mailbox, a site key, a Teams app, a
    webhook path, an outbox folder). Raises SettingsError listing every problem."""
    path, raw = _read_file(path, environ, use_file)
    problems = _move_old_contact_email(raw)
    entries = read_entries(raw, problems)
    default = _default_partnership(raw, problems)
    served = list(entries) or [default]
    partnerships = tuple(
        _build(raw, entries.get(p), p, p == default, environ, problems) for p in served
    )
    problems += shared_endpoints(partnerships)
    _raise(path, problems)
    return InstallationSettings(default, partnerships, path)


def _default_partnership(raw: dict[str, Any], problems: list[str]) -> str:
    value = raw.get("partnership", DEFAULT_PARTNERSHIP)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"partnership: expected the name of a pack's folder, got {value!r}")
        return DEFAULT_PARTNERSHIP
    return value.strip()


def _build(
    raw: dict[str, Any],
    entry: dict[str, Any] | None,
    partnership: str,
    is_default: bool,
    environ: Mapping[str, str],
    problems: list[str],
) -> Settings:
    """One partnership's settings: the built-in defaults, its pack, the file's sections, and
    its `partnerships:` entry (if any), each over the one before."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SCALARS:
            values[key] = _coerce("settings", key, getattr(Settings(), key), value, problems)
        elif key not in _SECTIONS and key not in ("contacts", "partnerships"):
            problems.append(f"{key}: unknown option")
    values["partnership"] = partnership
    values["default_partnership"] = _default_partnership(raw, [])
    if not is_default:
        # What the top of a file says of one partnership is the default one's (a file with no
        # list): another partnership never takes its contacts, recipients, mailbox or registry.
        raw = shared_only(raw)
        values.pop("registry_file", None)
    # The partnership's pack first, then what the file says over it.
    scalars = Settings(**values)
    sections: dict[str, Any] = pack_defaults(read_pack(scalars.pack_path, problems), problems)
    _apply_sections(raw, "", sections, problems)
    if "partnerships" in raw and not is_default:
        _own_places(sections, partnership)
    if entry is not None:
        where = f"partnerships.{partnership}."
        _apply_sections(entry, where, sections, problems)
        for key in ENTRY_SCALARS:
            if key in entry:
                values[key] = _coerce(where.rstrip("."), key, "", entry[key], problems)
    values = {**values, **sections}
    problems += _missing_contacts(values["contacts"])
    smtp = values.get("smtp", SmtpSettings())
    if smtp.security not in ("starttls", "tls", "none"):
        problems.append(f"smtp.security: must be starttls, tls or none, not {smtp.security!r}")
    problems += _email_problems(values.get("email"))
    form = values.get("form", FormSettings())
    if form.identify_child not in ("initials", "full"):
        problems.append(
            f"form.identify_child: must be initials or full, not {form.identify_child!r}"
        )
    problems += _telegram_problems(values.get("telegram", TelegramSettings()))
    problems += _web_problems(values.get("web", WebSettings()))
    site_key = values.get("endpoints", EndpointSettings()).web_site_key
    if site_key and not SITE_KEY.fullmatch(site_key):
        problems.append(
            f"endpoints.web_site_key: {site_key!r}: 1 to 64 characters, only a-z, 0-9 and - "
            "(it is part of the widget's address)"
        )
    problems += _staff_problems(values.get("staff", StaffSettings()))
    problems += _teams_problems(values.get("teams", TeamsSettings()), values.get("endpoints"))
    problems += _path_problems(
        values.get("telegram", TelegramSettings()), values.get("teams", TeamsSettings())
    )
    problems += _database_problems(environ.get("ASSISTANT_DATABASE") or values.get("database", ""))
    secrets = {
        name: secret_for(environ, name, partnership, is_default)
        for name in (*OWN_SECRETS, *SHARED_SECRETS)
    }
    webhook_secret, variable = secrets["TELEGRAM_WEBHOOK_SECRET"]
    if webhook_secret.strip() and not WEBHOOK_SECRET.fullmatch(webhook_secret.strip()):
        problems.append(
            f"{variable}: 1 to 256 characters, only A-Z, a-z, 0-9, _ and - (what Telegram accepts)"
        )
    if environ.get("ASSISTANT_DATABASE"):
        values["database"] = environ["ASSISTANT_DATABASE"]
    if "ASSISTANT_CACHE_DIR" in environ:
        values["cache_dir"] = environ["ASSISTANT_CACHE_DIR"]
    return Settings(
        **values,
        telegram_token=Secret(secrets["TELEGRAM_BOT_TOKEN"][0].strip()),
        smtp_password=Secret(secrets["SMTP_PASSWORD"][0]),
        email_password=Secret(secrets["EMAIL_PASSWORD"][0]),
        oauth_client_secret=Secret(secrets["OAUTH_CLIENT_SECRET"][0]),
        webhook_secret=Secret(webhook_secret.strip()),
        teams_app_password=Secret(secrets["TEAMS_APP_PASSWORD"][0].strip()),
    )


def _apply_sections(
    raw: dict[str, Any], where: str, sections: dict[str, Any], problems: list[str]
) -> None:
    """The sections `raw` gives (the file's top, or one partnership's entry), over `sections`."""
    for key, value in raw.items():
        if key in _SECTIONS:
            defaults = sections.get(key)
            sections[key] = _section(_SECTIONS[key], value, where + key, problems, defaults)
        elif key == "contacts":
            sections[key] = _contacts(value, problems, sections["contacts"], where)


def _own_places(sections: dict[str, Any], partnership: str) -> None:
    """A partnership other than the default one gets its own outbox folder and webhook path
    inside the installation's (its entry may still set others)."""
    mail = sections.get("mail", MailSettings())
    telegram = sections.get("telegram", TelegramSettings())
    sections["mail"] = dataclasses.replace(mail, outbox_dir=own_place(mail.outbox_dir, partnership))
    sections["telegram"] = dataclasses.replace(
        telegram,
        webhook_path=own_place(telegram.webhook_path, partnership),
        webhook_url=own_place(telegram.webhook_url, partnership),
    )


def shared_endpoints(partnerships: Sequence[Settings]) -> list[str]:
    """What two partnerships would share, though each is one partnership's own: one bot, one
    mailbox, one site key or Teams app, one webhook path or one outbox folder."""
    owners: dict[tuple[str, str], str] = {}
    problems = []
    for settings in partnerships:
        email = settings.email
        mailbox = ""
        if email is not None:
            mailbox = (
                email.graph_mailbox
                if email.source == "graph"
                else f"{email.imap_username}@{email.imap_host}:{email.imap_folder}"
            ).lower()
        ends = {
            "a Telegram bot (TELEGRAM_BOT_TOKEN)": settings.telegram_token.reveal(),
            "a mailbox (email:)": mailbox,
            "a web site key (endpoints.web_site_key)": settings.endpoints.web_site_key,
            "a Teams app (endpoints.teams_app_id)": settings.endpoints.teams_app_id,
            "a webhook path (telegram.webhook_path)": settings.telegram.webhook_path
            if settings.telegram_token
            else "",
            "an outbox folder (mail.outbox_dir)": str(settings.path(settings.mail.outbox_dir)),
        }
        for what, value in ends.items():
            if not value:
                continue
            other = owners.setdefault((what, value), settings.partnership)
            if other != settings.partnership:
                problems.append(
                    f"partnerships: {other} and {settings.partnership} share {what}: each "
                    "partnership needs its own"
                )
    return problems


def _email_problems(email: EmailSettings | None) -> list[str]:
    if email is None:
        return []
    choices = {
        "source": ("imap", "graph"),
        "imap_security": ("tls", "starttls", "none"),
        "imap_login": ("password", "xoauth2"),
        "smtp_login": ("password", "xoauth2"),
        "outsiders": ("notice", "ignore"),
    }
    problems = [
        f"email.{name}: must be {' or '.join(allowed)}, not {getattr(email, name)!r}"
        for name, allowed in choices.items()
        if getattr(email, name) not in allowed
    ]
    if email.source == "graph" and not (
        email.graph_mailbox and email.oauth_tenant and email.oauth_client_id
    ):
        problems.append("email: source graph needs graph_mailbox, oauth_tenant and oauth_client_id")
    return problems


# scheme://host[:port]: what browsers send as Origin (also written into the frame-ancestors
# header, so nothing else may pass: no path, no spaces, no separators).
ORIGIN = re.compile(
    r"https?://(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)


# The web widget's site key is a path segment (/site/<key>/widget.js): nothing to escape.
SITE_KEY = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def _staff_problems(staff: StaffSettings) -> list[str]:
    if not staff.entra_client_id:
        return []
    problems = []
    if not staff.entra_tenant:
        problems.append("staff.entra_tenant: needed with staff.entra_client_id")
    for name in ("public_url", "entra_authority"):
        value = getattr(staff, name)
        if not ORIGIN.fullmatch(value.rstrip("/")) or not value.startswith("https://"):
            problems.append(
                f"staff.{name}: {value!r} must be an https:// address without a path, "
                "such as https://assistant.example.org"
            )
    return problems


def _web_problems(web: WebSettings) -> list[str]:
    problems = [
        problem
        for problem in (
            colour_problem(web.main_colour, WHITE, "web.colour"),
            colour_problem(web.accent_colour, TEXT, "web.accent"),
        )
        if problem
    ]
    for origin in web.origins:
        if not ORIGIN.fullmatch(origin):
            problems.append(
                f"web.origins: {origin!r} is not an origin: give scheme://host[:port], "
                "such as https://www.example.org, without a path"
            )
    if web.cookie_samesite not in SAMESITE:
        problems.append(
            f"web.cookie_samesite: must be {', '.join(SAMESITE)}, not {web.cookie_samesite!r}"
        )
    for proxy in web.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(f"web.trusted_proxies: {proxy!r} is not an address or a network")
    for name in (
        "max_message_chars",
        "messages_per_minute",
        "ip_messages_per_minute",
        "ip_new_conversations_per_hour",
    ):
        if getattr(web, name) < 1:
            problems.append(f"web.{name}: must be 1 or more")
    if web.history_hours <= 0:
        problems.append("web.history_hours: must be more than 0")
    return problems


def _teams_problems(teams: TeamsSettings, endpoints: EndpointSettings | None) -> list[str]:
    problems = []
    if not teams.path.startswith("/"):
        problems.append("teams.path: must start with /")
    for name in ("login_url", "jwks_url", "entra_jwks_url"):
        if not urlsplit(getattr(teams, name)).scheme.startswith("http"):
            problems.append(f"teams.{name}: expected an http(s) address")
    if not teams.issuers:
        problems.append("teams.issuers: at least one issuer")
    if endpoints is not None and endpoints.teams_app_id and not teams.tenant_id:
        problems.append(
            "teams.tenant_id: needed with endpoints.teams_app_id: the directory (tenant) id of "
            "the bot's app registration"
        )
    if teams.timeout_seconds <= 0:
        problems.append("teams.timeout_seconds: must be more than 0")
    certificate = Path(teams.certificate_file) if teams.certificate_file else None
    if certificate is not None and not (home() / certificate).is_file():  # (absolute: as given)
        problems.append(
            f"teams.certificate_file: {teams.certificate_file}: no such file (a PEM file with the "
            "app's RSA private key and certificate)"
        )
    elif certificate is not None:
        try:
            read_app_certificate(home() / certificate)
        except (OSError, ValueError) as exc:
            problems.append(f"teams.certificate_file: {teams.certificate_file}: {exc}")
    return problems


# The paths `serve` answers itself (bot/server.py): the health checks, the web chat, the staff
# pages and the demo page at /. A webhook or Teams path here would never be reached.
SERVED_PATHS = frozenset(("/", "/healthz", "/readyz", "/metrics", "/widget.js", "/chat", "/staff"))
SERVED_PREFIXES = ("/chat/", "/site/", "/staff/", "/staff-")


def _path_problems(telegram: TelegramSettings, teams: TeamsSettings) -> list[str]:
    """The Telegram webhook's and Teams' paths must be their own (an HTTP path has one route)."""
    problems = []
    for name, path in (
        ("telegram.webhook_path", telegram.webhook_path),
        ("teams.path", teams.path),
    ):
        if path.rstrip("/") in SERVED_PATHS or path == "/" or path.startswith(SERVED_PREFIXES):
            problems.append(f"{name}: {path} is one of serve's own paths: choose another")
    if telegram.webhook_path == teams.path:
        problems.append("teams.path: the same as telegram.webhook_path: each needs its own")
    return problems


WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _telegram_problems(telegram: TelegramSettings) -> list[str]:
    problems = []
    if telegram.mode not in ("polling", "webhook"):
        problems.append(f"telegram.mode: must be polling or webhook, not {telegram.mode!r}")
    if not telegram.webhook_path.startswith("/"):
        problems.append("telegram.webhook_path: must start with /")
    if telegram.webhook_url and not telegram.webhook_url.startswith("https://"):
        problems.append("telegram.webhook_url: Telegram only posts to https:// addresses")
    if telegram.concurrent_updates < 1:
        problems.append("telegram.concurrent_updates: must be 1 or more")
    if telegram.max_requests < 1:
        problems.append("telegram.max_requests: must be 1 or more")
    if not 0 < telegram.listen_port < 65536:
        problems.append("telegram.listen_port: must be a port number, 1 to 65535")
    return problems
