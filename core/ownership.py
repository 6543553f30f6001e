"""Who may see and who may act on a run or a comparison. Each has an owner (the user who made
it; '' the local user) and a "shared with the team" flag its owner sets:

- the owner and an admin see it and act on it (pause, cancel, resume, add keys, retry, rescore,
  share, delete);
- anyone else sees it only if it is shared, and then read-only;
- nobody else learns that an unshared one exists (the same answer as for no such run).

The actions in runs.py and compare.py check here, so a page that forgot to hide a button still
cannot act on another user's run."""

from __future__ import annotations

from typing import Protocol

from .access import LOCAL_USER, NotAllowed, User
from .compare_store import ComparisonRecord, all_judge_runs, get_comparison, list_comparisons, set_comparison_shared
from .store import RunRecord, RunStore

__all__ = [
    "may_see", "may_act", "check_may_act", "visible_run", "visible_runs", "visible_comparison", "visible_comparisons",
    "share_run", "share_comparison", "clear_cache", "cache_size",
]  # fmt: skip


class Owned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def shared(self) -> bool: ...


def may_see(user: User, item: Owned) -> bool:
    return user.admin or item.owner == user.id or item.shared


def may_act(user: User, item: Owned) -> bool:
    return user.admin or item.owner == user.id


def check_may_act(user: User, item: Owned, kind: str = "run") -> None:
    """NotAllowed unless the user owns the run (or comparison) or is an admin. One who may not
    even see it is told what one is told of a run that does not exist."""
    if may_act(user, item):
        return
    if not may_see(user, item):
        raise NotAllowed(f"There is no {kind} {item.id!r} that you can see.", "not_visible", kind=kind, id=item.id)
    raise NotAllowed(f"This {kind} belongs to {item.owner or 'the local user'}: it is shared with you to look at, not to change.", "not_owner", kind=kind)


def visible_run(store: RunStore, run_id: str | None, user: User = LOCAL_USER, *, counts: bool = False) -> RunRecord | None:
    """The run if this user may see it, else None (whether it exists or not)."""
    record = store.get_run(run_id, counts=counts) if run_id else None
    return record if record is not None and may_see(user, record) else None


def visible_runs(store: RunStore, user: User = LOCAL_USER, limit: int = 200) -> list[RunRecord]:
    """What History lists: the user's own runs and those shared with the team (an admin: all)."""
    return store.list_runs(limit, visible_to=None if user.admin else user.id)


def visible_comparison(store: RunStore, comparison_id: str | None, user: User = LOCAL_USER) -> ComparisonRecord | None:
    record = get_comparison(store, comparison_id) if comparison_id else None
    return record if record is not None and may_see(user, record) else None


def visible_comparisons(store: RunStore, user: User = LOCAL_USER, limit: int = 200) -> list[ComparisonRecord]:
    return list_comparisons(store, limit, visible_to=None if user.admin else user.id)


def share_run(store: RunStore, run_id: str, shared: bool, user: User = LOCAL_USER) -> None:
    """Share a run with the team (or stop): its owner's (or an admin's) choice."""
    record = store.get_run(run_id, counts=False)
    if record is None:
        raise NotAllowed(f"There is no run {run_id!r} that you can see.", "not_visible", kind="run", id=run_id)
    check_may_act(user, record)
    store.set_shared(run_id, shared)


def share_comparison(store: RunStore, comparison_id: str, shared: bool, user: User = LOCAL_USER) -> None:
    """Share a comparison with the team, and its variants' (and its judge's) runs with it: the
    comparison shows their answers, so sharing one shares the other."""
    record = get_comparison(store, comparison_id)
    if record is None:
        raise NotAllowed(f"There is no comparison {comparison_id!r} that you can see.", "not_visible", kind="comparison", id=comparison_id)
    check_may_act(user, record, "comparison")
    set_comparison_shared(store, comparison_id, shared)
    for run_id in [*record.run_ids, *all_judge_runs(store, comparison_id)]:  # its judge's verdicts too
        store.set_shared(run_id, shared)


def clear_cache(store: RunStore, user: User = LOCAL_USER) -> int:
    """Forget the user's cached answers (the local user's: every answer, the folder is theirs);
    returns how many. Results already in runs stay."""
    return store.clear_cache(None if user.local else user.id)


def cache_size(store: RunStore, user: User = LOCAL_USER) -> int:
    return store.cache_size(None if user.local else user.id)
