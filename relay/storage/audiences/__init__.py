"""All SQL of the custom audience sync, gathered in one namespace (``from relay.storage import
audiences as store``). Each concept lives in its own module, in the order a sync uses them:

- ``tables``: the audience tables;
- ``sql``: the table handles, chunked ``IN`` lists and "insert unless present";
- ``lock``: the run lock and the last run;
- ``history``: the record of every run (the last ones per audience);
- ``staging``: the members a source holds now, and the diff as keyset pages;
- ``state``: the acknowledged state, its destinations and full-sync progress;
- ``api_source``: api-source members;
- ``rule``: the events rule's queries and its scratch set;
- ``erasure``: data-subject erasure and the suppression list.

Statements are portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from relay.storage.audiences.api_source import ApiMember, api_page, api_remove, api_upsert
from relay.storage.audiences.erasure import erase_events, erase_members, suppressed
from relay.storage.audiences.history import (
    KEEP_RUNS,
    MAX_RUNS_PAGE,
    acknowledged_counts,
    recent_runs,
    record_run,
    run_item,
    runs_page,
)
from relay.storage.audiences.lock import acquire, release, renew, sync_rows
from relay.storage.audiences.rule import (
    EventIdentity,
    add_scratch,
    excluded_events,
    included_events,
    scratch_hits,
)
from relay.storage.audiences.sql import (
    Page,
    api_idents,
    api_members,
    insert_ignore,
    payloads,
    runs,
    scratch,
    staging,
    state,
    suppressions_t,
    syncs,
    targets,
)
from relay.storage.audiences.staging import (
    ALL,
    DiffCounts,
    clear_staging,
    diff_counts,
    page_adds,
    page_removes,
    page_staged,
    stage,
    staged_keys,
)
from relay.storage.audiences.state import (
    ack_adds,
    ack_removes,
    bind_target,
    bound_audience_id,
    clear_progress,
    finish,
    replace_state,
    save_progress,
    target,
)

__all__ = [
    "ALL",
    "KEEP_RUNS",
    "MAX_RUNS_PAGE",
    "ApiMember",
    "DiffCounts",
    "EventIdentity",
    "Page",
    "ack_adds",
    "ack_removes",
    "acknowledged_counts",
    "acquire",
    "add_scratch",
    "api_idents",
    "api_members",
    "api_page",
    "api_remove",
    "api_upsert",
    "bind_target",
    "bound_audience_id",
    "clear_progress",
    "clear_staging",
    "diff_counts",
    "erase_events",
    "erase_members",
    "excluded_events",
    "finish",
    "included_events",
    "insert_ignore",
    "page_adds",
    "page_removes",
    "page_staged",
    "payloads",
    "recent_runs",
    "record_run",
    "release",
    "renew",
    "replace_state",
    "run_item",
    "runs",
    "runs_page",
    "save_progress",
    "scratch",
    "scratch_hits",
    "stage",
    "staged_keys",
    "staging",
    "state",
    "suppressed",
    "suppressions_t",
    "sync_rows",
    "syncs",
    "target",
    "targets",
]
