//! Terminal operations: create, list, resize, kill, remove, restart and attach. Records and
//! events go through the event log like everything else; the last screen of each terminal is
//! saved to a file so it can be shown after a restart.

use super::Service;
use crate::log::NewEvent;
use crate::store::{Op, Store};
use crate::terminal::{ExitStatus, Process, Screen, SpawnParams, saved};
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{
    AttachEvent, AttachInput, CreateTerminal, EventPayload, ScreenSnapshot, Terminal,
    TerminalStatus,
};
use agentmux_shared::{Error, Result};
use bytes::Bytes;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

const DEFAULT_ROWS: u16 = 24;
const DEFAULT_COLS: u16 = 80;
const MAX_DIM: u32 = 1000;
/// How often dirty screens are saved to disk.
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// Items queued for one attached client; output beyond it makes the client lag.
const ATTACH_QUEUE: usize = 64;

/// One terminal: its record, its screen, and its program while it runs.
pub(crate) struct TermHandle {
    /// Serializes start, restart, resize and kill, so a check and the change it guards are one
    /// step (two restarts at once must not start two programs).
    lifecycle: tokio::sync::Mutex<()>,
    // std Mutexes: held for a field update or a clone, never across an await.
    record: Mutex<Terminal>,
    screen: Arc<Screen>,
    process: Mutex<Option<Arc<Process>>>,
    clients: AtomicU32,
}

impl TermHandle {
    fn record(&self) -> Terminal {
        let mut t = self.record.lock().map(|r| r.clone()).unwrap_or_default();
        t.clients = self.clients.load(Ordering::Relaxed);
        t
    }

    fn update(&self, f: impl FnOnce(&mut Terminal)) -> Terminal {
        if let Ok(mut r) = self.record.lock() {
            f(&mut r);
        }
        self.record()
    }

    fn process(&self) -> Option<Arc<Process>> {
        self.process.lock().ok().and_then(|p| p.clone())
    }
}

/// The live terminals, loaded at start.
#[derive(Default)]
pub(crate) struct Terminals {
    map: Mutex<HashMap<String, Arc<TermHandle>>>,
    /// Serializes creation, so two terminals cannot both take a free name.
    create: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, Default)]
pub struct AttachParams {
    pub id: String,
    pub rows: u32,
    pub cols: u32,
    pub scrollback_lines: u32,
    pub read_only: bool,
}

/// One attached client. Dropping it detaches.
pub struct Attachment {
    pub items: mpsc::Receiver<AttachEvent>,
    handle: Arc<TermHandle>,
    svc: Service,
    read_only: bool,
}

impl Attachment {
    /// Applies what the client sent; `false` once it detached.
    pub async fn send(&self, input: AttachInput) -> Result<bool> {
        match input {
            AttachInput::Input(data) => self.input(data).await.map(|()| true),
            AttachInput::Resize { rows, cols } => self
                .resize(u32::from(rows), u32::from(cols))
                .await
                .map(|()| true),
            AttachInput::Detach => Ok(false),
        }
    }

    pub async fn input(&self, data: Bytes) -> Result<()> {
        if self.read_only {
            return Err(Error::new(
                agentmux_shared::ErrorKind::PermissionDenied,
                "attached read-only",
            ));
        }
        match self.handle.process() {
            Some(p) => p.write(data),
            None => Err(Error::precondition("the terminal has exited")),
        }
    }

    /// The latest client to resize sets the size (like tmux's `window-size latest`).
    pub async fn resize(&self, rows: u32, cols: u32) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let id = self.handle.record().id;
        self.svc.resize_terminal(&id, rows, cols).await.map(|_| ())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.handle.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn dims(rows: u32, cols: u32) -> Result<(u16, u16)> {
    if rows > MAX_DIM || cols > MAX_DIM {
        return Err(Error::invalid(format!(
            "terminal size {rows}x{cols} is over {MAX_DIM}x{MAX_DIM}"
        )));
    }
    let pick = |v: u32, d: u16| if v == 0 { d } else { v as u16 };
    Ok((pick(rows, DEFAULT_ROWS), pick(cols, DEFAULT_COLS)))
}

impl Service {
    fn terminals(&self) -> &Terminals {
        &self.shared.terminals
    }

    fn screen_path(&self, id: &str) -> PathBuf {
        self.shared
            .paths
            .data_dir
            .join("terminals")
            .join(format!("{id}.screen"))
    }

    fn scrollback(&self) -> usize {
        self.config().terminal.scrollback_lines
    }

    /// Loads terminal records; those that were running when the daemon stopped are marked
    /// exited, with their last saved screen. Starts the screen saver.
    pub(super) async fn recover_terminals(&self) -> Result<()> {
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let mut handles = HashMap::new();
        for mut t in self.store().terminals()? {
            let screen = Arc::new(Screen::new(t.rows as u16, t.cols as u16, self.scrollback()));
            match saved::load(&self.screen_path(&t.id)) {
                Ok(Some(s)) => screen.restore(&s),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, id = %t.id, "unreadable saved screen"),
            }
            screen.take_dirty();
            if t.status == TerminalStatus::Running {
                t.status = TerminalStatus::Exited;
                t.exit_code = -1;
                t.exit_signal.clear();
                t.exit_reason = "daemon stopped".into();
                t.pid = 0;
                t.exited_at_ms = now_ms();
                ops.push(Store::put_terminal(&t));
                events.push(NewEvent::new(
                    "",
                    EventPayload::TerminalUpdated {
                        terminal: t.clone().redacted(),
                    },
                ));
            }
            handles.insert(
                t.id.clone(),
                Arc::new(TermHandle {
                    lifecycle: tokio::sync::Mutex::new(()),
                    record: Mutex::new(t),
                    screen,
                    process: Mutex::new(None),
                    clients: AtomicU32::new(0),
                }),
            );
        }
        if let Ok(mut map) = self.terminals().map.lock() {
            *map = handles;
        }
        if !ops.is_empty() {
            self.commit(ops, events).await?;
        }
        let svc = self.clone();
        self.shared.tasks.spawn(async move {
            let mut tick = tokio::time::interval(SAVE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => svc.save_screens(false).await,
                    _ = svc.shared.shutdown.cancelled() => return,
                }
            }
        });
        Ok(())
    }

    /// Writes the screens that changed (or all of them) to their files.
    async fn save_screens(&self, all: bool) {
        let handles: Vec<Arc<TermHandle>> = match self.terminals().map.lock() {
            Ok(m) => m.values().cloned().collect(),
            Err(_) => return,
        };
        for h in handles {
            if h.screen.take_dirty() || all {
                self.save_screen(&h).await;
            }
        }
    }

    async fn save_screen(&self, h: &TermHandle) {
        let id = h.record().id;
        let screen = h.screen.clone();
        let lines = self.scrollback();
        let path = self.screen_path(&id);
        // Rebuilding scrollback replays raw history through a parser: CPU work that must not
        // run on the runtime's threads.
        let res =
            tokio::task::spawn_blocking(move || saved::save(&path, screen.snapshot(lines))).await;
        if let Ok(Err(e)) | Err(e) = res.map_err(|e| Error::internal(e.to_string())) {
            tracing::warn!(error = %e, id = %id, "cannot save a terminal screen");
        }
    }

    /// Stops every running program (SIGHUP first) and saves every screen.
    pub(super) async fn shutdown_terminals(&self) {
        let handles: Vec<Arc<TermHandle>> = match self.terminals().map.lock() {
            Ok(m) => m.values().cloned().collect(),
            Err(_) => return,
        };
        let kills = handles
            .iter()
            .filter_map(|h| h.process())
            .map(|p| async move {
                p.kill(Duration::from_millis(500)).await;
            });
        futures_util::future::join_all(kills).await;
        self.save_screens(true).await;
    }

    fn term(&self, id: &str) -> Result<Arc<TermHandle>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::invalid("terminal id is empty"));
        }
        let map = self
            .terminals()
            .map
            .lock()
            .map_err(|_| Error::internal("terminal map poisoned"))?;
        if let Some(h) = map.get(id) {
            return Ok(h.clone());
        }
        let found: Vec<&Arc<TermHandle>> = map
            .values()
            .filter(|h| {
                let r = h.record();
                r.name == id || r.id.starts_with(id)
            })
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found("terminal", id)),
            _ => Err(Error::invalid(format!(
                "{id:?} matches several terminals: use the full id"
            ))),
        }
    }

    pub async fn create_terminal(&self, req: CreateTerminal) -> Result<Terminal> {
        let (rows, cols) = dims(req.rows, req.cols)?;
        let mut command = req.command.trim().to_string();
        let mut args = req.args;
        let mut env = req.env;
        let preset = req.preset.trim().to_string();
        if !preset.is_empty() {
            let p = self
                .config()
                .terminal
                .preset(&preset)
                .ok_or_else(|| Error::invalid(format!("unknown preset {preset:?}")))?;
            if command.is_empty() {
                command = p.command;
                let mut all = p.args;
                all.append(&mut args);
                args = all;
            }
            let mut merged = p.env;
            merged.append(&mut env);
            env = merged;
        }
        if command.is_empty() {
            return Err(Error::invalid("a terminal needs a command or a preset"));
        }
        let session_dir = match req.session.trim() {
            "" => None,
            _ if !req.cwd.trim().is_empty() => {
                return Err(Error::invalid("give a session or a cwd, not both"));
            }
            s => Some(self.session_dir(s)?),
        };
        let cwd = match req.cwd.trim() {
            "" if session_dir.is_some() => session_dir.unwrap_or_default(),
            "" => self.default_dir()?,
            c if !std::path::Path::new(c).is_absolute() => {
                return Err(Error::invalid(format!(
                    "cwd {c:?} must be an absolute path"
                )));
            }
            c if !std::path::Path::new(c).is_dir() => {
                return Err(Error::new(
                    agentmux_shared::ErrorKind::NotFound,
                    format!("cwd {c:?} is not a directory"),
                ));
            }
            c => self.allowed_dir(c)?,
        };
        let _creating = self.terminals().create.lock().await;
        let name = self.unique_name(req.name.trim(), &command)?;
        let now = now_ms();
        let t = Terminal {
            id: new_id("term"),
            name,
            command,
            args,
            env,
            cwd,
            rows: u32::from(rows),
            cols: u32::from(cols),
            status: TerminalStatus::Running,
            preset,
            created_at_ms: now,
            ..Terminal::default()
        };
        let screen = Arc::new(Screen::new(rows, cols, self.scrollback()));
        let h = Arc::new(TermHandle {
            lifecycle: tokio::sync::Mutex::new(()),
            record: Mutex::new(t),
            screen,
            process: Mutex::new(None),
            clients: AtomicU32::new(0),
        });
        let t = self.start_process(&h)?;
        self.commit(
            vec![Store::put_terminal(&t)],
            vec![NewEvent::new(
                "",
                EventPayload::TerminalCreated {
                    terminal: t.clone().redacted(),
                },
            )],
        )
        .await?;
        if let Ok(mut m) = self.terminals().map.lock() {
            m.insert(t.id.clone(), h.clone());
        }
        self.watch_exit(h);
        Ok(t.redacted())
    }

    fn unique_name(&self, wanted: &str, command: &str) -> Result<String> {
        if wanted.chars().count() > 64 || wanted.chars().any(|c| c.is_control() || c == '/') {
            return Err(Error::invalid(
                "terminal name must be at most 64 characters, without '/' or control characters",
            ));
        }
        let map = self
            .terminals()
            .map
            .lock()
            .map_err(|_| Error::internal("terminal map poisoned"))?;
        let taken = |n: &str| map.values().any(|h| h.record().name == n);
        if !wanted.is_empty() {
            if taken(wanted) {
                return Err(Error::new(
                    agentmux_shared::ErrorKind::AlreadyExists,
                    format!("a terminal named {wanted:?} exists"),
                ));
            }
            return Ok(wanted.to_string());
        }
        let base = std::path::Path::new(command)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "term".into());
        if !taken(&base) {
            return Ok(base);
        }
        let n = (2..).find(|i| !taken(&format!("{base}-{i}"))).unwrap_or(0);
        Ok(format!("{base}-{n}"))
    }

    /// Spawns the handle's command and records the pid.
    fn start_process(&self, h: &Arc<TermHandle>) -> Result<Terminal> {
        let t = h.record();
        let mut args = t.args.clone();
        let preset = self.config().terminal.preset(&t.preset);
        if let Some(p) = preset.filter(|_| !t.provider_session_id.is_empty()) {
            args.extend(
                p.resume_args
                    .iter()
                    .map(|a| a.replace("{id}", &t.provider_session_id)),
            );
        }
        let process = Process::spawn(
            SpawnParams {
                command: t.command.clone(),
                args,
                env: t.env.clone(),
                cwd: t.cwd.clone(),
                rows: t.rows as u16,
                cols: t.cols as u16,
            },
            h.screen.clone(),
        )?;
        let pid = process.pid;
        if let Ok(mut p) = h.process.lock() {
            *p = Some(Arc::new(process));
        }
        Ok(h.update(|r| {
            r.status = TerminalStatus::Running;
            r.pid = pid;
            r.exit_code = 0;
            r.exit_signal.clear();
            r.exit_reason.clear();
            r.started_at_ms = now_ms();
            r.exited_at_ms = 0;
        }))
    }

    /// Records the exit of the handle's current program when it comes.
    fn watch_exit(&self, h: Arc<TermHandle>) {
        let Some(p) = h.process() else { return };
        let mut exited = p.exited.clone();
        let svc = self.clone();
        self.shared.tasks.spawn(async move {
            let status = match exited.wait_for(|s| s.is_some()).await {
                Ok(s) => s.clone().unwrap_or_default(),
                Err(_) => return,
            };
            let still_current = h.process().is_some_and(|cur| Arc::ptr_eq(&cur, &p));
            if !still_current {
                return;
            }
            let t = h.update(|r| {
                r.status = TerminalStatus::Exited;
                r.exit_code = status.code;
                r.exit_signal = status.signal.clone();
                r.exit_reason = status.reason.clone();
                r.pid = 0;
                r.exited_at_ms = now_ms();
            });
            svc.save_screen(&h).await;
            let removed = match svc.terminals().map.lock() {
                Ok(m) => !m.contains_key(&t.id),
                Err(_) => true,
            };
            if removed {
                return;
            }
            let res = svc.record_terminal(&t).await;
            if let Err(e) = res {
                tracing::error!(error = %e, id = %t.id, "cannot record a terminal exit");
            }
        });
    }

    /// Persists a changed terminal record and announces it.
    async fn record_terminal(&self, t: &Terminal) -> Result<()> {
        self.commit(
            vec![Store::put_terminal(t)],
            vec![NewEvent::new(
                "",
                EventPayload::TerminalUpdated {
                    terminal: t.clone().redacted(),
                },
            )],
        )
        .await
    }

    pub fn list_terminals(&self) -> Result<Vec<Terminal>> {
        let map = self
            .terminals()
            .map
            .lock()
            .map_err(|_| Error::internal("terminal map poisoned"))?;
        let mut v: Vec<Terminal> = map.values().map(|h| h.record().redacted()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    pub fn get_terminal(&self, id: &str) -> Result<Terminal> {
        Ok(self.term(id)?.record().redacted())
    }

    pub async fn resize_terminal(&self, id: &str, rows: u32, cols: u32) -> Result<Terminal> {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid("rows and cols must be positive"));
        }
        let (rows, cols) = dims(rows, cols)?;
        let h = self.term(id)?;
        let _step = h.lifecycle.lock().await;
        let before = h.record();
        if before.rows == u32::from(rows) && before.cols == u32::from(cols) {
            return Ok(before.redacted());
        }
        match h.process() {
            Some(p) if p.is_running() => p.resize(rows, cols)?,
            _ => {
                return Err(Error::precondition(
                    "the terminal has exited: nothing to resize",
                ));
            }
        }
        h.screen.resize(rows, cols);
        let t = h.update(|r| {
            r.rows = u32::from(rows);
            r.cols = u32::from(cols);
        });
        self.record_terminal(&t).await?;
        Ok(t.redacted())
    }

    /// SIGHUP → SIGTERM → SIGKILL on the process group; returns once it has exited.
    pub async fn kill_terminal(&self, id: &str) -> Result<Terminal> {
        let h = self.term(id)?;
        let _step = h.lifecycle.lock().await;
        if let Some(p) = h.process() {
            let grace = Duration::from_secs(self.config().terminal.kill_grace_secs.max(1));
            p.kill(grace).await;
            // The exit watcher records the status; wait for the record, briefly.
            for _ in 0..100 {
                if h.record().status == TerminalStatus::Exited {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(h.record().redacted())
    }

    pub async fn remove_terminal(&self, id: &str) -> Result<String> {
        let h = self.term(id)?;
        let t = h.record();
        if let Ok(mut m) = self.terminals().map.lock() {
            m.remove(&t.id);
        }
        if let Some(p) = h.process() {
            p.kill(Duration::from_millis(500)).await;
        }
        self.commit(
            vec![Op::Del(Store::terminal_key(&t.id))],
            vec![NewEvent::new(
                "",
                EventPayload::TerminalRemoved { id: t.id.clone() },
            )],
        )
        .await?;
        let path = self.screen_path(&t.id);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        Ok(t.id)
    }

    pub async fn restart_terminal(&self, id: &str) -> Result<Terminal> {
        let h = self.term(id)?;
        let _step = h.lifecycle.lock().await;
        if h.process().is_some_and(|p| p.is_running()) {
            return Err(Error::precondition(
                "the terminal is running: kill it first",
            ));
        }
        let t = self.start_process(&h)?;
        self.record_terminal(&t).await?;
        self.watch_exit(h.clone());
        Ok(t.redacted())
    }

    /// Attaches a client: a snapshot first, then output; a client that falls behind gets a
    /// fresh snapshot instead of a backlog; `Exited` when the program ends.
    pub async fn attach_terminal(&self, p: AttachParams) -> Result<Attachment> {
        let h = self.term(&p.id)?;
        let running = h.process().is_some_and(|proc_| proc_.is_running());
        if !p.read_only && p.rows > 0 && p.cols > 0 && running {
            self.resize_terminal(&h.record().id, p.rows, p.cols).await?;
        }
        h.clients.fetch_add(1, Ordering::Relaxed);
        let (tx, items) = mpsc::channel(ATTACH_QUEUE);
        let scrollback = p.scrollback_lines as usize;
        let handle = h.clone();
        let shutdown = self.shared.shutdown.clone();
        self.shared.tasks.spawn(async move {
            let mut exited = match handle.process() {
                Some(proc_) => proc_.exited.clone(),
                None => watch::channel(Some(ExitStatus::default())).1,
            };
            let mut lines = scrollback;
            'fresh: loop {
                let screen = handle.screen.clone();
                let want = lines;
                lines = 0;
                // With scrollback this replays raw history: keep it off the runtime's threads.
                let attached = if want > 0 {
                    tokio::task::spawn_blocking(move || screen.attach(want)).await
                } else {
                    Ok(screen.attach(0))
                };
                let Ok((snap, backlog, mut rx)) = attached else {
                    return;
                };
                let snap = ScreenSnapshot {
                    terminal: Some(handle.record()),
                    ..snap
                };
                if !deliver(&tx, AttachEvent::Snapshot(Box::new(snap)), &shutdown).await {
                    return;
                }
                for b in backlog {
                    if !deliver(&tx, AttachEvent::Output(b), &shutdown).await {
                        return;
                    }
                }
                loop {
                    tokio::select! {
                        r = rx.recv() => match r {
                            Ok(b) => {
                                if !deliver(&tx, AttachEvent::Output(b), &shutdown).await {
                                    return;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue 'fresh,
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                        r = wait_exit(&mut exited) => {
                            let Some(status) = r else { return };
                            while let Ok(b) = rx.try_recv() {
                                if !deliver(&tx, AttachEvent::Output(b), &shutdown).await {
                                    return;
                                }
                            }
                            let rec = handle.record();
                            // A terminal restored after a restart has no process: its record
                            // holds how it ended.
                            let status = if handle.process().is_none() {
                                ExitStatus {
                                    code: rec.exit_code,
                                    signal: rec.exit_signal,
                                    reason: rec.exit_reason,
                                }
                            } else {
                                status
                            };
                            deliver(&tx, AttachEvent::Exited(status), &shutdown).await;
                            return;
                        }
                        _ = tx.closed() => return,
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        });
        Ok(Attachment {
            items,
            handle: h,
            svc: self.clone(),
            read_only: p.read_only,
        })
    }
}

/// Hands an item to an attached client; false when it left or the daemon is stopping (a
/// client that stopped reading must not hold up shutdown).
async fn deliver(
    tx: &mpsc::Sender<AttachEvent>,
    item: AttachEvent,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        r = tx.send(item) => r.is_ok(),
        _ = shutdown.cancelled() => false,
    }
}

/// Waits for the program's exit status; `None` if the process handle went away.
async fn wait_exit(rx: &mut watch::Receiver<Option<ExitStatus>>) -> Option<ExitStatus> {
    rx.wait_for(|s| s.is_some())
        .await
        .ok()
        .and_then(|s| s.clone())
}
