"""R19: sensitive items stay private. Which items are sensitive, and how one is shown to a viewer."""

#: What a relative sees of a sensitive item, besides its amount.
PRIVATE = {"name": "隐私项目", "category": "private"}
#: The reason a refund of a sensitive item carries everywhere (the payer's history and messages, and
#: WeChat Pay, which shows it to the payer): the HIS's reason may name the item.
REFUND_REASON = "隐私项目退费"


def is_sensitive(hospital, category, name, flagged=False):
    """Flagged by the HIS, or its category or a fragment of its name on the hospital's sensitive list."""
    terms = hospital.sensitive_terms or ()
    return bool(flagged) or category in terms or any(term in name for term in terms)


def mentions(hospital, detail):
    """Whether a string value of an event's ``detail`` names something on the hospital's sensitive list."""
    terms = hospital.sensitive_terms or ()
    return any(isinstance(v, str) and any(t in v for t in terms) for v in (detail or {}).values())


def shown(data, sensitive, reveal):
    """An item's JSON as a viewer sees it: a relative not shared with sees "隐私项目" (amounts kept),
    and no void reason (the HIS's text may name the item)."""
    if reveal or not sensitive:
        return data
    return data | PRIVATE | ({"void_reason": None} if "void_reason" in data else {})


def refund_reason(sensitive, reason):
    """The reason a refund of an item carries: the HIS's, or REFUND_REASON for a sensitive item."""
    return REFUND_REASON if sensitive else reason


def event_shown(data, sensitive, reveal):
    """A visit event's JSON as a viewer sees it: its detail becomes "隐私项目" for a relative not shared with."""
    return data if reveal or not sensitive else data | {"detail": {"name": PRIVATE["name"]}}
