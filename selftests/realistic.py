"""Realistic Prometheus histories for the oracle self-test, drawn with hypothesis.

A case is one History slice for one gate run: at least 2 h of history, a 2 h baseline window, maybe a
gap, a 2 h candidate window and a short tail, for the router, gateway and worker jobs, with what real
scraping produces mixed in at random, in both windows and at their edges:

- several instances per job that come and go: scale-out (counters from 0), scale-in (series end), rolling
  replacement (a new `instance` within a couple of scrape intervals, counters from 0, new start time);
- a scrape interval per job (5, 10, 15 or 30 s; a worker scraped every 5 s has at most two instances, to
  keep the backfill small), timestamps jittered by up to 10 % of it, rounded to stored milliseconds;
- gaps without any sample (of a target, a job, or everything: Prometheus itself gone) and failed scrapes
  (`up` = 0 and nothing else), right before and after window starts and ends;
- process restarts (every counter and histogram child from 0, a new process_start_time_seconds), a child
  series removed and re-created by the application (that series from 0 after a gap), series created lazily
  on first use, NaN in worker_retry_success_rate for a pair without attempts;
- bad waves (`BAD_KINDS`), each with a random magnitude chosen well away from the criterion's threshold.

`plans()` is the hypothesis strategy of a case's knobs (a `Plan`, plain data); `realize()` turns a plan into
samples deterministically (sample-level noise comes from a seed the plan carries); `generate()` draws the
first plan for a hypothesis seed whose oracle truth keeps every criterion's margin (oracle.MARGINS), and
describes it (`Case.describe`: windows, intervals, instances, magnitudes and every reality with its time
relative to the nearest window edge). `draw_plan()` draws a seed's plan alone, for scanning seeds.

Case k lives in [T0 + k*SLICE, T0 + (k+1)*SLICE); nothing of it has samples outside its slice.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import oracle
from harness import History
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

HOUR = 3600.0
WINDOW = 2 * HOUR
SLICE = 9 * HOUR
JOBS = ("router", "gateway", "worker")
PORTS = {"router": 9001, "gateway": 3001, "worker": 9092}
INTERVALS = (5, 10, 15, 30)
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MIB = 1024.0 * 1024.0
EDGES = ("baseline start", "baseline end", "candidate start", "candidate end")

BAD_KINDS = (
    "throughput_drop",
    "gateway_5xx",
    "worker_errors",
    "router_errors",
    "wasted_retries",
    "new_retry_error_class",
    "retry_success_low",
    "retry_below_baseline",
    "retry_nan_gauge",
    "hung_steps",
    "slow_steps",
    "component_unobserved",
    "instance_down",
    "restart_in_candidate",
    "replacement_in_candidate",
    "memory_leak",
)


# --- Plans: what hypothesis draws ---------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One reality or bad knob. Times are seconds from the slice start; `target` picks an instance among
    those eligible (modulo their number); `value` is a magnitude."""

    kind: str
    job: str = ""
    at: float = 0.0
    length: float = 0.0
    target: int = 0
    value: float = 0.0
    bad: bool = False


@dataclass(frozen=True)
class Plan:
    """A case's knobs, as drawn by hypothesis (plain data)."""

    noise: int  # seed of the per-sample noise (jitter, counts per scrape)
    data_start: float
    baseline: tuple[float, float]
    candidate: tuple[float, float]
    data_end: float
    intervals: tuple[tuple[str, int], ...]
    instances: tuple[tuple[str, int], ...]
    le_style: str  # "go" (le="60"), "python" (le="60.0") or "mixed" (per instance)
    rates: tuple[tuple[str, float], ...]  # magnitudes: requests/s, shares, factors (see RATE_KEYS)
    events: tuple[Event, ...]

    def interval(self, job: str) -> int:
        return dict(self.intervals)[job]

    def rate(self, key: str) -> float:
        return dict(self.rates)[key]

    @property
    def bad(self) -> tuple[str, ...]:
        return tuple(sorted({e.kind for e in self.events if e.bad}))


def _permille(low: int, high: int) -> st.SearchStrategy[float]:
    return st.integers(low, high).map(lambda v: v / 1000)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """The hypothesis strategy of one case's knobs."""
    noise = draw(st.integers(0, 2**31 - 1))
    data_start = float(draw(st.integers(0, 15)) * 60)
    baseline_start = data_start + 2 * HOUR + draw(st.integers(5, 20)) * 60
    gap = draw(st.sampled_from((0, 0, 0, 5, 10, 30, 60))) * 60.0
    baseline = (baseline_start, baseline_start + WINDOW)
    candidate = (baseline[1] + gap, baseline[1] + gap + WINDOW)
    data_end = candidate[1] + draw(st.integers(5, 30)) * 60
    intervals = {job: draw(st.sampled_from(INTERVALS)) for job in JOBS}
    # The worker has ~50 series per instance: at 5 s, at most two instances keep the backfill small.
    instances = {job: draw(st.integers(1, 2 if job == "worker" and intervals[job] == 5 else 3)) for job in JOBS}
    le_style = draw(st.sampled_from(("go", "python", "mixed")))
    count = draw(st.sampled_from((0, 0, 1, 1, 1, 2, 2, 3, 4)))
    bad = draw(st.lists(st.sampled_from(BAD_KINDS), min_size=count, max_size=count, unique=True))
    dropped = draw(st.sampled_from(("gateway", "worker"))) if "throughput_drop" in bad else ""
    rates = _rates(draw, set(bad), dropped)
    windows = {"baseline": baseline, "candidate": candidate}
    events = [*_noise_events(draw, windows, data_start, data_end), *_bad_events(draw, set(bad), windows, dropped)]
    return Plan(noise, data_start, baseline, candidate, data_end, tuple(intervals.items()), tuple(instances.items()),
                le_style, tuple(sorted(rates.items())), tuple(events))


RATE_KEYS = (
    "gateway_rps", "worker_rps", "router_rps", "retry_share",
    "gateway_5xx", "worker_errors", "router_errors",  # baseline error shares
    "gateway_5xx_factor", "worker_errors_factor", "router_errors_factor",  # candidate / baseline
    "gateway_throughput", "worker_throughput",  # candidate / baseline rate
    "wasted_baseline", "wasted_candidate", "success_baseline", "success_candidate", "wasted_success",
)


def _rates(draw: st.DrawFn, bad: set[str], dropped: str) -> dict[str, float]:
    rates = {
        "gateway_rps": float(draw(st.integers(5, 120))),
        "worker_rps": float(draw(st.integers(2, 40))),
        "router_rps": float(draw(st.integers(5, 120))),
        "retry_share": draw(_permille(20, 120)),
        "gateway_5xx": draw(_permille(4, 30)),
        "worker_errors": draw(_permille(10, 80)),
        "router_errors": draw(_permille(2, 20)),
        "wasted_baseline": draw(_permille(0, 300)),
        "wasted_success": draw(_permille(0, 80)),
    }
    for component in ("gateway", "worker"):
        healthy = draw(_permille(1020, 1250))
        low = draw(st.sampled_from((500, 850)))  # half the drops lie close to the threshold
        rates[f"{component}_throughput"] = draw(_permille(low, 955)) if component == dropped else healthy
    for kind in ("gateway_5xx", "worker_errors", "router_errors"):
        rates[f"{kind}_factor"] = draw(_permille(1150, 4000)) if kind in bad else draw(_permille(500, 1000))
    rates["wasted_candidate"] = draw(_permille(65, 350)) if "wasted_retries" in bad else draw(_permille(0, 35))
    if "retry_success_low" in bad:
        rates["success_baseline"] = draw(_permille(600, 950))
        rates["success_candidate"] = draw(_permille(400, 770))
    elif "retry_below_baseline" in bad:
        rates["success_baseline"] = draw(_permille(900, 960))
        rates["success_candidate"] = draw(_permille(830, int(rates["success_baseline"] * 1000) - 35))
    else:
        rates["success_baseline"] = draw(_permille(600, 900))
        low = max(840, int(rates["success_baseline"] * 1000) + 35)
        rates["success_candidate"] = draw(_permille(low, 985))
    return rates


def _at(draw: st.DrawFn, span: tuple[float, float], margin: float = 0.0) -> float:
    return float(draw(st.integers(int(span[0] + margin), int(span[1] - margin))))


def _edge(draw: st.DrawFn, windows: dict[str, tuple[float, float]]) -> float:
    edge = draw(st.sampled_from(EDGES))
    window, side = edge.split()
    return windows[window][0 if side == "start" else 1] + draw(st.integers(-300, 300))


def _noise_events(draw: st.DrawFn, windows: dict[str, tuple[float, float]], data_start: float,
                  data_end: float) -> list[Event]:
    """Realities of a healthy system: churn, restarts outside the candidate window, gaps, lazy series."""
    events: list[Event] = []
    anywhere = (data_start + 600, data_end - 600)
    outside = (data_start + 600, windows["candidate"][0] - 600)
    job = st.sampled_from(JOBS)
    for kind, where, chance in (("scale_out", anywhere, 5), ("scale_in", anywhere, 4), ("replacement", outside, 5),
                                ("restart", outside, 7), ("recreated_child", anywhere, 5)):
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 9)) < chance:
                # A restart (length: seconds down) may come with a gap of the same target across the start
                # of the window it happens in; a re-created child's length is its gap.
                edge_gap = float(draw(st.booleans())) if kind == "restart" else 0.0
                length = draw(st.integers(1, 20)) if kind == "restart" else draw(st.integers(20, 600))
                events.append(Event(kind, draw(job), _at(draw, where), float(length), draw(st.integers(0, 9)),
                                    edge_gap))
    if draw(st.integers(0, 9)) < 4:
        # A throughput job restarting inside the baseline, unscraped across the baseline start: its reset
        # counters' first samples in the window come late (Prometheus' increase() extrapolates little).
        events.append(Event("restart", draw(st.sampled_from(("gateway", "worker"))),
                            _at(draw, (windows["baseline"][0] + 1200, windows["baseline"][1] - 600)),
                            float(draw(st.integers(1, 20))), draw(st.integers(0, 9)), 1.0))
    for kind, chance in (("target_gap", 6), ("failed_scrape", 5), ("job_gap", 3), ("global_gap", 2)):
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.integers(0, 9)) < chance:
                length = float(draw(st.integers(1, 40)) * (15 if kind != "failed_scrape" else 5))
                events.append(Event(kind, draw(job), _edge(draw, windows), length, draw(st.integers(0, 9))))
    if draw(st.booleans()):
        events.append(Event("lazy_5xx", "gateway", _at(draw, anywhere)))
    if draw(st.integers(0, 9)) < 4:
        events.append(Event("idle_retry_pair", "worker", value=float(draw(st.integers(1, 50)))))
    if draw(st.integers(0, 9)) < 2:
        deploy = (windows["baseline"][1] + windows["candidate"][0]) / 2
        events.append(Event("retry_born_at_deploy", "worker", deploy))
    if draw(st.integers(0, 9)) < 2:
        events.append(Event("hang_in_baseline", "worker", _at(draw, windows["baseline"], 60), 90.0 + draw(
            st.integers(0, 300)), draw(st.integers(0, 9))))
    for _ in range(draw(st.integers(0, 2))):
        events.append(Event("memory_drift", draw(job), target=draw(st.integers(0, 9)),
                            value=draw(_permille(-50, 60))))
    return events


def _bad_events(draw: st.DrawFn, bad: set[str], windows: dict[str, tuple[float, float]],
                dropped: str) -> list[Event]:
    candidate = windows["candidate"]
    inside = (candidate[0] + 300, candidate[1] - 900)
    job = st.sampled_from(JOBS)
    events = []
    for kind in sorted(bad):
        pick = draw(st.integers(0, 9))
        if kind == "new_retry_error_class":
            events.append(Event(kind, "worker", _at(draw, (candidate[0] + 300, candidate[0] + 2400)),
                                value=float(draw(st.integers(2, 6))), target=pick, bad=True))
        elif kind == "retry_nan_gauge":
            events.append(Event(kind, "worker", _at(draw, inside), float(draw(st.integers(2, 20)) * 60), pick,
                                bad=True))
        elif kind in ("hung_steps", "slow_steps"):
            events.append(Event(kind, "worker", _at(draw, inside), float(draw(st.integers(0, 1))), pick,
                                value=float(draw(st.integers(1, 4))), bad=True))
        elif kind == "component_unobserved":
            length = draw(_permille(15, 50)) * WINDOW
            events.append(Event(kind, draw(job), _at(draw, (candidate[0] + 60, candidate[1] - length - 60)),
                                length, pick, bad=True))
        elif kind == "instance_down":
            events.append(Event(kind, draw(job), _at(draw, inside), float(draw(st.integers(1, 15)) * 60), pick,
                                bad=True))
        elif kind in ("restart_in_candidate", "replacement_in_candidate"):
            events.append(Event(kind, draw(job), _at(draw, inside), float(draw(st.integers(1, 20))), pick,
                                float(draw(st.booleans())), bad=True))
        elif kind == "memory_leak":
            events.append(Event(kind, "worker", _at(draw, (candidate[0] - 1800, candidate[0] + 600)), target=pick,
                                value=draw(_permille(450, 1500)), bad=True))
        else:  # magnitudes only (see _rates)
            events.append(Event(kind, dropped if kind == "throughput_drop" else "", bad=True))
            if kind == "throughput_drop" and draw(st.booleans()):
                # The dropped job also restarted in the baseline, unscraped across the baseline start.
                at = _at(draw, (windows["baseline"][0] + 1200, windows["baseline"][1] - 600))
                events.append(Event("restart", dropped, at, float(draw(st.integers(1, 20))), pick, 1.0))
    return events


# --- Realizing a plan: targets, scrapes and samples ---------------------------------------------------


@dataclass
class Target:
    """One scrape target (job, instance) and the processes behind it."""

    job: str
    name: str
    born: float  # process start of the first incarnation
    died: float = math.inf
    phase: float = 0.0
    restarts: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds down)
    missing: list[tuple[float, float]] = field(default_factory=list)  # no sample at all
    failed: list[tuple[float, float]] = field(default_factory=list)  # up = 0, nothing else
    recreated: list[tuple[str, float, float]] = field(default_factory=list)  # (series key, at, gap)
    memory: float = 300 * MIB
    drift: float = 0.0  # relative memory growth over the candidate window
    drift_from: float = 0.0
    le_go: bool = True
    extra: list[tuple[float, str, float]] = field(default_factory=list)  # (at, child, seconds) slow/hung steps
    nan_gauge: list[tuple[str, float, float]] = field(default_factory=list)  # (pair, start, end)
    new_pair: tuple[float, float, float] | None = None  # (born, attempts weight, success rate)

    def alive(self, t: float) -> bool:
        if not self.born <= t < self.died:
            return False
        return not any(at <= t < at + down for at, down in self.restarts)

    def start_time(self, t: float) -> float:
        """The current process' start (relative seconds) at time t."""
        started = self.born
        for at, down in self.restarts:
            if at + down <= t:
                started = at + down
        return started


@dataclass
class Case:
    """One realized case: its history slice, windows (absolute), description and the oracle's truth."""

    seed: int
    index: int
    plan: Plan
    origin: float  # absolute time of the slice start
    history: History
    realities: list[str]
    truth: dict[str, oracle.Truth] = field(default_factory=dict)
    span: tuple[float, float] = (0.0, 0.0)  # first and last sample

    @property
    def baseline(self) -> oracle.Window:
        return oracle.Window("baseline", self.origin + self.plan.baseline[0], self.origin + self.plan.baseline[1])

    @property
    def candidate(self) -> oracle.Window:
        return oracle.Window("candidate", self.origin + self.plan.candidate[0],
                             self.origin + self.plan.candidate[1])

    @property
    def slice(self) -> tuple[float, float]:
        return self.origin, self.origin + SLICE

    @property
    def healthy(self) -> bool:
        return not self.plan.bad

    def describe(self) -> str:
        """What the case is made of, for a failure message."""
        plan = self.plan
        lines = [
            f"seed {self.seed} (case {self.index}): {'healthy' if self.healthy else 'bad: ' + ', '.join(plan.bad)}",
            f"windows: baseline {_iso(self.baseline.start)}..{_iso(self.baseline.end)}, candidate "
            f"{_iso(self.candidate.start)}..{_iso(self.candidate.end)}",
            "scrape intervals: " + ", ".join(f"{job} {s} s" for job, s in plan.intervals)
            + "; instances at start: " + ", ".join(f"{job} {n}" for job, n in plan.instances)
            + f"; le style {plan.le_style}",
            "rates: " + ", ".join(f"{k}={v:g}" for k, v in plan.rates),
            *(f"- {line}" for line in self.realities),
        ]
        return "\n".join(lines)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def stored(t: float) -> float:
    """`t` rounded to a millisecond that promtool stores exactly (it parses seconds and truncates t*1000)."""
    ms = round(t * 1000)
    while int((ms / 1000) * 1000) != ms:
        ms += 1
    return ms / 1000


class _Builder:
    """Turns a plan into targets (compile) and samples (render)."""

    def __init__(self, plan: Plan, index: int, origin: float) -> None:
        self.plan = plan
        self.index = index
        self.origin = origin
        self.rng = random.Random(plan.noise)
        self.targets: dict[str, list[Target]] = {job: [] for job in JOBS}
        self.realities: list[str] = []
        self.windows = {"baseline": plan.baseline, "candidate": plan.candidate}

    # -- describing times --

    def when(self, t: float) -> str:
        """A relative time as an offset from the nearest window edge ('candidate start +37m12s')."""
        edges = [(f"{w} {side}", bound) for w, span in self.windows.items() for side, bound in zip(
            ("start", "end"), span, strict=True)]
        name, bound = min(edges, key=lambda e: abs(t - e[1]))
        offset = t - bound
        sign = "+" if offset >= 0 else "-"
        minutes, seconds = divmod(abs(round(offset)), 60)
        return f"{name} {sign}{minutes}m{seconds:02d}s"

    def note(self, text: str) -> None:
        self.realities.append(text)

    # -- compile --

    def new_target(self, job: str, born: float) -> Target:
        number = len(self.targets[job])
        octet = JOBS.index(job) + 1
        name = f"10.{20 + self.index % 200}.{octet}.{11 + number}:{PORTS[job]}"
        target = Target(job, name, born, phase=self.rng.uniform(0, self.plan.interval(job)))
        target.memory = self.rng.uniform(120, 800) * MIB
        target.le_go = {"go": True, "python": False}.get(self.plan.le_style, self.rng.random() < 0.5)
        self.targets[job].append(target)
        return target

    def alive(self, job: str, t: float) -> list[Target]:
        return [x for x in self.targets[job] if x.born <= t < x.died]

    def compile(self) -> None:
        plan = self.plan
        for job, count in plan.instances:
            for _ in range(count):
                self.new_target(job, plan.data_start - self.rng.uniform(1, 10) * 86400)
        structural = ("scale_out", "scale_in", "replacement", "restart", "restart_in_candidate",
                      "replacement_in_candidate")
        busy: dict[str, list[float]] = {job: [] for job in JOBS}
        for event in sorted(plan.events, key=lambda e: (e.at, e.kind)):
            if event.kind in structural:
                # Keep churn of one job 10 minutes apart, so a scale-in and a scale-out never look like a
                # replacement by accident.
                if any(abs(event.at - other) < 600 for other in busy[event.job]):
                    continue
                if self.structural(event):
                    busy[event.job].append(event.at)
        for event in plan.events:
            if event.kind not in structural:
                self.other(event)

    def structural(self, event: Event) -> bool:
        job, t = event.job, event.at
        interval = self.plan.interval(job)
        alive = self.alive(job, t)
        candidate = self.plan.candidate
        if event.kind == "scale_out":
            target = self.new_target(job, t)
            self.note(f"{job}: scale-out, {target.name} starts at {self.when(t)}")
            return True
        if not alive:
            return False
        target = alive[event.target % len(alive)]
        if event.kind == "scale_in":
            if len(alive) < 2:
                return False
            target.died = t
            self.note(f"{job}: scale-in, {target.name} ends at {self.when(t)}")
            return True
        if event.kind in ("replacement", "replacement_in_candidate"):
            if event.kind == "replacement" and t > candidate[0] - 3 * interval - 600:
                return False
            delta = self.rng.uniform(-1.0, 1.5) * interval
            target.died = t
            successor = self.new_target(job, t + delta)
            self.note(f"{job}: rolling replacement, {target.name} ends at {self.when(t)} and {successor.name} "
                      f"starts {delta:+.1f} s later" + (" [bad]" if event.bad else ""))
            return True
        down = min(event.length, 30.0)
        target.restarts.append((t, down))
        self.note(f"{job}: restart of {target.name} at {self.when(t)}, {down:.0f} s down"
                  + (" [bad]" if event.bad else ""))
        starts = [w[0] for w in self.windows.values() if w[0] < t < w[1]]
        if event.value and starts:
            # The same target unscraped across the start of the window it restarts in: the window's first
            # samples of its reset counters come late, and the sample before the window is early.
            edge = starts[0]
            span = self._harmless((edge - self.rng.uniform(0, 600), edge + self.rng.uniform(0, 900)), interval,
                                  len(alive) > 1)
            target.missing.append(span)
            self.note(f"{job}: no samples of {target.name} from {self.when(span[0])} for {span[1] - span[0]:.0f} s")
        return True

    def _harmless(self, span: tuple[float, float], interval: float, allowed: bool) -> tuple[float, float]:
        """Move a noise gap or failed scrape off the inside of the candidate window (where it would be down
        time), unless `allowed` (it hides one of several instances, or is one failed 5 s scrape)."""
        start, end = self.plan.candidate
        clear = start - 1.3 * interval
        if allowed or span[1] <= clear or span[0] >= end:
            return span
        length = span[1] - span[0]
        if abs(span[0] - start) < abs(span[0] - end):
            return clear - length, clear
        return end, end + length

    def other(self, event: Event) -> None:
        plan = self.plan
        job = event.job
        if event.kind in ("target_gap", "failed_scrape"):
            alive = self.alive(job, event.at)
            if not alive:
                return
            target = alive[event.target % len(alive)]
            span = (event.at, event.at + event.length)
            if event.kind == "failed_scrape":
                single = event.length <= 5 and plan.interval(job) == 5
                span = self._harmless(span, plan.interval(job), single)
                target.failed.append(span)
                self.note(f"{job}: failed scrapes (up=0) of {target.name} from {self.when(span[0])} for "
                          f"{span[1] - span[0]:.0f} s")
            else:
                span = self._harmless(span, plan.interval(job), len(alive) > 1)
                target.missing.append(span)
                self.note(f"{job}: no samples of {target.name} from {self.when(span[0])} for "
                          f"{span[1] - span[0]:.0f} s")
        elif event.kind in ("job_gap", "global_gap", "component_unobserved"):
            span = (event.at, event.at + event.length)
            if not event.bad:
                slowest = max(INTERVALS) if event.kind == "global_gap" else plan.interval(job)
                span = self._harmless(span, slowest, False)
            jobs = JOBS if event.kind == "global_gap" else (job,)
            for each in jobs:
                for target in self.targets[each]:
                    target.missing.append(span)
            what = "Prometheus saw nothing" if event.kind == "global_gap" else f"{job}: no instance scraped"
            self.note(f"{what} from {self.when(span[0])} for {span[1] - span[0]:.0f} s"
                      + (" [bad]" if event.bad else ""))
        elif event.kind == "instance_down":
            alive = self.alive(job, event.at)
            if alive:
                target = alive[event.target % len(alive)]
                target.failed.append((event.at, event.at + event.length))
                self.note(f"{job}: {target.name} reports up=0 from {self.when(event.at)} for "
                          f"{event.length:.0f} s [bad]")
        elif event.kind == "recreated_child":
            alive = self.alive(job, event.at)
            if alive:
                target = alive[event.target % len(alive)]
                name, labels, _ = self.rng.choice(_COUNTERS[job])
                key = _key(name, labels)
                length = max(event.length, 2.5 * plan.interval(job))
                target.recreated.append((key, event.at, length))
                self.note(f"{job}: {key} of {target.name} removed at {self.when(event.at)} and re-created "
                          f"{length:.0f} s later from 0")
        elif event.kind in ("hung_steps", "slow_steps", "hang_in_baseline"):
            alive = self.alive("worker", event.at)
            if alive:
                target = alive[event.target % len(alive)]
                hung = event.kind != "slow_steps"
                child = "tool_call|timeout" if event.kind == "hung_steps" and event.length else self.rng.choice(
                    ["llm_call|success", "tool_call|success"])
                count = int(event.value) if event.bad else 1
                for n in range(count):
                    seconds = self.rng.uniform(75, 400) if hung else self.rng.uniform(31, 58)
                    target.extra.append((event.at + n * self.rng.uniform(30, 600), child, seconds))
                self.note(f"worker: {count} step(s) {'above 60 s' if hung else 'between 30 and 60 s'} on "
                          f"{target.name} child {child} from {self.when(event.at)}" + (" [bad]" if event.bad else ""))
        elif event.kind == "retry_nan_gauge":
            alive = self.alive("worker", event.at)
            if alive:
                target = alive[event.target % len(alive)]
                pair = self.rng.choice(["RATE_LIMITED|llm_call", "TIMEOUT|tool_call"])
                target.nan_gauge.append((pair, event.at, event.at + event.length))
                self.note(f"worker: worker_retry_success_rate{{{pair}}} of {target.name} NaN from "
                          f"{self.when(event.at)} for {event.length:.0f} s while its attempts grow [bad]")
        elif event.kind == "new_retry_error_class":
            for target in self.alive("worker", event.at):
                target.new_pair = (event.at + self.rng.uniform(0, 60), event.value, self.rng.uniform(0.1, 0.5))
            self.note(f"worker: new retry error class UPSTREAM_5XX|http_request from {self.when(event.at)}, "
                      f"{event.value:g}x the other attempts, low success rate [bad]")
        elif event.kind == "memory_leak":
            alive = [x for x in self.alive("worker", plan.candidate[0]) if x.died > plan.candidate[1]
                     and not any(plan.candidate[0] - 600 <= at <= plan.candidate[1] for at, _ in x.restarts)]
            if alive:
                target = alive[event.target % len(alive)]
                target.drift, target.drift_from = event.value, event.at
                self.note(f"worker: {target.name} leaks memory, +{event.value * 100:.0f} % from "
                          f"{self.when(event.at)} to the candidate end [bad]")
        elif event.kind == "memory_drift":
            alive = self.alive(job, plan.candidate[0])
            if alive:
                target = alive[event.target % len(alive)]
                if not target.drift:
                    target.drift, target.drift_from = event.value, plan.candidate[0] - 1800
                    self.note(f"{job}: {target.name} memory drifts {event.value * 100:+.1f} % over the candidate")
        elif event.kind == "lazy_5xx":
            self.note(f"gateway: the 503 series is created at its first 503, {self.when(event.at)}")
        elif event.kind == "idle_retry_pair":
            self.note("worker: an idle retry pair QUOTA_EXCEEDED|http_request (flat counter, NaN success rate)")
        elif event.kind == "retry_born_at_deploy":
            self.note(f"worker: retry metrics first exported at the deploy, {self.when(event.at)}")
        elif event.kind.endswith("_errors") or event.kind in ("gateway_5xx", "throughput_drop", "wasted_retries",
                                                              "retry_success_low", "retry_below_baseline"):
            self.note(f"{event.kind} {event.job} [bad] (magnitudes in rates)".replace("  ", " "))

    # -- render --

    def render(self) -> History:
        history = History()
        for job in JOBS:
            for target in self.targets[job]:
                self.render_target(history, target)
        return history

    def event(self, kind: str) -> Event | None:
        return next((e for e in self.plan.events if e.kind == kind), None)

    def render_target(self, history: History, target: Target) -> None:
        plan, rng = self.plan, self.rng
        job = target.job
        interval = float(plan.interval(job))
        first = max(plan.data_start, target.born + rng.uniform(1, 6))
        last = min(plan.data_end, target.died)
        low = math.ceil((first - target.phase) / interval)
        high = math.floor((last - target.phase) / interval) + 1
        ticks: list[float] = []
        for n in range(low, high + 1):
            t = target.phase + n * interval + rng.uniform(-0.1, 0.1) * interval
            if first <= t < last and (not ticks or t > ticks[-1] + 0.01):
                ticks.append(t)
        if not ticks:
            return
        later = [t > plan.baseline[1] for t in ticks]  # after the baseline: the wave's rates apply
        incarnation = [target.start_time(t) for t in ticks]
        # Work done by this process since its previous tick (or its start): the job's load shared by the
        # instances alive at the time.
        load = {"gateway": "gateway_rps", "worker": "worker_rps", "router": "router_rps"}[job]
        factor = {"gateway": "gateway_throughput", "worker": "worker_throughput"}.get(job)
        work: list[float] = []
        previous = -math.inf
        for t, late, started in zip(ticks, later, incarnation, strict=True):
            if target.alive(t):
                live = sum(1 for x in self.targets[job] if x.alive(t)) or 1
                rate = plan.rate(load) * (plan.rate(factor) if factor and late else 1.0)
                work.append((t - max(previous, started)) * rate / live * rng.uniform(0.9, 1.1))
            else:
                work.append(0.0)
            previous = t
        state: list[str] = []
        for t in ticks:
            if any(a <= t < b for a, b in target.missing):
                state.append("")
            elif any(a <= t < b for a, b in target.failed) or not target.alive(t):
                state.append("failed")
            else:
                state.append("ok")
        times = [stored(self.origin + t) for t in ticks]
        labels = {"job": job, "instance": target.name}

        def emit(name: str, extra: dict[str, str], values: Sequence[float | None]) -> None:
            points = [(times[i], v) for i, v in enumerate(values) if state[i] == "ok" and v is not None]
            if points:
                history.add(name, {**labels, **extra}, points)

        history.add("up", labels, [(times[i], 1.0 if s == "ok" else 0.0) for i, s in enumerate(state) if s])
        emit("process_start_time_seconds", {}, [round(self.origin + s, 3) for s in incarnation])
        emit("process_resident_memory_bytes", {}, self.memory(target, ticks, incarnation))
        series = Series(ticks, later, work, incarnation)
        for name, extra, share in _COUNTERS[job]:
            emit(name, extra, self.counter(target, name, extra, share, series))
        if job == "worker":
            self.render_retries(target, series, emit)
            self.render_histogram(target, series, emit)

    def counter(self, target: Target, name: str, extra: dict[str, str], share: Share, series: Series,
                ) -> list[float | None]:
        """Cumulative values (None where the series does not exist) of one counter series."""
        plan, rng = self.plan, self.rng
        key = _key(name, extra)
        lazy = self.event("lazy_5xx")
        born = lazy.at if lazy and extra.get("status_code") == "503" else -math.inf
        gaps = [(at, at + gap) for series_key, at, gap in target.recreated if series_key == key]
        values: list[float | None] = []
        total, current = 0.0, series.incarnation[0]
        for t, late, work, started in series:
            if started != current:
                total, current = 0.0, started
            if t < born or any(a <= t < b for a, b in gaps):
                total = 0.0  # not created yet, or removed: counts again from 0 once (re-)created
                values.append(None)
                continue
            total += work * share(plan, late) * rng.uniform(0.95, 1.05)
            values.append(float(math.floor(total)))
        return values

    def memory(self, target: Target, ticks: list[float], incarnation: list[float]) -> list[float | None]:
        end = self.plan.candidate[1]
        values: list[float | None] = []
        for t, started in zip(ticks, incarnation, strict=True):
            warm = min(1.0, 0.7 + 0.3 * (t - started) / 180.0)  # a new process grows to its working set
            drift = 0.0
            if target.drift and t > target.drift_from:
                drift = target.drift * (t - target.drift_from) / (end - target.drift_from)
            values.append(float(round(target.memory * warm * (1 + drift) * self.rng.uniform(0.99, 1.01))))
        return values

    def render_retries(self, target: Target, series: Series, emit: Emit) -> None:
        plan, rng = self.plan, self.rng
        deploy = self.event("retry_born_at_deploy")
        born = deploy.at if deploy else -math.inf
        pairs = (("RATE_LIMITED", "llm_call", "true", 0.6), ("TIMEOUT", "tool_call", "true", 0.4),
                 ("INVALID_INPUT", "tool_call", "false", 0.0))
        offsets = {code: rng.uniform(-0.02, 0.02) for code, *_ in pairs}
        for code, step, retryable, part in pairs:
            totals: list[float | None] = []
            gauge: list[float | None] = []
            total, current = 0.0, series.incarnation[0]
            for t, late, work, started in series:
                if started != current:
                    total, current = 0.0, started
                if t < born:
                    totals.append(None)
                    gauge.append(None)
                    continue
                wasted = plan.rate("wasted_candidate" if late else "wasted_baseline")
                weight = wasted if retryable == "false" else (1 - wasted) * part
                total += work * plan.rate("retry_share") * weight * rng.uniform(0.9, 1.1)
                totals.append(float(math.floor(total)))
                if retryable == "false":
                    value = plan.rate("wasted_success")
                else:
                    # The retryable pairs' rate that makes the attempt-weighted rate the drawn one.
                    goal = plan.rate("success_candidate" if late else "success_baseline")
                    value = (goal - wasted * plan.rate("wasted_success")) / (1 - wasted)
                value = min(1.0, max(0.0, value + offsets[code] + rng.gauss(0, 0.01)))
                if any(p == f"{code}|{step}" and a <= t < b for p, a, b in target.nan_gauge):
                    value = math.nan
                gauge.append(value)
            emit("worker_retry_attempts_total", {"error_code": code, "step_type": step, "retryable": retryable},
                 totals)
            emit("worker_retry_success_rate", {"error_code": code, "step_type": step}, gauge)
        idle = self.event("idle_retry_pair")
        if idle and target.born < plan.data_start:
            # Used days ago, never since: a flat counter and NaN (0/0) success, until the process restarts.
            restarted = min((at for at, _ in target.restarts), default=math.inf)
            flat = [idle.value if born <= t < restarted else None for t in series.ticks]
            emit("worker_retry_attempts_total",
                 {"error_code": "QUOTA_EXCEEDED", "step_type": "http_request", "retryable": "true"}, flat)
            emit("worker_retry_success_rate", {"error_code": "QUOTA_EXCEEDED", "step_type": "http_request"},
                 [math.nan if v is not None else None for v in flat])
        if target.new_pair:
            since, weight, success = target.new_pair
            totals, gauge = [], []
            total, current = 0.0, series.incarnation[0]
            for t, _, work, started in series:
                if started != current:
                    total, current = 0.0, started
                if t < since:
                    totals.append(None)
                    gauge.append(None)
                    continue
                total += work * plan.rate("retry_share") * weight * rng.uniform(0.9, 1.1)
                totals.append(float(math.floor(total)))
                gauge.append(min(1.0, max(0.0, success + rng.gauss(0, 0.02))))
            emit("worker_retry_attempts_total",
                 {"error_code": "UPSTREAM_5XX", "step_type": "http_request", "retryable": "true"}, totals)
            emit("worker_retry_success_rate", {"error_code": "UPSTREAM_5XX", "step_type": "http_request"}, gauge)

    def render_histogram(self, target: Target, series: Series, emit: Emit) -> None:
        """worker_step_execution_duration_seconds per child: successful executions spread over the buckets
        (all within 10 s), plus the slow or hung steps the plan adds (above 30 s / above 60 s)."""
        plan, rng = self.plan, self.rng
        name = "worker_step_execution_duration_seconds"
        bounds = [*BUCKETS, math.inf]
        le_text = [_le(b, target.le_go) for b in bounds]
        medians = {"llm_call|success": (0.6, rng.uniform(0.8, 3.0)),
                   "tool_call|success": (0.4, rng.uniform(0.05, 0.5))}
        for child, (part, median) in medians.items():
            fractions = [*_fractions(median), 1.0]
            extra = sorted(x for x in target.extra if x[1] == child)
            columns: list[list[float | None]] = [[] for _ in bounds]
            counts: list[float | None] = []
            sums: list[float | None] = []
            total, current = 0.0, series.incarnation[0]
            for t, late, work, started in series:
                if started != current:
                    total, current = 0.0, started
                errors = plan.rate("worker_errors") * (plan.rate("worker_errors_factor") if late else 1.0)
                total += work * part * (1 - errors) * rng.uniform(0.95, 1.05)
                mine = [seconds for at, _, seconds in extra if started < at <= t]
                for column, bound, fraction in zip(columns, bounds, fractions, strict=True):
                    column.append(float(math.floor(total * fraction) + sum(1 for s in mine if s <= bound)))
                counts.append(float(math.floor(total) + len(mine)))
                sums.append(round(total * median * 1.3 + sum(mine), 3))
            step, status = child.split("|")
            for column, le in zip(columns, le_text, strict=True):
                emit(f"{name}_bucket", {"step_type": step, "execution_status": status, "le": le}, column)
            emit(f"{name}_count", {"step_type": step, "execution_status": status}, counts)
            emit(f"{name}_sum", {"step_type": step, "execution_status": status}, sums)
        hung = sorted(x for x in target.extra if x[1] == "tool_call|timeout")
        if hung:
            # A child the application creates at its first observation (a hung step on a new label value).
            columns = [[] for _ in bounds]
            counts, sums = [], []
            for t, _, _, started in series:
                mine = [seconds for at, _, seconds in hung if started < at <= t]
                for column, bound in zip(columns, bounds, strict=True):
                    column.append(float(sum(1 for s in mine if s <= bound)) if mine else None)
                counts.append(float(len(mine)) if mine else None)
                sums.append(round(sum(mine), 3) if mine else None)
            for column, le in zip(columns, le_text, strict=True):
                emit(f"{name}_bucket", {"step_type": "tool_call", "execution_status": "timeout", "le": le}, column)
            emit(f"{name}_count", {"step_type": "tool_call", "execution_status": "timeout"}, counts)
            emit(f"{name}_sum", {"step_type": "tool_call", "execution_status": "timeout"}, sums)


@dataclass(frozen=True)
class Series:
    """Per tick of one target: time, after the baseline or not, work done since the previous tick, and the
    start of the process at that time."""

    ticks: list[float]
    later: list[bool]
    work: list[float]
    incarnation: list[float]

    def __iter__(self) -> Iterator[tuple[float, bool, float, float]]:
        return zip(self.ticks, self.later, self.work, self.incarnation, strict=True)


Emit = Callable[[str, dict[str, str], Sequence[float | None]], None]
# A counter series' share of its job's work; it may differ after the baseline (the wave's magnitudes).
Share = Callable[[Plan, bool], float]


def _le(bound: float, go: bool) -> str:
    """A bucket bound as Go ("60", "0.5", "+Inf") or Python's client ("60.0") writes it."""
    if math.isinf(bound):
        return "+Inf"
    text = repr(float(bound))
    return text.removesuffix(".0") if go else text


def _fractions(median: float) -> list[float]:
    """Cumulative share of observations per finite bucket: log-normal around `median`, all within 10 s."""

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf(math.log(x / median) / (0.8 * math.sqrt(2))))

    top = cdf(10.0)
    return [min(1.0, cdf(b) / top) if b < 10 else 1.0 for b in BUCKETS]


def _error_share(plan: Plan, kind: str, later: bool) -> float:
    return plan.rate(kind) * (plan.rate(f"{kind}_factor") if later else 1.0)


def _gateway(code: str, part: float) -> Share:
    def share(plan: Plan, later: bool) -> float:
        errors = _error_share(plan, "gateway_5xx", later)
        if code.startswith("5"):
            return errors * part
        if code in ("404", "429"):
            return part
        return (1 - errors - 0.03) * part

    return share


def _worker(status: str, part: float) -> Share:
    def share(plan: Plan, later: bool) -> float:
        errors = _error_share(plan, "worker_errors", later)
        return (errors if status != "success" else 1 - errors) * part

    return share


def _errors(kind: str, part: float) -> Share:
    return lambda plan, later: _error_share(plan, kind, later) * part


def _fixed(part: float) -> Share:
    return lambda plan, later: part


def _key(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


_REQUESTS = "gateway_http_requests_total"
_STEPS = "worker_step_executions_total"
_STEP_ERRORS = "worker_step_errors_total"
_DECISIONS = "router_decisions_total"

# Counter series per job: (name, labels, share of the job's work).
_COUNTERS: dict[str, list[tuple[str, dict[str, str], Share]]] = {
    "gateway": [
        (_REQUESTS, {"method": "GET", "route": "/v1/runs", "status_code": "200"}, _gateway("200", 0.6)),
        (_REQUESTS, {"method": "POST", "route": "/v1/runs", "status_code": "201"}, _gateway("201", 0.4)),
        (_REQUESTS, {"method": "GET", "route": "/v1/runs/{run_id}", "status_code": "404"}, _gateway("404", 0.02)),
        (_REQUESTS, {"method": "POST", "route": "/v1/runs", "status_code": "429"}, _gateway("429", 0.01)),
        (_REQUESTS, {"method": "POST", "route": "/v1/runs", "status_code": "500"}, _gateway("500", 0.6)),
        (_REQUESTS, {"method": "GET", "route": "/v1/runs", "status_code": "503"}, _gateway("503", 0.4)),
    ],
    "worker": [
        (_STEPS, {"step_type": "llm_call", "execution_status": "success"}, _worker("success", 0.6)),
        (_STEPS, {"step_type": "tool_call", "execution_status": "success"}, _worker("success", 0.4)),
        (_STEPS, {"step_type": "llm_call", "execution_status": "failure"}, _worker("failure", 0.7)),
        (_STEPS, {"step_type": "tool_call", "execution_status": "failure"}, _worker("failure", 0.3)),
        (_STEP_ERRORS, {"step_type": "llm_call", "error_code": "RATE_LIMITED"}, _errors("worker_errors", 0.5)),
        (_STEP_ERRORS, {"step_type": "llm_call", "error_code": "TIMEOUT"}, _errors("worker_errors", 0.2)),
        (_STEP_ERRORS, {"step_type": "tool_call", "error_code": "TIMEOUT"}, _errors("worker_errors", 0.1)),
        (_STEP_ERRORS, {"step_type": "tool_call", "error_code": "INVALID_INPUT"}, _errors("worker_errors", 0.2)),
    ],
    "router": [
        (_DECISIONS, {"policy_id": "default", "provider": "openai", "decision_reason": "lowest_cost"}, _fixed(0.6)),
        (_DECISIONS, {"policy_id": "default", "provider": "anthropic", "decision_reason": "fallback"}, _fixed(0.3)),
        (_DECISIONS, {"policy_id": "premium", "provider": "anthropic", "decision_reason": "policy_match"},
         _fixed(0.1)),
        ("router_errors_total", {"error_code": "PROVIDER_UNAVAILABLE"}, _errors("router_errors", 0.7)),
        ("router_errors_total", {"error_code": "POLICY_NOT_FOUND"}, _errors("router_errors", 0.3)),
    ],
}


# --- Cases ------------------------------------------------------------------------------------------


def origin(now: float, count: int) -> float:
    """T0: a whole hour at least 3 days back, early enough that `count` slices end 3 h before `now`."""
    latest = min(now - 3 * 86400, now - 3 * HOUR - count * SLICE - HOUR)
    return math.floor(latest / HOUR) * HOUR


def realize(plan: Plan, seed: int, index: int, t0: float) -> Case:
    """The case of `plan` in slice `index` (deterministic), with the oracle's truth."""
    start = t0 + index * SLICE
    builder = _Builder(plan, index, start)
    builder.compile()
    history = builder.render()
    case = Case(seed, index, plan, start, history, builder.realities, span=history.time_range())
    case.truth = oracle.evaluate(history.series(), case.baseline, case.candidate)
    return case


def ambiguous(case: Case) -> list[str]:
    """The criteria whose truth lies within oracle.MARGINS of a threshold (the case is then redrawn)."""
    return [t.describe() for t in case.truth.values() if t.margin < 1]


@contextmanager
def _without_local_constants() -> Iterator[None]:
    """Keep hypothesis from mixing literals of the local modules loaded right now into its draws.

    Hypothesis (6.131 and later) draws some values from constants it collects from every local, non-test
    module in sys.modules, so a seed would draw a different case depending on what pytest imported (or on
    an edit to an unrelated module). There is no setting for it: its internal hook is replaced while a
    case is drawn, and left alone on versions without it.
    """
    try:
        from hypothesis.internal.conjecture import providers

        original = providers._get_local_constants
        empty = providers.Constants()
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):
        yield
        return
    cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def generate(seed: int, index: int, t0: float) -> Case:
    """The case of a hypothesis seed: the first drawn plan whose truth keeps every margin."""
    found: list[Case] = []
    calls = [0]

    @hypothesis_seed(seed)
    @settings(max_examples=1, database=None, deadline=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(plans())
    def collect(plan: Plan) -> None:
        calls[0] += 1
        # Hypothesis tries the simplest example first, the same for every seed: skip it.
        assume(calls[0] > 1)
        case = realize(plan, seed, index, t0)
        assume(not ambiguous(case))
        found.append(case)

    with _without_local_constants():
        collect()
    return found[-1]


def draw_plan(seed: int) -> Plan:
    """The first plan a seed draws (what `generate` realizes unless its margins send it on), without
    rendering samples: for scanning seeds and for checking that draws replay."""
    found: list[Plan] = []

    @hypothesis_seed(seed)
    @settings(max_examples=2, database=None, deadline=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(plans())
    def collect(plan: Plan) -> None:
        found.append(plan)

    with _without_local_constants():
        collect()
    return found[1]


def merge(cases: Iterable[Case]) -> History:
    """One History holding every case's series (their slices are disjoint)."""
    merged = History()
    for case in cases:
        for series in case.history.series():
            merged.add(series.name, series.labels, series.points)
    return merged


def check_slices(cases: Sequence[Case]) -> list[str]:
    """Problems with the layout: samples outside a case's slice, overlapping slices, short pre-history."""
    problems = []
    for case in cases:
        low, high = case.slice
        first, last = case.span
        if first < low or last >= high:
            problems.append(f"seed {case.seed}: samples from {first} to {last} outside its slice {low}..{high}")
        if case.baseline.start - first < 2 * HOUR:
            problems.append(f"seed {case.seed}: only {case.baseline.start - first:.0f} s before the baseline")
    spans = sorted(c.slice for c in cases)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            problems.append(f"slices overlap at {start}")
    return problems
