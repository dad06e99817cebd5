"""memory.queue_bounded and memory.bounded_usage, judged by real gate runs on crafted worlds."""

from __future__ import annotations

from harness import GateRun, assert_verdict, violations


def test_queue_bound_passes_when_a_pool_sits_exactly_at_its_bound(healthy_run: GateRun) -> None:
    # The healthy gpu pool fills to 100 of 100 for two minutes: a full bounded queue is the design working.
    record = assert_verdict(healthy_run, "memory.queue_bounded", "passed")
    assert record["observed"]["gpu"] == 100


def test_queue_bound_fails_when_the_cpu_queue_grows_past_max_queue_size(world_a_run: GateRun) -> None:
    record = assert_verdict(
        world_a_run, "memory.queue_bounded", "failed", "resource_pool=cpu", "1010", "1000"
    )
    assert "cpu" in (record["worst"] or "")
    assert "gpu" not in violations(record)


def test_queue_bound_fails_without_queue_depth_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "memory.queue_bounded", "failed", "no data", "worker_queue_depth")


def test_memory_passes_when_rss_is_flat_and_under_the_ceiling(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "memory.bounded_usage", "passed")


def test_memory_fails_when_gateway_rss_grows_steadily_across_the_window(world_a_run: GateRun) -> None:
    # RSS grows linearly from 200 MiB to 400 MiB: first-quarter average ~225 MiB, last ~375 MiB, +67 %.
    record = assert_verdict(world_a_run, "memory.bounded_usage", "failed", "job=gateway", "20 %")
    assert "gateway" in (record["worst"] or "")
    assert "job=router" not in violations(record)
    assert "job=worker" not in violations(record)


def test_memory_fails_when_worker_rss_exceeds_the_ceiling(world_b_run: GateRun) -> None:
    record = assert_verdict(world_b_run, "memory.bounded_usage", "failed", "job=worker", "ceiling")
    # The worst offending series is the one over the ceiling.
    assert "worker" in (record["worst"] or ""), record["worst"]


def test_memory_fails_without_rss_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "memory.bounded_usage", "failed", "no data", "process_resident_memory_bytes")
