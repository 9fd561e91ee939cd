"""What the sampler leaves out: a Docker host's veth pairs, bridges and
overlay/tmpfs/squashfs mounts by default, and what TORU_SKIP_INTERFACES /
TORU_SKIP_FSTYPES change. psutil's readers are replaced with readings shaped
like a Docker host's, so the test does not depend on this machine."""

from types import SimpleNamespace

import pytest

from toru.config import Config
from toru.monitor import system
from toru.monitor.system import Sampler

INTERFACES = ("lo", "eth0", "enp3s0", "docker0", "br-4f2a9c1e7d10", "veth1a2b3c4", "vethdeadbee", "wg0")
MOUNTS = (("/dev/nvme0n1p2", "/", "ext4"), ("/dev/nvme0n1p1", "/boot/efi", "vfat"),
          ("/dev/sda1", "/srv/data", "xfs"), ("overlay", "/var/lib/docker/overlay2/3f1e/merged", "overlay"),
          ("tmpfs", "/run", "tmpfs"), ("/dev/loop3", "/snap/core22/1380", "squashfs"),
          ("nsfs", "/run/docker/netns/8c1d", "nsfs"))


@pytest.fixture
def docker_host(monkeypatch):
    """psutil's network and filesystem readers answering as a Docker host's would."""
    counters = {name: SimpleNamespace(bytes_recv=1000 * i, bytes_sent=500 * i)
                for i, name in enumerate(INTERFACES)}
    partitions = [SimpleNamespace(device=device, mountpoint=mount, fstype=fstype, opts="rw")
                  for device, mount, fstype in MOUNTS]
    usage = SimpleNamespace(total=100, used=40, free=60, percent=40.0)
    monkeypatch.setattr(system.psutil, "net_io_counters", lambda pernic=False: dict(counters))
    monkeypatch.setattr(system.psutil, "disk_partitions", lambda all=False: list(partitions))
    monkeypatch.setattr(system.psutil, "disk_usage", lambda mount: usage)


def shown(sampler):
    snapshot = sampler.sample()
    return [n["interface"] for n in snapshot["networks"]], [d["mount_point"] for d in snapshot["disks"]]


def test_a_docker_host_shows_its_real_nics_and_disks_by_default(docker_host):
    interfaces, mounts = shown(Sampler())
    assert interfaces == ["enp3s0", "eth0", "wg0"]
    assert mounts == ["/", "/boot/efi", "/srv/data"]


def test_the_defaults_come_from_a_config_without_overrides(docker_host):
    config = Config.load({}, {})
    assert config.skip_interfaces is None and config.skip_fstypes is None  # None: the sampler's defaults
    assert shown(Sampler(config.skip_fstypes, config.skip_interfaces)) == shown(Sampler())


def test_the_environment_replaces_the_lists(docker_host):
    config = Config.load({}, {"TORU_SKIP_INTERFACES": "lo, wg*", "TORU_SKIP_FSTYPES": "tmpfs,nsfs,vfat"})
    assert config.skip_interfaces == ("lo", "wg*")
    interfaces, mounts = shown(Sampler(config.skip_fstypes, config.skip_interfaces))
    assert interfaces == ["br-4f2a9c1e7d10", "docker0", "enp3s0", "eth0", "veth1a2b3c4", "vethdeadbee"]
    assert mounts == ["/", "/srv/data", "/var/lib/docker/overlay2/3f1e/merged", "/snap/core22/1380"]


def test_an_empty_interface_list_leaves_nothing_out(docker_host):
    config = Config.load({}, {"TORU_SKIP_INTERFACES": ""})
    assert config.skip_interfaces == ()
    interfaces, _ = shown(Sampler(skip_interfaces=config.skip_interfaces))
    assert interfaces == sorted(INTERFACES)


def test_patterns_match_whole_names():
    matches = system.name_matcher(("lo", "veth*", "br-*"))
    assert [n for n in ("lo", "lo0", "veth0", "xveth0", "br-1", "br0", "eth0") if matches(n)] == ["lo", "veth0", "br-1"]
    assert not system.name_matcher(())("lo")
