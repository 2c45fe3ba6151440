"""The node IPAM's CIDR set (allocate, occupy, release, exhaustion, mask sizes) and its options."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kubelite.controllers.base import ControllerContext
from kubelite.controllers.nodeipam import (
    CIDROutOfRange,
    CIDRRangeExhausted,
    CIDRSet,
    CIDRSetError,
    cidr_sets_from_options,
    overlaps,
    parse_cidr,
    pod_cidrs,
)


def allocate(cidr_set: CIDRSet, n: int) -> list[str]:
    return [str(cidr_set.allocate_next()) for _ in range(n)]


def test_allocates_consecutive_subnets_of_the_mask_size() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    assert s.size == 256 and s.used == 0 and s.free == 256
    assert allocate(s, 3) == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]
    assert s.used == 3 and s.free == 253


@pytest.mark.parametrize(
    ("cluster", "mask", "size", "first", "last"),
    [
        ("10.42.0.0/16", 16, 1, "10.42.0.0/16", "10.42.0.0/16"),
        ("10.42.0.0/16", 20, 16, "10.42.0.0/20", "10.42.240.0/20"),
        ("10.42.0.0/16", 26, 1024, "10.42.0.0/26", "10.42.255.192/26"),
        ("10.42.0.0/30", 32, 4, "10.42.0.0/32", "10.42.0.3/32"),
        ("fd00:42::/56", 64, 256, "fd00:42::/64", "fd00:42:0:ff::/64"),
        ("fd00:42::/48", 120, 1 << 72, "fd00:42::/120", "fd00:42:0:ffff:ffff:ffff:ffff:ff00/120"),
    ],
)
def test_mask_sizes(cluster: str, mask: int, size: int, first: str, last: str) -> None:
    s = CIDRSet(cluster, mask)
    assert s.size == size
    assert str(s.subnet(0)) == first
    assert str(s.subnet(size - 1)) == last
    assert str(s.allocate_next()) == first


def test_host_bits_of_the_cluster_cidr_are_dropped() -> None:
    s = CIDRSet("10.42.7.9/16", 24)
    assert str(s.cluster) == "10.42.0.0/16"
    assert str(s.allocate_next()) == "10.42.0.0/24"


@pytest.mark.parametrize(
    ("cluster", "mask"), [("10.42.0.0/16", 15), ("10.42.0.0/16", 33), ("fd00::/56", 129)]
)
def test_mask_size_outside_the_cluster_cidr_is_refused(cluster: str, mask: int) -> None:
    with pytest.raises(CIDRSetError, match="mask size"):
        CIDRSet(cluster, mask)


def test_exhaustion_then_release_makes_room() -> None:
    s = CIDRSet("10.99.0.0/23", 24)
    assert allocate(s, 2) == ["10.99.0.0/24", "10.99.1.0/24"]
    with pytest.raises(CIDRRangeExhausted, match="no remaining CIDRs"):
        s.allocate_next()
    s.release("10.99.0.0/24")
    assert s.free == 1
    assert str(s.allocate_next()) == "10.99.0.0/24"
    with pytest.raises(CIDRRangeExhausted):
        s.allocate_next()


def test_allocation_goes_round_robin_so_a_released_subnet_is_reused_last() -> None:
    s = CIDRSet("10.42.0.0/22", 24)
    assert allocate(s, 2) == ["10.42.0.0/24", "10.42.1.0/24"]
    s.release("10.42.0.0/24")
    assert allocate(s, 3) == ["10.42.2.0/24", "10.42.3.0/24", "10.42.0.0/24"]


def test_occupied_subnets_are_skipped() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    s.occupy("10.42.0.0/24")
    s.occupy("10.42.2.0/24")
    assert s.is_used("10.42.2.0/24") and not s.is_used("10.42.1.0/24")
    assert allocate(s, 2) == ["10.42.1.0/24", "10.42.3.0/24"]
    assert s.used == 4


def test_occupy_and_release_are_idempotent() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    s.occupy("10.42.5.0/24")
    s.occupy("10.42.5.0/24")
    assert s.used == 1
    s.release("10.42.5.0/24")
    s.release("10.42.5.0/24")
    assert s.used == 0


def test_occupy_of_other_sizes_marks_every_subnet_touched() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    s.occupy("10.42.4.0/22")  # four /24s
    assert s.used == 4 and all(s.is_used(f"10.42.{i}.0/24") for i in range(4, 8))
    s.occupy("10.42.9.128/25")  # half a /24 takes all of it
    assert s.is_used("10.42.9.0/24") and s.used == 5
    s.occupy("10.42.10.7/24")  # host bits ignored
    assert s.is_used("10.42.10.0/24")
    s.release("10.42.4.0/23")
    assert s.used == 4 and not s.is_used("10.42.5.0/24") and s.is_used("10.42.6.0/24")
    s.occupy("10.0.0.0/8")  # wider than the cluster CIDR: all of it
    assert s.free == 0


@pytest.mark.parametrize("cidr", ["10.43.0.0/24", "192.168.0.0/16", "fd00::/64", "10.40.0.0/15"])
def test_occupying_outside_the_cluster_cidr_is_out_of_range(cidr: str) -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    with pytest.raises(CIDROutOfRange, match="out of the range"):
        s.occupy(cidr)
    with pytest.raises(CIDROutOfRange):
        s.release(cidr)
    assert not s.contains(cidr)


def test_contains_means_wholly_inside() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    assert s.contains("10.42.3.0/24") and s.contains("10.42.0.0/16") and s.contains("10.42.3.0/25")
    assert not s.contains("10.0.0.0/8")  # overlaps, but is not inside
    assert not s.contains("fd00::/64")


def test_ipv6_set() -> None:
    s = CIDRSet("fd00:42::/56", 64)
    assert allocate(s, 2) == ["fd00:42::/64", "fd00:42:0:1::/64"]
    s.occupy("fd00:42:0:2::/64")
    assert str(s.allocate_next()) == "fd00:42:0:3::/64"
    with pytest.raises(CIDROutOfRange):
        s.occupy("10.42.0.0/24")


def test_overlaps() -> None:
    net = parse_cidr
    assert overlaps(net("10.42.0.0/24"), net("10.42.0.128/25"))
    assert overlaps(net("10.0.0.0/8"), net("10.42.0.0/24"))
    assert not overlaps(net("10.42.0.0/24"), net("10.42.1.0/24"))
    assert not overlaps(net("::/0"), net("10.42.0.0/24"))


# ----------------------------------------------------------------- options


def ctx(options: dict[str, Any]) -> ControllerContext:
    return ControllerContext(None, None, None, options=options)  # type: ignore[arg-type]


def described(options: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(s.cluster), s.node_mask_size) for s in cidr_sets_from_options(ctx(options))]


def test_defaults_are_the_cluster_pod_cidr_in_24s() -> None:
    assert described({}) == [("10.42.0.0/16", 24)]


def test_options_of_the_controller_win_over_top_level_ones() -> None:
    assert described({"cluster-cidr": "10.50.0.0/16", "node-cidr-mask-size": 26}) == [("10.50.0.0/16", 26)]
    assert described(
        {
            "cluster-cidr": "10.50.0.0/16",
            "nodeipam": {"cluster-cidr": "10.60.0.0/20", "node-cidr-mask-size": 28},
        }
    ) == [("10.60.0.0/20", 28)]


def test_dual_stack_with_mask_sizes_per_family() -> None:
    assert described({"cluster-cidr": "10.42.0.0/16,fd00:42::/56"}) == [
        ("10.42.0.0/16", 24),
        ("fd00:42::/56", 64),
    ]
    assert described(
        {"nodeipam": {"cluster-cidr": ["10.42.0.0/16", "fd00:42::/48"], "node-cidr-mask-size-ipv6": 60}}
    ) == [("10.42.0.0/16", 24), ("fd00:42::/48", 60)]


@pytest.mark.parametrize(
    "options",
    [
        {"cluster-cidr": ""},
        {"cluster-cidr": "10.42.0.0/16,10.50.0.0/16"},
        {"cluster-cidr": "10.42.0.0/16,fd00::/56,10.50.0.0/16"},
        {"cluster-cidr": "not-a-cidr"},
        {"cluster-cidr": "10.42.0.0/16", "node-cidr-mask-size": 8},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        cidr_sets_from_options(ctx(options))


def test_pod_cidrs_of_a_node() -> None:
    from kubelite.api.core_v1 import Node, NodeSpec

    assert pod_cidrs(Node()) == []
    assert pod_cidrs(Node(spec=NodeSpec(podCIDR="10.42.1.0/24"))) == ["10.42.1.0/24"]
    both = Node(spec=NodeSpec(podCIDR="10.42.1.0/24", podCIDRs=["10.42.1.0/24", "fd00::/64"]))
    assert pod_cidrs(both) == ["10.42.1.0/24", "fd00::/64"]
    assert ipaddress.ip_network(pod_cidrs(both)[1]).version == 6
