"""Subscribers: the service every change goes through (service.py) and the CSV file (csvfile.py).

Import names from here: `from digest.subscribers import sign_up, import_csv`.
"""

from digest.subscribers.csvfile import ImportReport, export_csv, import_csv
from digest.subscribers.service import (
    add,
    as_dict,
    canonical_categories,
    change_categories,
    check_status,
    clean_name,
    cleanup_pending,
    confirm,
    describe_categories,
    get,
    get_by_email,
    iter_subscribers,
    mark_bounced,
    parse_categories,
    remove,
    remove_category,
    resubscribe,
    rotate,
    set_categories,
    sign_up,
    unsubscribe,
)

__all__ = [
    "ImportReport", "add", "as_dict", "canonical_categories", "change_categories", "check_status",
    "clean_name", "cleanup_pending", "confirm", "describe_categories", "export_csv", "get",
    "get_by_email", "import_csv", "iter_subscribers", "mark_bounced", "parse_categories", "remove",
    "remove_category", "resubscribe", "rotate", "set_categories", "sign_up", "unsubscribe",
]
