"""Validation of networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy."""

from __future__ import annotations

import ipaddress
from typing import Any

from kubelite.api.errors import FieldError, forbidden, invalid_value, not_supported, required
from kubelite.api.validation.common import (
    child,
    index,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
    is_wildcard_dns1123_subdomain,
    messages,
    name_is_dns_subdomain,
    validate_label_selector,
)
from kubelite.api.validation.pods import PROTOCOLS

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _backend(b: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if b.service is not None and b.resource is not None:
        return [invalid_value(path, "", "cannot set both resource and service backends")]
    if b.service is not None:
        sp = child(path, "service")
        if not b.service.name:
            errs.append(required(child(sp, "name"), ""))
        else:
            errs += messages(child(sp, "name"), b.service.name, _svc_name(b.service.name))
        port = b.service.port
        has_name, has_num = bool(port.name), port.number != 0
        if has_name and has_num:
            errs.append(invalid_value(child(sp, "port"), "", "cannot set both port name & port number"))
        elif has_name:
            errs += messages(child(sp, "port", "name"), port.name, is_valid_port_name(port.name))
        elif has_num:
            errs += messages(child(sp, "port", "number"), port.number, is_valid_port_num(port.number))
        else:
            errs.append(required(child(sp, "port"), "port name or number is required"))
    elif b.resource is not None:
        if not b.resource.kind:
            errs.append(required(child(path, "resource", "kind"), ""))
        if not b.resource.name:
            errs.append(required(child(path, "resource", "name"), ""))
    else:
        errs.append(invalid_value(path, "", "resource or service backend is required"))
    return errs


def _svc_name(name: str) -> list[str]:
    from kubelite.api.validation.common import is_dns1035_label

    return is_dns1035_label(name)


def _host(host: str, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_address(host)
        return [invalid_value(path, host, "must be a DNS name, not an IP address")]
    except ValueError:
        pass
    if host.startswith("*"):
        return messages(path, host, is_wildcard_dns1123_subdomain(host))
    return messages(path, host, is_dns1123_subdomain(host))


def validate_ingress(ing: Any) -> list[FieldError]:
    spec = ing.spec
    errs: list[FieldError] = []
    if not spec.rules and spec.defaultBackend is None:
        errs.append(invalid_value("spec.rules", [], "either `defaultBackend` or `rules` must be specified"))
    if spec.defaultBackend is not None:
        errs += _backend(spec.defaultBackend, "spec.defaultBackend")
    if spec.ingressClassName is not None:
        errs += messages(
            "spec.ingressClassName",
            spec.ingressClassName,
            name_is_dns_subdomain(spec.ingressClassName, False),
        )
    for i, tls in enumerate(spec.tls):
        for j, host in enumerate(tls.hosts):
            errs += _host(host, index(child(f"spec.tls[{i}]", "hosts"), j))
        if tls.secretName:
            errs += messages(
                f"spec.tls[{i}].secretName", tls.secretName, name_is_dns_subdomain(tls.secretName, False)
            )
    for i, rule in enumerate(spec.rules):
        rp = f"spec.rules[{i}]"
        if rule.host:
            errs += _host(rule.host, child(rp, "host"))
        if rule.http is None:
            continue
        hp = child(rp, "http")
        if not rule.http.paths:
            errs.append(required(child(hp, "paths"), ""))
        for j, p in enumerate(rule.http.paths):
            pp = index(child(hp, "paths"), j)
            if p.pathType is None:
                errs.append(required(child(pp, "pathType"), "pathType must be specified"))
            elif p.pathType not in PATH_TYPES:
                errs.append(not_supported(child(pp, "pathType"), p.pathType, PATH_TYPES))
            elif p.pathType in ("Exact", "Prefix"):
                if not p.path.startswith("/"):
                    errs.append(invalid_value(child(pp, "path"), p.path, "must be an absolute path"))
                for bad in ("//", "/./", "/../", "%2f", "%2F"):
                    if bad in p.path:
                        errs.append(invalid_value(child(pp, "path"), p.path, f"must not contain '{bad}'"))
                for bad in ("/..", "/."):
                    if p.path.endswith(bad):
                        errs.append(invalid_value(child(pp, "path"), p.path, f"cannot end with '{bad}'"))
            elif p.path and not p.path.startswith("/"):
                errs.append(invalid_value(child(pp, "path"), p.path, "must be an absolute path"))
            errs += _backend(p.backend, child(pp, "backend"))
    return errs


def validate_ingress_class(ic: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    c = ic.spec.controller
    if not c:
        errs.append(required("spec.controller", ""))
    else:
        if len(c) > 250:
            errs.append(invalid_value("spec.controller", c, "must be no more than 250 characters"))
        if "/" not in c:
            errs.append(
                invalid_value("spec.controller", c, 'must be a domain-prefixed path (such as "acme.io/foo")')
            )
        else:
            host = c.split("/", 1)[0]
            errs += messages("spec.controller", host, is_dns1123_subdomain(host))
    params = ic.spec.parameters
    if params is not None:
        pp = "spec.parameters"
        if not params.kind:
            errs.append(required(child(pp, "kind"), ""))
        if not params.name:
            errs.append(required(child(pp, "name"), ""))
        if params.scope is not None and params.scope not in ("Cluster", "Namespace"):
            errs.append(not_supported(child(pp, "scope"), params.scope, ["Cluster", "Namespace"]))
        if params.scope == "Namespace" and not params.namespace:
            errs.append(required(child(pp, "namespace"), "`parameters.scope` is set to 'Namespace'"))
        if params.scope == "Cluster" and params.namespace:
            errs.append(forbidden(child(pp, "namespace"), "`parameters.scope` is set to 'Cluster'"))
    return errs


def validate_ingress_class_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_ingress_class(new)
    if new.spec.controller != old.spec.controller:
        errs.append(invalid_value("spec.controller", new.spec.controller, "field is immutable"))
    return errs


def _peer(peer: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    n = 0
    if peer.podSelector is not None:
        n += 1
        errs += validate_label_selector(peer.podSelector, child(path, "podSelector"))
    if peer.namespaceSelector is not None:
        n += 1
        errs += validate_label_selector(peer.namespaceSelector, child(path, "namespaceSelector"))
    if peer.ipBlock is not None:
        n += 1
        bp = child(path, "ipBlock")
        cidr = peer.ipBlock.cidr
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            net = None
            if not cidr:
                errs.append(required(child(bp, "cidr"), ""))
            else:
                errs.append(
                    invalid_value(
                        child(bp, "cidr"),
                        cidr,
                        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                    )
                )
        for i, exc in enumerate(peer.ipBlock.except_):
            ep = index(child(bp, "except"), i)
            try:
                enet = ipaddress.ip_network(exc, strict=False)
            except ValueError:
                errs.append(
                    invalid_value(ep, exc, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
                )
                continue
            if net is not None and (enet.version != net.version or not enet.subnet_of(net) or enet == net):  # type: ignore[arg-type]
                errs.append(invalid_value(ep, exc, "must be a strict subset of `cidr`"))
    if n == 0:
        errs.append(required(path, "must specify a peer"))
    elif n > 1 and peer.ipBlock is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def _np_ports(ports: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, port in enumerate(ports):
        pp = index(path, i)
        if port.protocol is not None and port.protocol not in PROTOCOLS:
            errs.append(not_supported(child(pp, "protocol"), port.protocol, PROTOCOLS))
        if isinstance(port.port, int) and not isinstance(port.port, bool):
            errs += messages(child(pp, "port"), port.port, is_valid_port_num(port.port))
            if port.endPort is not None:
                if port.endPort < port.port:
                    errs.append(
                        invalid_value(
                            child(pp, "endPort"), port.endPort, "must be greater than or equal to `port`"
                        )
                    )
                errs += messages(child(pp, "endPort"), port.endPort, is_valid_port_num(port.endPort))
        elif isinstance(port.port, str):
            errs += messages(child(pp, "port"), port.port, is_valid_port_name(port.port))
            if port.endPort is not None:
                errs.append(
                    invalid_value(
                        child(pp, "endPort"), port.endPort, "may not be specified when `port` is non-numeric"
                    )
                )
        elif port.endPort is not None:
            errs.append(required(child(pp, "port"), "must be specified when `endPort` is specified"))
    return errs


def validate_network_policy(np_: Any) -> list[FieldError]:
    spec = np_.spec
    errs = validate_label_selector(spec.podSelector, "spec.podSelector")
    for i, rule in enumerate(spec.ingress):
        rp = f"spec.ingress[{i}]"
        errs += _np_ports(rule.ports, child(rp, "ports"))
        for j, peer in enumerate(rule.from_):
            errs += _peer(peer, index(child(rp, "from"), j))
    for i, erule in enumerate(spec.egress):
        rp = f"spec.egress[{i}]"
        errs += _np_ports(erule.ports, child(rp, "ports"))
        for j, peer in enumerate(erule.to):
            errs += _peer(peer, index(child(rp, "to"), j))
    allowed = ["Egress", "Ingress"]
    if len(spec.policyTypes) > 2:
        errs.append(
            invalid_value("spec.policyTypes", spec.policyTypes, "may not specify more than two policyTypes")
        )
    for i, t in enumerate(spec.policyTypes):
        if t not in allowed:
            errs.append(not_supported(index("spec.policyTypes", i), t, allowed))
    return errs
