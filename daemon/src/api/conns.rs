//! Connections on both listeners. A connection whose peer stops reading what it is sent (a
//! stalled event stream, a frozen attach) is cut after `stalled_write_timeout_secs`, on the
//! Unix socket too. The rest is for TCP, where anyone on the network can open a connection,
//! so each one is accounted for: the number held is capped below the descriptor limit (the Unix socket, the journal,
//! PTYs and CLI pipes keep a reserve), a connection must present a valid key soon after
//! opening, an idle one is closed, and one whose key is revoked is cut. When the cap is
//! reached the oldest connection that never authenticated makes room; if there is none the
//! newcomer is refused. Each of these is logged, at most every few seconds.

use crate::service::Grant;
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt;

/// Descriptors kept out of the TCP budget.
fn reserve(open_files: u64) -> u64 {
    (open_files / 8).clamp(64, 1024)
}

/// How long streams of a revoked key get to say so before their connection is cut.
const REVOKE_GRACE: Duration = Duration::from_millis(200);
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub unauthenticated: Duration,
    pub idle: Duration,
    pub header_read: Duration,
    pub stalled_write: Duration,
}

impl Limits {
    pub fn new(d: &agentmux_shared::config::DaemonConfig, open_files: u64) -> Limits {
        let budget = open_files.saturating_sub(reserve(open_files)).max(16);
        let max = (d.max_connections as u64).clamp(1, budget) as usize;
        if max < d.max_connections {
            tracing::info!(
                configured = d.max_connections,
                open_files,
                max_connections = max,
                "TCP connections capped by the descriptor limit"
            );
        }
        Limits {
            max_connections: max,
            unauthenticated: Duration::from_secs(d.unauthenticated_timeout_secs.max(1)),
            idle: Duration::from_secs(d.idle_timeout_secs.max(1)),
            header_read: Duration::from_secs(d.unauthenticated_timeout_secs.clamp(1, 30)),
            stalled_write: Duration::from_secs(d.stalled_write_timeout_secs.max(1)),
        }
    }

    /// The Unix socket: its peers are trusted (its mode is the check); only stalls are cut.
    pub fn trusted(d: &agentmux_shared::config::DaemonConfig) -> Limits {
        Limits {
            max_connections: usize::MAX,
            unauthenticated: Duration::MAX,
            idle: Duration::MAX,
            header_read: Duration::from_secs(30),
            stalled_write: Duration::from_secs(d.stalled_write_timeout_secs.max(1)),
        }
    }
}

/// One open TCP connection, as the request handlers see it.
#[derive(Clone)]
pub struct ConnRef(Arc<Conn>);

pub struct Conn {
    id: u64,
    opened: Instant,
    peer: String,
    authenticated: AtomicBool,
    // The keys used on this connection: a std Mutex, touched once per request.
    keys: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    // When a request last started or ended: HTTP/2 pings and SSE heartbeats are traffic but
    // not use, so idleness is measured in requests, not bytes.
    last_use_ms: AtomicU64,
    // Since when (ms after `opened`, plus one) a write has been waiting for the peer to read;
    // 0 when none is.
    write_blocked_ms: AtomicU64,
    // The response bodies being sent (see `Guarded`).
    bodies: Mutex<Vec<std::sync::Weak<AtomicU64>>>,
    kill: CancellationToken,
}

impl Conn {
    fn touch(&self) {
        self.last_use_ms
            .store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn write_blocked(&self, blocked: bool) {
        if !blocked {
            self.write_blocked_ms.store(0, Ordering::Relaxed);
        } else if self.write_blocked_ms.load(Ordering::Relaxed) == 0 {
            self.write_blocked_ms
                .store(self.now_ms() + 1, Ordering::Relaxed);
        }
    }

    /// How long the peer has left a write waiting.
    /// How long the peer has left a write, or a stream's next frame, waiting.
    fn stalled_for(&self) -> Duration {
        let now = self.now_ms();
        let age = |since: u64| match since {
            0 => Duration::ZERO,
            since => Duration::from_millis(now.saturating_sub(since - 1)),
        };
        let socket = age(self.write_blocked_ms.load(Ordering::Relaxed));
        let streams = self
            .bodies
            .lock()
            .map(|b| {
                b.iter()
                    .filter_map(|w| w.upgrade())
                    .map(|w| age(w.load(Ordering::Relaxed)))
                    .max()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        socket.max(streams)
    }

    fn idle_for(&self) -> Duration {
        self.opened.elapsed().saturating_sub(Duration::from_millis(
            self.last_use_ms.load(Ordering::Relaxed),
        ))
    }
}

impl ConnRef {
    /// A request on this connection presented `grant`: the connection is now trusted not to
    /// be evicted first, and is cut when that key is revoked.
    pub fn authenticated(&self, grant: &Grant) {
        self.0.authenticated.store(true, Ordering::Relaxed);
        let Ok(mut keys) = self.0.keys.lock() else {
            return;
        };
        if keys.iter().any(|k| k == &grant.key_id) {
            return;
        }
        keys.push(grant.key_id.clone());
        let conn = self.0.clone();
        let revoked = grant.revoked.clone();
        // Lives as long as the connection (the kill token is cancelled when its slot drops).
        tokio::spawn(async move {
            tokio::select! {
                _ = revoked.cancelled() => {
                    tokio::time::sleep(REVOKE_GRACE).await;
                    tracing::info!(conn = conn.id, peer = %conn.peer, "connection closed: its key was revoked");
                    conn.kill.cancel();
                }
                _ = conn.kill.cancelled() => {}
            }
        });
    }
}

#[derive(Default)]
struct Bites {
    refused: u64,
    evicted: u64,
    unauthenticated: u64,
    stalled: u64,
    accept_errors: u64,
    out_of_descriptors: bool,
    last_log: Option<Instant>,
}

struct Table {
    listener: &'static str,
    limits: Limits,
    next_id: AtomicU64,
    // Ordered by id, so the first unauthenticated entry is the oldest.
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    bites: Mutex<Bites>,
}

/// The oldest connection that never presented a valid key: the first to make room.
fn oldest_stranger(open: &BTreeMap<u64, Arc<Conn>>) -> Option<Arc<Conn>> {
    open.values()
        .find(|c| !c.authenticated.load(Ordering::Relaxed))
        .cloned()
}

impl Table {
    fn new(listener: &'static str, limits: Limits) -> Arc<Table> {
        Arc::new(Table {
            listener,
            limits,
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
            bites: Mutex::new(Bites::default()),
        })
    }

    /// Makes room for one more connection, or says there is none.
    fn admit(self: &Arc<Self>, peer: String, trusted: bool) -> Option<Slot> {
        let Ok(mut open) = self.open.lock() else {
            return None;
        };
        if open.len() >= self.limits.max_connections {
            match oldest_stranger(&open).and_then(|c| open.remove(&c.id)) {
                Some(c) => {
                    c.kill.cancel();
                    drop(open);
                    self.bite(|b| b.evicted += 1);
                    open = self.open.lock().ok()?;
                }
                None => {
                    drop(open);
                    self.bite(|b| b.refused += 1);
                    return None;
                }
            }
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            opened: Instant::now(),
            peer,
            authenticated: AtomicBool::new(trusted),
            keys: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            last_use_ms: AtomicU64::new(0),
            write_blocked_ms: AtomicU64::new(0),
            bodies: Mutex::new(Vec::new()),
            kill: CancellationToken::new(),
        });
        open.insert(conn.id, conn.clone());
        Some(Slot {
            conn,
            table: self.clone(),
        })
    }

    fn len(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Counts a limit that bit and logs the counts now and then, so a flood is visible
    /// without the log becoming the next thing that fills the disk.
    fn bite(&self, count: impl FnOnce(&mut Bites)) {
        let Ok(mut b) = self.bites.lock() else {
            return;
        };
        count(&mut b);
        if b.last_log.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        tracing::warn!(
            listener = self.listener,
            open = self.len(),
            max = self.limits.max_connections,
            refused = b.refused,
            evicted_unauthenticated = b.evicted,
            closed_without_key = b.unauthenticated,
            cut_stalled = b.stalled,
            accept_errors = b.accept_errors,
            out_of_descriptors = b.out_of_descriptors,
            "connection limits are biting (counts since the last report)"
        );
        *b = Bites {
            last_log: Some(Instant::now()),
            ..Bites::default()
        };
    }
}

/// The connection's place in the table, released when its socket is dropped (which, for an
/// upgraded WebSocket, is when the attachment ends, not when HTTP handed it over).
struct Slot {
    conn: Arc<Conn>,
    table: Arc<Table>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conn.kill.cancel();
        if let Ok(mut open) = self.table.open.lock() {
            open.remove(&self.conn.id);
        }
    }
}

/// The socket, which fails every read and write once its connection is killed.
struct Tracked<T> {
    io: T,
    // The place in the table lasts as long as the socket (its Drop frees it).
    slot: Slot,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<T> Tracked<T> {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.killed.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection closed by the daemon",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

use std::future::Future;

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.slot.conn.write_blocked(r.is_pending());
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.slot.conn.write_blocked(r.is_pending());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until its response body is done or dropped.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.touch();
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body. It also records when it handed a frame over and was not asked for the
/// next: an HTTP/2 peer that stops reading one stream stops opening its flow-control window
/// while its socket stays writable, so only the body sees that stall.
struct Guarded {
    body: Body,
    // Ms after the connection opened (plus one) since which a frame waits to be taken; 0 when
    // none does.
    waiting: Arc<AtomicU64>,
    guard: InFlight,
}

impl Guarded {
    fn new(body: Body, guard: InFlight) -> Guarded {
        let waiting = Arc::new(AtomicU64::new(0));
        if let Ok(mut b) = guard.0.bodies.lock() {
            b.retain(|w| w.strong_count() > 0);
            b.push(Arc::downgrade(&waiting));
        }
        Guarded {
            body,
            waiting,
            guard,
        }
    }
}

impl hyper::body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.body).poll_frame(cx);
        let since = match &r {
            Poll::Ready(Some(Ok(_))) if !self.body.is_end_stream() => self.guard.0.now_ms() + 1,
            _ => 0,
        };
        self.waiting.store(since, Ordering::Relaxed);
        r
    }

    fn is_end_stream(&self) -> bool {
        let end = self.body.is_end_stream();
        if end {
            // Nothing more will be asked for: nothing waits.
            self.waiting.store(0, Ordering::Relaxed);
        }
        end
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn too_many_files(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// What the accept loop needs of a listener.
pub trait Listener: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    const NAME: &'static str;
    /// Its peers are trusted (the Unix socket's mode is the check): no key, no cap, no timeouts
    /// but the stall.
    const TRUSTED: bool;
    /// The next connection and who it is from.
    fn next(&self) -> impl Future<Output = io::Result<(Self::Io, String)>> + Send;
}

impl Listener for TcpListener {
    type Io = tokio::net::TcpStream;
    const NAME: &'static str = "tcp";
    const TRUSTED: bool = false;
    async fn next(&self) -> io::Result<(Self::Io, String)> {
        let (s, peer) = self.accept().await?;
        let _ = s.set_nodelay(true);
        Ok((s, peer.to_string()))
    }
}

impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    const NAME: &'static str = "unix";
    const TRUSTED: bool = true;
    async fn next(&self) -> io::Result<(Self::Io, String)> {
        let (s, _) = self.accept().await?;
        Ok((s, "unix".into()))
    }
}

/// Serves `app` on `listener` until `stop` fires; then open connections are asked to finish
/// (the caller bounds how long it waits for the returned future's tasks).
pub async fn serve<L: Listener>(
    listener: L,
    app: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let (table, builder) = (Table::new(L::NAME, limits), http(&limits));
    let conns = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.next() => a,
            _ = stop.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                let out_of_files = too_many_files(&e);
                table.bite(|b| {
                    b.accept_errors += 1;
                    b.out_of_descriptors |= out_of_files;
                });
                if out_of_files {
                    // Out of descriptors anyway: free one held by a stranger.
                    let oldest = table.open.lock().ok().and_then(|o| oldest_stranger(&o));
                    if let Some(c) = oldest {
                        c.kill.cancel();
                    }
                } else {
                    tracing::debug!(listener = L::NAME, error = %e, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Refused: dropping the stream closes it.
        let Some(slot) = table.admit(peer, L::TRUSTED) else {
            continue;
        };
        conns.spawn(serve_conn(
            stream,
            slot,
            app.clone(),
            builder.clone(),
            table.clone(),
            stop.clone(),
        ));
    }
    conns.close();
    conns.wait().await;
}

fn http(limits: &Limits) -> Arc<Builder<TokioExecutor>> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .max_concurrent_streams(256)
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20));
    Arc::new(builder)
}

/// Cuts a connection whose peer has left a write waiting too long; true when it did.
fn cut_if_stalled(conn: &Conn, table: &Table) -> bool {
    if conn.stalled_for() < table.limits.stalled_write {
        return false;
    }
    tracing::info!(conn = conn.id, peer = %conn.peer, "connection cut: its peer stopped reading");
    table.bite(|b| b.stalled += 1);
    conn.kill.cancel();
    true
}

async fn serve_conn<T>(
    stream: T,
    slot: Slot,
    app: axum::Router,
    builder: Arc<Builder<TokioExecutor>>,
    table: Arc<Table>,
    stop: CancellationToken,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = slot.conn.clone();
    let killed = Box::pin(conn.kill.clone().cancelled_owned());
    let io = TokioIo::new(Tracked {
        io: stream,
        slot,
        killed,
    });
    let for_requests = conn.clone();
    let service = tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        let conn = for_requests.clone();
        let app = app.clone();
        async move {
            let guard = InFlight::start(&conn);
            req.extensions_mut().insert(ConnRef(conn));
            let resp = app.oneshot(req.map(Body::new)).await?;
            // The guard rides in the body: an SSE or gRPC stream is in flight until it ends.
            Ok::<_, std::convert::Infallible>(resp.map(|body| Body::new(Guarded::new(body, guard))))
        }
    });
    let mut served =
        Box::pin(builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service)));
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(conn = conn.id, error = %e, "connection ended");
                }
                break;
            }
            _ = conn.kill.cancelled() => break,
            _ = stop.cancelled(), if !closing => {
                closing = true;
                served.as_mut().graceful_shutdown();
            }
            _ = check.tick() => {
                if cut_if_stalled(&conn, &table) {
                    break;
                }
                if !conn.authenticated.load(Ordering::Relaxed) {
                    if conn.opened.elapsed() >= table.limits.unauthenticated {
                        table.bite(|b| b.unauthenticated += 1);
                        break;
                    }
                } else if !closing
                    && conn.in_flight.load(Ordering::Relaxed) == 0
                    && conn.idle_for() >= table.limits.idle
                {
                    tracing::debug!(conn = conn.id, peer = %conn.peer, "closing an idle connection");
                    closing = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
    // Closes the socket, unless it was upgraded: a WebSocket lives on past HTTP; watch it for
    // stalls until its socket is dropped (which cancels `kill`).
    drop(served);
    while !conn.kill.is_cancelled() {
        tokio::select! {
            _ = conn.kill.cancelled() => break,
            // Shutdown ends attachments by itself; this watch must not hold it up.
            _ = stop.cancelled() => break,
            _ = check.tick() => {
                if cut_if_stalled(&conn, &table) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize) -> Arc<Table> {
        Table::new(
            "tcp",
            Limits {
                max_connections: max,
                unauthenticated: Duration::from_secs(1),
                idle: Duration::from_secs(1),
                header_read: Duration::from_secs(1),
                stalled_write: Duration::from_secs(1),
            },
        )
    }

    fn peer() -> String {
        "127.0.0.1:9".into()
    }

    #[test]
    fn at_the_cap_the_oldest_stranger_makes_room_and_trusted_ones_never_do() {
        let t = table(3);
        let a = t.admit(peer(), false).unwrap();
        let b = t.admit(peer(), false).unwrap();
        let c = t.admit(peer(), false).unwrap();
        a.conn.authenticated.store(true, Ordering::Relaxed);
        // b is the oldest connection without a key.
        let d = t.admit(peer(), false).unwrap();
        assert!(b.conn.kill.is_cancelled());
        assert!(!a.conn.kill.is_cancelled() && !c.conn.kill.is_cancelled());
        assert_eq!(t.len(), 3);
        c.conn.authenticated.store(true, Ordering::Relaxed);
        d.conn.authenticated.store(true, Ordering::Relaxed);
        assert!(
            t.admit(peer(), false).is_none(),
            "all trusted: the newcomer is refused"
        );
        drop(a);
        assert_eq!(t.len(), 2, "a dropped socket frees its place");
        assert!(t.admit(peer(), false).is_some());
    }

    #[test]
    fn the_tcp_budget_leaves_a_reserve_of_descriptors() {
        let d = agentmux_shared::config::DaemonConfig::default();
        assert_eq!(Limits::new(&d, 256).max_connections, 192);
        assert_eq!(Limits::new(&d, 1024).max_connections, 896);
        assert_eq!(Limits::new(&d, 1 << 20).max_connections, d.max_connections);
    }
}
