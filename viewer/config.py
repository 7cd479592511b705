"""Settings and default paths. The config file is TOML in the user's config dir (CLI.md)."""

from __future__ import annotations

import os
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
