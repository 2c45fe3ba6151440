"""The files the node agent manages inside every pod: ``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname``.

Their content follows Kubernetes' kubelet: the managed hosts file (the
localhost lines, the pod's IPs with its hostname and FQDN, then hostAliases;
for hostNetwork pods the node's hosts file plus hostAliases), resolv.conf per
``dnsPolicy`` (ClusterFirst, ClusterFirstWithHostNet, Default, None) merged
with ``dnsConfig`` and cut to the resolver limits, and the hostname (the FQDN
with ``setHostnameAsFQDN``).

Everything but :func:`write_pod_files` and :func:`read_host_files` is pure.
The writer replaces each file atomically in the pod's directory; the pod
worker bind-mounts them (:func:`pod_file_mounts`) into each container. A bind
mount pins the file it was made from, so content rendered after a container
started is seen only by containers started later (as in Kubernetes).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kubelite.api.core_v1 import Pod
from kubelite.kubelet.runtime.interface import Mount

CLUSTER_DNS = ("10.43.0.10",)
CLUSTER_DOMAIN = "cluster.local"
HOST_RESOLV_CONF = "/etc/resolv.conf"
# systemd-resolved's list of real upstream servers (its /etc/resolv.conf points at a stub on 127.0.0.53).
RESOLVED_RESOLV_CONF = "/run/systemd/resolve/resolv.conf"

MANAGED_HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
MANAGED_HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
HOST_ALIASES_HEADER = "# Entries added by HostAliases.\n"

# The resolver limits kubelet enforces (pod validation's MaxDNSNameservers, MaxDNSSearchPaths,
# MaxDNSSearchListChars; a search domain longer than a DNS subdomain name is dropped).
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_LIST_CHARS = 2048
MAX_SEARCH_DOMAIN_CHARS = 253
MAX_HOSTNAME_CHARS = 63
DEFAULT_DNS_OPTIONS = ("ndots:5",)

HOSTS_FILE = "hosts"
RESOLV_CONF_FILE = "resolv.conf"
HOSTNAME_FILE = "hostname"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class PodFilesError(ValueError):
    """The pod's spec asks for something these files cannot say (an invalid hostname, an unknown dnsPolicy)."""


@dataclass
class ResolverConfig:
    """The content of a resolv.conf: nameservers, search domains, options (``name`` or ``name:value``)."""

    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    def render(self) -> str:
        """resolv.conf text: ``search``, then one ``nameserver`` line each, then ``options``."""
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        lines.extend(f"nameserver {server}" for server in self.nameservers)
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(line + "\n" for line in lines)


@dataclass
class PodFiles:
    """The rendered files of one pod, and warnings for the pod's events (limits exceeded)."""

    hosts: str
    resolv_conf: str
    hostname: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class PodFilePaths:
    hosts: str
    resolv_conf: str
    hostname: str


# -- resolv.conf ---------------------------------------------------------------------------------


def _omit_duplicates(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _option_name(option: str) -> str:
    return option.split(":", 1)[0]


def _append_options(options: list[str], new: list[str]) -> list[str]:
    """Options with ``new`` added; one with a name already present replaces it in place."""
    result = list(options)
    for option in new:
        names = [_option_name(o) for o in result]
        name = _option_name(option)
        if name in names:
            result[names.index(name)] = option
        else:
            result.append(option)
    return result


def parse_resolv_conf(text: str) -> ResolverConfig:
    """Parse resolv.conf as kubelet does: every ``nameserver``, the last ``search`` line (trailing
    dots dropped, ``.`` ignored), every ``options`` (the last value of a name wins); comments skipped."""
    config = ResolverConfig()
    for line in text.splitlines():
        if line.startswith(("#", ";")):
            continue
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            config.nameservers.append(fields[1])
        elif fields[0] == "search":
            config.searches = [s.removesuffix(".") for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            config.options = _append_options(config.options, fields[1:])
    return config


def _dns_type(pod: Pod) -> str:
    """ "cluster", "host" or "none": which base configuration a pod's dnsPolicy starts from."""
    policy = pod.spec.dnsPolicy or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst":
        # A hostNetwork pod with plain ClusterFirst falls back to the node's configuration.
        return "host" if pod.spec.hostNetwork else "cluster"
    if policy == "Default":
        return "host"
    raise PodFilesError(f"invalid dnsPolicy {policy!r}")


def cluster_searches(namespace: str, cluster_domain: str, host_searches: list[str]) -> list[str]:
    """``<ns>.svc.<domain> svc.<domain> <domain>``, then the node's own search domains."""
    if not cluster_domain:
        return list(host_searches)
    ours = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
    return _omit_duplicates(ours + list(host_searches))


def fit_searches(searches: list[str]) -> tuple[list[str], bool]:
    """Searches cut to the resolver limits as kubelet cuts them; and whether anything was cut."""
    cut = False
    if len(searches) > MAX_SEARCH_PATHS:
        searches, cut = searches[:MAX_SEARCH_PATHS], True
    kept = [s for s in searches if len(s) <= MAX_SEARCH_DOMAIN_CHARS]
    cut = cut or len(kept) != len(searches)
    while kept and len(" ".join(kept)) > MAX_SEARCH_LIST_CHARS:
        kept.pop()
        cut = True
    return kept, cut


def pod_dns_config(
    pod: Pod,
    *,
    host: ResolverConfig,
    cluster_dns: list[str] | tuple[str, ...] = CLUSTER_DNS,
    cluster_domain: str = CLUSTER_DOMAIN,
    warnings: list[str] | None = None,
) -> ResolverConfig:
    """The resolver configuration of a pod, as kubelet forms it.

    ClusterFirst: the cluster DNS servers, the cluster search domains then the
    node's, ``ndots:5``. Default: the node's configuration (``host``). None:
    nothing. Then ``dnsConfig`` is merged in (nameservers and searches
    appended without duplicates, options overriding by name), and the result
    cut to 3 nameservers and the search limits; what was cut is said in
    ``warnings``. With no cluster DNS configured, ClusterFirst falls back to
    Default (also a warning).
    """
    warnings = warnings if warnings is not None else []
    kind = _dns_type(pod)
    if kind == "cluster" and not cluster_dns:
        warnings.append(
            f'kubelet does not have ClusterDNS IP configured and cannot create Pod using "{pod.spec.dnsPolicy or "ClusterFirst"}" policy. Falling back to "Default" policy.'
        )
        kind = "host"
    if kind == "cluster":
        config = ResolverConfig(
            nameservers=list(cluster_dns),
            searches=cluster_searches(pod.metadata.namespace or "default", cluster_domain, host.searches),
            options=list(DEFAULT_DNS_OPTIONS),
        )
    elif kind == "host":
        config = ResolverConfig(list(host.nameservers), list(host.searches), list(host.options))
    else:
        config = ResolverConfig()
    extra = pod.spec.dnsConfig
    if extra is not None:
        config.nameservers = _omit_duplicates(config.nameservers + list(extra.nameservers))
        config.searches = _omit_duplicates(config.searches + list(extra.searches))
        config.options = _append_options(
            config.options, [o.name if o.value is None else f"{o.name}:{o.value}" for o in extra.options]
        )
    if len(config.nameservers) > MAX_NAMESERVERS:
        config.nameservers = config.nameservers[:MAX_NAMESERVERS]
        warnings.append(
            f"Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {' '.join(config.nameservers)}"
        )
    config.searches, cut = fit_searches(config.searches)
    if cut:
        warnings.append(
            f"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {' '.join(config.searches)}"
        )
    return config


def resolv_conf(
    pod: Pod,
    *,
    host_resolv_conf: str = "",
    cluster_dns: list[str] | tuple[str, ...] = CLUSTER_DNS,
    cluster_domain: str = CLUSTER_DOMAIN,
    warnings: list[str] | None = None,
) -> str:
    """The pod's resolv.conf text (``host_resolv_conf``: the node's resolv.conf content)."""
    host = parse_resolv_conf(host_resolv_conf)
    return pod_dns_config(
        pod, host=host, cluster_dns=cluster_dns, cluster_domain=cluster_domain, warnings=warnings
    ).render()


# -- hostname and hosts --------------------------------------------------------------------------


def _check_label(value: str, what: str) -> None:
    if len(value) > MAX_HOSTNAME_CHARS or not _DNS1123_LABEL.match(value):
        raise PodFilesError(f"pod {what} {value!r} is not a valid DNS label")


def pod_hostname_and_domain(pod: Pod, cluster_domain: str = CLUSTER_DOMAIN) -> tuple[str, str]:
    """The pod's hostname and its domain (``<subdomain>.<ns>.svc.<cluster domain>``, or "").

    The hostname is ``spec.hostname`` or else the pod's name cut to 63
    characters without trailing ``-``/``.``; ``spec.hostnameOverride``, when
    set, is taken verbatim with no domain.
    """
    if pod.spec.hostnameOverride:
        return pod.spec.hostnameOverride, ""
    hostname = pod.metadata.name
    if pod.spec.hostname:
        _check_label(pod.spec.hostname, "hostname")
        hostname = pod.spec.hostname
    if len(hostname) > MAX_HOSTNAME_CHARS:
        hostname = hostname[:MAX_HOSTNAME_CHARS].rstrip("-.")
        if not hostname:
            raise PodFilesError(f"hostname for pod {pod.metadata.name!r} was invalid after truncation")
    domain = ""
    if pod.spec.subdomain:
        _check_label(pod.spec.subdomain, "subdomain")
        domain = f"{pod.spec.subdomain}.{pod.metadata.namespace or 'default'}.svc.{cluster_domain}"
    return hostname, domain


def pod_uts_hostname(pod: Pod, cluster_domain: str = CLUSTER_DOMAIN, node_hostname: str = "") -> str:
    """The hostname the pod's containers see (``/etc/hostname``, ``uname -n``).

    The node's for hostNetwork pods; the FQDN with ``setHostnameAsFQDN`` and a
    subdomain (at most 64 characters, the kernel's limit).
    """
    if pod.spec.hostNetwork:
        return node_hostname or socket.gethostname()
    hostname, domain = pod_hostname_and_domain(pod, cluster_domain)
    if pod.spec.setHostnameAsFQDN and domain:
        fqdn = f"{hostname}.{domain}"
        if len(fqdn) > 64:
            raise PodFilesError(
                f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long "
                f"(64 characters is the max, {len(fqdn)} characters requested)"
            )
        return fqdn
    return hostname


def _host_alias_lines(pod: Pod) -> str:
    if not pod.spec.hostAliases:
        return ""
    lines = ["\n", HOST_ALIASES_HEADER]
    lines.extend(f"{alias.ip}\t{chr(9).join(alias.hostnames)}\n" for alias in pod.spec.hostAliases)
    return "".join(lines)


def hosts_file(
    pod: Pod, pod_ips: list[str], cluster_domain: str = CLUSTER_DOMAIN, node_hosts: str = ""
) -> str:
    """The pod's /etc/hosts (``node_hosts``: the node's /etc/hosts, used for hostNetwork pods)."""
    if pod.spec.hostNetwork:
        return MANAGED_HOSTS_HEADER_HOST_NETWORK + node_hosts + _host_alias_lines(pod)
    hostname, domain = pod_hostname_and_domain(pod, cluster_domain)
    lines = [
        MANAGED_HOSTS_HEADER,
        "127.0.0.1\tlocalhost\n",
        "::1\tlocalhost ip6-localhost ip6-loopback\n",
        "fe00::0\tip6-localnet\n",
        "fe00::0\tip6-mcastprefix\n",
        "fe00::1\tip6-allnodes\n",
        "fe00::2\tip6-allrouters\n",
    ]
    for ip in pod_ips:
        ipaddress.ip_address(ip)  # a ValueError here is a caller bug, not pod content
        if domain:
            lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}\n")
        else:
            lines.append(f"{ip}\t{hostname}\n")
    return "".join(lines) + _host_alias_lines(pod)


# -- all three, and the writer -------------------------------------------------------------------


def render_pod_files(
    pod: Pod,
    pod_ips: list[str],
    *,
    cluster_dns: list[str] | tuple[str, ...] = CLUSTER_DNS,
    cluster_domain: str = CLUSTER_DOMAIN,
    host_resolv_conf: str = "",
    node_hosts: str = "",
    node_hostname: str = "",
) -> PodFiles:
    """The three files of a pod (``pod_ips``: from its network status; the node's files as text)."""
    warnings: list[str] = []
    resolv = resolv_conf(
        pod,
        host_resolv_conf=host_resolv_conf,
        cluster_dns=cluster_dns,
        cluster_domain=cluster_domain,
        warnings=warnings,
    )
    return PodFiles(
        hosts=hosts_file(pod, pod_ips, cluster_domain, node_hosts),
        resolv_conf=resolv,
        hostname=pod_uts_hostname(pod, cluster_domain, node_hostname) + "\n",
        warnings=warnings,
    )


def host_resolv_conf_path(default: str = HOST_RESOLV_CONF) -> str:
    """The node's resolv.conf pods should start from: systemd-resolved's upstream list when
    ``default`` names only loopback servers (a stub no pod can reach), else ``default``."""
    try:
        servers = parse_resolv_conf(Path(default).read_text()).nameservers
    except OSError:
        return default
    if servers and all(_is_loopback(s) for s in servers) and os.path.exists(RESOLVED_RESOLV_CONF):
        return RESOLVED_RESOLV_CONF
    return default


def _is_loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def read_host_files(
    resolv_conf_path: str | None = None, hosts_path: str = "/etc/hosts"
) -> tuple[str, str, str]:
    """The node's resolv.conf and hosts content (missing files read as empty) and its hostname."""

    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except FileNotFoundError:
            return ""

    return read(resolv_conf_path or host_resolv_conf_path()), read(hosts_path), socket.gethostname()


def _write_atomic(path: Path, content: str) -> None:
    # Atomic (containers never see half a file) but not fsynced: the files are written anew for
    # every sandbox, also by an agent restarted after a crash, so durability buys nothing.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o644)  # readable by containers running as any user
    os.replace(tmp, path)


def write_pod_files_sync(directory: str | os.PathLike[str], files: PodFiles) -> PodFilePaths:
    """Write ``hosts``, ``resolv.conf`` and ``hostname`` into ``directory``, each replaced atomically."""
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    paths = PodFilePaths(
        hosts=str(base / HOSTS_FILE),
        resolv_conf=str(base / RESOLV_CONF_FILE),
        hostname=str(base / HOSTNAME_FILE),
    )
    _write_atomic(Path(paths.hosts), files.hosts)
    _write_atomic(Path(paths.resolv_conf), files.resolv_conf)
    _write_atomic(Path(paths.hostname), files.hostname)
    return paths


async def write_pod_files(directory: str | os.PathLike[str], files: PodFiles) -> PodFilePaths:
    """:func:`write_pod_files_sync` off the event loop."""
    return await asyncio.to_thread(write_pod_files_sync, directory, files)


def pod_file_mounts(paths: PodFilePaths) -> list[Mount]:
    """The bind mounts of the three files into a container (writable, as Kubernetes mounts them)."""
    return [
        Mount(host_path=paths.hosts, container_path="/etc/hosts"),
        Mount(host_path=paths.resolv_conf, container_path="/etc/resolv.conf"),
        Mount(host_path=paths.hostname, container_path="/etc/hostname"),
    ]
