//! API keys for TCP clients: created and revoked over the Unix socket, stored as SHA-256
//! hashes, checked in constant time.

use super::Service;
use crate::store::Store;
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{ApiKey, CreatedKey};
use agentmux_shared::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

const SECRET_PREFIX: &str = "amx_";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const MAX_NAME_CHARS: usize = 64;

/// The in-memory copy of the stored keys, for checking requests without a store read.
pub struct KeyRing {
    // std RwLock: never held across an await.
    keys: RwLock<Vec<(ApiKey, [u8; 32])>>,
    // One token per key that has been used, cancelled when the key is revoked: whatever a
    // request opened with the key (a stream, an attachment, its connection) ends on it.
    grants: Mutex<HashMap<String, CancellationToken>>,
}

/// A verified key, carried by the requests it authorised.
#[derive(Debug, Clone)]
pub struct Grant {
    pub key_id: String,
    /// Cancelled when the key is revoked.
    pub revoked: CancellationToken,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl KeyRing {
    pub fn load(store: &Store) -> Result<KeyRing> {
        Ok(KeyRing {
            keys: RwLock::new(store.keys()?),
            grants: Mutex::new(HashMap::new()),
        })
    }

    /// The valid key matching `secret`, with the token its revocation cancels.
    pub fn verify(&self, secret: &str) -> Option<Grant> {
        let key_id = self.verify_id(secret)?;
        let mut grants = self.grants.lock().ok()?;
        // Checked again under the grants lock: a revocation between the two would otherwise
        // leave a grant that nothing cancels.
        let valid = self
            .keys
            .read()
            .ok()?
            .iter()
            .any(|(k, _)| k.id == key_id && k.revoked_at_ms == 0);
        if !valid {
            return None;
        }
        let revoked = grants.entry(key_id.clone()).or_default().clone();
        Some(Grant { key_id, revoked })
    }

    /// Ends everything opened with the key. The key is already marked revoked, so no new
    /// grant can be made for it after this.
    fn cut(&self, key_id: &str) {
        let token = match self.grants.lock() {
            Ok(mut g) => g.remove(key_id),
            Err(_) => None,
        };
        if let Some(t) = token {
            t.cancel();
        }
    }

    /// The id of the valid key matching `secret`. Every stored hash is compared, in constant
    /// time, so timing says nothing about which key or how much of it matched.
    fn verify_id(&self, secret: &str) -> Option<String> {
        if !secret.starts_with(SECRET_PREFIX) {
            return None;
        }
        let h = hash(secret);
        let keys = self.keys.read().ok()?;
        let mut found = None;
        for (key, stored) in keys.iter() {
            let eq: bool = stored.ct_eq(&h).into();
            if eq && key.revoked_at_ms == 0 {
                found = Some(key.id.clone());
            }
        }
        found
    }

    fn snapshot(&self) -> Result<Vec<(ApiKey, [u8; 32])>> {
        self.keys
            .read()
            .map(|k| k.clone())
            .map_err(|_| Error::internal("key ring poisoned"))
    }

    fn upsert(&self, key: ApiKey, h: [u8; 32]) -> Result<()> {
        let mut keys = self
            .keys
            .write()
            .map_err(|_| Error::internal("key ring poisoned"))?;
        match keys.iter_mut().find(|(k, _)| k.id == key.id) {
            Some(slot) => *slot = (key, h),
            None => keys.push((key, h)),
        }
        Ok(())
    }
}

fn new_secret() -> Result<String> {
    let mut raw = [0u8; 40];
    getrandom::fill(&mut raw).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let mut s = String::from(SECRET_PREFIX);
    // 40 chars of a 62-letter alphabet: ~238 bits; the modulo bias is negligible here.
    s.extend(
        raw.iter()
            .map(|b| SECRET_CHARS[*b as usize % SECRET_CHARS.len()] as char),
    );
    Ok(s)
}

impl Service {
    pub async fn create_key(&self, name: &str) -> Result<CreatedKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(format!(
                "key name must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        let keys = self.shared.keys.snapshot()?;
        if keys
            .iter()
            .any(|(k, _)| k.name == name && k.revoked_at_ms == 0)
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("a valid key named {name:?} exists: revoke it first"),
            ));
        }
        let secret = new_secret()?;
        let key = ApiKey {
            id: new_id("key"),
            name: name.to_string(),
            prefix: secret.chars().take(SECRET_PREFIX.len() + 6).collect(),
            created_at_ms: now_ms(),
            revoked_at_ms: 0,
        };
        let h = hash(&secret);
        self.commit(vec![Store::put_key(&key, &h)], Vec::new())
            .await?;
        self.shared.keys.upsert(key.clone(), h)?;
        Ok(CreatedKey { key, secret })
    }

    pub fn list_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self
            .shared
            .keys
            .snapshot()?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Revokes by id, name or secret prefix. Revoking twice is fine.
    pub async fn revoke_key(&self, which: &str) -> Result<ApiKey> {
        let keys = self.shared.keys.snapshot()?;
        let matches: Vec<_> = keys
            .into_iter()
            .filter(|(k, _)| {
                k.id == which || (k.revoked_at_ms == 0 && (k.name == which || k.prefix == which))
            })
            .collect();
        let (mut key, h) = match matches.len() {
            1 => matches
                .into_iter()
                .next()
                .ok_or_else(|| Error::internal("key vanished"))?,
            0 => return Err(Error::not_found("key", which)),
            _ => {
                return Err(Error::invalid(format!(
                    "{which:?} names several keys: use the id"
                )));
            }
        };
        if key.revoked_at_ms == 0 {
            key.revoked_at_ms = now_ms();
            self.commit(vec![Store::put_key(&key, &h)], Vec::new())
                .await?;
            self.shared.keys.upsert(key.clone(), h)?;
            tracing::info!(key = %key.id, name = %key.name, "key revoked: closing what it opened");
        }
        // Also on a repeat: a grant made in the instant between the two is cut as well.
        self.shared.keys.cut(&key.id);
        Ok(key)
    }
}
