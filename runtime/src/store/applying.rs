//! What applying one staged record does to the stored user of its external
//! id, decided once for both stores: insert it, leave the stored user as it
//! is, or update it (back from deleted, or changed); the history entries that
//! implies; and the tally of a whole apply.

use super::history::{self, Diff, Event};
use super::staging::{self, Baseline, Digest, Record};
use super::{Result, StoreError};

/// A stored user as the apply compares it.
pub struct Stored {
    pub digest: Option<i64>,
    pub deleted: bool,
    /// The run that last wrote it.
    pub run_id: Option<i64>,
    /// In [`staging::FIELDS`] order, as text (`active` as "1" or "0").
    pub fields: Vec<Option<String>>,
}

pub enum Decision {
    /// No user of that id is stored.
    Insert,
    /// Listed twice in this run (the first listing stands), or unchanged.
    Leave,
    Update {
        /// It was stored as deleted: it is back.
        returned: bool,
        diff: Diff,
    },
}

/// What to do with `record` of run `run_id`, given the stored user of its id.
pub fn decide(old: Option<&Stored>, record: &Record<'_>, run_id: i64, baseline: &Baseline) -> Decision {
    match old {
        None => Decision::Insert,
        Some(old) if old.run_id == Some(run_id) => Decision::Leave,
        Some(old) if !old.deleted && old.digest.is_some_and(|d| baseline.is_kept(d as Digest)) => Decision::Leave,
        Some(old) => Decision::Update { returned: old.deleted, diff: history::diff(&old.fields, record) },
    }
}

/// The history entries (event, detail) a decision implies. On an account's
/// first sync every user appears, and none is recorded.
pub fn entries(decision: &Decision, record: &Record<'_>, first_sync: bool) -> Result<Vec<(Event, Option<String>)>> {
    let licenses = |diff: &Diff, lost: bool| {
        let gained = diff.gained.iter().map(|l| (Event::LicenseGained, Some(l.clone())));
        let lost = diff.lost.iter().filter(move |_| lost).map(|l| (Event::LicenseLost, Some(l.clone())));
        gained.chain(lost).collect::<Vec<_>>()
    };
    Ok(match decision {
        Decision::Leave => Vec::new(),
        Decision::Insert if first_sync => Vec::new(),
        Decision::Insert => {
            let held: Vec<String> =
                record.fields[staging::LICENSES].and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
            let mut entries = vec![(Event::Appeared, None)];
            entries.extend(licenses(&Diff { gained: held, ..Diff::default() }, false));
            entries
        }
        // A deleted user holds no license: what it holds now, it gained.
        Decision::Update { returned: true, diff } => {
            let mut entries = vec![(Event::Returned, None)];
            entries.extend(licenses(diff, false));
            entries
        }
        Decision::Update { returned: false, diff } => {
            let mut entries = Vec::new();
            if !diff.fields.is_empty() {
                let detail = serde_json::to_string(&diff.fields).map_err(|e| StoreError::failed(e.to_string()))?;
                entries.push((Event::Changed, Some(detail)));
            }
            entries.extend(licenses(diff, true));
            entries
        }
    })
}

/// What the records of a run did, before the deletions.
#[derive(Debug, Default)]
pub struct Written {
    /// New users and users back from deleted.
    pub added: i64,
    /// Users whose values changed.
    pub updated: i64,
    /// Present users that the run neither kept nor wrote: marked deleted if it applies.
    pub unlisted: i64,
}

/// Counts an apply's decisions into what it wrote.
#[derive(Default)]
pub struct Tally {
    written: Written,
    /// Present users the run wrote again (changed, or stored before digests).
    rewritten_present: i64,
}

impl Tally {
    pub fn count(&mut self, decision: &Decision) {
        match decision {
            Decision::Leave => {}
            Decision::Insert | Decision::Update { returned: true, .. } => self.written.added += 1,
            Decision::Update { returned: false, diff } => {
                self.rewritten_present += 1;
                // Stored before digests, and unchanged: the digest is written, nothing else changed.
                if *diff != Diff::default() {
                    self.written.updated += 1;
                }
            }
        }
    }

    /// Users inserted outright (an account's first sync, where nothing is looked up).
    pub fn inserted(&mut self, count: i64) {
        self.written.added += count;
    }

    pub fn written(self, baseline: &Baseline) -> Written {
        let present = baseline.present() as i64;
        let unlisted = (present - baseline.kept_count() as i64 - self.rewritten_present).max(0);
        Written { unlisted, ..self.written }
    }
}
