"""Settings and default paths. The config file is TOML in the user's config dir (CLI.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "dicom-viewer"


def default_archive_dir() -> Path:
    """`--archive`, else $VIEWER_ARCHIVE, else the user's data dir."""
    env = os.environ.get("VIEWER_ARCHIVE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "archive"


def default_config_file() -> Path:
    """`--config`, else $VIEWER_CONFIG, else config.toml in the user's config dir."""
    env = os.environ.get("VIEWER_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class ConfigError(Exception):
    """The config file cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Settings:
    """What the config file sets (TOML). Keys:

    [gui]
    language = "zh_CN"   # or "en"; empty: the system locale ($VIEWER_LANGUAGE overrides)
    """

    language: str = ""


def load_settings(path: Path | None = None) -> Settings:
    """The settings of `path` (default: default_config_file()); defaults when it does not
    exist. Raises ConfigError naming the file for a file that is not valid TOML or holds a
    value of the wrong type."""
    import tomllib

    path = path or default_config_file()
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        return Settings()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    gui = document.get("gui", {})
    language = gui.get("language", "") if isinstance(gui, dict) else None
    if not isinstance(language, str):
        raise ConfigError(f"{path}: [gui] language must be text like \"zh_CN\" or \"en\"")
    return Settings(language=language.strip())
