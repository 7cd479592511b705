"""A bounded local cache, gated by storage commitment (PS3.4 annex J).

When the store grows past its quota, whole studies are removed, least recently viewed first,
until it is under the quota again; but only studies whose every instance a trusted PACS has
committed: a node has told us in a storage commitment report that it took responsibility for
exactly these bytes, so our copy may go. Nothing else is ever removed. When the store cannot get
under the quota that way, the plan says how much it stays over and how many studies are kept
for want of commitment.

What the index keeps for it (schema/004_retention.sql): per study, when a reader last opened it
(`record_view`; never opened: its latest import stands in); per instance and committing node,
the latest commitment answer with the instance's sha256 then (`record_commitment`). A commitment
counts only when it comes from one of the policy's AE titles, says "committed", is for the
bytes the instance has now and is not older than the instance's row (a re-received instance is
a new row, so it is not committed until the PACS commits it again).

The store's size for the cheap check after an import comes from the index's stored sizes
(`studies.size_bytes`), never from walking the store.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from viewer.archive.index import Index, delete_study_rows, now_utc

if TYPE_CHECKING:
    from viewer.archive.archive import Archive
    from viewer.config import Settings

LOGGER = logging.getLogger(__name__)

GB = 1_000_000_000  # `[archive] quota_gb` is in decimal gigabytes, as disks are sold

COMMITTED = "committed"
FAILED = "failed"
KEEP_WITHIN_QUOTA = "within quota"

# one prune at a time in a process: the Storage SCP's associations end on several threads
_PRUNING = threading.Lock()


@dataclass(frozen=True)
class RetentionPolicy:
    """The store's size limit in bytes, and the AE titles whose storage commitment lets a
    study go (empty: nobody's, so nothing is ever removed)."""

    quota_bytes: int
    commit_ae_titles: frozenset[str]

    @classmethod
    def of(cls, quota_gb: float | None, commit_ae_titles: Iterable[str]) -> RetentionPolicy | None:
        """The policy of a config's `[archive] quota_gb` (decimal GB) and the AE titles of its
        commit nodes; None when no quota is set."""
        if quota_gb is None:
            return None
        return cls(int(quota_gb * GB), frozenset(commit_ae_titles))

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy | None:
        """The policy of the config file's `[archive]` table (viewer.config.Settings)."""
        return cls.of(settings.quota_gb, settings.commit_ae_titles())


@dataclass(frozen=True)
class StudyRetention:
    """What pruning knows of one study. `last_used`: when it was last viewed, else when it was
    last imported into (ISO 8601, UTC); the order of removal."""

    study_uid: str
    patient_name: str
    study_date: str
    size: int
    last_viewed: str | None
    last_used: str
    instances: int
    committed: int  # instances committed by one of the policy's nodes
    failed: int  # instances not committed whose latest answer from such a node was a failure
    committed_by: tuple[str, ...]  # AE titles

    @property
    def fully_committed(self) -> bool:
        return self.instances > 0 and self.committed == self.instances


@dataclass(frozen=True)
class Decision:
    """One study of a prune: removed (`remove`) or kept, and why."""

    study: StudyRetention
    remove: bool
    reason: str


@dataclass(frozen=True)
class PruneReport:
    """A prune (or its dry run): sizes in bytes before and after, each study's decision,
    oldest first, and the removals that could not be done (study UID, reason)."""

    quota: int
    used_before: int
    used_after: int
    decisions: tuple[Decision, ...]
    dry_run: bool
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def removed(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.remove)

    @property
    def kept(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if not d.remove)

    @property
    def over(self) -> int:
        """Bytes the store stays over the quota (0 when under it)."""
        return max(0, self.used_after - self.quota)

    @property
    def kept_uncommitted(self) -> int:
        """Studies kept only because not every instance is committed."""
        return sum(1 for d in self.kept if d.reason != KEEP_WITHIN_QUOTA)

    def summary(self) -> str:
        """One line for a person (no patient data)."""
        verb = "would remove" if self.dry_run else "removed"
        freed = sum(d.study.size for d in self.removed)
        line = (f"store {human_size(self.used_before)} of a {human_size(self.quota)} quota: "
                f"{verb} {len(self.removed)} studies ({human_size(freed)})")
        if self.over:
            line += (f"; still {human_size(self.over)} over the quota: {self.kept_uncommitted} "
                     "studies kept because a PACS has not committed them")
        return line


@dataclass(frozen=True)
class QuotaUsage:
    """For a status line: the store's size, the quota (None: no limit), and how much of the
    store no PACS has committed (it can never be pruned), in bytes."""

    used: int
    quota: int | None
    protected: int
    protected_studies: int


# --- recording ---------------------------------------------------------------------------------


def record_view(index: Index, study_uid: str, at: str | None = None) -> bool:
    """Note that a reader opened the study (the reading window, `view`) now, or `at` (ISO
    8601, UTC, as `now_utc`); False when the study is not in the archive."""
    with index.transaction() as cur:
        cur.execute("UPDATE studies SET last_viewed_at = ? WHERE study_uid = ?",
                    (at or now_utc(), study_uid))
        return cur.rowcount > 0


def record_commitment(
    index: Index,
    ae_title: str,
    transaction_uid: str,
    committed: Sequence[str],
    failed: Sequence[tuple[str, str]],
) -> int:
    """Record a storage commitment report from the node `ae_title`: the SOP Instance UIDs it
    committed, and those it failed with their reasons. Each replaces that node's earlier
    answer for the instance and is tied to the instance's current bytes (sha256). Instances
    not in the archive are skipped; returns how many rows were recorded."""
    now = now_utc()
    answers = [(uid, COMMITTED, "") for uid in committed]
    answers += [(uid, FAILED, reason) for uid, reason in failed]
    recorded = 0
    with index.transaction() as cur:
        for uid, status, reason in answers:
            cur.execute(
                """INSERT INTO commitments (instance_ref, ae_title, status, reason, sha256,
                       transaction_uid, recorded_at)
                   SELECT id, ?, ?, ?, sha256, ?, ? FROM instances WHERE sop_instance_uid = ?
                   ON CONFLICT (instance_ref, ae_title) DO UPDATE SET status = excluded.status,
                       reason = excluded.reason, sha256 = excluded.sha256,
                       transaction_uid = excluded.transaction_uid,
                       recorded_at = excluded.recorded_at""",
                (ae_title, status, reason, transaction_uid, now, uid),
            )
            recorded += cur.rowcount
    return recorded


# --- reading -----------------------------------------------------------------------------------


def store_size(index: Index) -> int:
    """Bytes of the stored files, from the index's per-study sizes (no walk of the store)."""
    return int(index.read("SELECT COALESCE(SUM(size_bytes), 0) FROM studies")[0][0])


def _valid(ae_titles: Sequence[str]) -> str:
    """SQL: instance `i` has a commitment that counts (see the module docstring)."""
    marks = ", ".join("?" * len(ae_titles)) or "NULL"
    return f"""EXISTS (SELECT 1 FROM commitments c WHERE c.instance_ref = i.id
                   AND c.status = '{COMMITTED}' AND c.sha256 = i.sha256
                   AND c.recorded_at >= i.imported_at AND c.ae_title IN ({marks}))"""


def _commit_counts(
    index: Index, ae_titles: Iterable[str]
) -> tuple[dict[int, int], dict[int, int], dict[int, set[str]]]:
    """Per study row id: instances committed by a node that counts, instances that such a
    node failed (and none committed), and the AE titles that committed."""
    titles = sorted(ae_titles)
    marks = ", ".join("?" * len(titles)) or "NULL"
    # instance -> [study, committed by a node that counts, failed by one]
    per_instance: dict[int, list[Any]] = {}
    committers: dict[int, set[str]] = {}
    for study_ref, instance_ref, ae_title, status, valid in index.read(
        f"""SELECT se.study_ref, i.id, c.ae_title, c.status,
                   c.status = '{COMMITTED}' AND c.sha256 = i.sha256
                   AND c.recorded_at >= i.imported_at
            FROM commitments c JOIN instances i ON i.id = c.instance_ref
            JOIN series se ON se.id = i.series_ref WHERE c.ae_title IN ({marks})""",
        titles,
    ):
        entry = per_instance.setdefault(instance_ref, [study_ref, False, False])
        if valid:
            entry[1] = True
            committers.setdefault(study_ref, set()).add(ae_title)
        elif status == FAILED:
            entry[2] = True
    committed: dict[int, int] = {}
    failed: dict[int, int] = {}
    for study_ref, ok, bad in per_instance.values():
        if ok:
            committed[study_ref] = committed.get(study_ref, 0) + 1
        elif bad:
            failed[study_ref] = failed.get(study_ref, 0) + 1
    return committed, failed, committers


def studies(index: Index, ae_titles: Iterable[str]) -> list[StudyRetention]:
    """Every study with its commitment state for these AE titles, least recently used first.

    Counted from the commitment rows outwards (only instances that have one), and the
    instance counts from the studies' stored aggregates: the instances are read once, for
    their import times (about 100 ms for 100,000 instances here)."""
    committed, failed, committers = _commit_counts(index, ae_titles)
    imported = dict(index.read(
        """SELECT se.study_ref, MAX(i.imported_at) FROM instances i
           JOIN series se ON se.id = i.series_ref GROUP BY se.study_ref"""
    ))
    found = []
    for ref, uid, name, date, size, viewed, instances in index.read(
        """SELECT st.id, st.study_uid, p.name, st.study_date, st.size_bytes, st.last_viewed_at,
                  st.instance_count
           FROM studies st JOIN patients p ON p.id = st.patient_ref"""
    ):
        found.append(StudyRetention(
            uid, name, date, int(size), viewed, viewed or imported.get(ref) or "",
            int(instances), committed.get(ref, 0), failed.get(ref, 0),
            tuple(sorted(committers.get(ref, ()))),
        ))
    found.sort(key=lambda s: (s.last_used, s.study_uid))
    return found


def usage(
    index: Index, policy: RetentionPolicy | None, ae_titles: Iterable[str] = ()
) -> QuotaUsage:
    """The store's size against the quota, and what missing commitment protects (by the
    policy's AE titles, or `ae_titles` when there is no policy)."""
    titles = policy.commit_ae_titles if policy is not None else ae_titles
    committed, _, _ = _commit_counts(index, titles)
    protected = [
        int(size) for ref, size, instances in index.read(
            "SELECT id, size_bytes, instance_count FROM studies")
        if not (instances and committed.get(ref, 0) == instances)
    ]
    return QuotaUsage(
        store_size(index), policy.quota_bytes if policy is not None else None,
        sum(protected), len(protected),
    )


# --- pruning -----------------------------------------------------------------------------------


def plan(index: Index, policy: RetentionPolicy) -> PruneReport:
    """What a prune would do now (a dry run): least recently used fully committed studies go
    until the store is under the quota; every other study is kept, with its reason."""
    used = before = store_size(index)
    decisions = []
    for study in studies(index, policy.commit_ae_titles):
        if used <= policy.quota_bytes:
            decisions.append(Decision(study, False, KEEP_WITHIN_QUOTA))
        elif study.fully_committed:
            decisions.append(Decision(study, True, "committed by " + ", ".join(study.committed_by)))
            used -= study.size
        else:
            decisions.append(Decision(study, False, _why_kept(study, policy)))
    return PruneReport(policy.quota_bytes, before, used, tuple(decisions), dry_run=True)


def prune(archive: Archive, policy: RetentionPolicy, dry_run: bool = False) -> PruneReport:
    """Bring the store under the quota (see `plan`), removing whole studies: their rows in one
    transaction that first checks the study is still fully committed (an instance may have
    arrived since the plan), then their files, as `delete` does. A crash in between leaves
    files without rows, which `check` reports as orphans."""
    with _PRUNING:
        report = plan(archive.index, policy)
        if dry_run:
            return report
        return carry_out(archive, policy, report)


def enforce_quota(archive: Archive) -> PruneReport | None:
    """After an import, a retrieve or a Storage SCP association: prune when the archive has a
    policy and the store is over its quota (the check costs one indexed sum); None when
    nothing was to do, or another prune is running in this process."""
    policy = archive.retention
    if policy is None or store_size(archive.index) <= policy.quota_bytes:
        return None
    if not _PRUNING.acquire(blocking=False):
        return None
    try:
        report = carry_out(archive, policy, plan(archive.index, policy))
    except (OSError, sqlite3.Error) as exc:
        # the import or reception that called us has succeeded: it must not fail for this
        LOGGER.warning("quota: the prune after an import stopped: %r", exc)
        return None
    finally:
        _PRUNING.release()
    archive.last_prune = report
    LOGGER.info("quota: %s", report.summary())
    if report.over:
        LOGGER.warning("quota: %s", report.summary())
    return report


def carry_out(archive: Archive, policy: RetentionPolicy, planned: PruneReport) -> PruneReport:
    """Remove the studies `planned` removes, each only if it is still fully committed and
    was not opened since the plan (checked in the transaction that deletes its rows); its
    files after the rows. The report says what was done and what stayed, and why."""
    titles = sorted(policy.commit_ae_titles)
    decisions, failed = [], []
    used = planned.used_before
    for decision in planned.decisions:
        if not decision.remove:
            decisions.append(decision)
            continue
        uid = decision.study.study_uid
        with archive.index.transaction() as cur:
            uncommitted = cur.execute(
                f"""SELECT COUNT(*) FROM instances i JOIN series se ON se.id = i.series_ref
                    JOIN studies st ON st.id = se.study_ref
                    WHERE st.study_uid = ? AND NOT {_valid(titles)}""",
                (uid, *titles),
            ).fetchone()[0]
            viewed = cur.execute("SELECT last_viewed_at FROM studies WHERE study_uid = ?",
                                 (uid,)).fetchone()
            opened = viewed is not None and viewed[0] != decision.study.last_viewed
            paths = [] if uncommitted or opened else delete_study_rows(cur, uid)
        if uncommitted:
            failed.append((uid, f"{uncommitted} instances arrived or changed since the plan"))
            decisions.append(Decision(decision.study, False, "changed while pruning"))
            continue
        if opened:  # a reader opened it meanwhile: no longer the least recently viewed
            decisions.append(Decision(decision.study, False, "opened while pruning"))
            continue
        used -= decision.study.size
        problems = []
        for path in paths:
            try:
                archive.store.remove(path)
            except OSError as exc:  # the rows are gone: `check` reports the file as an orphan
                problems.append(f"{path}: {exc.strerror or exc}")
        if problems:
            failed.append((uid, f"{len(problems)} files could not be removed ({problems[0]}); "
                                "`check --repair` finds them"))
        decisions.append(decision)
        LOGGER.debug("quota: removed study %s", uid)
    return PruneReport(planned.quota, planned.used_before, used, tuple(decisions),
                       dry_run=False, failed=tuple(failed))


def _why_kept(study: StudyRetention, policy: RetentionPolicy) -> str:
    if not policy.commit_ae_titles:
        return "not committed: no node's storage commitment counts (configure a node)"
    missing = study.instances - study.committed
    reason = (f"not committed: {missing} of {study.instances} instances have no storage "
              f"commitment from {', '.join(sorted(policy.commit_ae_titles))}")
    if study.failed:
        reason += f" ({study.failed} failed)"
    return reason


def human_size(n: int) -> str:
    """Bytes in decimal units, as `quota_gb` is given."""
    for unit, scale in (("GB", GB), ("MB", 10**6), ("kB", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"
