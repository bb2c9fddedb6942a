"""The signing journal's keys: at most one signed message per key, ever (even across crashes).

A replica signs nothing else under a key it already signed under; the journal
record (`outputs.SignedRecord`) makes that survive a restart. The simulator's
durability checker uses the same keys to prove no honest validator sends two
different messages for one slot.
"""

from __future__ import annotations

from bftx.consensus.messages import Body, Commit, NewView, Prepare, PrePrepare, ViewChange

PRE_PREPARE_KEY = 1
PREPARE_KEY = 2
COMMIT_KEY = 3
VIEW_CHANGE_KEY = 5
NEW_VIEW_KEY = 6

JournalKey = tuple[int, int, int]  # (kind, view, seq); seq 0 for view-change messages


def compute_journal_key(body: Body) -> JournalKey | None:
    """The key a signed ``body`` is journaled under; None for messages never journaled."""
    if isinstance(body, PrePrepare):
        return (PRE_PREPARE_KEY, body.view, body.seq)
    if isinstance(body, Prepare):
        return (PREPARE_KEY, body.view, body.seq)
    if isinstance(body, Commit):
        return (COMMIT_KEY, body.view, body.seq)
    if isinstance(body, ViewChange):
        return (VIEW_CHANGE_KEY, body.new_view, 0)
    if isinstance(body, NewView):
        return (NEW_VIEW_KEY, body.view, 0)
    return None
