"""``kubelite server`` and ``kubelite up``: run the control plane in this process.

``server`` runs the API server and, once it serves, the scheduler and the
controller manager (``--controllers`` picks which controllers, as
kube-controller-manager's flag does), leader election on; ``up`` runs a node
agent besides. They are asyncio tasks of this process and clients of the
server's loopback (``apiserver/loopback.py``: a private Unix socket and a token
of this run). Both write the admin kubeconfig to ``<data-dir>/kubeconfig.yaml``
once the API server listens, and shut down cleanly on SIGTERM or SIGINT: the
server task is cancelled, closes its store, and the command exits 0. A second
signal while shutting down exits at once with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from kubelite.apiserver.admission import OPTIONAL_PLUGINS
from kubelite.apiserver.auth.certs import PKI, pki_for, write_kubeconfig
from kubelite.apiserver.config import ServerConfig, default_data_dir
from kubelite.cli import jointoken
from kubelite.cli.controller_manager import add_controller_arguments
from kubelite.hostaddr import primary_ipv4

if TYPE_CHECKING:
    from kubelite.apiserver.app import APIServer
    from kubelite.client import Client

# A client of the server for the named component of this process.
ClientFactory = Callable[[str], "Client"]
# What the components' requests name as their server (they connect to the loopback socket).
LOOPBACK_URL = "http://localhost"

log = logging.getLogger("kubelite.cli")

NODE_TOKEN = "node-token"  # in the data dir: the join token (cli/jointoken.py), root only

STORES = ("sqlite", "memory")
MANAGER_STOP_TIMEOUT = 5.0  # seconds the controllers get to stop before the server stops anyway


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"state, PKI and kubeconfig (default {default_data_dir()})",
    )
    p.add_argument(
        "--port", type=int, default=6443, help="HTTPS port of the API server (default 6443; 0 = any free)"
    )
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--store",
        type=_store,
        default="sqlite",
        help="sqlite (in the data dir, the default), memory (lost on exit) or etcd://host:2379,...",
    )
    p.add_argument(
        "--token-auth-file",
        type=Path,
        default=None,
        help='static bearer tokens, CSV: token,user,uid,"group1,group2"',
    )
    p.add_argument(
        "--tls-san",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name or IP for the serving certificate (repeatable)",
    )
    p.add_argument(
        "--insecure-http",
        action="store_true",
        help="serve plain HTTP without authentication (tests only; loopback addresses only)",
    )
    p.add_argument(
        "--disable-admission-plugins",
        type=_admission_plugins,
        default=frozenset(),
        metavar="NAME,...",
        help=f"admission plugins to leave out ({', '.join(OPTIONAL_PLUGINS)}); as kube-apiserver's flag",
    )
    add_controller_arguments(p)


def _admission_plugins(value: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    unknown = sorted(names - set(OPTIONAL_PLUGINS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown admission plugin {', '.join(unknown)} (known: {', '.join(OPTIONAL_PLUGINS)})"
        )
    return names


def _store(value: str) -> str:
    if value in STORES or value.startswith("etcd://"):
        return value
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(STORES)} or etcd://host:port,..., got {value!r}"
    )


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ServerConfig:
    """The ServerConfig the flags ask for; ``parser.error`` (exit 2) on flags that cannot work."""
    data_dir: Path = (args.data_dir or default_data_dir()).expanduser().absolute()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: expected 0..65535")
    if args.insecure_http and not _is_loopback(args.bind_address):
        parser.error(
            f"--insecure-http serves without authentication: only on a loopback address, not {args.bind_address}"
        )
    token_file: Path | None = None
    if args.token_auth_file is not None:
        token_file = args.token_auth_file.expanduser().absolute()
        if not token_file.is_file():
            parser.error(f"--token-auth-file {token_file}: no such file")
    return ServerConfig(
        data_dir=data_dir,
        bind_address=args.bind_address,
        port=args.port,
        store=args.store,
        tls=not args.insecure_http,
        token_file=token_file,
        extra_sans=list(args.tls_san),
        disable_admission_plugins=args.disable_admission_plugins,
        warm_openapi=True,
        loopback=True,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _controller_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ControllerOptions:
    from kubelite.controllers.manager import BUILTIN, available, select

    try:
        select(args.controllers, available(), also_known=BUILTIN)
    except ValueError as e:
        parser.error(f"--controllers: {e}")
    if args.concurrent_syncs < 1:
        parser.error("--concurrent-syncs must be at least 1")
    return ControllerOptions(args.controllers, args.concurrent_syncs)


def run_server(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    options = _controller_options(args, parser)
    return asyncio.run(serve(config_from_args(args, parser), up=False, controllers=options))


def run_up(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    options = _controller_options(args, parser)
    return asyncio.run(serve(config_from_args(args, parser), up=True, controllers=options))


@dataclass(frozen=True)
class ControllerOptions:
    """What ``serve`` needs to run the controller manager (None there: no controllers)."""

    controllers: str = "*"
    workers: int = 2


async def serve(config: ServerConfig, up: bool = False, controllers: ControllerOptions | None = None) -> int:
    """Run the control plane until SIGTERM/SIGINT; the process exit status.

    With ``controllers``, a controller manager runs beside the API server
    once it is ready and is stopped (releasing its lease) before the server.
    """
    # here, so that `kubelite kubeconfig` stays light
    from kubelite.apiserver.app import APIServer
    from kubelite.apiserver.servertask import ServerTask
    from kubelite.apiserver.serverthread import ServerThread

    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pki = await asyncio.to_thread(pki_for, config) if config.tls else PKI.at(config.pki_dir)
    if not config.tls:
        log.warning("serving plain HTTP without authentication on %s: for tests only", config.bind_address)
    join_token: Path | None = None
    if config.tls:  # what `kubelite agent --server URL --token-file FILE` joins with
        join_token = config.data_dir / NODE_TOKEN
        token = await asyncio.to_thread(jointoken.ensure_node_token, join_token, pki.ca_pem())
        config.token_rows = (*config.token_rows, token.token_row())

    # With a node agent in the process, the server gets a thread of its own, so that requests
    # need not wait behind the agent's bursts; without one, one loop costs far less CPU per
    # request (servertask.py).
    server: ServerThread | ServerTask = (
        ServerThread(APIServer(config)) if up else ServerTask(APIServer(config))
    )
    scheduler_task: asyncio.Task[None] | None = None
    publish_task: asyncio.Task[None] | None = None
    agent_task: asyncio.Task[None] | None = None
    manager_task: asyncio.Task[None] | None = None
    stopping = False

    def on_signal(sig: signal.Signals) -> None:
        nonlocal stopping
        if stopping:
            log.warning("%s again: exiting now", sig.name)
            if server.server.loopback is not None:
                server.server.loopback.close()
            os._exit(1)
        stopping = True
        log.info("%s: shutting down", sig.name)
        if scheduler_task is not None:
            scheduler_task.cancel()
        if agent_task is not None:
            agent_task.cancel()
        if manager_task is not None and not manager_task.done():
            # Controllers first, while the server can still take their lease release.
            manager_task.add_done_callback(lambda _: server.stop())
            manager_task.cancel()
            loop.call_later(MANAGER_STOP_TIMEOUT, server.stop)
        else:
            server.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        if await server.started() and not stopping:
            url = kubeconfig_url(server.url or _url_of(config))
            path = await asyncio.to_thread(write_kubeconfig, config.kubeconfig_path, url, pki)
            log.info("API server ready at %s", url)
            log.info("kubeconfig: %s (export KUBECONFIG=%s)", path, path)
            new_client = _loopback_clients(server.server)
            if join_token is not None:  # beside the components, which need not wait for it
                publish_task = asyncio.create_task(
                    _publish_cluster_info(new_client, server.url or _url_of(config), join_token, pki),
                    name="cluster-info",
                )
            component_pki = pki if config.tls else None
            scheduler_task = asyncio.create_task(_run_scheduler(new_client), name="scheduler")
            if up:  # the node agent of this machine
                agent_task = asyncio.create_task(
                    _run_node_agent(new_client, component_pki, config.data_dir), name="node-agent"
                )
            if controllers is not None:
                manager_task = asyncio.create_task(
                    _run_controller_manager(new_client, component_pki, controllers, config),
                    name="controller-manager",
                )
        elif stopping:
            server.stop()
        await server.finished()
    except asyncio.CancelledError:
        server.stop()
        raise
    except Exception:
        log.exception("the API server failed")
        return 1
    finally:
        for task in (scheduler_task, agent_task, manager_task, publish_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0


def _loopback_clients(api: APIServer) -> ClientFactory:
    """Clients of ``api`` for the components of this process, through its loopback (a Unix
    socket, its token of this run: ``apiserver/loopback.py``), named by component."""
    from kubelite.client import Client

    loopback = api.loopback
    assert loopback is not None and loopback.socket_path, "the server runs without its loopback"
    token, path = loopback.token, loopback.socket_path  # as they are while the server runs

    def new_client(component: str) -> Client:
        return Client(LOOPBACK_URL, token=token, unix_socket=path, component=component)

    return new_client


async def _run_controller_manager(
    new_client: ClientFactory, pki: PKI | None, options: ControllerOptions, config: ServerConfig
) -> None:
    """The in-process controller manager, leader election on (so a standby ``kubelite
    controller-manager`` elsewhere takes over only when this one is gone). Runs until
    cancelled; a failure is logged and does not stop the server."""
    from kubelite.controllers.manager import ControllerManager

    client = new_client("controller-manager")
    try:
        settings = {"cluster-cidr": config.cluster_cidr, "service-cluster-ip-range": config.service_cidr}
        if pki is not None:  # the cluster CA signs approved certificate signing requests
            settings["cluster-signing-cert-file"] = str(pki.ca_cert)
            settings["cluster-signing-key-file"] = str(pki.ca_key)
        manager = ControllerManager(client, options.controllers, workers=options.workers, options=settings)
        log.info("controller manager: %s", ", ".join(manager.names) or "(no controllers)")
        if manager.names:
            await manager.run()
    except Exception:
        log.exception("the controller manager failed; the API server keeps serving")
    finally:
        await client.close()


def _join_url(url: str) -> str:
    """The server's address as another machine reaches it: a listener on every interface is
    reached at this machine's own address (that of its default route). Blocking."""
    parts = urlsplit(url)
    try:
        unspecified = ipaddress.ip_address(parts.hostname or "").is_unspecified
    except ValueError:
        unspecified = False
    if not unspecified:
        return url.rstrip("/")
    return urlunsplit((parts.scheme, f"{primary_ipv4()}:{parts.port}", "", "", ""))


async def _publish_cluster_info(
    new_client: ClientFactory, listening: str, join_token: Path, pki: PKI
) -> None:
    """``kube-public/cluster-info`` for joining agents (see cli/jointoken.py), naming the
    server as other machines reach it; then the join command in the log."""
    join_url = await asyncio.to_thread(_join_url, listening)
    client = new_client("kubelite-server")
    try:
        await jointoken.publish_cluster_info(client, join_url, await asyncio.to_thread(pki.ca_pem))
        log.info("nodes join with: kubelite agent --server %s --token-file %s", join_url, join_token)
    except Exception as e:  # agents can still join with --certificate-authority
        log.warning(
            "could not publish %s/%s: %s", jointoken.CLUSTER_INFO_NAMESPACE, jointoken.CLUSTER_INFO_NAME, e
        )
    finally:
        await client.close()


async def _run_scheduler(new_client: ClientFactory) -> None:
    """The in-process scheduler, leader election on."""
    from kubelite.cli.scheduler import run_in_process

    await run_in_process(new_client("scheduler"))


async def _run_node_agent(new_client: ClientFactory, pki: PKI | None, data_dir: Path) -> None:
    """The in-process node agent of ``kubelite up`` (runtime auto; containers outlive it).

    With a PKI the agent serves the kubelet API with a certificate the cluster CA signs for
    this host's address (its InternalIP, where the API server dials it), on 10250 or, when
    that port is taken, any free one (published in the Node's daemonEndpoints)."""
    from kubelite.cli.agent import run_in_process
    from kubelite.kubelet.agent import HostInfo

    node_ip = await asyncio.to_thread(HostInfo(str(data_dir)).node_ip)
    serving = None
    if pki is not None:
        serving = await asyncio.to_thread(_kubelet_serving_cert, pki, node_ip)
    await run_in_process(new_client("kubelet"), data_dir, node_ip=node_ip, serving=serving)


def _kubelet_serving_cert(pki: PKI, node_ip: str) -> tuple[str, str, str]:
    """Issue the in-process kubelet's serving certificate (fresh each start: cheap, and the
    node address may have changed); ``(cert, key, client CA)`` paths."""
    from kubelite.kubelet.config import default_node_name

    hosts = [node_ip, "127.0.0.1", "::1", "localhost", socket.gethostname(), default_node_name()]
    cert_pem, key_pem = pki.issue_serving_cert(hosts, cn=f"system:node:{default_node_name()}")
    cert_path, key_path = pki.dir / "kubelet.crt", pki.dir / "kubelet.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_pem)
    return str(cert_path), str(key_path), str(pki.ca_cert)


def _url_of(config: ServerConfig) -> str:
    host = config.bind_address
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if config.tls else 'http'}://{host}:{config.port}"


def kubeconfig_url(url: str) -> str:
    """``url`` with an unspecified listen address (0.0.0.0, ::) replaced by loopback,
    which the serving certificate always names."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if not unspecified:
        return url.rstrip("/")
    loopback = "[::1]" if ":" in host else "127.0.0.1"
    netloc = f"{loopback}:{parts.port}" if parts.port else loopback
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")
