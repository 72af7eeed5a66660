//! Giving freed heap back to the OS. glibc keeps what a burst of work freed (a crowd of
//! stalled readers cut off leaves hundreds of MB in its arenas); `malloc_trim` returns it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Trims the heap about a second from now, once for however many calls come in between.
pub fn trim_soon() {
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        SCHEDULED.store(false, Ordering::Release);
        return;
    };
    rt.spawn(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        SCHEDULED.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

#[cfg(target_env = "gnu")]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim() {}
