"""Start, join and stop the Ray cluster behind `--ray-address local|ADDR`.

One helper for the app and every CLI. `local` starts a two-node cluster on this machine,
bound to the loopback interface, and stops it when the process exits; any other value is
the address of a running cluster (`HOST:PORT` of its head, `auto`, or `ray://HOST:PORT`),
which is joined and left running. Two nodes rather than one local head, because that is
what the sharded index and the distributed build meet past one machine: actors spread
over raylets, objects copied between object stores, a node that can die alone. It costs
~430 MB and ~15 s more than a single head.

Ray is imported here lazily and only when asked for: it is a development / cluster
dependency (requirements-dev.txt), not something the Spaces app installs.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

LOCAL = "local"
LOCAL_NODES = 2
# Objects are moved in chunks of tens of MB (retrieval.sharded_store), so a small object
# store per node is enough, and it is memory the index itself can use.
LOCAL_OBJECT_STORE_BYTES = 200_000_000

_local_cluster: Any = None  # ray.cluster_utils.Cluster started by this process, if any


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster cannot be started or reached."""


def import_ray() -> ModuleType:
    """The `ray` module, or an error saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RayUnavailableError(
            "The Ray backend needs the ray package: pip install 'ray[data]' (it is in requirements-dev.txt), "
            "or use --backend faiss without --ray-address."
        ) from err
    return ray


def start_or_join(address: str, nodes: int = LOCAL_NODES, object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES) -> bool:
    """Connect this process to Ray: `local` starts a loopback cluster of `nodes` nodes,
    anything else joins the cluster at that address. True when this call started or
    joined, False when the process was already connected (then nothing changes).
    """
    if not address or not address.strip():
        raise ValueError("Empty Ray address: pass --ray-address local, or the HOST:PORT of a running cluster's head")
    address = address.strip()
    # No network at run time (docs/design.md): Ray's usage statistics would call home.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        logger.info("Already connected to Ray: reusing that connection, not %s", address)
        return False
    if address == LOCAL:
        _start_local(ray, nodes, object_store_bytes)
    else:
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise RayUnavailableError(
                f"Cannot join the Ray cluster at {address}: {err}. Start one with `ray start --head` on the head "
                f"node and pass its HOST:PORT, or pass --ray-address local."
            ) from err
        logger.info("Joined the Ray cluster at %s: %s", address, ray.cluster_resources())
    return True


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT that nothing listens on: `ray.init` would retry for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise RayUnavailableError(
            f"Nothing answers at {address} ({err}): start a cluster there with `ray start --head --port {port}` "
            f"and pass the address it prints, or pass --ray-address local."
        ) from None


def _start_local(ray: ModuleType, nodes: int, object_store_bytes: int) -> None:
    """A cluster of `nodes` raylets on this machine sharing its CPUs (GPUs go to the head)."""
    global _local_cluster
    from ray.cluster_utils import Cluster

    if nodes < 1:
        raise ValueError(f"A local Ray cluster needs at least one node, got {nodes}")
    _stay_on_loopback()
    cpus = max(1, (os.cpu_count() or 1) // nodes)
    node_args = {"num_cpus": cpus, "object_store_memory": object_store_bytes, "include_dashboard": False}
    try:
        cluster = Cluster(initialize_head=True, head_node_args={**node_args, "num_gpus": _local_gpus()})
        for _ in range(nodes - 1):
            cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level=logging.WARNING)
    except Exception as err:  # Ray raises many kinds here; each means "no cluster"
        raise RayUnavailableError(f"Cannot start a local Ray cluster: {err}. Check free memory and /tmp space.") from err
    _local_cluster = cluster
    atexit.register(stop)
    logger.info("Started a local Ray cluster of %d nodes x %d CPUs at %s", nodes, cpus, cluster.address)


def _stay_on_loopback() -> None:
    """Make every process of the local cluster advertise 127.0.0.1, not the machine's
    external address (which `ray start --node-ip-address 127.0.0.1` still does).

    Ray's switch for this is an environment variable read when ray is imported: set for
    the processes the cluster spawns, and patched where this process already read it.
    """
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def _local_gpus() -> int:
    """CUDA devices visible to this process (torch is already a dependency of the encoder)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


def stop() -> None:
    """Disconnect from Ray, and shut down the local cluster if this process started one."""
    global _local_cluster
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()
    if _local_cluster is not None:
        _local_cluster.shutdown()
        _local_cluster = None
        logger.info("Stopped the local Ray cluster")


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Connected to Ray inside the block. With `address` None the process must already be
    connected (a caller up the stack owns the cluster); otherwise the block starts or joins
    and, on the way out, disconnects (and stops a `local` cluster) only if it connected.
    """
    if address is None:
        if not import_ray().is_initialized():
            raise RayUnavailableError("Not connected to Ray: pass --ray-address local or the HOST:PORT of a running cluster")
        yield
        return
    connected = start_or_join(address)
    try:
        yield
    finally:
        if connected:
            stop()
