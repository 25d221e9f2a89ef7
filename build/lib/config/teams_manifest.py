"""The Teams app's manifest (deploy/teams/manifest.json): a template with a partnership's
values in {{braces}}, filled for each partnership and checked against the rules Teams applies
when an app is uploaded (manifest 1.17: lengths, the two icons, the bot, its commands), so a
pilot's sideloading is not the first check (docs/teams.md). `main.py check` runs it for every
partnership served; `main.py teams-app` writes the package to upload.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST = "manifest.json"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
VERSION = re.compile(r"\d+\.\d+\.\d+")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
HOST = re.compile(r"(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
SCOPES = frozenset(("personal", "team", "groupChat"))
# Teams' limits (the manifest schema's maxLength and maxItems).
LIMITS = {
    ("developer", "name"): 32,
    ("name", "short"): 30,
    ("name", "full"): 100,
    ("description", "short"): 80,
    ("description", "full"): 4000,
}
ICONS = {"color": (192, 192), "outline": (32, 32)}
MAX_COMMANDS = 10
# A manifest filled for a check when a partnership has no Teams app yet.
SAMPLE_APP_ID = "00000000-0000-0000-0000-000000000000"


def fill(template: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """The template with each {{name}} replaced (as JSON text); and the names not given."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            missing.append(name)
            return match.group(0)
        return json.dumps(values[name])[1:-1]

    return PLACEHOLDER.sub(value, template), sorted(set(missing))


def png_size(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, colour type) of a PNG, or None if it is not one."""
    if len(data) < 26 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[25]


def problems(folder: Path, values: Mapping[str, str], label: str = "") -> list[str]:
    """Every problem of the manifest in `folder` filled with `values`, as `where: what`."""
    where = f"{label}{folder / MANIFEST}"
    try:
        text, missing = fill((folder / MANIFEST).read_text(encoding="utf-8"), values)
        manifest = json.loads(text)
    except (OSError, ValueError) as exc:
        return [f"{where}: cannot be read as JSON: {exc}"]
    found = [f"{where}: {{{{{name}}}}}: no value for this placeholder" for name in missing]
    if not isinstance(manifest, dict):
        return [*found, f"{where}: expected a JSON object"]
    found += [f"{where}: {problem}" for problem in _manifest(manifest)]
    found += [f"{where}: {problem}" for problem in _icons(folder, manifest)]
    return found


def _text(manifest: dict[str, Any], section: str, name: str) -> str:
    value = manifest.get(section)
    return value.get(name, "") if isinstance(value, dict) else ""


def _manifest(manifest: dict[str, Any]) -> list[str]:
    found = []
    schema_version = manifest.get("manifestVersion")
    if not isinstance(schema_version, str) or schema_version not in str(manifest.get("$schema")):
        found.append("manifestVersion: must be the version of the $schema named")
    if not VERSION.fullmatch(str(manifest.get("version", ""))):
        found.append("version: expected a version number such as 1.0.0")
    if not GUID.fullmatch(str(manifest.get("id", ""))):
        found.append("id: expected the app's id (a GUID: endpoints.teams_app_id)")
    for (section, name), limit in LIMITS.items():
        value = _text(manifest, section, name)
        if not value.strip():
            found.append(f"{section}.{name}: missing")
        elif len(value) > limit:
            found.append(f"{section}.{name}: {len(value)} characters, Teams allows {limit}")
    for name in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        if not _text(manifest, "developer", name).startswith("https://"):
            found.append(f"developer.{name}: expected an https:// address")
    if not COLOUR.fullmatch(str(manifest.get("accentColor", ""))):
        found.append("accentColor: expected a colour such as #1D4F91")
    domains = manifest.get("validDomains", [])
    if not isinstance(domains, list) or not all(
        isinstance(d, str) and HOST.fullmatch(d) for d in domains
    ):
        found.append("validDomains: expected host names, without https:// or a path")
    found += _bots(manifest)
    return found


def _bots(manifest: dict[str, Any]) -> list[str]:
    bots = manifest.get("bots")
    if not isinstance(bots, list) or len(bots) != 1 or not isinstance(bots[0], dict):
        return ["bots: expected the one bot"]
    bot = bots[0]
    found = []
    if bot.get("botId") != manifest.get("id"):
        found.append("bots[1].botId: must be the app's id (the Azure Bot's app id)")
    scopes = bot.get("scopes")
    if not isinstance(scopes, list) or not scopes or not set(scopes) <= SCOPES:
        found.append(f"bots[1].scopes: expected some of {', '.join(sorted(SCOPES))}")
    for i, listed in enumerate(bot.get("commandLists", []), 1):
        commands = listed.get("commands", []) if isinstance(listed, dict) else []
        at = f"bots[1].commandLists[{i}]"
        if not set(listed.get("scopes", [])) <= set(scopes or ()):
            found.append(f"{at}.scopes: only the bot's own scopes")
        if len(commands) > MAX_COMMANDS:
            found.append(f"{at}.commands: {len(commands)}, Teams allows {MAX_COMMANDS}")
        for command in commands:
            title, description = command.get("title", ""), command.get("description", "")
            if not 0 < len(title) <= 32 or not 0 < len(description) <= 128:
                found.append(f"{at}: {title!r}: a title of 1-32 characters, a description 1-128")
    return found


def _icons(folder: Path, manifest: dict[str, Any]) -> list[str]:
    icons = manifest.get("icons")
    if not isinstance(icons, dict):
        return ["icons: expected color and outline"]
    found = []
    for name, (width, height) in ICONS.items():
        file = icons.get(name)
        try:
            size = png_size((folder / str(file)).read_bytes()) if file else None
        except OSError:
            size = None
        if size is None:
            found.append(f"icons.{name}: {file}: expected a PNG file beside the manifest")
        elif size[:2] != (width, height):
            found.append(f"icons.{name}: {file}: {size[0]}x{size[1]}, Teams wants {width}x{height}")
        elif name == "outline" and size[2] != 6:
            found.append(f"icons.{name}: {file}: needs a transparent background (RGBA)")
    return found


def package(folder: Path, values: Mapping[str, str]) -> bytes:
    """The app package to upload to Teams: the filled manifest and its two icons, zipped."""
    text, _ = fill((folder / MANIFEST).read_text(encoding="utf-8"), values)
    manifest = json.loads(text)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        for name in ICONS:
            file = str(manifest["icons"][name])
            archive.writestr(file, (folder / file).read_bytes())
    return buffer.getvalue()


def values_for(app_id: str, name: str, short_name: str, website: str) -> dict[str, str]:
    """A partnership's values for the template (a sample app id until it has one)."""
    return {
        "app_id": app_id or SAMPLE_APP_ID,
        "partnership_name": name,
        "short_name": short_name,
        "website": website,
        "website_host": urlsplit(website).hostname or "",
    }
