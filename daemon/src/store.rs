//! The sled store: one tree, keys prefixed by record type, values in protobuf encoding.
//!
//! Only this module knows sled. Writes go through `EventLog` (one writer); reads are direct.
//! One tree keeps every group commit a single atomic `Batch`, so a session record and the event
//! that announces it are durable together or not at all.

use agentmux_proto::v1 as pb;
use agentmux_shared::types::{ApiKey, Event, Message, Session};
use agentmux_shared::{Error, Result};
use prost::Message as _;

/// Bumped when the key layout or an encoding changes incompatibly; `migrate` upgrades older stores.
pub const SCHEMA_VERSION: u32 = 1;

const META_SCHEMA: &[u8] = b"m:schema";
const EVENT: u8 = b'e';
const SESSION: u8 = b's';
const MESSAGE: u8 = b'g';
const KEY: u8 = b'k';

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
}

pub(crate) fn storage_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("store: {e}"))
}

fn decode_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("store: corrupt {what}: {e}"))
}

/// A write applied atomically with the events of the same commit.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Del(Vec<u8>),
}

impl Store {
    pub fn open(dir: &std::path::Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(storage_err)?;
        let tree = db.open_tree("v1").map_err(storage_err)?;
        let store = Store { db, tree };
        store.migrate()?;
        Ok(store)
    }

    /// Brings an older store up to `SCHEMA_VERSION`; refuses a newer one rather than corrupt it.
    fn migrate(&self) -> Result<()> {
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
        // Version 0 is an empty store; later versions add steps here, one per version.
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

    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map(|_| ()).map_err(storage_err)
    }

    pub fn flush_blocking(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(storage_err)
    }

    // ---- events

    pub fn event_key(seq: u64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = EVENT;
        k[1..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    pub fn last_seq(&self) -> Result<u64> {
        let mut range = self
            .tree
            .range(Self::event_key(0)..=Self::event_key(u64::MAX));
        match range.next_back() {
            Some(Ok((k, _))) => seq_of(&k),
            Some(Err(e)) => Err(storage_err(e)),
            None => Ok(0),
        }
    }

    /// Events with `after < seq <= upto`, at most `limit` of them, decoded.
    pub fn events(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<pb::Event>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        if after >= upto {
            return Ok(out);
        }
        for item in self
            .tree
            .range(Self::event_key(after + 1)..=Self::event_key(upto))
            .take(limit)
        {
            let (_, v) = item.map_err(storage_err)?;
            out.push(pb::Event::decode(v.as_ref()).map_err(|e| decode_err("event", e))?);
        }
        Ok(out)
    }

    /// Newest-first iterator over stored events, for recovery scans.
    pub fn events_rev(&self) -> impl Iterator<Item = Result<pb::Event>> + '_ {
        self.tree
            .range(Self::event_key(0)..=Self::event_key(u64::MAX))
            .rev()
            .map(|item| {
                let (_, v) = item.map_err(storage_err)?;
                pb::Event::decode(v.as_ref()).map_err(|e| decode_err("event", e))
            })
    }

    pub fn encode_event(e: &Event) -> Vec<u8> {
        pb::Event::from(e.clone()).encode_to_vec()
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

    pub fn message_keys(&self, session_id: &str) -> Result<Vec<Vec<u8>>> {
        self.tree
            .scan_prefix(Self::message_prefix(session_id))
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(storage_err))
            .collect()
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

fn seq_of(k: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = k
        .get(1..9)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| decode_err("event key", "bad length"))?;
    Ok(u64::from_be_bytes(bytes))
}

fn decode_session(v: &[u8]) -> Result<Session> {
    Ok(pb::Session::decode(v)
        .map_err(|e| decode_err("session", e))?
        .into())
}

fn decode_message(v: &[u8]) -> Result<Message> {
    Ok(pb::Message::decode(v)
        .map_err(|e| decode_err("message", e))?
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_keeps_schema_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.last_seq().unwrap(), 0);
            s.tree
                .insert(META_SCHEMA, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            s.flush_blocking().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap();
        assert!(err.message.contains("newer"), "{}", err.message);
    }

    #[test]
    fn sessions_page_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut b = sled::Batch::default();
        for id in ["ses_a1", "ses_a2", "ses_b1"] {
            let sess = Session {
                id: id.into(),
                ..Default::default()
            };
            if let Op::Put(k, v) = Store::put_session(&sess) {
                b.insert(k, v);
            }
        }
        s.apply(b).unwrap();
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
