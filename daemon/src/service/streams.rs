//! Event streams opened by clients, counted: a key may hold `max_streams_per_key` at once and
//! the daemon `max_streams` in all, so no client can make it hold unbounded replay buffers.

use super::Service;
use agentmux_shared::types::StreamItem;
use agentmux_shared::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Default)]
pub(super) struct Streams {
    // std Mutex: a counter update, never across an await.
    open: Arc<Mutex<Counts>>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_key: HashMap<String, usize>,
}

/// One open stream's place in the counts, given back when the stream ends.
struct Slot {
    open: Arc<Mutex<Counts>>,
    key: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Ok(mut c) = self.open.lock() else {
            return;
        };
        c.total = c.total.saturating_sub(1);
        if let Some(k) = &self.key
            && let Some(n) = c.per_key.get_mut(k)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_key.remove(k);
            }
        }
    }
}

impl Service {
    /// `subscribe` for a client: `key` is the API key it came with (none on the Unix socket).
    /// Refused with `ResourceExhausted` over the limits.
    pub fn open_stream(
        &self,
        after_seq: u64,
        session: Option<String>,
        key: Option<&str>,
    ) -> Result<mpsc::Receiver<StreamItem>> {
        let head = self.shared.log.durable_seq();
        if after_seq > head {
            // A cursor from another data dir or a log that was lost: say so, do not go quiet.
            return Err(Error::invalid(format!(
                "resume point {after_seq} is past the end of the event log ({head}): \
                 resubscribe after {head}, or from 0 to replay everything"
            )));
        }
        let cfg = self.config();
        let d = &cfg.daemon;
        let open = self.shared.streams.open.clone();
        {
            let mut c = open
                .lock()
                .map_err(|_| Error::internal("stream counts poisoned"))?;
            if c.total >= d.max_streams {
                return Err(Error::new(
                    ErrorKind::ResourceExhausted,
                    format!(
                        "the daemon holds {} event streams, its limit: close one first",
                        c.total
                    ),
                ));
            }
            if let Some(k) = key {
                let n = c.per_key.entry(k.to_string()).or_default();
                if *n >= d.max_streams_per_key {
                    return Err(Error::new(
                        ErrorKind::ResourceExhausted,
                        format!(
                            "this API key holds {} event streams, its limit: close one first",
                            d.max_streams_per_key
                        ),
                    ));
                }
                *n += 1;
            }
            c.total += 1;
        }
        let slot = Slot {
            open,
            key: key.map(str::to_string),
        };
        Ok(self
            .shared
            .log
            .subscribe_holding(after_seq, session, Box::new(slot)))
    }

    /// Event streams open now (all clients).
    pub fn open_streams(&self) -> usize {
        self.shared
            .streams
            .open
            .lock()
            .map(|c| c.total)
            .unwrap_or(0)
    }
}
