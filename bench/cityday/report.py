"""P6's route classes: locust's per-route entries added up per class, with p50/p99 and errors.
Imported by the driver too, which must not import locust (it monkey-patches the process)."""

CLASSES = {
    "read": "mini-program reads",
    "payment": "payments",
    "his": "HIS writes",
    "notify": "notifications",
    "stream": "stream opens",
    "frame": "stream frames (HIS event -> subscriber)",
}


#: Entries that only count failures (a lost frame, a payment whose notification was not applied).
OUTCOMES = (": outcome", "(never arrived)")


def classes(stats, retries=0):
    """``{class: {requests, failures, p50_ms, p99_ms, max_ms, routes}}`` and ``errors`` (samples)."""
    from locust.stats import StatsEntry

    out = {}
    for cls in CLASSES:
        total = StatsEntry(stats, cls, "ALL", use_response_times_cache=False)
        routes, outcomes = [], 0
        for (name, _method), entry in stats.entries.items():
            if name.split(":", 1)[0] != cls:
                continue
            if name.endswith(OUTCOMES):  # failures found after an answer: no time of their own
                outcomes += entry.num_failures
                continue
            total.extend(entry)
            routes.append(name)
        out[cls] = {
            "requests": total.num_requests,
            "failures": total.num_failures + outcomes,
            "p50_ms": total.get_response_time_percentile(0.5) if total.num_requests else None,
            "p99_ms": total.get_response_time_percentile(0.99) if total.num_requests else None,
            "max_ms": total.max_response_time if total.num_requests else None,
            "routes": sorted(routes),
        }
    out["errors"] = [
        {"name": e.name, "error": str(e.error)[:200], "count": e.occurrences} for e in stats.errors.values()
    ][:20]
    out["stale_keepalive_retries"] = retries  # this process's (with several locust processes: the master's)
    return out
