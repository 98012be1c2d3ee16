"""A small closed-loop HTTP load generator: N threads, one keep-alive connection
each, posting JSON as fast as the server answers, for a fixed time after a warm-up.
Each connection is renewed every ``reconnect_every`` requests, as real clients' come
and go: gunicorn keeps a keep-alive connection on the worker that accepted it, so
four connections held for the whole run can all land on one of the two workers and
leave the other idle (measured: half the throughput in one run out of three).
Loopback only. Also reads the CPU time the server (and, if wanted, the database
server) used during the measured window from /proc."""

import http.client
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as fh:
        data = fh.read()
    # comm may contain spaces; the fields after it start past the last ")"
    comm = data[data.index("(") + 1 : data.rindex(")")]
    rest = data[data.rindex(")") + 2 :].split()
    return comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK  # ppid, utime+stime


def _all_stats():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                out[int(name)] = _stat(name)
            except (OSError, ValueError, IndexError):
                pass
    return out


def tree_cpu(root_pid):
    """CPU seconds used so far by root_pid and all its descendants."""
    stats = _all_stats()
    children = {}
    for pid, (_comm, ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in stats:
            total += stats[pid][2]
        stack.extend(children.get(pid, []))
    return total


def machine_busy():
    """CPU seconds all processes of the machine have used (from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def named_cpu(comm):
    """CPU seconds used so far by every live process called ``comm`` (e.g. postgres)."""
    return sum(cpu for c, _ppid, cpu in _all_stats().values() if c == comm)


@dataclass
class _Worker:
    host: str
    port: int
    path: str
    headers: dict
    make_body: object
    expect: int
    stop_at: float
    reconnect_every: int = 0
    samples: list = field(default_factory=list)  # (end time, latency s, ok)
    error: str = ""

    def run(self, index):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        i = 0
        while time.perf_counter() < self.stop_at:
            body = json.dumps(self.make_body(index, i)).encode()
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", self.path, body=body, headers=self.headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.samples.append((time.perf_counter(), 0.0, False))
                self.error = self.error or f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                time.sleep(0.05)
                continue
            t1 = time.perf_counter()
            ok = response.status == self.expect
            if not ok and not self.error:
                self.error = f"HTTP {response.status}: {payload[:300]!r}"
            self.samples.append((t1, t1 - t0, ok))
            if response.will_close or (self.reconnect_every and i % self.reconnect_every == 0):
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.close()


def post_load(
    host,
    port,
    path,
    make_body,
    *,
    headers=None,
    concurrency=4,
    warmup=2.0,
    duration=10.0,
    expect=201,
    reconnect_every=0,
    server_pid=None,
    db_process=None,
):
    """Closed-loop POST load; returns throughput and latency of the measured window."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    start = time.perf_counter()
    window = (start + warmup, start + warmup + duration)
    workers = [
        _Worker(host, port, path, headers, make_body, expect, window[1], reconnect_every)
        for _ in range(concurrency)
    ]
    threads = [
        threading.Thread(target=w.run, args=(n,), daemon=True) for n, w in enumerate(workers)
    ]
    for t in threads:
        t.start()
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    cpu0 = tree_cpu(server_pid) if server_pid else None
    db0 = named_cpu(db_process) if db_process else None
    own0 = sum(os.times()[:2])
    busy0 = machine_busy()
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    cpu1 = tree_cpu(server_pid) if server_pid else None
    db1 = named_cpu(db_process) if db_process else None
    own1 = sum(os.times()[:2])
    busy1 = machine_busy()
    for t in threads:
        t.join(timeout=120)
    samples = [s for w in workers for s in w.samples if window[0] <= s[0] <= window[1]]
    ok = [lat * 1000 for _end, lat, good in samples if good]
    errors = sum(1 for s in samples if not s[2])
    ok_sorted = sorted(ok)

    def pct(q):
        return round(ok_sorted[min(len(ok_sorted) - 1, int(q * len(ok_sorted)))], 2) if ok else None

    result = {
        "requests_ok": len(ok),
        "errors": errors,
        "first_error": next((w.error for w in workers if w.error), ""),
        "duration_s": duration,
        "per_second": round(len(ok) / duration, 1),
        "p50_ms": round(statistics.median(ok), 2) if ok else None,
        "p95_ms": pct(0.95),
        "max_ms": round(max(ok), 2) if ok else None,
        "loadgen_cpu_s": round(own1 - own0, 2),
    }
    # CPU used by everything else on the machine (other people's jobs) during the
    # window, in cores: a busy neighbour lowers throughput.
    others = (busy1 - busy0) - (own1 - own0)
    if cpu0 is not None:
        others -= cpu1 - cpu0
    if db0 is not None:
        others -= db1 - db0
    result["machine_busy_cores"] = round((busy1 - busy0) / duration, 2)
    result["other_processes_cores"] = round(max(0.0, others) / duration, 2)
    if cpu0 is not None and ok:
        result["server_cpu_s"] = round(cpu1 - cpu0, 2)
        result["server_cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / len(ok), 2)
    if db0 is not None and ok:
        result["db_cpu_s"] = round(db1 - db0, 2)
        result["db_cpu_ms_per_request"] = round((db1 - db0) * 1000 / len(ok), 2)
    return result
