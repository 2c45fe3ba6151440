"""``kubelite agent``: run the node agent (kubelet) of this machine against an API server.

``kubelite agent --server URL --token-file FILE --data-dir DIR`` (or
``--kubeconfig FILE``) registers this machine as a Node and runs the pods
the scheduler binds to it until SIGTERM/SIGINT. Containers keep running
when the agent stops; a restarted agent re-adopts them. ``--runtime`` picks
runc (isolation, needs root), process (no isolation) or fake (no
processes); the default chooses runc when it can run here, else process
with a loud warning. ``kubelite up`` runs the same agent in-process
(``run_in_process``).

Joining with a token (``--server``/``--token-file``, or ``--bootstrap-kubeconfig``)
is kubelet TLS bootstrapping (kubelite.kubelet.certificates): without a
client certificate in ``<data-dir>/agent/pki`` the agent files a
kube-apiserver-client-kubelet CertificateSigningRequest with the token,
waits for it to be approved (the controller manager's csrapproving) and
signed (csrsigning), keeps key and certificate (0600) and from then on is
``system:node:<name>``. A restarted agent reuses them and needs no token.
``--kubeconfig`` instead gives credentials used as they are. The server is
verified with ``--certificate-authority``, else with the CA the agent saved
when it joined, else with the CA a ``K10<hash>::<token>`` join token pins
(the server's ``node-token``; see kubelite.cli.jointoken).

The kubelet API (what ``kubectl logs/exec/attach/port-forward`` reach
through the API server) is HTTPS with a serving certificate signed by the
cluster CA. Without ``--kubelet-cert``/``--kubelet-key`` (which still win)
the agent asks for one with a kubelet-serving request naming its node IP
and host name once the node is registered, and serves the API when it is
signed; until then pods run and the log names the request it waits on
(``kubectl certificate approve`` it when the approver leaves it pending).
``--kubelet-client-ca`` (default ``--certificate-authority``, else the CA of
the kubeconfig or the join) verifies the API server's client certificate; without any
CA the kubelet API stays off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubelite.apiserver.config import default_data_dir
from kubelite.cli import jointoken
from kubelite.cli.common import default_kubeconfig, run_until_signalled

if TYPE_CHECKING:
    from kubelite.client import Client

log = logging.getLogger("kubelite.cli")

RUNTIMES = ("auto", "runc", "process", "fake")
RENEWAL_RETRY = 60.0  # seconds before a failed certificate renewal is tried again


def add_agent_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, help="URL of the API server (with --token-file)")
    p.add_argument("--token-file", type=Path, default=None, help="file holding the bearer token to use")
    p.add_argument(
        "--certificate-authority",
        type=Path,
        default=None,
        help="CA bundle to verify the server with (--server)",
    )
    p.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="do not verify the server's certificate (--server; tests only)",
    )
    p.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="a kubeconfig with credentials to use as they are, instead of --server/--token-file",
    )
    p.add_argument(
        "--bootstrap-kubeconfig",
        type=Path,
        default=None,
        help="a kubeconfig with bootstrap credentials (a token): the agent asks the cluster for its "
        "client certificate with them, as --server/--token-file does",
    )
    p.add_argument("--context", default=None, help="kubeconfig context (default: its current context)")
    p.add_argument("--data-dir", type=Path, default=None, help=f"agent state (default {default_data_dir()})")
    p.add_argument("--node-name", default=None, help="name of the Node (default: the host name)")
    p.add_argument("--runtime", choices=RUNTIMES, default="auto", help="container runtime (default: auto)")
    p.add_argument(
        "--pod-cidr",
        default=None,
        help="pod CIDR when no node IPAM controller assigns one (default 10.42.0.0/24)",
    )
    p.add_argument(
        "--node-ip", default="", help="the node's InternalIP (default: the default route's address)"
    )
    p.add_argument("--node-labels", default="", help="extra node labels, k=v,k2=v2")
    p.add_argument(
        "--node-role", action="append", default=[], help="node-role.kubernetes.io/<ROLE> label (repeatable)"
    )
    p.add_argument("--cluster-dns", default="10.43.0.10", help="cluster DNS server(s), comma-separated")
    p.add_argument("--cluster-domain", default="cluster.local", help="cluster domain (default cluster.local)")
    p.add_argument("--max-pods", type=int, default=110, help="pods this node runs at most (default 110)")
    p.add_argument("--kubelet-port", type=int, default=10250, help="port of the kubelet API (default 10250)")
    p.add_argument(
        "--kubelet-address",
        default="",
        help="address the kubelet API listens on (default: the node IP, where the API server dials)",
    )
    p.add_argument(
        "--kubelet-cert",
        type=Path,
        default=None,
        help="the kubelet API's serving certificate (PEM), signed by the cluster CA and naming the "
        "node IP; without it logs/exec/attach/port-forward do not reach this node",
    )
    p.add_argument("--kubelet-key", type=Path, default=None, help="the key of --kubelet-cert (PEM)")
    p.add_argument(
        "--kubelet-client-ca",
        type=Path,
        default=None,
        help="CA that signs the API server's kubelet client certificate (default: the cluster CA, "
        "--certificate-authority)",
    )


def _labels(text: str, parser: argparse.ArgumentParser) -> dict[str, str]:
    labels: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = term.partition("=")
        if not sep or not key:
            parser.error(f"--node-labels {term!r}: expected key=value")
        labels[key] = value
    return labels


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    from kubelite.kubelet.config import DEFAULT_POD_CIDR, AgentConfig, default_node_name

    data_dir: Path = (args.data_dir or default_data_dir()).expanduser().absolute()
    if args.max_pods < 1:
        parser.error("--max-pods must be at least 1")
    if not 0 <= args.kubelet_port <= 65535:
        parser.error(f"--kubelet-port {args.kubelet_port}: expected 0..65535")
    if (args.kubelet_cert is None) != (args.kubelet_key is None):
        parser.error("--kubelet-cert and --kubelet-key go together")
    files = {}
    for flag in ("kubelet_cert", "kubelet_key", "kubelet_client_ca", "certificate_authority"):
        path = getattr(args, flag)
        if path is not None and not path.expanduser().is_file():
            parser.error(f"--{flag.replace('_', '-')} {path}: no such file")
        files[flag] = str(path.expanduser().absolute()) if path is not None else ""
    if files["kubelet_cert"] and not (files["kubelet_client_ca"] or files["certificate_authority"]):
        parser.error("--kubelet-cert needs --kubelet-client-ca (or --certificate-authority): the cluster CA")
    return AgentConfig(
        node_name=(args.node_name or default_node_name()).lower(),
        data_dir=data_dir,
        runtime=args.runtime,
        pod_cidr=args.pod_cidr or DEFAULT_POD_CIDR,
        cluster_dns=[s.strip() for s in args.cluster_dns.split(",") if s.strip()],
        cluster_domain=args.cluster_domain,
        node_labels=_labels(args.node_labels, parser),
        node_roles=list(args.node_role),
        node_ip=args.node_ip,
        max_pods=args.max_pods,
        kubelet_port=args.kubelet_port,
        kubelet_address=args.kubelet_address,
        kubelet_cert=files["kubelet_cert"],
        kubelet_key=files["kubelet_key"],
        kubelet_client_ca=files["kubelet_client_ca"] or files["certificate_authority"],
    )


@dataclass
class Connection:
    """How the agent reaches the API server: ``fixed`` is a client to use as it is (a kubeconfig
    with credentials); otherwise the agent talks as the node with its client certificate, got
    with ``bootstrap`` (token credentials) when it has none yet. ``ca_pem`` is the cluster CA
    when known (it verifies the server and the API server's calls to the kubelet API)."""

    server: str
    ca_pem: bytes | None
    insecure: bool
    fixed: Any = None
    bootstrap: Any = None
    client_files: Any = None  # the node's client certificate, once it uses one of its own
    token: Any = None  # the join token (cli/jointoken.py) the bootstrap client is made with

    async def close(self) -> None:
        for c in (self.fixed, self.bootstrap):
            if c is not None:
                await c.close()


def _kubeconfig_trust(path: Path, context: str | None) -> tuple[str, bytes | None, bool]:
    """(server, CA PEM, insecure-skip-tls-verify) of a kubeconfig's context, as kubectl reads them."""
    import base64

    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    name = context or doc.get("current-context", "")
    ctx = next((c.get("context") or {} for c in doc.get("contexts") or [] if c.get("name") == name), {})
    cluster = next(
        (c.get("cluster") or {} for c in doc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {}
    )
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"]).expanduser()
        ca = (ca_path if ca_path.is_absolute() else path.parent / ca_path).read_bytes()
    return str(cluster.get("server", "")).rstrip("/"), ca, bool(cluster.get("insecure-skip-tls-verify"))


def _connection(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Connection:
    from kubelite.client import Client

    given = [
        f
        for f, v in (
            ("--kubeconfig", args.kubeconfig),
            ("--bootstrap-kubeconfig", args.bootstrap_kubeconfig),
            ("--server", args.server),
        )
        if v
    ]
    if len(given) > 1:
        parser.error(f"{' and '.join(given)} are alternatives: give one")
    if args.token_file is not None and not args.server:
        parser.error("--token-file goes with --server")
    for flag, path in (
        ("--kubeconfig", args.kubeconfig),
        ("--bootstrap-kubeconfig", args.bootstrap_kubeconfig),
    ):
        if path is not None and not path.expanduser().is_file():
            parser.error(f"{flag} {path}: no such file")
    if args.kubeconfig is not None or not (args.server or args.bootstrap_kubeconfig):
        path = args.kubeconfig.expanduser() if args.kubeconfig is not None else default_kubeconfig()
        if not path.is_file():
            parser.error(
                "give --server URL --token-file FILE, --bootstrap-kubeconfig FILE or --kubeconfig FILE"
            )
        server, ca, insecure = _kubeconfig_trust(path, args.context)
        fixed = Client.from_kubeconfig(str(path), args.context, component="kubelet")
        return Connection(server, ca, insecure, fixed=fixed)
    if args.bootstrap_kubeconfig is not None:
        path = args.bootstrap_kubeconfig.expanduser()
        server, ca, insecure = _kubeconfig_trust(path, args.context)
        bootstrap = Client.from_kubeconfig(str(path), args.context, component="kubelet-bootstrap")
        return Connection(server, ca, insecure, bootstrap=bootstrap)
    ca = args.certificate_authority.expanduser().read_bytes() if args.certificate_authority else None
    conn = Connection(args.server.rstrip("/"), ca, bool(args.insecure_skip_tls_verify))
    if args.token_file is not None:
        if not args.token_file.is_file():
            parser.error(f"--token-file {args.token_file}: no such file")
        try:
            conn.token = jointoken.parse(args.token_file.read_text())
        except jointoken.JoinTokenError as e:
            parser.error(f"--token-file {args.token_file}: {e}")
    return conn


async def _trust_and_bootstrap(conn: Connection, saved: bytes | None) -> bool:
    """Settle the cluster CA of a ``--server`` connection, then make the client that asks for
    the node's certificate with the join token; whether the CA was discovered (to be saved).

    The CA is ``--certificate-authority`` (which must hold the certificate a pinning token
    names); else the one this agent saved when it joined (``saved``), if the token pins none
    or pins it; else the one ``cluster-info`` holds, if it is the one the token pins
    (cli/jointoken.py)."""
    from kubelite.client import Client

    pin = conn.token.ca_hash if conn.token is not None else None
    discovered = False
    if conn.ca_pem is not None and pin is not None:
        jointoken.check_pin(conn.ca_pem, pin)  # a CA given that is not the pinned one: refuse
    elif conn.ca_pem is None and not conn.insecure and conn.server.startswith("https://"):
        if saved is not None and _pins(saved, pin):
            conn.ca_pem = saved
        elif pin is not None:
            conn.ca_pem = await jointoken.discover_ca(conn.server, conn.token)
            discovered = True
            log.info("trusting the cluster CA sha256:%s, as the join token pins it", pin)
        else:
            raise jointoken.JoinTokenError(
                "no cluster CA to verify the server with: give --certificate-authority, or a "
                "--token-file holding the CA's hash (K10<hash>::<token>, the server's node-token)"
            )
    if conn.token is not None and conn.bootstrap is None:
        conn.bootstrap = Client(
            conn.server, ssl=_ssl_context(conn), token=conn.token.token, component="kubelet-bootstrap"
        )
    return discovered


def _pins(ca_pem: bytes, pin: str | None) -> bool:
    """Whether the saved CA ``ca_pem`` is usable: readable, and the pinned one if any."""
    try:
        return pin is None or jointoken.ca_hash(ca_pem) == pin
    except ValueError:  # unreadable: as if there were none
        return False


def _ssl_context(
    conn: Connection, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext | None:
    if not conn.server.startswith("https://"):
        return None
    ctx = ssl.create_default_context(cadata=conn.ca_pem.decode() if conn.ca_pem else None)
    if conn.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def run_agent(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    config = config_from_args(args, parser)
    conn = _connection(args, parser)
    saved_ca = config.root_dir / "pki" / "ca.crt"
    if conn.fixed is None and conn.bootstrap is None:  # --server
        try:
            saved = saved_ca.read_bytes() if saved_ca.is_file() else None
            if asyncio.run(_trust_and_bootstrap(conn, saved)):
                assert conn.ca_pem is not None
                _write_ca(saved_ca, conn.ca_pem)
        except Exception as e:  # the server is unreachable or untrusted: nothing to run
            log.error("joining %s: %s", conn.server, e)
            return 1
    if not config.kubelet_client_ca and conn.ca_pem:
        # The kubeconfig's CA: it signs the API server's client certificate for the kubelet API.
        _write_ca(saved_ca, conn.ca_pem)
        config.kubelet_client_ca = str(saved_ca)
    return asyncio.run(run_until_signalled(_run(conn, config), conn, "node agent", "containers keep running"))


def _write_ca(path: Path, ca_pem: bytes) -> None:
    from kubelite.atomicfile import write_atomic

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, ca_pem, 0o644)


async def _node_client(conn: Connection, config: Any) -> Any:
    """The client the agent works with: the fixed one, else one with the node's client
    certificate, bootstrapped when it has none (see kubelite.kubelet.certificates)."""
    from kubelite.client import Client
    from kubelite.kubelet.certificates import CertificateFiles, ensure_client_certificate, node_user

    if conn.fixed is not None:
        return conn.fixed
    files = CertificateFiles(config.root_dir / "pki", "kubelet-client")
    current = None
    stored = await asyncio.to_thread(files.load, node_user(config.node_name), conn.ca_pem)
    if stored is not None:  # still valid: it asks for its own successor if it must
        current = Client(conn.server, ssl=_ssl_context(conn, files.cert, files.key), component="kubelet")
    elif conn.bootstrap is None:
        raise RuntimeError(
            f"no node client certificate in {files.dir} and no bootstrap credentials: "
            "give --token-file or --bootstrap-kubeconfig"
        )
    try:
        await ensure_client_certificate(files, conn.bootstrap, config.node_name, conn.ca_pem, current)
    finally:
        if current is not None:
            await current.close()
    if conn.bootstrap is not None:
        await conn.bootstrap.close()
        conn.bootstrap = None
    conn.fixed = Client(conn.server, ssl=_ssl_context(conn, files.cert, files.key), component="kubelet")
    conn.client_files = files
    return conn.fixed


async def _renew_client_certificate(conn: Connection, config: Any) -> None:
    """Renew the node's client certificate as it ages, as the node itself; the client's TLS
    context takes the new pair, so new connections present it."""
    from kubelite.kubelet.certificates import ensure_client_certificate, until_renewal_due

    files = conn.client_files
    client = conn.fixed
    while True:
        await until_renewal_due(files)
        try:
            await ensure_client_certificate(files, client, config.node_name, conn.ca_pem, current=client)
        except Exception as e:  # the current certificate still works: try again later
            log.error("renewing the node client certificate failed: %s; again in %.0f s", e, RENEWAL_RETRY)
            await asyncio.sleep(RENEWAL_RETRY)
            continue
        if client.ssl is not None:
            await asyncio.to_thread(client.ssl.load_cert_chain, str(files.cert), str(files.key))
        log.info("the node client certificate was renewed")


async def _run(conn: Connection, config: Any) -> None:
    from kubelite.kubelet.agent import NodeAgent
    from kubelite.kubelet.certificates import (
        CertificateFiles,
        ensure_serving_certificate,
        serving_hosts,
        until_renewal_due,
    )

    client = await _node_client(conn, config)
    serving = None
    if not config.kubelet_cert and config.kubelet_client_ca:
        files = CertificateFiles(config.root_dir / "pki", "kubelet-server")
        answered = False

        async def serving(node_ip: str) -> tuple[str, str]:
            nonlocal answered
            if answered:  # the agent serves with the last one: answer again once it was renewed
                await until_renewal_due(files)
            hosts = serving_hosts(node_ip)
            await ensure_serving_certificate(files, client, config.node_name, hosts, conn.ca_pem)
            answered = True
            return str(files.cert), str(files.key)

    elif not config.kubelet_cert:
        log.warning(
            "the cluster CA is unknown (--certificate-authority or --kubelet-client-ca), and the kubelet "
            "API needs it to verify the API server's calls: no serving certificate is asked for"
        )
    agent = NodeAgent(client, config, images=await _images(config), serving_certificate=serving)
    async with asyncio.TaskGroup() as tg:
        renewal = None
        if conn.client_files is not None:
            renewal = tg.create_task(
                _renew_client_certificate(conn, config), name="client-certificate-renewal"
            )
        await agent.run()
        if renewal is not None:  # the agent stopped: so does the renewal
            renewal.cancel()


def _repo_root(package_file: str) -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(package_file)))


async def _images(config: Any) -> Any:
    """The image service of the data dir, with the built-in images imported when they were built."""
    if config.runtime == "fake":
        return None
    import kubelite
    from kubelite.kubelet.images import ImageService, ensure_builtin_images

    service = ImageService(str(config.data_dir))
    repo_root = _repo_root(kubelite.__file__)
    try:
        imported = await ensure_builtin_images(service, repo_root)
        if imported:
            log.info("imported built-in images: %s", ", ".join(imported))
    except Exception as e:  # a missing or broken archive must not stop the node
        log.warning("importing built-in images failed: %s", e)
    return service


async def run_in_process(
    client: Client,
    data_dir: Path,
    node_ip: str = "",
    serving: tuple[str, str, str] | None = None,
) -> None:
    """The node agent inside ``kubelite up`` (``client``: the server's loopback, closed at the
    end), this host as the node, runtime auto; ``serving`` = (cert, key, client CA) files of
    its kubelet API, which takes any free port when 10250 is taken. Runs until cancelled; a
    failure is logged, not raised."""
    from kubelite.kubelet.agent import NodeAgent
    from kubelite.kubelet.config import AgentConfig

    try:
        cert, key, ca = serving or ("", "", "")
        config = AgentConfig(
            data_dir=data_dir,
            runtime="auto",
            node_roles=["control-plane"],
            node_ip=node_ip,
            kubelet_port_fallback=True,
            kubelet_cert=cert,
            kubelet_key=key,
            kubelet_client_ca=ca,
        )
        agent = NodeAgent(client, config, images=await _images(config), ipam_wait=0)
        await agent.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the node agent failed; the API server keeps serving")
    finally:
        await client.close()
