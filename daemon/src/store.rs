//! The sled store of current state: sessions, messages, API keys, terminals, approvals,
//! install jobs. One tree, keys prefixed by record type, values in protobuf encoding. Only this
//! module knows sled.
//!
//! Writes come only from the `EventLog` writer, after the journal made them durable; each group
//! commit is one atomic write of its records and of how far into the journal the store now is.
//! That position lives in a tree of its own: a group of streamed deltas writes nothing else, and
//! in the main tree each such write would copy the whole leaf around it (a long message
//! included) again, making an answer's cost on disk grow with the square of its length.

use agentmux_proto::v1 as pb;
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::{
    ApiKey, Approval, InstallJob, Message, MessageStatus, Role, Session, Terminal,
};
use agentmux_shared::{Error, ErrorKind, Result};
use prost::Message as _;

/// Bumped when the key layout or an encoding changes incompatibly; `migrate` upgrades older stores.
pub const SCHEMA_VERSION: u32 = 2;

const META_SCHEMA: &[u8] = b"m:schema";
const META_APPLIED: &[u8] = b"m:applied";
const SESSION: u8 = b's';
const MESSAGE: u8 = b'g';
const KEY: u8 = b'k';
const TERMINAL: u8 = b't';
const APPROVAL: u8 = b'a';
const APPROVAL_SESSION: u8 = b'x';
const INSTALL_JOB: u8 = b'j';

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    meta: sled::Tree,
}

/// One group commit's store writes and the journal position they bring the store to.
#[derive(Clone)]
pub struct Batch {
    ops: Option<sled::Batch>,
    applied: crate::journal::Position,
}

pub(crate) fn storage_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("store: {e}"))
}

/// A full disk is not a broken store: it is said as such, and the store is left alone.
fn open_err(e: sled::Error) -> Error {
    match &e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => Error::new(
            ErrorKind::ResourceExhausted,
            format!("store: no space left on the data dir's disk: {e}"),
        ),
        _ => storage_err(e),
    }
}

/// Keeps the newest `keep` stores moved aside before; a start that fails again and again must
/// not fill the disk with copies (the journal holds everything they held).
fn prune_broken(dir: &std::path::Path, keep: usize) {
    let Some(parent) = dir.parent() else { return };
    let mut broken: Vec<std::path::PathBuf> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("store.broken-"))
        })
        .collect();
    // The names end in milliseconds of equal width: name order is age order.
    broken.sort();
    let old = broken.len().saturating_sub(keep);
    for p in broken.into_iter().take(old) {
        match std::fs::remove_dir_all(&p) {
            Ok(()) => tracing::info!(path = %p.display(), "removed an older broken store"),
            Err(e) => {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove an older broken store")
            }
        }
    }
}

fn decode_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("store: corrupt {what}: {e}"))
}

pub use crate::journal::Op;

impl Store {
    pub fn open(dir: &std::path::Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(open_err)?;
        let tree = db.open_tree("v1").map_err(open_err)?;
        let meta = db.open_tree("meta").map_err(open_err)?;
        let store = Store { db, tree, meta };
        store.schema()?;
        Ok(store)
    }

    /// Opens the store, or, when sled cannot open it (a crash or a full disk in the middle of
    /// sled's own writes can leave it so), moves it aside to `store.broken-<ms>` and opens a
    /// fresh one, which the journal redo then rebuilds completely: the journal holds every
    /// state write. A store of a newer schema is refused, never rebuilt.
    pub fn open_or_rebuild(dir: &std::path::Path) -> Result<Store> {
        if let Err(e) = compact::compact_if_bloated(dir) {
            tracing::warn!(error = %e, "cannot compact the store; going on with it as it is");
        }
        let mut tries = 0;
        let e = loop {
            match Store::open(dir) {
                Ok(s) => return Ok(s),
                Err(e) if e.kind != ErrorKind::Internal => return Err(e),
                // sled's flusher may hold the lock a moment after a `Db` of this dir is
                // dropped (compaction opens one): not a broken store.
                Err(e) if e.message.contains("lock") && tries < 40 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => break e,
            }
        };
        prune_broken(dir, 1);
        let aside = dir.with_file_name(format!("store.broken-{}", now_ms()));
        tracing::error!(
            error = %e.message,
            moved_to = %aside.display(),
            "the store cannot be opened: moving it aside and rebuilding it from the journal"
        );
        std::fs::rename(dir, &aside).map_err(|io| {
            storage_err(format!(
                "cannot move {} aside: {io} (after: {})",
                dir.display(),
                e.message
            ))
        })?;
        Store::open(dir)
    }

    /// The stored schema version; a newer one than this build's is refused rather than
    /// corrupted.
    fn schema(&self) -> Result<u32> {
        let found = match self.tree.get(META_SCHEMA).map_err(storage_err)? {
            Some(v) => u32::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| decode_err("schema version", "bad length"))?,
            ),
            None => 0,
        };
        if found > SCHEMA_VERSION {
            return Err(Error::precondition(format!(
                "store schema {found} is newer than this agentmuxd ({SCHEMA_VERSION}): upgrade agentmuxd"
            )));
        }
        Ok(found)
    }

    /// Brings an older store up to `SCHEMA_VERSION`, one step per version. Runs after the
    /// journal's writes were re-applied (they are in the old layout) and before any new one.
    pub fn upgrade(&self) -> Result<()> {
        let found = self.schema()?;
        // Version 0 is a new store, possibly being rebuilt from a journal written by schema 1.
        if found < 2 {
            let n = self.rekey_approvals()?;
            tracing::info!(approvals = n, "store upgraded to schema 2");
        }
        // Older builds kept the position in the main tree; the redo has written it to its own
        // tree by now. (Not a schema change: an older build reading this store finds no
        // position and redoes its whole journal, which is correct, only slower.)
        if self.meta.get(META_APPLIED).map_err(storage_err)?.is_some() {
            self.tree.remove(META_APPLIED).map_err(storage_err)?;
        }
        if found < SCHEMA_VERSION {
            self.tree
                .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                .map_err(storage_err)?;
            self.db.flush().map_err(storage_err)?;
        }
        Ok(())
    }

    pub fn apply(&self, batch: Batch) -> Result<()> {
        use sled::Transactional;
        let pos = batch.applied.encode();
        let Some(ops) = batch.ops else {
            self.meta
                .insert(META_APPLIED, &pos[..])
                .map_err(storage_err)?;
            return Ok(());
        };
        // Both trees in one transaction: the position never gets ahead of the state.
        (&self.tree, &self.meta)
            .transaction(|(tree, meta)| {
                tree.apply_batch(&ops)?;
                meta.insert(META_APPLIED, &pos[..])?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| storage_err(format!("{e:?}")))
    }

    pub fn flush_blocking(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(storage_err)
    }

    /// Where in the journal the state in this store is complete up to.
    pub fn applied(&self) -> Result<crate::journal::Position> {
        let found = match self.meta.get(META_APPLIED).map_err(storage_err)? {
            Some(v) => Some(v),
            // A store of schema 2 or older kept it in the main tree.
            None => self.tree.get(META_APPLIED).map_err(storage_err)?,
        };
        match found {
            Some(v) => crate::journal::Position::decode(&v)
                .ok_or_else(|| decode_err("applied position", "bad length")),
            None => Ok(crate::journal::Position::default()),
        }
    }

    /// A batch of journaled writes plus the journal position they bring the store to.
    pub fn batch(ops: Vec<Op>, applied: crate::journal::Position) -> Batch {
        let ops = (!ops.is_empty()).then(|| {
            let mut b = sled::Batch::default();
            for op in ops {
                match op {
                    Op::Put(k, v) => b.insert(k, v),
                    Op::Del(k) => b.remove(k),
                }
            }
            b
        });
        Batch { ops, applied }
    }

    // ---- sessions

    pub fn session_key(id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + id.len());
        k.push(SESSION);
        k.extend_from_slice(id.as_bytes());
        k
    }

    pub fn put_session(s: &Session) -> Op {
        Op::Put(
            Self::session_key(&s.id),
            pb::Session::from(s.clone()).encode_to_vec(),
        )
    }

    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        match self.tree.get(Self::session_key(id)).map_err(storage_err)? {
            Some(v) => Ok(Some(decode_session(&v)?)),
            None => Ok(None),
        }
    }

    /// Every session's working directory, once each.
    pub fn session_dirs(&self) -> Result<Vec<String>> {
        let mut dirs = std::collections::BTreeSet::new();
        for item in self.tree.scan_prefix([SESSION]) {
            let (_, v) = item.map_err(storage_err)?;
            // Undecodable records are reported by the readers that need them.
            if let Ok(s) = decode_session(&v) {
                dirs.insert(s.cwd);
            }
        }
        Ok(dirs.into_iter().collect())
    }

    /// Sessions whose id starts with `prefix`, in id (creation) order, starting after `after`.
    pub fn sessions(&self, prefix: &str, after: &str, limit: usize) -> Result<Vec<Session>> {
        let start = if after.is_empty() {
            Self::session_key(prefix)
        } else {
            let mut k = Self::session_key(after);
            k.push(0);
            k
        };
        let want = Self::session_key(prefix);
        let mut out = Vec::new();
        for item in self.tree.range(start..) {
            let (k, v) = item.map_err(storage_err)?;
            if !k.starts_with(&want) || out.len() >= limit {
                break;
            }
            out.push(decode_session(&v)?);
        }
        Ok(out)
    }

    pub fn session_count(&self) -> Result<u64> {
        let mut n = 0;
        for item in self.tree.scan_prefix([SESSION]) {
            item.map_err(storage_err)?;
            n += 1;
        }
        Ok(n)
    }

    // ---- messages

    fn message_prefix(session_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(2 + session_id.len() + 8);
        k.push(MESSAGE);
        k.extend_from_slice(session_id.as_bytes());
        k.push(0);
        k
    }

    pub fn message_key(session_id: &str, index: u64) -> Vec<u8> {
        let mut k = Self::message_prefix(session_id);
        k.extend_from_slice(&index.to_be_bytes());
        k
    }

    pub fn put_message(m: &Message) -> Op {
        Op::Put(
            Self::message_key(&m.session_id, m.index),
            pb::Message::from(m.clone()).encode_to_vec(),
        )
    }

    /// Messages of a session with `index >= from`, at most `limit`.
    pub fn messages(&self, session_id: &str, from: u64, limit: usize) -> Result<Vec<Message>> {
        let prefix = Self::message_prefix(session_id);
        let mut out = Vec::new();
        for item in self.tree.range(Self::message_key(session_id, from)..) {
            let (k, v) = item.map_err(storage_err)?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(decode_message(&v)?);
        }
        Ok(out)
    }

    /// The last `limit` messages of a session with `index < before`, oldest first: what a turn
    /// reads, so its cost does not grow with the session.
    pub fn messages_before(
        &self,
        session_id: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let range = Self::message_key(session_id, 0)..Self::message_key(session_id, before);
        let mut out = Vec::new();
        for item in self.tree.range(range).rev().take(limit) {
            let (_, v) = item.map_err(storage_err)?;
            out.push(decode_message(&v)?);
        }
        out.reverse();
        Ok(out)
    }

    /// A session's queued input, oldest first, read from the newest message back: input is
    /// queued in send order and runs in that order, so nothing queued is older than a user
    /// message that is not, and the scan stops there.
    pub fn queued_messages(&self, session_id: &str) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        for item in self
            .tree
            .scan_prefix(Self::message_prefix(session_id))
            .rev()
        {
            let (_, v) = item.map_err(storage_err)?;
            let m = decode_message(&v)?;
            match (m.role, m.status) {
                (_, MessageStatus::Queued) => out.push(m),
                (Role::User, _) => break,
                _ => {}
            }
        }
        out.reverse();
        Ok(out)
    }

    pub fn message_keys(&self, session_id: &str) -> Result<Vec<Vec<u8>>> {
        self.tree
            .scan_prefix(Self::message_prefix(session_id))
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(storage_err))
            .collect()
    }

    // ---- terminals

    pub fn terminal_key(id: &str) -> Vec<u8> {
        let mut k = vec![TERMINAL];
        k.extend_from_slice(id.as_bytes());
        k
    }

    pub fn put_terminal(t: &Terminal) -> Op {
        Op::Put(
            Self::terminal_key(&t.id),
            pb::Terminal::from(t.clone()).encode_to_vec(),
        )
    }

    pub fn terminals(&self) -> Result<Vec<Terminal>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([TERMINAL]) {
            let (_, v) = item.map_err(storage_err)?;
            out.push(
                pb::Terminal::decode(v.as_ref())
                    .map_err(|e| decode_err("terminal", e))?
                    .into(),
            );
        }
        Ok(out)
    }

    // ---- approvals: `a<session>\0<id>`, so they list and go with their session, and
    // `x<id>` → session, so one is found by id alone.

    fn approval_prefix(session_id: &str) -> Vec<u8> {
        let mut k = vec![APPROVAL];
        k.extend_from_slice(session_id.as_bytes());
        k.push(0);
        k
    }

    fn approval_key(session_id: &str, id: &str) -> Vec<u8> {
        let mut k = Self::approval_prefix(session_id);
        k.extend_from_slice(id.as_bytes());
        k
    }

    fn approval_index_key(id: &str) -> Vec<u8> {
        let mut k = vec![APPROVAL_SESSION];
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// The record and its index entry.
    pub fn put_approval(a: &Approval) -> [Op; 2] {
        [
            Op::Put(
                Self::approval_key(&a.session_id, &a.id),
                pb::Approval::from(a.clone()).encode_to_vec(),
            ),
            Op::Put(
                Self::approval_index_key(&a.id),
                a.session_id.as_bytes().to_vec(),
            ),
        ]
    }

    pub fn approval(&self, id: &str) -> Result<Option<Approval>> {
        let Some(session) = self
            .tree
            .get(Self::approval_index_key(id))
            .map_err(storage_err)?
        else {
            return Ok(None);
        };
        let session = String::from_utf8_lossy(&session);
        match self
            .tree
            .get(Self::approval_key(&session, id))
            .map_err(storage_err)?
        {
            Some(v) => Ok(Some(decode_approval(&v)?)),
            None => Ok(None),
        }
    }

    /// A session's approvals (every session's with `""`), oldest first within a session.
    pub fn approvals(&self, session_id: &str) -> Result<Vec<Approval>> {
        let prefix = if session_id.is_empty() {
            vec![APPROVAL]
        } else {
            Self::approval_prefix(session_id)
        };
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix) {
            let (_, v) = item.map_err(storage_err)?;
            out.push(decode_approval(&v)?);
        }
        if session_id.is_empty() {
            // Ids are time-ordered: oldest first across sessions too.
            out.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(out)
    }

    /// Deletes of every approval of a session (a session delete takes them along).
    pub fn approval_deletes(&self, session_id: &str) -> Result<Vec<Op>> {
        let mut ops = Vec::new();
        for a in self.approvals(session_id)? {
            ops.push(Op::Del(Self::approval_key(session_id, &a.id)));
            ops.push(Op::Del(Self::approval_index_key(&a.id)));
        }
        Ok(ops)
    }

    /// Schema 1 kept approvals as `a<id>`: rekey them under their session.
    fn rekey_approvals(&self) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.tree.scan_prefix([APPROVAL]) {
            let (k, v) = item.map_err(storage_err)?;
            if k.contains(&0) {
                continue;
            }
            let a = decode_approval(&v)?;
            batch.remove(k);
            // Replayed from an old journal, the record may be older than the one already under
            // its session, or belong to a session deleted since: keep neither.
            let current = self
                .tree
                .contains_key(Self::approval_key(&a.session_id, &a.id));
            let live = self.tree.contains_key(Self::session_key(&a.session_id));
            if current.map_err(storage_err)? || !live.map_err(storage_err)? {
                continue;
            }
            for op in Self::put_approval(&a) {
                if let Op::Put(k, v) = op {
                    batch.insert(k, v);
                }
            }
            n += 1;
        }
        self.tree.apply_batch(batch).map_err(storage_err)?;
        Ok(n)
    }

    // ---- provider install jobs

    pub fn install_job_key(id: &str) -> Vec<u8> {
        let mut k = vec![INSTALL_JOB];
        k.extend_from_slice(id.as_bytes());
        k
    }

    pub fn put_install_job(j: &InstallJob) -> Op {
        Op::Put(
            Self::install_job_key(&j.id),
            pb::InstallJob::from(j.clone()).encode_to_vec(),
        )
    }

    pub fn install_job(&self, id: &str) -> Result<Option<InstallJob>> {
        match self
            .tree
            .get(Self::install_job_key(id))
            .map_err(storage_err)?
        {
            Some(v) => Ok(Some(
                pb::InstallJob::decode(v.as_ref())
                    .map_err(|e| decode_err("install job", e))?
                    .into(),
            )),
            None => Ok(None),
        }
    }

    /// Every install job, oldest first (ids sort by creation time).
    pub fn install_jobs(&self) -> Result<Vec<InstallJob>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([INSTALL_JOB]) {
            let (_, v) = item.map_err(storage_err)?;
            out.push(
                pb::InstallJob::decode(v.as_ref())
                    .map_err(|e| decode_err("install job", e))?
                    .into(),
            );
        }
        Ok(out)
    }

    // ---- API keys: the SHA-256 of the secret, then the encoded ApiKey

    pub fn key_key(id: &str) -> Vec<u8> {
        let mut k = vec![KEY];
        k.extend_from_slice(id.as_bytes());
        k
    }

    pub fn put_key(key: &ApiKey, hash: &[u8; 32]) -> Op {
        let mut v = hash.to_vec();
        v.extend_from_slice(&pb::ApiKey::from(key.clone()).encode_to_vec());
        Op::Put(Self::key_key(&key.id), v)
    }

    pub fn keys(&self) -> Result<Vec<(ApiKey, [u8; 32])>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([KEY]) {
            let (_, v) = item.map_err(storage_err)?;
            if v.len() < 32 {
                return Err(decode_err("api key", "short record"));
            }
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&v[..32]);
            let key = pb::ApiKey::decode(&v[32..]).map_err(|e| decode_err("api key", e))?;
            out.push((key.into(), hash));
        }
        Ok(out)
    }
}

fn decode_session(v: &[u8]) -> Result<Session> {
    Ok(pb::Session::decode(v)
        .map_err(|e| decode_err("session", e))?
        .into())
}

fn decode_message(v: &[u8]) -> Result<Message> {
    pb::Message::decode(v)
        .map_err(|e| decode_err("message", e))?
        .try_into()
        .map_err(|e| decode_err("message", e))
}

fn decode_approval(v: &[u8]) -> Result<Approval> {
    pb::Approval::decode(v)
        .map_err(|e| decode_err("approval", e))?
        .try_into()
        .map_err(|e| decode_err("approval", e))
}

#[path = "store_compact.rs"]
mod compact;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
