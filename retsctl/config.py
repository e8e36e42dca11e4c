"""Where retsctl keeps its files: ``$RETSCTL_HOME`` or the platform's user data dir for ``retsctl``."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "retsctl"
HOME_ENV = "RETSCTL_HOME"


def home() -> Path:
    """The directory for everything retsctl writes (created on first use)."""
    configured = os.environ.get(HOME_ENV)
    path = Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    """The local cache and state database, ``$RETSCTL_HOME/retsctl.db``."""
    return home() / "retsctl.db"


def config_file() -> Path:
    """Profiles and settings, ``$RETSCTL_HOME/config.toml`` (never a secret)."""
    return home() / "config.toml"


def logs_dir() -> Path:
    """Where error reports go, ``$RETSCTL_HOME/logs`` (created on first use)."""
    path = home() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
