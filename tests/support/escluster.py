"""Three Elasticsearch test nodes on 127.0.0.1 forming one cluster (every node master-eligible
and a data node), from the same integ-test distribution as tests/support/esnode.py: its
transport module is all a cluster needs. Small heaps, so it runs beside the rest of the
suite on two cores."""

from __future__ import annotations

import json
import time
import urllib.error
from dataclasses import dataclass, field

from tests.support.esnode import EsNode, NodeError, _http_json
from tests.support.loopback import free_port

CLUSTER_HEAP = "384m"  # per node: the smallest that indexes 60,000 events without memory pressure


@dataclass
class EsCluster:
    size: int = 3
    heap: str = CLUSTER_HEAP
    nodes: list[EsNode] = field(default_factory=list)

    def start(self, timeout: float = 300.0) -> "EsCluster":
        name = f"ctstack-cluster-{free_port()}"
        names = [f"node-{i}" for i in range(self.size)]
        transports = [free_port() for _ in range(self.size)]
        seeds = ",".join(f"127.0.0.1:{port}" for port in transports)
        for node_name, transport in zip(names, transports):
            node = EsNode(heap=self.heap, cluster_name=name, node_name=node_name, transport_port=transport, in_cluster=True,
                          settings={"discovery.seed_hosts": seeds, "cluster.initial_master_nodes": ",".join(names)})
            self.nodes.append(node)
            try:
                node.start(timeout)
            except NodeError:
                self.stop()
                raise
        self.wait(f"wait_for_nodes={self.size}&wait_for_status=green", timeout)
        return self

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def wait(self, condition: str, timeout: float = 180.0, via: EsNode | None = None) -> dict:
        """The cluster's health once ``condition`` (e.g. ``wait_for_nodes=3``) holds, asked of ``via``."""
        deadline = time.monotonic() + timeout
        node = via or self.nodes[0]
        last: object = None
        while time.monotonic() < deadline:
            try:
                health = _http_json(f"{node.url}/_cluster/health?{condition}&timeout=10s", timeout=20)
                if not health.get("timed_out"):
                    return health
                last = health
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as err:
                last = err
            time.sleep(1)
        tails = "\n".join(n.log_tail(15) for n in self.nodes)
        raise NodeError(f"the test cluster never reached {condition}: {json.dumps(last, default=str)}\n{tails}")

    def master(self) -> EsNode:
        """The node elected master now."""
        state = _http_json(f"{self.nodes[0].url}/_cluster/state/master_node,nodes", timeout=20)
        name = state["nodes"][state["master_node"]]["name"]
        return next(n for n in self.nodes if n.node_name == name)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
