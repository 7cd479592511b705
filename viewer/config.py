"""Settings and default paths. The config file is TOML in the user's config dir (CLI.md)."""

from __future__ import annotations

import dataclasses
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


DEFAULT_AE_TITLE = "DICOMVIEWER"
DEFAULT_PORT = 11112  # the registered DICOM port (PS3.8 annex G); 104 needs root
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class TlsFiles:
    """TLS for a node (PS3.15 BCP 195): `ca` verifies the peer's certificate (empty: the
    system's trust store); `cert` and `key` are our client certificate, when the peer asks."""

    ca: str = ""
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class DicomWebService:
    """How to reach a node over DICOMweb (PS3.18): `url` is the service root
    ("http://host:port/dicom-web"), under which QIDO-RS, WADO-RS and STOW-RS live.
    Authentication: HTTP basic (`user`, `password`) or a bearer token read from `token_file`
    at each request (so that a rotated token is picked up), or none. `ca`: the CA bundle that
    verifies an https server (empty: the system's trust store). `timeout` (seconds, for the
    connection and for each read) and `retries` (of a GET whose connection failed or that got
    502/503/504) override [network] for this node when set."""

    url: str
    user: str = ""
    password: str = ""
    token_file: str = ""
    ca: str = ""
    timeout: float | None = None
    retries: int | None = None

    @property
    def auth(self) -> str:
        """"basic", "bearer" or "" (none)."""
        return "basic" if self.user else "bearer" if self.token_file else ""


@dataclass(frozen=True)
class Node:
    """A remote DICOM node: a PACS, a modality, a printer. A DIMSE node has an AE title, host
    and port; a DICOMweb node has `dicomweb` (and may have the DIMSE fields too, unused by the
    verbs, which pick DICOMweb when it is set)."""

    name: str
    ae_title: str
    host: str
    port: int
    tls: TlsFiles | None = None
    dicomweb: DicomWebService | None = None


DEFAULT_MAX_ASSOCIATIONS = 16


@dataclass(frozen=True)
class LocalNode:
    """Ourselves: the AE title we call with and answer to, and where our Storage SCP listens
    (loopback unless the config says otherwise). `tls` makes our SCP listen with TLS.
    `max_associations`: how many associations our SCP serves at once; one more is rejected
    (A-ASSOCIATE-RJ rejected-transient, "local-limit-exceeded", PS3.8 §9.3.4)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    host: str = LOOPBACK
    tls: TlsFiles | None = None
    max_associations: int = DEFAULT_MAX_ASSOCIATIONS


@dataclass(frozen=True)
class NetworkTimeouts:
    """Seconds to wait (PS3.8 ARTIM and friends): for the TCP connection, the association
    (ACSE), a DIMSE message, and any network read. `idle`: our Storage SCP aborts an
    association on which the peer sent nothing for this long (a connection that never sends
    its association request is closed after `acse`)."""

    connect: float = 10.0
    acse: float = 30.0
    dimse: float = 60.0
    network: float = 60.0
    idle: float = 60.0
    retries: int = 2  # DICOMweb: GETs retried on a failed connection or 502/503/504


@dataclass(frozen=True)
class Settings:
    """What the config file sets (TOML). Keys:

    [gui]
    language = "zh_CN"   # or "en"; empty: the system locale ($VIEWER_LANGUAGE overrides)
    storage_scp = false  # true: the window runs our Storage SCP (on [local] port) while open

    [local]                      # ourselves (`nodes local AET PORT`)
    ae_title = "DICOMVIEWER"
    port = 11112
    host = "127.0.0.1"           # where the Storage SCP listens; "0.0.0.0" for every interface
    tls_cert = ""                # with tls_key: our SCP listens with TLS
    tls_key = ""
    tls_ca = ""                  # verifies callers' certificates when given
    max_associations = 16        # the SCP's associations at once; more are rejected (transient)

    [network]                    # timeouts in seconds
    connect_timeout = 10
    acse_timeout = 30            # also: our SCP closes a connection silent before associating
    dimse_timeout = 60
    network_timeout = 60
    idle_timeout = 60            # our SCP aborts an association whose peer is silent this long
    retries = 2                  # DICOMweb: a GET whose connection failed, or that got 502, 503
                                 # or 504, is tried again this many times (0: never)
                                 # DICOMweb uses connect_timeout and network_timeout (per read)

    [nodes.PACS]                 # `nodes add PACS ORTHANC pacs.example.org 4242 [--tls ...]`
    ae_title = "ORTHANC"
    host = "pacs.example.org"
    port = 4242
    tls = false
    tls_ca = ""                  # CA that signed the peer's certificate (empty: system store)
    tls_cert = ""                # our client certificate and key, when the peer asks for one
    tls_key = ""

    [nodes.WEB]                  # `nodes add WEB --dicomweb URL [--auth-basic U:P|--token-file F]`
    dicomweb_url = "https://pacs.example.org/dicom-web"   # the service root (PS3.18)
    dicomweb_user = ""           # HTTP basic authentication: user and password. A config file
    dicomweb_password = ""       # holding a password is written with mode 0600 (owner only);
                                 # prefer a token file where the server takes bearer tokens
    dicomweb_token_file = ""     # a file holding a bearer token, read at each request
    dicomweb_ca = ""             # CA bundle verifying the https server (empty: system store)
    dicomweb_timeout = 60        # overrides [network] connect_timeout and network_timeout
    dicomweb_retries = 2         # overrides [network] retries
                                 # (ae_title, host and port are not needed for a DICOMweb node)

    [archive]                    # a bounded local cache (viewer.archive.retention)
    quota_gb = 500               # the store's limit in GB (10^9 bytes); absent: no limit. Past
                                 # it, the least recently viewed studies that a PACS has
                                 # committed (storage commitment, every instance) are removed
    commit_nodes = ["PACS"]      # whose commitment counts: these configured nodes (by their
                                 # AE titles); absent or empty: any configured node

    [reading]                    # opening a study (viewer.reading)
    prior_node = "PACS"          # a configured node asked for the newest relevant prior, which
                                 # is retrieved in the background; absent or "": none is asked
    prior_retrieve = "get"       # "get" (C-GET) or "move" (C-MOVE to our [local] port)
    presentation_state = "newest"  # an image's newest presentation state is applied; "none":
                                 # listed only, the image shown as its header says

    [worklist]                   # the worklist panel (viewer.gui.worklist_panel)
    node = "RIS"                 # the configured node asked for scheduled procedure steps
    mpps_node = ""               # where MPPS N-CREATE / N-SET go; "": the worklist node

    [quality]                    # data quality (viewer.quality)
    validate_on_import = true    # every imported, received or retrieved study is validated in
                                 # the background after it is committed; its findings are stored
                                 # in the index (false: studies stay "pending" until validated)
    """

    language: str = ""
    local: LocalNode = LocalNode()
    network: NetworkTimeouts = NetworkTimeouts()
    nodes: tuple[Node, ...] = ()
    storage_scp: bool = False
    quota_gb: float | None = None
    commit_nodes: tuple[str, ...] = ()
    prior_node: str = ""
    prior_retrieve: str = "get"
    presentation_state: str = "newest"
    worklist_node: str = ""
    mpps_node: str = ""
    validate_on_import: bool = True
    # the file these were read from (the GUI writes its choices back); not a setting itself
    path: Path | None = dataclasses.field(default=None, compare=False)

    def performed_step_node(self) -> str:
        """The node MPPS goes to: `mpps_node`, else the worklist node ("" when neither)."""
        return self.mpps_node or self.worklist_node

    def commit_ae_titles(self) -> frozenset[str]:
        """The AE titles whose storage commitment lets a study leave the cache: those of
        `commit_nodes`, or of every configured node when none are named."""
        named = set(self.commit_nodes)
        return frozenset(n.ae_title for n in self.nodes
                         if n.ae_title and (not named or n.name in named))

    def node(self, name: str) -> Node:
        """The configured node `name` (case-sensitive); ConfigError naming the known ones."""
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes) or "none configured"
        raise ConfigError(f"no node named {name!r} (known: {known}; add one with `nodes add`)")


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
        return Settings(path=path)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    read = _Reader(path)
    gui = read.table(document, "gui")
    language = gui.get("language", "")
    if not isinstance(language, str):
        raise ConfigError(f"{path}: [gui] language must be text like \"zh_CN\" or \"en\"")
    storage_scp = gui.get("storage_scp", False)
    if not isinstance(storage_scp, bool):
        raise ConfigError(f"{path}: [gui] storage_scp must be true or false")
    local_table = read.table(document, "local")
    local = LocalNode(
        ae_title=read.ae_title(local_table, "local", DEFAULT_AE_TITLE),
        port=read.port(local_table, "local", DEFAULT_PORT),
        host=read.text(local_table, "local", "host", LOOPBACK) or LOOPBACK,
        tls=read.tls(local_table, "local", enabled=bool(local_table.get("tls_cert"))),
        max_associations=read.count(local_table, "local", "max_associations",
                                    DEFAULT_MAX_ASSOCIATIONS),
    )
    net = read.table(document, "network")
    retries = net.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"{path}: [network] retries must be a whole number from 0")
    network = NetworkTimeouts(
        **{
            field: read.seconds(net, f"{field}_timeout", default)
            for field, default in (
                ("connect", 10.0), ("acse", 30.0), ("dimse", 60.0), ("network", 60.0),
                ("idle", 60.0),
            )
        },
        retries=retries,
    )
    nodes = []
    for name, table in read.table(document, "nodes").items():
        where = f"nodes.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{where}] must be a table")
        if "dicomweb_url" in table:
            nodes.append(read.web_node(name, table, where))
            continue
        if "host" not in table or "port" not in table or "ae_title" not in table:
            raise ConfigError(f"{path}: [{where}] needs ae_title, host and port")
        tls = table.get("tls", False)
        if not isinstance(tls, bool):
            raise ConfigError(f"{path}: [{where}] tls must be true or false")
        nodes.append(Node(
            name=name,
            ae_title=read.ae_title(table, where, ""),
            host=read.text(table, where, "host", ""),
            port=read.port(table, where, 0),
            tls=read.tls(table, where, enabled=tls),
        ))
    quota_gb, commit_nodes = read.archive(read.table(document, "archive"), nodes)
    reading = read.table(document, "reading")
    prior_node, prior_retrieve = read.reading(reading, nodes)
    presentation_state = read.text(reading, "reading", "presentation_state", "newest")
    if presentation_state not in ("newest", "none"):
        raise ConfigError(f"{path}: [reading] presentation_state must be \"newest\" or "
                          f"\"none\", not {presentation_state!r}")
    worklist = read.table(document, "worklist")
    worklist_node = read.node_name(worklist, "worklist", "node", nodes)
    mpps_node = read.node_name(worklist, "worklist", "mpps_node", nodes)
    validate_on_import = read.table(document, "quality").get("validate_on_import", True)
    if not isinstance(validate_on_import, bool):
        raise ConfigError(f"{path}: [quality] validate_on_import must be true or false")
    return Settings(language.strip(), local, network, tuple(nodes), storage_scp, quota_gb,
                    commit_nodes, prior_node, prior_retrieve, presentation_state,
                    worklist_node, mpps_node, validate_on_import, path)


def ae_title_problem(title: str) -> str:
    """Why `title` is not a valid AE title (PS3.5 table 6.2-1: 1-16 characters of the default
    repertoire, no backslash or control characters, not only spaces); "" when it is valid."""
    if not title.strip():
        return "an AE title cannot be empty"
    if len(title) > 16:
        return f"an AE title has at most 16 characters ({title!r} has {len(title)})"
    if any(c == "\\" or not (" " <= c <= "~") for c in title):
        return f"an AE title holds only printable ASCII without backslash ({title!r})"
    return ""


def dicomweb_url_problem(url: str) -> str:
    """Why `url` cannot be a DICOMweb service root; "" when it can. Credentials belong in
    --auth-basic / --token-file, never in the URL (which errors and `nodes list` show)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.username or parts.password:
        return "credentials do not go in the URL: use --auth-basic or --token-file"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"a service root is http(s)://host[:port]/path, not {url!r}"
    if parts.query or parts.fragment:
        return "a service root has no query (?) or fragment (#)"
    return ""


class _Reader:
    """Typed access to a parsed config document; ConfigError naming the file and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def table(self, document: dict[str, object], key: str) -> dict[str, object]:
        value = document.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: [{key}] must be a table")
        return value

    def text(self, table: dict[str, object], where: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.path}: [{where}] {key} must be text")
        return value.strip()

    def ae_title(self, table: dict[str, object], where: str, default: str) -> str:
        title = self.text(table, where, "ae_title", default)
        if problem := ae_title_problem(title):
            raise ConfigError(f"{self.path}: [{where}] ae_title: {problem}")
        return title

    def port(self, table: dict[str, object], where: str, default: int) -> int:
        value = table.get("port", default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise ConfigError(f"{self.path}: [{where}] port must be a number from 1 to 65535")
        return value

    def count(self, table: dict[str, object], where: str, key: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{self.path}: [{where}] {key} must be a whole number from 1")
        return value

    def seconds(self, table: dict[str, object], key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{self.path}: [network] {key} must be a positive number")
        return float(value)

    def archive(
        self, table: dict[str, object], nodes: list[Node]
    ) -> tuple[float | None, tuple[str, ...]]:
        quota = table.get("quota_gb")
        if quota is not None and (
            isinstance(quota, bool) or not isinstance(quota, int | float) or quota <= 0
        ):
            raise ConfigError(f"{self.path}: [archive] quota_gb must be a positive number of GB")
        names = table.get("commit_nodes", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{self.path}: [archive] commit_nodes must be a list of node names")
        known = {n.name for n in nodes}
        for name in names:
            if name not in known:
                raise ConfigError(f"{self.path}: [archive] commit_nodes names {name!r}, "
                                  "which is not a configured node")
        return (None if quota is None else float(quota)), tuple(names)

    def node_name(self, table: dict[str, object], where: str, key: str,
                  nodes: list[Node]) -> str:
        """A key naming a configured node ("" when absent)."""
        name = self.text(table, where, key, "")
        if name and name not in {n.name for n in nodes}:
            raise ConfigError(f"{self.path}: [{where}] {key} names {name!r}, which is not a "
                              "configured node")
        return name

    def reading(self, table: dict[str, object], nodes: list[Node]) -> tuple[str, str]:
        node = self.text(table, "reading", "prior_node", "")
        if node and node not in {n.name for n in nodes}:
            raise ConfigError(f"{self.path}: [reading] prior_node names {node!r}, which is not "
                              "a configured node")
        via = self.text(table, "reading", "prior_retrieve", "get")
        if via not in ("get", "move"):
            raise ConfigError(f"{self.path}: [reading] prior_retrieve must be \"get\" or "
                              f"\"move\", not {via!r}")
        return node, via

    def web_node(self, name: str, table: dict[str, object], where: str) -> Node:
        url = self.text(table, where, "dicomweb_url", "")
        if problem := dicomweb_url_problem(url):
            raise ConfigError(f"{self.path}: [{where}] dicomweb_url: {problem}")
        user = self.text(table, where, "dicomweb_user", "")
        token_file = self.text(table, where, "dicomweb_token_file", "")
        if user and token_file:
            raise ConfigError(f"{self.path}: [{where}] has both dicomweb_user and "
                              "dicomweb_token_file: basic or bearer authentication, not both")
        timeout = table.get("dicomweb_timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, int | float) or timeout <= 0):
            raise ConfigError(f"{self.path}: [{where}] dicomweb_timeout must be a positive "
                              "number of seconds")
        retries = table.get("dicomweb_retries")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)
                                    or retries < 0):
            raise ConfigError(f"{self.path}: [{where}] dicomweb_retries must be a whole number "
                              "from 0")
        password = table.get("dicomweb_password", "")
        if not isinstance(password, str):  # not stripped: spaces may belong to a password
            raise ConfigError(f"{self.path}: [{where}] dicomweb_password must be text")
        service = DicomWebService(
            url=url.rstrip("/"), user=user, password=password, token_file=token_file,
            ca=self.text(table, where, "dicomweb_ca", ""),
            timeout=None if timeout is None else float(timeout), retries=retries,
        )
        # a DICOMweb node may keep DIMSE fields beside its URL; they are not used
        port = self.port(table, where, 0) if "port" in table else 0
        return Node(name, self.text(table, where, "ae_title", ""),
                    self.text(table, where, "host", ""), port, None, service)

    def tls(self, table: dict[str, object], where: str, enabled: bool) -> TlsFiles | None:
        if not enabled:
            return None
        return TlsFiles(
            ca=self.text(table, where, "tls_ca", ""),
            cert=self.text(table, where, "tls_cert", ""),
            key=self.text(table, where, "tls_key", ""),
        )
