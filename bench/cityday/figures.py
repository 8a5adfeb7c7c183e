"""P6's figures as the console and bench/RESULTS.md show them."""


def summary(r):
    c = r["classes"]
    parts = [
        "%s p50 %s p99 %s err %d/%d" % (k, _ms(c[k]["p50_ms"]), _ms(c[k]["p99_ms"]), c[k]["failures"], c[k]["requests"])
        for k in ("read", "payment", "his", "notify", "stream", "frame")
    ]
    return "; ".join(parts) + "; locust %.2f cores, servers %.2f cores, machine %.0f%% busy -> %s" % (
        r["locust_cpu_cores"],
        r["servers_cpu_cores"],
        r["machine_busy"] * 100,
        "met" if r["met"] else "MISSED",
    )


def figure(r):
    """P6's cell in bench/RESULTS.md."""
    full, ledger = r["full"], r["ledger"]
    c = full["classes"]
    names = {"read": "reads", "payment": "payments", "his": "HIS writes", "notify": "notifications", "frame": "frames"}
    classes = ", ".join(
        "%s %s/**%s** ms (%d err)" % (n, _ms(c[k]["p50_ms"]), _ms(c[k]["p99_ms"]), c[k]["failures"])
        for k, n in names.items()
    )
    search = ", ".join("%gx %s" % (s["multiple"], "met" if s["met"] else "missed") for s in r["steps"][:-1])
    return (
        "%gx for %d s (%.1f visits/s, ~%.0f streams open, layout %s): p50/p99 %s; stream opens %d err; "
        "largest multiple with every p99 < 300 ms and 0 errors: **%gx** (%s, %d s each); ledger %s (%d bills, "
        "%d imbalanced, %d refunds in flight, %d payments not applied, %d reminders twice of %d sent); "
        "locust %.2f cores, machine %.0f%% busy"
        % (
            full["multiple"],
            full["seconds"],
            full["visits_per_s"],
            full["open_streams_client"],
            r["layout"],
            classes,
            c["stream"]["failures"],
            r["largest_multiple"],
            search or "no search",
            r["steps"][0]["seconds"],
            "**balanced**" if ledger["balanced"] else "**not balanced**",
            ledger["bills"],
            ledger["imbalanced"],
            ledger["refunds_in_flight"],
            ledger["payments_not_applied"],
            ledger["reminders_twice"],
            ledger["reminders_sent"],
            full["locust_cpu_cores"],
            full["machine_busy"] * 100,
        )
    )


def _ms(v):
    return "-" if v is None else "%.0f" % v
