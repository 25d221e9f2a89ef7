"""Typed settings from config/settings.yaml (optional) and the environment.

Every option has a default that works on a fresh clone: a SQLite file and an .eml folder under
var/, no Telegram token (console chat) and no SMTP server. Secrets come only from the environment
and are wrapped in `Secret`, whose repr and str never show the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = ROOT / "config" / "settings.yaml"


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
    name: str = "Bedford Borough Safeguarding Children Partnership"
    short_name: str = "BBSCP"
    contact_email: str = "safeguarding.partnership@example.org"
    website: str = "https://safeguardingbedfordshire.org.uk/"
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
    board_addresses: tuple[str, ...] = ("safeguarding.partnership@example.org",)
    outbox_dir: str = "var/outbox"
    retry_initial_seconds: float = 30.0
    retry_max_seconds: float = 900.0
    # After this long undelivered, the SLO is told in chat and the failure is logged for the board.
    report_failure_after_minutes: float = 60.0


@dataclass(frozen=True)
class RetentionSettings:
    draft_days: float = 7.0
    delivered_content_days: float = 30.0
    # Questions the knowledge base could not answer, kept for the board to see (/unanswered).
    unanswered_days: float = 90.0


@dataclass(frozen=True)
class Settings:
    board: BoardSettings = field(default_factory=BoardSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    database: str = "var/assistant.db"
    knowledge_dir: str = "knowledge"
    registry_file: str = "config/liaison_officers.yaml"
    log_level: str = "INFO"
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    # Webhook mode: Telegram sends it in X-Telegram-Bot-Api-Secret-Token with every update.
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))

    def path(self, value: str) -> Path:
        """Resolve a configured path; relative paths are relative to the project root."""
        p = Path(value)
        return p if p.is_absolute() else ROOT / p


_SECTIONS: dict[str, type] = {
    "board": BoardSettings,
    "telegram": TelegramSettings,
    "mail": MailSettings,
    "smtp": SmtpSettings,
    "retention": RetentionSettings,
}
_SCALARS = ("database", "knowledge_dir", "registry_file", "log_level")
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
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value) and value:
            return tuple(value)
        problems.append(f"{where}: expected a list of text values")
    elif isinstance(value, str):
        return value
    else:
        problems.append(f"{where}: expected text, got {value!r}")
    return default


def _section(cls: type, raw: Any, section: str, problems: list[str]) -> Any:
    defaults = cls()
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
    return cls(**values)


def load_settings(path: Path | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read settings from `path` (default config/settings.yaml if it exists) and `environ`.

    Environment: TELEGRAM_BOT_TOKEN, SMTP_PASSWORD, TELEGRAM_WEBHOOK_SECRET, and
    ASSISTANT_SETTINGS (another settings file), ASSISTANT_DATABASE (the SQLite path).
    Raises SettingsError listing every problem.
    """
    if path is None:
        env_path = environ.get("ASSISTANT_SETTINGS")
        path = Path(env_path) if env_path else DEFAULT_SETTINGS_FILE
        if not env_path and not path.exists():
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
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            values[key] = _section(_SECTIONS[key], value, key, problems)
        elif key in _SCALARS:
            values[key] = _coerce("settings", key, getattr(Settings(), key), value, problems)
        else:
            problems.append(f"{key}: unknown option")
    smtp = values.get("smtp", SmtpSettings())
    if smtp.security not in ("starttls", "tls", "none"):
        problems.append(f"smtp.security: must be starttls, tls or none, not {smtp.security!r}")
    problems += _telegram_problems(values.get("telegram", TelegramSettings()))
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
        webhook_secret=Secret(webhook_secret),
    )


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
    if not 0 < telegram.listen_port < 65536:
        problems.append("telegram.listen_port: must be a port number, 1 to 65535")
    return problems
