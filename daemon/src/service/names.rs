//! Session names people type: each session's unique name (from its title, else the end of its
//! id) in memory, claimed before a change is committed so two creates cannot take the same
//! one, and the lookup every command's session argument goes through.

use super::Service;
use crate::store::Store;
use agentmux_shared::types::{default_name, slug, valid_name};
use agentmux_shared::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Names {
    // std Mutex: held only to read or claim, never across an await. Sorted, for prefixes.
    by_name: Mutex<BTreeMap<String, String>>,
}

impl Names {
    pub(super) fn load(store: &Store) -> Result<Names> {
        let mut by_name = BTreeMap::new();
        for s in store.sessions("", "", usize::MAX)? {
            by_name.insert(s.name.clone(), s.id.clone());
        }
        Ok(Names {
            by_name: Mutex::new(by_name),
        })
    }

    fn map(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, String>>> {
        self.by_name
            .lock()
            .map_err(|_| Error::internal("session names poisoned"))
    }

    /// Claims a name for `id`: `wanted` exactly when given (taken: already exists), else one
    /// made from `title` (with `-2`, `-3`… when taken), else the end of the id.
    pub(super) fn claim(&self, id: &str, wanted: &str, title: &str) -> Result<String> {
        let mut map = self.map()?;
        let wanted = wanted.trim();
        if !wanted.is_empty() {
            if !valid_name(wanted) {
                return Err(Error::invalid(format!(
                    "name {wanted:?}: use lowercase letters, digits, '.', '_' and '-' \
                     (starting with a letter or digit), at most 40"
                )));
            }
            if map.get(wanted).is_some_and(|owner| owner != id) {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("a session is already named {wanted:?}"),
                ));
            }
            map.insert(wanted.to_string(), id.to_string());
            return Ok(wanted.to_string());
        }
        let base = match slug(title) {
            s if s.is_empty() => default_name(id),
            s => s,
        };
        let mut name = base.clone();
        let mut n = 2;
        while map.get(&name).is_some_and(|owner| owner != id) {
            name = format!("{base}-{n}");
            n += 1;
        }
        map.insert(name.clone(), id.to_string());
        Ok(name)
    }

    /// Gives a name back (the session is gone, renamed, or its change was not committed).
    pub(super) fn release(&self, name: &str, id: &str) {
        if let Ok(mut map) = self.map()
            && map.get(name).is_some_and(|owner| owner == id)
        {
            map.remove(name);
        }
    }

    fn exact(&self, name: &str) -> Result<Option<String>> {
        Ok(self.map()?.get(name).cloned())
    }

    /// Up to two sessions whose name starts with `prefix`: (name, id).
    fn by_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        Ok(self
            .map()?
            .range(prefix.to_string()..)
            .take_while(|(n, _)| n.starts_with(prefix))
            .take(2)
            .map(|(n, id)| (n.clone(), id.clone()))
            .collect())
    }
}

/// Shortest prefixes that resolve: `ses_` and four more characters of an id, three of a name.
const MIN_ID_PREFIX: usize = 8;
const MIN_NAME_PREFIX: usize = 3;

impl Service {
    /// The session a person or a script means: its id, its name, a unique id prefix, or a
    /// unique name prefix, in that order.
    pub(super) fn resolve(&self, q: &str) -> Result<String> {
        let q = q.trim();
        if q.is_empty() {
            return Err(Error::invalid("session id is empty"));
        }
        if self.store().session(q)?.is_some() {
            return Ok(q.to_string());
        }
        // Something shaped like an id is only ever an id (prefix): a session named
        // `ses_…` must not shadow the one the user typed the id of.
        let by_name = !q.starts_with("ses_");
        let names = &self.shared.names;
        if by_name && let Some(id) = names.exact(q)? {
            return Ok(id);
        }
        // Like git's abbreviated commits, a prefix must say enough to mean something: a
        // letter or two would name every session, or one by chance.
        let id_prefix = !by_name && q.chars().count() >= MIN_ID_PREFIX;
        let name_prefix = by_name && q.chars().count() >= MIN_NAME_PREFIX;
        if !id_prefix && !name_prefix {
            return Err(Error::not_found("session", q));
        }
        // (what to show if ambiguous, id)
        let mut found: Vec<(String, String)> = if id_prefix {
            self.store()
                .sessions(q, "", 2)?
                .into_iter()
                .map(|s| (s.id.clone(), s.id))
                .collect()
        } else {
            Vec::new()
        };
        let named = if name_prefix {
            names.by_prefix(q)?
        } else {
            Vec::new()
        };
        for (name, id) in named {
            if !found.iter().any(|(_, have)| *have == id) {
                found.push((name, id));
            }
        }
        match found.as_slice() {
            [(_, id)] => Ok(id.clone()),
            [] => Err(Error::not_found("session", q)),
            many => {
                let which: Vec<&str> = many.iter().map(|(shown, _)| shown.as_str()).collect();
                Err(Error::invalid(format!(
                    "session {q:?} is ambiguous ({}…): give more characters",
                    which.join(", ")
                )))
            }
        }
    }
}
