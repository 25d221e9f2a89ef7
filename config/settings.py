"""Typed settings from config/settings.yaml (optional), the partnership's pack and the environment.

Every option has a default that works on a fresh clone: a SQLite file and an .eml folder under
var/, no Telegram token (console chat) and no SMTP server. What is local to one partnership (its
name, the safety route's contacts, who receives notifications, whose email is answered) comes from
its pack (config/partnership.py), under whatever the settings file says. Secrets come only from
the environment and are wrapped in `Secret`, whose repr and str never show the value.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from config.partnership import REGISTRY_FILE, Pack, read_pack, shipped_packs

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
class FormSettings:
    # How the notification identifies the child: "initials" (initials, date of birth and an
    # optional LA or NHS number; the full name and address are not asked) or "full".
    identify_child: str = "initials"


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
    database: str = "var/assistant.db"
    # The national knowledge; empty: the knowledge installed with the program.
    knowledge_dir: str = ""
    # The partnership served, and where its pack is (empty: the packs installed with the program).
    partnership: str = DEFAULT_PARTNERSHIP
    partnerships_dir: str = ""
    # The registry of liaison officers; empty: the pack's liaison_officers.yaml.
    registry_file: str = ""
    log_level: str = "INFO"
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    email_password: Secret = field(default_factory=lambda: Secret(""))
    oauth_client_secret: Secret = field(default_factory=lambda: Secret(""))
    # Webhook mode: Telegram sends it in X-Telegram-Bot-Api-Secret-Token with every update.
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))

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
}
_SCALARS = (
    "database",
    "knowledge_dir",
    "partnership",
    "partnerships_dir",
    "registry_file",
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
        if "@" not in values[key].email and values[key].email:
            problems.append(f"{where}.email: not an email address: {values[key].email!r}")
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
    }


def _missing_contacts(contacts: ContactSettings) -> list[str]:
    return [
        f"contacts.{key}: not set: give it in the partnership's pack (partnership.yaml)"
        for key in CONTACT_KEYS
        if not contacts.get(key).name
    ]


def default_settings() -> Settings:
    """The settings of a fresh installation: no settings file, no environment (tests, bench)."""
    return load_settings(path=None, environ={"ASSISTANT_SETTINGS": ""}, use_file=False)


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] = os.environ, use_file: bool = True
) -> Settings:
    """Read settings from `path` (default config/settings.yaml if it exists and `use_file`),
    the partnership's pack and `environ`.

    Environment: TELEGRAM_BOT_TOKEN, SMTP_PASSWORD, TELEGRAM_WEBHOOK_SECRET, and
    ASSISTANT_SETTINGS (another settings file), ASSISTANT_DATABASE (the SQLite path or a
    postgresql:// URL), DATABASE_PASSWORD (the PostgreSQL password, or libpq's PGPASSWORD).
    Raises SettingsError listing every problem.
    """
    if path is None:
        env_path = environ.get("ASSISTANT_SETTINGS")
        path = Path(env_path) if env_path else DEFAULT_SETTINGS_FILE
        if not env_path and (not path.exists() or not use_file):
            path = None
    raw: dict[str, Any] = {}
    problems: list[str] = []
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{path}: file not found") from None
        except yaml.YAMLError as exc:
            raise SettingsError(f"{path}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"{path}: expected a mapping of settings")
        raw = loaded or {}
    problems += _move_old_contact_email(raw)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SCALARS:
            values[key] = _coerce("settings", key, getattr(Settings(), key), value, problems)
        elif key not in _SECTIONS and key != "contacts":
            problems.append(f"{key}: unknown option")
    # The partnership's pack first, then what the file says over it.
    scalars = Settings(**values)
    defaults = pack_defaults(read_pack(scalars.pack_path, problems), problems)
    for key, value in raw.items():
        if key in _SECTIONS:
            values[key] = _section(_SECTIONS[key], value, key, problems, defaults.get(key))
        elif key == "contacts":
            values[key] = _contacts(value, problems, defaults["contacts"])
    values = {**defaults, **values}
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
    problems += _database_problems(environ.get("ASSISTANT_DATABASE") or values.get("database", ""))
    webhook_secret = environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    if webhook_secret and not WEBHOOK_SECRET.fullmatch(webhook_secret):
        problems.append(
            "TELEGRAM_WEBHOOK_SECRET: 1 to 256 characters, only A-Z, a-z, 0-9, _ and - "
            "(what Telegram accepts)"
        )
    if problems:
        where = f"{path}: " if path else ""
        raise SettingsError("\n".join(where + p for p in problems))
    if environ.get("ASSISTANT_DATABASE"):
        values["database"] = environ["ASSISTANT_DATABASE"]
    return Settings(
        **values,
        telegram_token=Secret(environ.get("TELEGRAM_BOT_TOKEN", "").strip()),
        smtp_password=Secret(environ.get("SMTP_PASSWORD", "")),
        email_password=Secret(environ.get("EMAIL_PASSWORD", "")),
        oauth_client_secret=Secret(environ.get("OAUTH_CLIENT_SECRET", "")),
        webhook_secret=Secret(webhook_secret),
    )


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
