//! The Integration Builder: an integration built, tested and saved in the
//! console. A draft is a spec's text, the one source of truth: each step's
//! form is read from it and writes back only the sections it changed
//! ([`form`], [`text`]); the text is checked by the checker `compiler check`
//! uses, the test and the preview run the interpreter the runtime syncs
//! with ([`trial`]), and saving writes the text into the specs directory
//! ([`save`]), where the runtime offers it at once.
//!
//! Drafts live in this process's memory only, each owned by the console
//! session that opened it, with what was typed for its test (credentials, an
//! OAuth token): never stored, never logged, gone when the session ends or
//! after [`IDLE`] untouched.

pub mod form;
pub mod save;
pub mod text;
pub mod trial;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tib_front::catalog::Catalog;
use tib_front::diag::Diagnostic;

use crate::operate::Error;

/// The drafts one session keeps open; opening another closes its least recently used.
pub const DRAFTS_PER_SESSION: usize = 8;

/// How long a draft and its test credentials outlive their last use.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

/// Where the builder saves specs, and how large one may be.
#[derive(Clone, Debug)]
pub struct SpecsDir {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

/// Where a draft came from, and so where saving it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    New,
    /// A spec of the specs directory, as it was when opened ([`save::version`]).
    File {
        path: PathBuf,
        version: String,
    },
    /// A copy of a compiled-in connector's spec: the compiled connector takes precedence.
    Copy {
        of: String,
    },
}

/// A spec being built, and what its test brought.
pub struct Draft {
    pub id: String,
    /// The console session that opened it: no other session sees it.
    session: String,
    pub text: String,
    pub opened: Opened,
    pub trial: trial::Trial,
    touched: Instant,
    /// When it was last used, in the builder's count of uses: the order of recency, without ties.
    used: u64,
}

/// The drafts of every operator, and where they are saved.
pub struct Builder {
    pub specs: Option<SpecsDir>,
    drafts: Mutex<HashMap<String, Draft>>,
    uses: AtomicU64,
}

impl Builder {
    pub fn new(specs: Option<SpecsDir>) -> Builder {
        Builder { specs, drafts: Mutex::default(), uses: AtomicU64::default() }
    }

    fn drafts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Draft>> {
        self.drafts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new draft of `session`, holding `text`.
    pub fn open(&self, session: &str, text: String, opened: Opened) -> String {
        let id = crate::access::sessions::random_id();
        let mut drafts = self.drafts();
        let now = Instant::now();
        drafts.retain(|_, d| now.duration_since(d.touched) < IDLE);
        // Each holds a test's answer: a session keeps its latest few, not every one it opened.
        let mut own: Vec<(u64, String)> =
            drafts.values().filter(|d| d.session == session).map(|d| (d.used, d.id.clone())).collect();
        own.sort();
        for (_, oldest) in own.iter().take((own.len() + 1).saturating_sub(DRAFTS_PER_SESSION)) {
            drafts.remove(oldest);
        }
        let draft = Draft {
            id: id.clone(),
            session: session.to_owned(),
            text,
            opened,
            trial: Default::default(),
            touched: now,
            used: self.uses.fetch_add(1, Ordering::Relaxed),
        };
        drafts.insert(id.clone(), draft);
        id
    }

    /// A draft of an integration's spec: a spec of the specs directory in
    /// place, a compiled connector's as a copy.
    pub fn open_integration(&self, session: &str, integration: &str) -> Result<String, Error> {
        let found = crate::integrations::all().into_iter().find(|i| i.id == integration);
        let (text, opened) = match found.map(|i| i.origin) {
            Some(crate::integrations::Origin::Interpreted(path)) => {
                let bytes =
                    std::fs::read(&path).map_err(|e| Error::failed(format!("cannot read {}: {e}", path.display())))?;
                let version = save::version(&bytes);
                let text = String::from_utf8(bytes).map_err(|_| Error::invalid("the spec is not UTF-8 text"))?;
                (text, Opened::File { path, version })
            }
            Some(crate::integrations::Origin::Compiled) => {
                let text = tib_connectors::spec(integration)
                    .ok_or_else(|| Error::not_found(format!("no spec of `{integration}` is in this build")))?;
                (text.to_owned(), Opened::Copy { of: integration.to_owned() })
            }
            None => return Err(Error::not_found(format!("no integration is called `{integration}`"))),
        };
        Ok(self.open(session, text, opened))
    }

    /// A draft of `session`, touched; a draft of another session, or one gone idle, is not found.
    pub fn with<T>(&self, session: &str, id: &str, f: impl FnOnce(&mut Draft) -> T) -> Result<T, Error> {
        let mut drafts = self.drafts();
        let now = Instant::now();
        drafts.retain(|_, d| now.duration_since(d.touched) < IDLE);
        match drafts.get_mut(id).filter(|d| d.session == session) {
            Some(draft) => {
                draft.touched = now;
                draft.used = self.uses.fetch_add(1, Ordering::Relaxed);
                Ok(f(draft))
            }
            None => Err(Error::not_found(
                "this draft is gone: drafts end with the session, or after 30 minutes untouched; open the integration again",
            )),
        }
    }

    /// The session and draft whose test waits for the authorization of `state`.
    pub fn awaiting(&self, state: &str) -> Option<(String, String)> {
        let drafts = self.drafts();
        let waiting = drafts.values().find(|d| {
            d.trial.pending.as_ref().is_some_and(|p| crate::access::sessions::same(&p.state, state))
                && !state.is_empty()
        })?;
        Some((waiting.session.clone(), waiting.id.clone()))
    }

    /// Forgets the drafts of a session that ended, and what their tests held.
    pub fn forget_session(&self, session: &str) {
        self.drafts().retain(|_, d| d.session != session);
    }

    /// The custom-field catalog specs are checked with: the one the runtime
    /// loaded the specs directory with last (it looks again when files change),
    /// or the build's.
    pub fn catalog(&self) -> Catalog {
        let loaded = self.specs.as_ref().and_then(|_| crate::integrations::loaded_catalog());
        loaded.unwrap_or_else(crate::integrations::built_catalog)
    }
}

/// What the checker says of a draft's text, as `compiler check` would for a file named as it will be saved.
pub struct Checked {
    pub spec: Option<tib_front::ir::Spec>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Draft {
    /// The draft checked.
    pub fn check(&self, catalog: &Catalog) -> Checked {
        let compiled = tib_front::compile(&self.file_name(), &self.text, catalog);
        Checked { spec: compiled.spec, diagnostics: compiled.diagnostics }
    }

    /// The name its spec file has or will have.
    pub fn file_name(&self) -> String {
        match &self.opened {
            Opened::File { path, .. } => {
                path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            }
            Opened::New | Opened::Copy { .. } => save::file_name(&self.text).unwrap_or_else(|| "new.tib".to_owned()),
        }
    }

    /// Applies a step's form: only the sections whose text it changed are rewritten.
    pub fn apply(&mut self, before: form::Sections, after: form::Sections) -> Result<(), Error> {
        let mut text = self.text.clone();
        for (part, section) in form::changes(before, after) {
            text = text::replace(&text, part, section.as_deref())
                .map_err(|e| Error::invalid(format!("{e}; fix it in the spec text first")))?;
        }
        self.text = text;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_and_what_its_test_typed_end_after_half_an_hour_untouched() {
        let builder = Builder::new(None);
        let id = builder.open("session", "app \"A\"\n".to_owned(), Opened::New);
        builder
            .with("session", &id, |d| d.trial.remember([("api_token".to_owned(), "typed".to_owned())]))
            .expect("open");
        assert!(builder.with("other session", &id, |_| ()).is_err(), "another session's");
        let idle = Instant::now().checked_sub(IDLE + Duration::from_secs(1)).expect("a past instant");
        builder.with("session", &id, |d| d.touched = idle).expect("still open");
        let gone = builder.with("session", &id, |_| ()).expect_err("idle too long");
        assert!(gone.message.contains("30 minutes"), "{}", gone.message);
        assert!(builder.drafts().is_empty(), "and its credentials with it");
    }

    #[test]
    fn a_session_keeps_its_latest_drafts() {
        let builder = Builder::new(None);
        let first = builder.open("session", String::new(), Opened::New);
        let others: Vec<String> =
            (0..DRAFTS_PER_SESSION).map(|_| builder.open("session", String::new(), Opened::New)).collect();
        builder.open("another session", String::new(), Opened::New);
        assert!(builder.with("session", &first, |_| ()).is_err(), "the oldest is closed");
        assert!(others.iter().all(|id| builder.with("session", id, |_| ()).is_ok()));
        assert_eq!(builder.drafts().len(), DRAFTS_PER_SESSION + 1);
    }
}
