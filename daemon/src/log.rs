//! The durable event log: one writer task assigns daemon-wide seqs, group-commits each batch to
//! the journal with one fdatasync, applies its state writes to sled, and only then publishes.
//! Subscriptions replay from the journal, then go live.

use crate::journal::{self, Cursor, Journal};
use crate::store::{Op, Store};
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::{Event, EventPayload, StreamItem};
use agentmux_shared::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Largest number of events written by one group commit.
const MAX_GROUP_EVENTS: usize = 16 * 1024;
// A group larger than half the live buffer would make every subscriber lag at once.
/// Events read from the store per replay step.
// Replay starts with small chunks (a reader that never reads holds one until it is cut off)
// and doubles them while the reader keeps up.
const REPLAY_CHUNK_FIRST: usize = 64;
const REPLAY_CHUNK_MAX: usize = 1024;
/// Items buffered between a subscription task and its transport.
const SUBSCRIBER_QUEUE: usize = 128;

#[derive(Clone)]
pub struct NewEvent {
    pub session_id: String,
    pub payload: EventPayload,
}

impl NewEvent {
    pub fn new(session_id: &str, payload: EventPayload) -> NewEvent {
        NewEvent {
            session_id: session_id.to_string(),
            payload,
        }
    }
}

type Ack = oneshot::Sender<Result<Vec<Arc<Event>>>>;

struct Commit {
    ops: Vec<Op>,
    events: Vec<NewEvent>,
    ack: Option<Ack>,
}

#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Commit>,
    store: Store,
    journal: Arc<Journal>,
    durable: AtomicU64,
    bus: broadcast::Sender<Arc<Event>>,
    heartbeat: Duration,
    /// Ends every subscription at shutdown, so streaming connections can close.
    closing: tokio_util::sync::CancellationToken,
}

pub struct LogOptions {
    /// Live events buffered per subscriber before it counts as lagging.
    pub subscriber_buffer: usize,
    pub heartbeat: Duration,
}

impl EventLog {
    /// Opens the journal in `dir`, re-applies to the store what it had not yet made durable,
    /// and starts the writer task. The task ends once every `EventLog` clone is dropped and its
    /// queue is written; the returned handle resolves then.
    pub fn start(
        store: Store,
        dir: &std::path::Path,
        opts: LogOptions,
    ) -> Result<(EventLog, tokio::task::JoinHandle<()>)> {
        let opened = Journal::open(dir)?;
        let journal = opened.journal;
        let last = opened.last_seq;
        let applied = store.applied()?;
        let (ops, end) = journal.redo_since(applied)?;
        if end != applied {
            tracing::info!(ops = ops.len(), "re-applied journaled writes");
            store.apply(Store::batch(ops, end))?;
            store.flush_blocking()?;
        }
        store.upgrade()?;
        let (tx, rx) = mpsc::channel(64 * 1024);
        let (bus, _) = broadcast::channel(opts.subscriber_buffer.max(16));
        let inner = Arc::new(Inner {
            tx,
            store: store.clone(),
            journal: journal.clone(),
            durable: AtomicU64::new(last),
            bus,
            heartbeat: opts.heartbeat,
            closing: tokio_util::sync::CancellationToken::new(),
        });
        let max_group = MAX_GROUP_EVENTS.min((opts.subscriber_buffer / 2).max(1));
        let writer = tokio::spawn(write_loop(
            Arc::downgrade(&inner),
            store,
            journal,
            rx,
            last + 1,
            max_group,
        ));
        Ok((EventLog { inner }, writer))
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.inner.journal
    }

    /// The highest seq that is durable and published.
    pub fn durable_seq(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// Writes `ops` and `events` atomically and returns once they are durable and published.
    pub async fn commit(&self, ops: Vec<Op>, events: Vec<NewEvent>) -> Result<Vec<Arc<Event>>> {
        let (ack, done) = oneshot::channel();
        self.send(Commit {
            ops,
            events,
            ack: Some(ack),
        })
        .await?;
        done.await
            .map_err(|_| Error::unavailable("event log stopped"))?
    }

    /// Queues a write without waiting for durability; order with later commits is kept. Used for
    /// streamed deltas, whose producer must not wait one flush per token.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<()> {
        self.send(Commit {
            ops: Vec::new(),
            events,
            ack: None,
        })
        .await
    }

    async fn send(&self, c: Commit) -> Result<()> {
        self.inner
            .tx
            .send(c)
            .await
            .map_err(|_| Error::unavailable("event log stopped"))
    }

    /// Ends all subscriptions (after they deliver what is already published).
    pub fn close_subscriptions(&self) {
        self.inner.closing.cancel();
    }

    /// Replay of every event after `after` (optionally of one session), then live events, with
    /// heartbeats. The stream ends with `Lagged` when its reader falls too far behind.
    pub fn subscribe(&self, after: u64, session: Option<String>) -> mpsc::Receiver<StreamItem> {
        self.subscribe_holding(after, session, Box::new(()))
    }

    /// `subscribe`, keeping `hold` until the subscription ends.
    pub fn subscribe_holding(
        &self,
        after: u64,
        session: Option<String>,
        hold: Box<dyn Send>,
    ) -> mpsc::Receiver<StreamItem> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let log = self.clone();
        tokio::spawn(async move {
            let _hold = hold;
            if let Err(e) = log.run_subscription(after, session, tx).await {
                tracing::debug!(error = %e, "subscription ended");
            }
            // Many readers leaving at once (a stalled crowd cut off) leave freed heap behind.
            crate::os::memory::trim_soon();
        });
        rx
    }

    async fn run_subscription(
        &self,
        after: u64,
        session: Option<String>,
        tx: mpsc::Sender<StreamItem>,
    ) -> Result<()> {
        let gone = || Error::unavailable("subscriber left");
        let mut last = after;
        // Set when this reader's queue was found full while forwarding live events (a replay
        // fills any queue; live events fill only a reader slower than the writers): a lag after
        // that is the reader's doing.
        let mut reader_full = false;
        let mut heartbeat = tokio::time::interval(self.inner.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Subscribe before reading the durable head: every later event reaches `live`.
            let mut live = self.inner.bus.subscribe();
            let cursor = self.inner.journal.cursor(last);
            self.replay(cursor, &mut last, session.as_deref(), &tx)
                .await?;
            loop {
                tokio::select! {
                    r = live.recv() => match r {
                        Ok(e) => {
                            if e.seq <= last {
                                continue;
                            }
                            last = e.seq;
                            if session.as_deref().is_none_or(|s| s == e.session_id) {
                                reader_full |= tx.capacity() == 0;
                                tx.send(StreamItem::Event(e)).await.map_err(|_| gone())?;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Behind because the reader let its queue fill: it is told to
                            // resubscribe. Behind only because of our own work (a long replay, a
                            // busy runtime): heal from the journal.
                            if reader_full {
                                let _ = tx.send(StreamItem::Lagged { resume_after_seq: last }).await;
                                return Ok(());
                            }
                            break;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                    _ = heartbeat.tick() => {
                        let item = StreamItem::Heartbeat { last_seq: self.durable_seq() };
                        tx.send(item).await.map_err(|_| gone())?;
                    }
                    _ = tx.closed() => return Ok(()),
                    _ = self.inner.closing.cancelled() => return Ok(()),
                }
            }
        }
    }

    async fn replay(
        &self,
        mut cursor: Cursor,
        last: &mut u64,
        session: Option<&str>,
        tx: &mpsc::Sender<StreamItem>,
    ) -> Result<()> {
        let mut size = REPLAY_CHUNK_FIRST;
        loop {
            let head = self.durable_seq();
            if *last >= head {
                return Ok(());
            }
            if tx.capacity() > SUBSCRIBER_QUEUE / 2 {
                size = (size * 2).min(REPLAY_CHUNK_MAX);
            }
            // File reads block: keep them off the runtime's worker threads.
            let (c, chunk) = tokio::task::spawn_blocking(move || {
                let chunk = cursor.next_batch(head, size);
                (cursor, chunk)
            })
            .await
            .map_err(|e| Error::internal(format!("replay reader: {e}")))?;
            cursor = c;
            let chunk = chunk?;
            if chunk.is_empty() {
                return Ok(());
            }
            for pe in chunk {
                *last = pe.seq;
                if session.is_some_and(|s| s != pe.session_id) {
                    continue;
                }
                // One record this build cannot read must not end every replay through it.
                let e = match Event::try_from(pe) {
                    Ok(e) => e,
                    Err(err) => {
                        tracing::warn!(error = %err, seq = *last, "skipping an unreadable event in replay");
                        continue;
                    }
                };
                tx.send(StreamItem::Event(Arc::new(e)))
                    .await
                    .map_err(|_| Error::unavailable("subscriber left"))?;
            }
        }
    }
}

async fn write_loop(
    inner: std::sync::Weak<Inner>,
    store: Store,
    journal: Arc<Journal>,
    mut rx: mpsc::Receiver<Commit>,
    mut next_seq: u64,
    max_group: usize,
) {
    let mut pending: Vec<Commit> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut n_events = first.events.len();
        pending.push(first);
        while n_events < max_group {
            match rx.try_recv() {
                Ok(c) => {
                    n_events += c.events.len();
                    pending.push(c);
                }
                Err(_) => break,
            }
        }
        let mut buf = Vec::with_capacity(n_events * 128);
        let mut ops_all: Vec<Op> = Vec::new();
        let mut written: Vec<(Option<Ack>, Vec<Arc<Event>>)> = Vec::with_capacity(pending.len());
        let ts_ms = now_ms();
        let first_seq = next_seq;
        for c in pending.drain(..) {
            // A commit is all-or-nothing: encode it aside and refuse it whole if a record of
            // it is over the journal's limit.
            let mut part = Vec::new();
            if !c.ops.is_empty() && !journal::encode_ops(&mut part, next_seq, &c.ops) {
                refuse(c.ack);
                continue;
            }
            let mut events = Vec::with_capacity(c.events.len());
            let mut seq = next_seq;
            let mut fits = true;
            for ne in c.events {
                let e = Event {
                    seq,
                    ts_ms,
                    session_id: ne.session_id,
                    payload: ne.payload,
                };
                seq += 1;
                fits &=
                    journal::encode_event(&mut part, &agentmux_proto::v1::Event::from(e.clone()));
                events.push(Arc::new(e));
            }
            if !fits {
                refuse(c.ack);
                continue;
            }
            next_seq = seq;
            buf.extend_from_slice(&part);
            ops_all.extend(c.ops);
            written.push((c.ack, events));
        }
        if written.is_empty() {
            continue;
        }
        let (st, j) = (store.clone(), journal.clone());
        // The write, the fdatasync and sled's apply block: keep them off the worker threads.
        let res = tokio::task::spawn_blocking(move || -> std::result::Result<(), (bool, Error)> {
            let pos = j.append(first_seq, &buf).map_err(|e| (false, e))?;
            let batch = Store::batch(ops_all, pos);
            // The group is durable now; sled must take it. A transient failure gets retries.
            let mut last = None;
            for _ in 0..3 {
                match st.apply(batch.clone()) {
                    Ok(()) => return Ok(()),
                    Err(e) => last = Some(e),
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err((
                true,
                last.unwrap_or_else(|| Error::internal("store apply failed")),
            ))
        })
        .await
        .unwrap_or_else(|e| Err((true, Error::internal(format!("log writer: {e}")))));
        match res {
            Ok(()) => {
                if let Some(inner) = inner.upgrade() {
                    inner.durable.store(next_seq - 1, Ordering::Release);
                    for (_, events) in &written {
                        for e in events {
                            // No receivers is fine: nobody is listening.
                            let _ = inner.bus.send(e.clone());
                        }
                    }
                }
                ack_all(written, Ok(()));
            }
            Err((false, e)) => {
                tracing::error!(error = %e, first_seq, "group commit failed");
                // The journal cut the failed group off, so its seqs are free again.
                next_seq = first_seq;
                ack_all(written, Err(e));
            }
            Err((true, e)) => {
                // The journal holds writes the store refused. Going on would serve state that
                // disagrees with the log; stopping lets the next start re-apply them from the
                // journal. Nothing of this group was acknowledged.
                tracing::error!(error = %e, first_seq, "store apply failed after a durable commit; stopping");
                std::process::exit(70);
            }
        }
    }
}

fn refuse(ack: Option<Ack>) {
    if let Some(ack) = ack {
        let _ = ack.send(Err(Error::new(
            agentmux_shared::ErrorKind::PayloadTooLarge,
            "this change is too large to record in one commit",
        )));
    }
}

fn ack_all(written: Vec<(Option<Ack>, Vec<Arc<Event>>)>, res: Result<()>) {
    for (ack, events) in written {
        if let Some(ack) = ack {
            let _ = ack.send(res.clone().map(|()| events));
        }
    }
}
