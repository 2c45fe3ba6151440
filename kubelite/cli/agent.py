"""``kubelite agent``: run the node agent (kubelet) of this machine against an API server.

``kubelite agent --server URL --token-file FILE --data-dir DIR`` (or
``--kubeconfig FILE``) registers this machine as a Node and runs the pods
the scheduler binds to it until SIGTERM/SIGINT. Containers keep running
when the agent stops; a restarted agent re-adopts them. ``--runtime`` picks
runc (isolation, needs root), process (no isolation) or fake (no
processes); the default chooses runc when it can run here, else process
with a loud warning. ``kubelite up`` runs the same agent in-process
(``run_in_process``).

The kubelet API (what ``kubectl logs/exec/attach/port-forward`` reach
through the API server) needs a serving certificate signed by the cluster
CA that names the node IP: ``--kubelet-cert``/``--kubelet-key`` (for
instance issued with the cluster CA of the server's ``<data-dir>/pki``;
a CSR flow that asks the cluster for one is still to come). Without them
the agent runs pods but serves no kubelet API. ``--kubelet-client-ca``
(default ``--certificate-authority``) verifies the API server's client
certificate.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
from pathlib import Path
from typing import Any

from kubelite.apiserver.config import default_data_dir
from kubelite.cli.common import default_kubeconfig, run_until_signalled

log = logging.getLogger("kubelite.cli")

RUNTIMES = ("auto", "runc", "process", "fake")


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
        "--kubeconfig", type=Path, default=None, help="a kubeconfig instead of --server/--token-file"
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


def _client(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    from kubelite.client import Client

    if args.kubeconfig is not None:
        if args.server or args.token_file:
            parser.error("--kubeconfig and --server/--token-file are alternatives: give one")
        path = args.kubeconfig.expanduser()
        if not path.is_file():
            parser.error(f"--kubeconfig {path}: no such file")
        return Client.from_kubeconfig(str(path), args.context, component="kubelet")
    if not args.server:
        default = default_kubeconfig()
        if default.is_file():
            return Client.from_kubeconfig(str(default), args.context, component="kubelet")
        parser.error("give --server URL --token-file FILE, or --kubeconfig FILE")
    token = None
    if args.token_file is not None:
        if not args.token_file.is_file():
            parser.error(f"--token-file {args.token_file}: no such file")
        token = args.token_file.read_text().strip()
    ssl_context: Any = None
    if args.server.startswith("https://"):
        if args.insecure_skip_tls_verify:
            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        elif args.certificate_authority is not None:
            ssl_context = ssl.create_default_context(cafile=str(args.certificate_authority))
    return Client(args.server, ssl=ssl_context, token=token, component="kubelet")


def run_agent(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    config = config_from_args(args, parser)
    client = _client(args, parser)
    return asyncio.run(_run(client, config))


async def _run(client: Any, config: Any) -> int:
    from kubelite.kubelet.agent import NodeAgent

    agent = NodeAgent(client, config, images=await _images(config))
    return await run_until_signalled(agent.run(), client, "node agent", "containers keep running")


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
    url: str,
    ssl_context: Any,
    data_dir: Path,
    node_ip: str = "",
    serving: tuple[str, str, str] | None = None,
) -> None:
    """The node agent inside ``kubelite up``: the admin's client of ``url``, this host as the
    node, runtime auto; ``serving`` = (cert, key, client CA) files of its kubelet API, which
    takes any free port when 10250 is taken. Runs until cancelled; a failure is logged, not raised."""
    from kubelite.client import Client
    from kubelite.kubelet.agent import NodeAgent
    from kubelite.kubelet.config import AgentConfig

    client = Client(url, ssl=ssl_context, component="kubelet")
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
