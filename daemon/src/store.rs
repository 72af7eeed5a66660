//! The sled store of current state: sessions, messages, API keys, terminals, approvals,
//! install jobs. One tree, keys prefixed by record type, values in protobuf encoding. Only this
//! module knows sled.
//!
//! Writes come only from the `EventLog` writer, after the journal made them durable; each group
//! commit is one atomic `Batch` that also records how far into the journal the store is.

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
        let store = Store { db, tree };
        store.schema()?;
        Ok(store)
    }

    /// Opens the store, or, when sled cannot open it (a crash or a full disk in the middle of
    /// sled's own writes can leave it so), moves it aside to `store.broken-<ms>` and opens a
    /// fresh one, which the journal redo then rebuilds completely: the journal holds every
    /// state write. A store of a newer schema is refused, never rebuilt.
    pub fn open_or_rebuild(dir: &std::path::Path) -> Result<Store> {
        let e = match Store::open(dir) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind != ErrorKind::Internal => return Err(e),
            Err(e) => e,
        };
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
        if found < SCHEMA_VERSION {
            self.tree
                .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                .map_err(storage_err)?;
            self.db.flush().map_err(storage_err)?;
        }
        Ok(())
    }

    pub fn apply(&self, batch: sled::Batch) -> Result<()> {
        self.tree.apply_batch(batch).map_err(storage_err)
    }

    pub fn flush_blocking(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(storage_err)
    }

    /// Where in the journal the state in this store is complete up to.
    pub fn applied(&self) -> Result<crate::journal::Position> {
        match self.tree.get(META_APPLIED).map_err(storage_err)? {
            Some(v) => crate::journal::Position::decode(&v)
                .ok_or_else(|| decode_err("applied position", "bad length")),
            None => Ok(crate::journal::Position::default()),
        }
    }

    /// A batch of journaled writes plus the journal position they bring the store to.
    pub fn batch(ops: Vec<Op>, applied: crate::journal::Position) -> sled::Batch {
        let mut b = sled::Batch::default();
        for op in ops {
            match op {
                Op::Put(k, v) => b.insert(k, v),
                Op::Del(k) => b.remove(k),
            }
        }
        b.insert(META_APPLIED, &applied.encode()[..]);
        b
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_keeps_schema_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.applied().unwrap(), crate::journal::Position::default());
            s.tree
                .insert(META_SCHEMA, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            s.flush_blocking().unwrap();
        }
        // sled's background flusher can hold the directory's lock a moment after the drop.
        let t0 = std::time::Instant::now();
        let err = loop {
            let err = Store::open(dir.path()).err().unwrap();
            if err.message.contains("newer") || t0.elapsed() > std::time::Duration::from_secs(5) {
                break err;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(err.message.contains("newer"), "{}", err.message);
    }

    fn approval(session: &str, id: &str) -> Approval {
        Approval {
            id: id.into(),
            session_id: session.into(),
            ..Approval::default()
        }
    }

    #[test]
    fn approvals_live_under_their_session() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let ops = [("ses_b", "apr_1"), ("ses_a", "apr_2"), ("ses_b", "apr_3")]
            .iter()
            .flat_map(|(ses, id)| Store::put_approval(&approval(ses, id)))
            .collect();
        s.apply(Store::batch(ops, Default::default())).unwrap();
        let ids = |v: Vec<Approval>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(s.approvals("").unwrap()), ["apr_1", "apr_2", "apr_3"]);
        assert_eq!(ids(s.approvals("ses_b").unwrap()), ["apr_1", "apr_3"]);
        assert_eq!(s.approval("apr_3").unwrap().unwrap().session_id, "ses_b");
        let dels = s.approval_deletes("ses_b").unwrap();
        s.apply(Store::batch(dels, Default::default())).unwrap();
        assert_eq!(ids(s.approvals("").unwrap()), ["apr_2"]);
        assert!(s.approval("apr_1").unwrap().is_none());
        // Nothing of the deleted session's approvals is left, index included.
        assert_eq!(s.tree.scan_prefix([APPROVAL_SESSION]).count(), 1);
    }

    #[test]
    fn a_schema_1_store_is_rekeyed_on_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.tree.insert(META_SCHEMA, &1u32.to_be_bytes()).unwrap();
        let session = Store::put_session(&Session {
            id: "ses_a".into(),
            ..Session::default()
        });
        s.apply(Store::batch(vec![session], Default::default()))
            .unwrap();
        let old = approval("ses_a", "apr_1");
        // An approval of a session deleted since goes, rather than coming back.
        let mut gone = vec![APPROVAL];
        gone.extend_from_slice(b"apr_0");
        s.tree
            .insert(
                gone,
                pb::Approval::from(approval("ses_gone", "apr_0")).encode_to_vec(),
            )
            .unwrap();
        let mut k = vec![APPROVAL];
        k.extend_from_slice(b"apr_1");
        s.tree
            .insert(k, pb::Approval::from(old.clone()).encode_to_vec())
            .unwrap();
        assert!(
            s.approval("apr_1").unwrap().is_none(),
            "not found by id before"
        );
        s.upgrade().unwrap();
        assert_eq!(s.approval("apr_1").unwrap(), Some(old.clone()));
        assert_eq!(s.approvals("ses_a").unwrap(), vec![old]);
        assert_eq!(s.schema().unwrap(), SCHEMA_VERSION);
        s.upgrade().unwrap();
        assert_eq!(
            s.approvals("").unwrap().len(),
            1,
            "upgrading twice changes nothing"
        );
    }

    #[test]
    fn a_tail_of_messages_reads_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let ops = (0..10)
            .flat_map(|i| {
                ["ses_a", "ses_b"].map(|ses| {
                    Store::put_message(&Message {
                        session_id: ses.into(),
                        index: i,
                        content: format!("{ses}{i}"),
                        ..Message::default()
                    })
                })
            })
            .collect();
        s.apply(Store::batch(ops, Default::default())).unwrap();
        let text = |v: Vec<Message>| v.into_iter().map(|m| m.content).collect::<Vec<_>>();
        assert_eq!(
            text(s.messages_before("ses_a", 7, 3).unwrap()),
            ["ses_a4", "ses_a5", "ses_a6"]
        );
        assert_eq!(
            text(s.messages_before("ses_b", 2, 5).unwrap()),
            ["ses_b0", "ses_b1"]
        );
        assert!(s.messages_before("ses_a", 0, 5).unwrap().is_empty());
        assert!(s.messages_before("ses_c", 10, 5).unwrap().is_empty());
    }

    #[test]
    fn queued_input_is_found_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        use MessageStatus::{Complete, Queued};
        let msgs = [
            (Role::User, Complete, "ran"),
            (Role::User, Queued, "q1"),
            (Role::Assistant, MessageStatus::Streaming, "answer"),
            (Role::User, Queued, "q2"),
        ];
        let ops = msgs
            .iter()
            .enumerate()
            .map(|(i, (role, status, text))| {
                Store::put_message(&Message {
                    session_id: "ses_a".into(),
                    index: i as u64,
                    role: *role,
                    status: *status,
                    content: text.to_string(),
                    ..Message::default()
                })
            })
            .collect();
        s.apply(Store::batch(ops, Default::default())).unwrap();
        let text = |v: Vec<Message>| v.into_iter().map(|m| m.content).collect::<Vec<_>>();
        assert_eq!(text(s.queued_messages("ses_a").unwrap()), ["q1", "q2"]);
        assert!(s.queued_messages("ses_b").unwrap().is_empty());
    }

    #[test]
    fn sessions_page_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let ops = ["ses_a1", "ses_a2", "ses_b1"]
            .iter()
            .map(|id| {
                Store::put_session(&Session {
                    id: id.to_string(),
                    ..Default::default()
                })
            })
            .collect();
        s.apply(Store::batch(ops, Default::default())).unwrap();
        let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.sessions("ses_a", "", 10).unwrap()),
            ["ses_a1", "ses_a2"]
        );
        assert_eq!(
            ids(s.sessions("", "ses_a1", 10).unwrap()),
            ["ses_a2", "ses_b1"]
        );
        assert_eq!(ids(s.sessions("", "", 1).unwrap()), ["ses_a1"]);
    }
}
