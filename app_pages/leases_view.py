"""Where another process runs a run, in the page's language."""

from __future__ import annotations

import core
from app_pages.i18n import t


def where(lease: core.Lease) -> str:
    """'process 4242 on this machine', 'process 7 on app-2', translated."""
    return t("replicas.where_here", pid=lease.pid) if lease.here else t("replicas.where", pid=lease.pid, host=lease.host)
