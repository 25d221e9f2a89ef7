"""Several partnerships from one settings file: each gets its pack, the file's shared settings and
its own entry; its secrets come from NAME__<ID>; nothing one partnership owns is shared."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import trustme

from config.settings import ROOT, SettingsError, load_installation, load_settings
from tests.packs_support import FIXTURE_PACKS

BEDFORD = "bedford-borough"
VALE = "example-vale"


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """A partnerships folder with Bedford Borough's pack and the invented Example Vale's."""
    folder = tmp_path / "packs"
    shutil.copytree(ROOT / "knowledge" / "partnerships" / BEDFORD, folder / BEDFORD)
    shutil.copytree(FIXTURE_PACKS / VALE, folder / VALE)
    return folder


def settings_file(tmp_path: Path, packs: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(f"partnerships_dir: {packs}\n{text}", encoding="utf-8")
    return path


def test_without_a_list_one_partnership_as_before(tmp_path: Path, packs: Path) -> None:
    path = settings_file(tmp_path, packs, "smtp:\n  host: relay.example.org\n")
    installation = load_installation(path, environ={"TELEGRAM_BOT_TOKEN": "1:bedford"})
    assert [s.partnership for s in installation.partnerships] == [BEDFORD]
    (bedford,) = installation.partnerships
    assert bedford.telegram_token.reveal() == "1:bedford"
    assert bedford.board.short_name == "BBSCP"
    assert bedford.mail.outbox_dir == "var/outbox"
    assert bedford.telegram.webhook_path == "/telegram"


def test_each_listed_partnership_has_its_pack_the_shared_settings_and_its_own(
    tmp_path: Path, packs: Path
) -> None:
    path = settings_file(
        tmp_path,
        packs,
        "smtp:\n  host: relay.example.org\n"
        "telegram:\n  webhook_url: https://assistant.example.org/telegram\n"
        "partnerships:\n"
        f"  - id: {BEDFORD}\n"
        f"  - id: {VALE}\n"
        "    retention:\n      delivered_content_days: 10\n"
        "    endpoints:\n      web_site_key: vale-widget\n",
    )
    environ = {
        "TELEGRAM_BOT_TOKEN": "1:bedford",
        "TELEGRAM_BOT_TOKEN__EXAMPLE_VALE": "2:vale",
        "SMTP_PASSWORD": "shared relay",
        "EMAIL_PASSWORD": "bedford's mailbox",
    }
    installation = load_installation(path, environ=environ)
    bedford, vale = installation.partnerships
    assert (installation.default, bedford.partnership, vale.partnership) == (BEDFORD, BEDFORD, VALE)
    # Its own pack: contacts, recipients, retention (the pack's, then the entry's).
    assert vale.partnership_email == "evscp@example-vale.org"
    assert vale.mail.board_addresses == ("notifications@example-vale.org",)
    assert (vale.retention.draft_days, vale.retention.delivered_content_days) == (3.0, 10.0)
    assert bedford.partnership_email == "lscb@bedford.gov.uk"
    assert bedford.retention.delivered_content_days == 30.0
    # Shared: the relay and its password.
    assert vale.smtp.host == bedford.smtp.host == "relay.example.org"
    assert vale.smtp_password.reveal() == "shared relay"
    # Its own: the bot, the mailbox's password (never another's), the site key, the places.
    assert (bedford.telegram_token.reveal(), vale.telegram_token.reveal()) == (
        "1:bedford",
        "2:vale",
    )
    assert (bedford.email_password.reveal(), vale.email_password.reveal()) == (
        "bedford's mailbox",
        "",
    )
    assert vale.endpoints.web_site_key == "vale-widget"
    assert (bedford.mail.outbox_dir, vale.mail.outbox_dir) == (
        "var/outbox",
        "var/outbox/example-vale",
    )
    assert (bedford.telegram.webhook_path, vale.telegram.webhook_path) == (
        "/telegram",
        "/telegram/example-vale",
    )
    assert vale.telegram.webhook_url == "https://assistant.example.org/telegram/example-vale"
    # One partnership's settings alone are the same as in the installation.
    assert load_settings(path, environ=environ, partnership=VALE) == vale


def test_a_partnership_that_is_not_the_default_never_gets_the_plain_token(
    tmp_path: Path, packs: Path
) -> None:
    path = settings_file(
        tmp_path,
        packs,
        f"partnership: {BEDFORD}\npartnerships:\n  - id: {BEDFORD}\n  - id: {VALE}\n",
    )
    _, vale = load_installation(path, environ={"TELEGRAM_BOT_TOKEN": "1:bedford"}).partnerships
    assert not vale.telegram_token


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "contacts:\n  lado:\n    name: LADO\n    phone: '01234 000000'\n",
            "contacts: one partnership's, so not at the top of a file with a partnerships: list",
        ),
        ("mail:\n  board_addresses: [a@example.org]\n", "mail.board_addresses: one partnership's"),
        ("email:\n  imap_host: imap.example.org\n", "email: one partnership's"),
    ],
)
def test_one_partnerships_setting_at_the_top_of_a_list_is_refused(
    tmp_path: Path, packs: Path, text: str, message: str
) -> None:
    path = settings_file(
        tmp_path, packs, f"{text}partnerships:\n  - id: {BEDFORD}\n  - id: {VALE}\n"
    )
    with pytest.raises(SettingsError, match=message):
        load_installation(path, environ={})


@pytest.mark.parametrize(
    ("entries", "environ", "message"),
    [
        (
            f"  - id: {BEDFORD}\n  - id: {VALE}\n",
            {
                "TELEGRAM_BOT_TOKEN__BEDFORD_BOROUGH": "1:x",
                "TELEGRAM_BOT_TOKEN__EXAMPLE_VALE": "1:x",
            },
            "bedford-borough and example-vale share a Telegram bot",
        ),
        (
            f"  - id: {BEDFORD}\n    endpoints:\n      web_site_key: k\n"
            f"  - id: {VALE}\n    endpoints:\n      web_site_key: k\n",
            {},
            "share a web site key",
        ),
        (
            f"  - id: {BEDFORD}\n    mail:\n      outbox_dir: var/one\n"
            f"  - id: {VALE}\n    mail:\n      outbox_dir: var/one\n",
            {},
            "share an outbox folder",
        ),
        (f"  - id: {VALE}\n  - id: {VALE}\n", {}, "example-vale is listed twice"),
        ("  - id: nowhere\n", {}, "no pack at .*nowhere"),
        (f"  - id: {VALE}\n    colour: green\n", {}, "partnerships.example-vale.colour: unknown"),
        (
            f"  - id: {VALE}\n    telegram:\n      listen_port: 9000\n",
            {},
            "listen_port: set once for the installation",
        ),
    ],
)
def test_what_cannot_be_shared_or_is_unknown_is_named(
    tmp_path: Path, packs: Path, entries: str, environ: dict[str, str], message: str
) -> None:
    path = settings_file(tmp_path, packs, f"partnerships:\n{entries}")
    with pytest.raises(SettingsError, match=message):
        load_installation(path, environ=environ)


def test_another_partnership_never_takes_what_the_file_says_of_the_default_one(
    tmp_path: Path, packs: Path
) -> None:
    """A file with no list overrides the default partnership's contacts and recipients: a
    look at another pack (`check`, `chat --partnership`) does not inherit them."""
    path = settings_file(
        tmp_path,
        packs,
        "contacts:\n  lado:\n    phone: '01234 999999'\n    confirmed: true\n"
        "mail:\n  board_addresses: [real.board@bedford.gov.uk]\n"
        "registry_file: /srv/bedford/registry.yaml\n",
    )
    bedford = load_settings(path, environ={})
    vale = load_settings(path, environ={}, partnership=VALE)
    assert bedford.contacts.lado.phone == "01234 999999"
    assert bedford.mail.board_addresses == ("real.board@bedford.gov.uk",)
    assert vale.contacts.lado.phone == "01632 960103"
    assert vale.mail.board_addresses == ("notifications@example-vale.org",)
    assert vale.registry_path == packs / VALE / "liaison_officers.yaml"


def test_each_partnership_has_its_own_teams_app_and_secret(tmp_path: Path, packs: Path) -> None:
    path = settings_file(
        tmp_path,
        packs,
        f"partnership: {BEDFORD}\nteams:\n  tenant_id: t-1\npartnerships:\n"
        f"  - id: {BEDFORD}\n    endpoints:\n      teams_app_id: app-bedford\n"
        f"  - id: {VALE}\n    endpoints:\n      teams_app_id: app-vale\n",
    )
    environ = {"TEAMS_APP_PASSWORD": "bedford-secret", "TEAMS_APP_PASSWORD__EXAMPLE_VALE": "v"}
    bedford, vale = load_installation(path, environ=environ).partnerships
    assert bedford.teams_enabled and bedford.teams_app_password.reveal() == "bedford-secret"
    assert vale.teams_enabled and vale.teams_app_password.reveal() == "v"
    # A partnership never falls back on another's app secret.
    _, vale = load_installation(path, environ={"TEAMS_APP_PASSWORD": "bedford-secret"}).partnerships
    assert not vale.teams_enabled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "endpoints:\n  teams_app_id: app-1\n",
            "teams.tenant_id: needed with endpoints.teams_app_id",
        ),
        ("teams:\n  path: api/messages\n", "teams.path: must start with /"),
        ("teams:\n  jwks_url: keys.example.org\n", "teams.jwks_url: expected an http(s) address"),
        ("teams:\n  client_secret: x\n", "teams.client_secret: secrets are read only from"),
    ],
)
def test_teams_settings_are_checked(tmp_path: Path, packs: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(settings_file(tmp_path, packs, text), environ={})


def test_a_teams_certificate_that_is_not_there_is_named(tmp_path: Path, packs: Path) -> None:
    text = f"teams:\n  certificate_file: {tmp_path / 'missing.pem'}\n"
    wanted = r"teams\.certificate_file: .*missing\.pem: no such file"
    with pytest.raises(SettingsError, match=wanted):
        load_settings(settings_file(tmp_path, packs, text), environ={})


def test_a_teams_certificate_file_that_cannot_serve_is_named(tmp_path: Path, packs: Path) -> None:
    not_pem = tmp_path / "notes.pem"
    not_pem.write_text("this is not a certificate\n")
    ec = trustme.CA(key_type=trustme.KeyType.ECDSA).issue_cert(
        "assistant.example.org", key_type=trustme.KeyType.ECDSA
    )
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(ec.private_key_and_cert_chain_pem.bytes())
    rsa = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert(
        "assistant.example.org", key_type=trustme.KeyType.RSA
    )
    cert_only = tmp_path / "cert-only.pem"
    cert_only.write_bytes(rsa.cert_chain_pems[0].bytes())
    for path, wanted in (
        (not_pem, "no PEM certificate in it"),
        (ec_pem, "its private key is not an RSA key"),
        (cert_only, "no unencrypted PEM private key in it"),
    ):
        text = f"teams:\n  certificate_file: {path}\n"
        with pytest.raises(SettingsError, match=re.escape(f"{path.name}: {wanted}")):
            load_settings(settings_file(tmp_path, packs, text), environ={})
    good = tmp_path / "good.pem"
    good.write_bytes(rsa.private_key_and_cert_chain_pem.bytes())
    load_settings(
        settings_file(tmp_path, packs, f"teams:\n  certificate_file: {good}\n"), environ={}
    )
