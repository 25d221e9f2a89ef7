"""Settings: defaults that work on a fresh clone, YAML overrides, secrets only from the env."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ROOT, SettingsError, default_settings, load_settings
from tests import yaml_support


def test_defaults_without_file() -> None:
    settings = load_settings(environ={})
    assert settings.database == "var/assistant.db"
    assert not settings.telegram_token
    assert settings.smtp.host == ""


def test_example_settings_file_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "settings.example.yaml", environ={})
    assert settings.partnership_email


def test_file_overrides_and_env_secrets(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "board:\n  name: Test Partnership\nsmtp:\n  host: mail.example.org\n  port: 465\n"
        "  security: tls\nmail:\n  board_addresses: [a@example.org, b@example.org]\n"
    )
    settings = load_settings(path, environ={"TELEGRAM_BOT_TOKEN": "1:abc", "SMTP_PASSWORD": "pw"})
    assert settings.board.name == "Test Partnership"
    assert settings.smtp.port == 465
    assert settings.mail.board_addresses == ("a@example.org", "b@example.org")
    assert settings.telegram_token.reveal() == "1:abc"
    assert "1:abc" not in repr(settings)
    assert "pw" not in repr(settings) and "pw" not in str(settings.smtp_password)


def test_every_problem_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("smtp:\n  password: hunter2\n  port: many\n  security: ssl\ncolour: red\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "smtp.password: secrets are read only from the environment" in message
    assert "smtp.port: expected a number" in message
    assert "smtp.security: must be starttls, tls or none" in message
    assert "colour: unknown option" in message
    assert "hunter2" not in message


def test_example_documents_every_option() -> None:
    """Every setting the program knows appears in the example file with its default value."""
    import dataclasses

    from config.settings import Contact, EmailSettings, Secret, Settings

    text = (ROOT / "config" / "settings.example.yaml").read_text()
    example = yaml_support.load(text)
    # The email section is off unless present, so the example shows it commented out: read it
    # as if the "# " before each of its lines were gone.
    block = text.split("\n# email:\n", 1)[1].split("\n\n", 1)[0]
    example["email"] = yaml_support.load("\n".join(line[2:] for line in block.splitlines()))
    defaults = dataclasses.replace(default_settings(), email=EmailSettings())
    for field in dataclasses.fields(Settings):
        value = getattr(defaults, field.name)
        if isinstance(value, Secret) or field.metadata.get("derived"):
            continue
        assert field.name in example, f"{field.name} is not documented"
        if dataclasses.is_dataclass(value):
            for sub in dataclasses.fields(value):
                assert sub.name in example[field.name], f"{field.name}.{sub.name} undocumented"
                documented = example[field.name][sub.name]
                expected = getattr(value, sub.name)
                if isinstance(expected, tuple):
                    documented = tuple(documented)
                if isinstance(expected, Contact):  # a contact: its fields, as documented
                    documented = Contact(**documented)
                assert documented == expected, f"{field.name}.{sub.name} default differs"
        elif isinstance(value, tuple):
            assert tuple(example[field.name]) == value
        else:
            assert example[field.name] == value


def test_database_accepts_a_postgresql_url_without_a_password(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("database: postgresql://assistant@db.example.org:5432/assistant\n")
    settings = load_settings(path, environ={})
    assert settings.database_target() == "postgresql://assistant@db.example.org:5432/assistant"
    assert load_settings(environ={}).database_target() == str(ROOT / "var" / "assistant.db")


def test_a_password_in_the_database_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("database: postgresql://assistant:hunter2@db.example.org/assistant\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "remove the password from the URL" in message and "DATABASE_PASSWORD" in message
    assert "hunter2" not in message
    with pytest.raises(SettingsError, match="remove the password"):
        load_settings(environ={"ASSISTANT_DATABASE": "postgres://a:b@h/d"})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("teams:\n  path: /healthz\n", "teams.path: /healthz is one of serve's own paths"),
        ("telegram:\n  webhook_path: /chat/in\n", "telegram.webhook_path: /chat/in is one of"),
        ("teams:\n  path: /staff\n", "teams.path: /staff is one of serve's own paths"),
        ("teams:\n  path: /telegram\n", "teams.path: the same as telegram.webhook_path"),
    ],
)
def test_a_webhook_or_teams_path_that_serve_already_answers_is_refused(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert named in str(caught.value)


# --- the partnership's email: one setting -------------------------------------------------------


def test_partnership_email_is_the_partnership_contacts(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("contacts:\n  partnership:\n    email: team@partnership.example.org\n")
    settings = load_settings(path, environ={})
    assert settings.partnership_email == "team@partnership.example.org"
    assert settings.contacts.partnership.email == "team@partnership.example.org"


def test_old_board_contact_email_still_read_and_moved(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "board:\n  name: Test Partnership\n  contact_email: old@partnership.example.org\n"
    )
    settings = load_settings(path, environ={})
    assert settings.partnership_email == "old@partnership.example.org"
    assert settings.contacts.partnership.email == "old@partnership.example.org"
    assert not settings.contacts.partnership.confirmed  # still to be confirmed, with the rest


def test_two_different_partnership_emails_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "board:\n  contact_email: old@partnership.example.org\n"
        "contacts:\n  partnership:\n    email: new@partnership.example.org\n"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "board.contact_email (old@partnership.example.org)" in message
    assert "contacts.partnership.email (new@partnership.example.org) differ" in message


def test_partnership_contact_needs_an_email(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("contacts:\n  partnership:\n    email: ''\n    web: https://example.org/\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert "contacts.partnership.email: needed" in str(caught.value)


# --- the partnership's pack ---------------------------------------------------------------------


def write_pack(folder: Path, **fields: object) -> Path:

    pack: dict[str, object] = {
        "name": "Example Vale Safeguarding Children Partnership",
        "short_name": "EVSCP",
        "contacts": {
            key: {"name": f"Example Vale {key}", "phone": "01000 000000"}
            for key in ("front_door", "out_of_hours", "lado", "partnership")
        },
        "recipients": ["board@example-vale.org"],
        "allowed_email_domains": ["example-vale.gov.uk"],
    }
    pack["contacts"]["partnership"]["email"] = "partnership@example-vale.org"  # type: ignore[index]
    pack.update(fields)
    (folder / "example-vale").mkdir(parents=True)
    (folder / "example-vale" / "partnership.yaml").write_text(yaml_support.dump(pack))
    return folder


def test_what_is_local_comes_from_the_partnerships_pack(tmp_path: Path) -> None:
    packs = write_pack(tmp_path / "packs")
    path = tmp_path / "s.yaml"
    path.write_text(f"partnership: example-vale\npartnerships_dir: {packs}\n")
    settings = load_settings(path, environ={})
    assert settings.board.name == "Example Vale Safeguarding Children Partnership"
    assert settings.mail.board_addresses == ("board@example-vale.org",)
    assert settings.allowed_email_domains == ("example-vale.gov.uk",)
    assert settings.contacts.lado.name == "Example Vale lado"
    assert settings.contacts.emergency.phone == "999"  # national, built in
    assert settings.partnership_email == "partnership@example-vale.org"
    assert settings.registry_path == packs / "example-vale" / "liaison_officers.yaml"


def test_the_settings_file_overrides_the_pack_field_by_field(tmp_path: Path) -> None:
    packs = write_pack(tmp_path / "packs")
    path = tmp_path / "s.yaml"
    path.write_text(
        f"partnership: example-vale\npartnerships_dir: {packs}\n"
        "contacts:\n  lado:\n    phone: 01000 111111\n"
    )
    lado = load_settings(path, environ={}).contacts.lado
    assert (lado.name, lado.phone, lado.confirmed) == ("Example Vale lado", "01000 111111", False)


def test_a_pack_without_a_contact_or_a_name_is_refused(tmp_path: Path) -> None:
    packs = write_pack(tmp_path / "packs", name="", contacts={})
    path = tmp_path / "s.yaml"
    path.write_text(f"partnership: example-vale\npartnerships_dir: {packs}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "example-vale/partnership.yaml: name: the partnership's name is needed" in message
    assert "contacts.lado: not set" in message


def test_an_unknown_partnership_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"partnership: nowhere\npartnerships_dir: {tmp_path}\n")
    with pytest.raises(SettingsError, match=r"no pack at .*nowhere"):
        load_settings(path, environ={})


def test_no_partnership_data_in_the_code() -> None:
    # Bedford's numbers live in its pack, not in config/settings.py.
    code = (ROOT / "config" / "settings.py").read_text()
    for local in ("01234", "0300 300", "bedford.gov.uk", "Bedford Borough"):
        assert local not in code
