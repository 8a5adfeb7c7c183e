"""P6's load model (issue 21): a city's outpatient day, the peak hour and what one visit sends.

Every figure of the run is derived here, so the driver, the locustfile and the report agree.
"""

VISITS_PER_DAY = 200_000
PEAK_SHARE = 0.12  # the peak hour carries 12 % of the day
HOSPITALS = 10
INSURANCE_SHARE = 0.10  # payments through medical insurance
DISPUTE_SHARE = 0.02  # visits whose payer disputes an item before paying (R12)
VOID_SHARE = 0.02  # visits of which the HIS voids a paid item afterwards (R12: refunded)
ITEM_BATCHES = 3
EVENTS = ("checked_in", "called", "sample_collected", "report_ready", "dispensed", "visit_finished")
WATCHERS = 2  # the patient and one relative
READS = 3  # of the outstanding list
#: A visit in replayed time: registration to visit_finished. Real visits take ~2 hours; replayed at
#: that length, 2x the peak hour would hold 2 x 13.3 visits/s x 7200 s = 192k streams open, which
#: today's gthread endpoint (a thread per stream) cannot hold on one machine. Compressed to this, the
#: request and frame rates are the real ones and the number of open streams is the figure below.
VISIT_SECONDS = 8.0


def visits_per_second(multiple):
    """Arrivals per second at ``multiple`` x the peak hour."""
    return multiple * VISITS_PER_DAY * PEAK_SHARE / 3600


def open_streams(multiple, visit_seconds=VISIT_SECONDS, tail_seconds=0.0):
    """Streams open at once (Little's law: arrivals x time open). ``tail_seconds``: how long a
    server thread stays with a stream after its client went (until its next heartbeat write fails)."""
    return visits_per_second(multiple) * WATCHERS * (visit_seconds + tail_seconds)


def requests_per_visit(insured):
    """HTTP requests one visit sends, by route class (streams: opened, frames: received)."""
    return {
        "his": 1 + ITEM_BATCHES + len(EVENTS) + VOID_SHARE,
        "read": READS,
        "payment": (2 if insured else 1) + DISPUTE_SHARE,
        "notify": 1,
        "stream": WATCHERS,
        "frame": WATCHERS * len(EVENTS),
    }


def visits_needed(steps):
    """Visits the run's steps ``[(multiple, seconds)]`` start, with room for ramp and drift."""
    return int(sum(visits_per_second(m) * s for m, s in steps) * 1.15) + 200
