"""Editing the node list in the config file (`nodes add/remove/local`), keeping its comments.

Reading is viewer.config's (stdlib tomllib); writing goes through tomlkit, which preserves what
an administrator wrote by hand around our keys. The file is replaced atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from viewer.config import (
    ConfigError,
    LocalNode,
    Node,
    ae_title_problem,
    default_config_file,
    dicomweb_url_problem,
    load_settings,
)


def add_node(node: Node, path: Path | None = None) -> None:
    """Add or replace the node `node.name` in the config file (a DICOMweb node when
    `node.dicomweb` is set: then AE title, host and port are not needed)."""
    if not node.name or not node.name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"a node name is letters, digits, - and _ ({node.name!r})")
    if node.dicomweb is not None:
        _add_web_node(node, path)
        return
    _check(node.ae_title, node.port)
    if not node.host:
        raise ConfigError(f"node {node.name}: a host is needed")

    def change(document: Any) -> None:
        import tomlkit

        nodes = document.setdefault("nodes", tomlkit.table(is_super_table=True))
        table = tomlkit.table()
        table["ae_title"] = node.ae_title
        table["host"] = node.host
        table["port"] = node.port
        table["tls"] = node.tls is not None
        if node.tls is not None:
            table["tls_ca"] = node.tls.ca
            table["tls_cert"] = node.tls.cert
            table["tls_key"] = node.tls.key
        nodes[node.name] = table

    _edit(path, change)


def _add_web_node(node: Node, path: Path | None) -> None:
    service = node.dicomweb
    assert service is not None
    if problem := dicomweb_url_problem(service.url):
        raise ConfigError(f"node {node.name}: {problem}")
    if service.user and service.token_file:
        raise ConfigError(f"node {node.name}: basic or bearer authentication, not both")

    def change(document: Any) -> None:
        import tomlkit

        nodes = document.setdefault("nodes", tomlkit.table(is_super_table=True))
        table = tomlkit.table()
        table["dicomweb_url"] = service.url.rstrip("/")
        if service.user:
            table["dicomweb_user"] = service.user
            table["dicomweb_password"] = service.password
        if service.token_file:
            table["dicomweb_token_file"] = service.token_file
        if service.ca:
            table["dicomweb_ca"] = service.ca
        if service.timeout is not None:
            table["dicomweb_timeout"] = service.timeout
        if service.retries is not None:
            table["dicomweb_retries"] = service.retries
        nodes[node.name] = table  # replaces a node of that name, DIMSE or DICOMweb

    _edit(path, change)


def remove_node(name: str, path: Path | None = None) -> bool:
    """Remove the node `name`; False when there was none."""
    removed = {"done": False}

    def change(document: Any) -> None:
        nodes = document.get("nodes")
        if nodes is not None and name in nodes:
            del nodes[name]
            removed["done"] = True

    _edit(path, change)
    return removed["done"]


def set_local(ae_title: str, port: int, path: Path | None = None) -> LocalNode:
    """Set our own AE title and Storage SCP port; the other [local] keys stay."""
    _check(ae_title, port)

    def change(document: Any) -> None:
        import tomlkit

        local = document.setdefault("local", tomlkit.table())
        local["ae_title"] = ae_title
        local["port"] = port

    _edit(path, change)
    return load_settings(path).local


def set_worklist_nodes(node: str, mpps_node: str, path: Path | None = None) -> None:
    """Set `[worklist] node` and `mpps_node` ("" removes the key); each must be a
    configured node (ConfigError otherwise, the file untouched)."""

    def change(document: Any) -> None:
        import tomlkit

        worklist = document.setdefault("worklist", tomlkit.table())
        for key, value in (("node", node), ("mpps_node", mpps_node)):
            if value:
                worklist[key] = value
            elif key in worklist:
                del worklist[key]

    _edit(path, change)


def _check(ae_title: str, port: int) -> None:
    if problem := ae_title_problem(ae_title):
        raise ConfigError(problem)
    if not 0 < port < 65536:
        raise ConfigError(f"a port is a number from 1 to 65535 ({port})")


def _edit(path: Path | None, change: Any) -> None:
    """Load the config (or start an empty one), apply `change`, check that the result still
    reads as valid settings, then replace the file atomically."""
    import tomlkit

    path = path or default_config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        document = tomlkit.parse(text)
    except Exception as exc:  # tomlkit's ParseError and friends
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    change(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        # owner only (mkstemp's mode, said here because it matters): the file may hold a
        # DICOMweb node's password (`nodes add --auth-basic`)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(tomlkit.dumps(document))
            f.flush()
            os.fsync(f.fileno())
        load_settings(Path(tmp))  # never write a file we could not read back
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["Node", "add_node", "remove_node", "set_local", "set_worklist_nodes"]
