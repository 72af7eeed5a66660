//! Service-layer tests: a real `Service` over a temp dir (sled store, journal, event log) with
//! a scripted provider in place of a model or CLI, no daemon binary and no transport.

mod approvals;
mod recovery;
mod turns;

use super::{Service, ServiceParams};
use crate::log::{EventLog, LogOptions};
use crate::provider::{
    ApprovalAnswer, ApprovalRequest, BoxFuture, Provider, ProviderEvent, Providers, TurnEnd,
    TurnRequest,
};
use crate::store::Store;
use agentmux_shared::Result;
use agentmux_shared::config::{Config, Paths};
use agentmux_shared::types::{
    CreateSession, Decision, EventPayload, Message, ProviderHealth, Role, Session, StreamItem,
};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the scripted provider does in one turn, step by step.
#[derive(Debug, Clone)]
pub enum Step {
    Text(&'static str),
    /// Asks to run a tool (an edit when `edit`), then says how it was answered.
    Ask {
        edit: bool,
    },
    /// Waits until the turn is cancelled.
    Hang,
}

/// A provider that plays scripts, one per turn (`[Text("ok")]` when none is left), and
/// records each turn's request.
#[derive(Default)]
pub struct Scripted {
    scripts: Mutex<VecDeque<Vec<Step>>>,
    pub requests: Mutex<Vec<TurnRequest>>,
}

impl Scripted {
    pub fn push(&self, steps: Vec<Step>) {
        self.scripts.lock().unwrap().push_back(steps);
    }

    pub fn prompts(&self) -> Vec<String> {
        let reqs = self.requests.lock().unwrap();
        reqs.iter().map(|r| r.prompt().unwrap()).collect()
    }
}

async fn play(steps: Vec<Step>, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
    for step in steps {
        match step {
            Step::Text(t) => {
                let _ = out.send(ProviderEvent::Text(t.into())).await;
            }
            Step::Ask { edit } => {
                let (tx, rx) = oneshot::channel();
                let req = ApprovalRequest {
                    tool_call_id: String::new(),
                    tool: "Write".into(),
                    input_json: r#"{"path":"a.txt"}"#.into(),
                    summary: "write a.txt".into(),
                    diff: String::new(),
                    edit,
                    options: vec!["allow_once".into(), "deny".into()],
                    respond: tx,
                };
                let _ = out.send(ProviderEvent::ApprovalRequest(req)).await;
                let said = match rx.await {
                    Ok(ApprovalAnswer {
                        decision: Decision::Deny,
                        ..
                    }) => "denied",
                    Ok(_) => "allowed",
                    Err(_) => "dropped",
                };
                let _ = out.send(ProviderEvent::Text(said.into())).await;
            }
            Step::Hang => std::future::pending::<()>().await,
        }
    }
    Ok(TurnEnd::default())
}

impl Provider for Scripted {
    fn id(&self) -> &str {
        "scripted"
    }

    fn default_model(&self) -> String {
        "script".into()
    }

    fn health(&self) -> ProviderHealth {
        ProviderHealth {
            id: "scripted".into(),
            available: true,
            detail: String::new(),
        }
    }

    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>> {
        self.requests.lock().unwrap().push(req);
        let steps = self
            .scripts
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| vec![Step::Text("ok")]);
        Box::pin(play(steps, out))
    }
}

pub struct Env {
    pub svc: Service,
    pub provider: Arc<Scripted>,
    /// Every event after the service started.
    events: tokio::sync::Mutex<mpsc::Receiver<StreamItem>>,
}

/// A service over `dir`, as a daemon start builds it (recovery included). sled can hold its
/// lock a moment after a previous service over the same dir was dropped: retry.
pub async fn start_in(dir: &Path) -> Env {
    let paths = Paths {
        data_dir: dir.to_path_buf(),
        socket: dir.join("agentmuxd.sock"),
        config_file: dir.join("config.toml"),
    };
    let store = {
        let t0 = std::time::Instant::now();
        loop {
            match Store::open(&paths.store_dir()) {
                Ok(s) => break s,
                Err(_) if t0.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("store: {e}"),
            }
        }
    };
    let (log, _writer) = EventLog::start(
        store.clone(),
        &dir.join("journal"),
        LogOptions {
            subscriber_buffer: 4096,
            heartbeat: Duration::from_secs(10),
        },
    )
    .unwrap();
    let provider = Arc::new(Scripted::default());
    let svc = Service::start(ServiceParams {
        store,
        log,
        config: Config::default(),
        paths,
        providers: Providers::with(vec![provider.clone() as Arc<dyn Provider>]),
    })
    .await
    .unwrap();
    // From here on: what recovery wrote is history, not news.
    let events = tokio::sync::Mutex::new(svc.subscribe(svc.durable_seq(), None));
    Env {
        svc,
        provider,
        events,
    }
}

impl Env {
    pub async fn session(&self, policy: &str, timeout_secs: u64) -> Session {
        self.svc
            .create_session(CreateSession {
                provider: "scripted".into(),
                cwd: std::env::temp_dir().display().to_string(),
                approval_policy: policy.into(),
                approval_timeout_secs: timeout_secs,
                ..CreateSession::default()
            })
            .await
            .unwrap()
    }

    /// Waits (10 s at most) for an event that `pick` accepts, and returns what it gives.
    pub async fn next<T>(&self, what: &str, mut pick: impl FnMut(&EventPayload) -> Option<T>) -> T {
        let mut rx = self.events.lock().await;
        let wait = async {
            while let Some(item) = rx.recv().await {
                if let StreamItem::Event(e) = item
                    && let Some(t) = pick(&e.payload)
                {
                    return t;
                }
            }
            panic!("event stream ended waiting for {what}");
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// The answer of the next turn that ends.
    pub async fn finished(&self) -> Message {
        self.next("a completed answer", |p| match p {
            EventPayload::MessageCompleted { message } if message.role == Role::Assistant => {
                Some(message.clone())
            }
            _ => None,
        })
        .await
    }

    pub fn messages(&self, session: &str) -> Vec<Message> {
        self.messages_result(session).unwrap()
    }

    pub fn messages_result(&self, session: &str) -> Result<Vec<Message>> {
        self.svc.list_messages(session, 1000, 0).map(|p| p.messages)
    }
}
