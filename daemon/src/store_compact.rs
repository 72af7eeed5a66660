//! Giving back the space of deleted data. sled reuses freed space but never shrinks its
//! files, so a store that once held large sessions stays large after they are deleted. At
//! start, a store much larger than what it holds is copied into a fresh one, which then
//! replaces it. A crash at any step leaves either the old store or the new one complete (and
//! the journal can rebuild either).

use super::{open_err, storage_err};
use agentmux_shared::Result;
use std::path::Path;

/// Below this the copy is not worth a start's time.
const MIN_BYTES: u64 = 32 * 1024 * 1024;
/// On disk over what the records need.
const MAX_RATIO: u64 = 4;

fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => n += disk_bytes(&e.path()),
            Ok(m) => n += m.blocks() * 512,
            Err(_) => {}
        }
    }
    n
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs(3) fills the struct we pass from a valid C string path.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: filled by the successful call above.
    let st = unsafe { st.assume_init() };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

fn live_bytes(db: &sled::Db) -> Result<u64> {
    let mut n = 0u64;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).map_err(storage_err)?;
        for item in tree.iter() {
            let (k, v) = item.map_err(storage_err)?;
            n += (k.len() + v.len()) as u64;
        }
    }
    Ok(n)
}

fn copy(from: &sled::Db, to: &sled::Db) -> Result<()> {
    for name in from.tree_names() {
        let src = from.open_tree(&name).map_err(storage_err)?;
        let dst = to.open_tree(&name).map_err(storage_err)?;
        let mut batch = sled::Batch::default();
        let mut size = 0usize;
        for item in src.iter() {
            let (k, v) = item.map_err(storage_err)?;
            size += k.len() + v.len();
            batch.insert(k, v);
            if size > 8 * 1024 * 1024 {
                dst.apply_batch(std::mem::take(&mut batch))
                    .map_err(storage_err)?;
                size = 0;
            }
        }
        dst.apply_batch(batch).map_err(storage_err)?;
    }
    to.flush().map_err(storage_err)?;
    Ok(())
}

/// Compacts the store in `dir` when it is bloated; says what it did in the log.
pub(super) fn compact_if_bloated(dir: &Path) -> Result<()> {
    let fresh = dir.with_file_name("store.compacting");
    let aside = dir.with_file_name("store.before-compaction");
    // What a crash interrupted: a copy (its source is still in place) or the old store after
    // the swap.
    for leftover in [&fresh, &aside] {
        if leftover.exists() && dir.exists() {
            std::fs::remove_dir_all(leftover).map_err(storage_err)?;
        }
    }
    let on_disk = disk_bytes(dir);
    if on_disk < MIN_BYTES {
        return Ok(());
    }
    let old = sled::Config::new().path(dir).open().map_err(open_err)?;
    let live = live_bytes(&old)?;
    if on_disk < live.saturating_mul(MAX_RATIO).max(MIN_BYTES) {
        return Ok(());
    }
    // The copy needs about what the records take, twice over for sled's own layout.
    let need = live.saturating_mul(2) + 16 * 1024 * 1024;
    if free_bytes(dir).is_some_and(|free| free < need) {
        tracing::warn!(
            on_disk,
            live,
            need,
            "the store is bloated but the disk has no room to compact it"
        );
        return Ok(());
    }
    let copied = sled::Config::new()
        .path(&fresh)
        .open()
        .map_err(open_err)
        .and_then(|new| copy(&old, &new));
    drop(old);
    if let Err(e) = copied {
        // Never leave a half copy taking the space the daemon is about to need.
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e);
    }
    // Two renames: between them there is no `store`, and the next start rebuilds it from
    // the journal, which holds every state write (while the journal is never pruned).
    std::fs::rename(dir, &aside).map_err(storage_err)?;
    std::fs::rename(&fresh, dir).map_err(storage_err)?;
    let after = disk_bytes(dir);
    let _ = std::fs::remove_dir_all(&aside);
    tracing::info!(
        before_bytes = on_disk,
        after_bytes = after,
        live_bytes = live,
        "compacted the store: space of deleted data given back"
    );
    Ok(())
}
