"""Shared fixtures. Qt tests run offscreen; peers are found through tests.peers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
