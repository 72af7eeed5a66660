//! A gRPC terminal attach client for tests: sends input and resizes, and keeps its own vt100
//! screen from the snapshot and output it receives, like a real client would.

use crate::client::Grpc;
use crate::within;
use agentmux_proto::v1 as pb;
use pb::attach_request::Msg as Req;
use pb::attach_response::Msg as Resp;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

pub struct Attached {
    tx: mpsc::Sender<pb::AttachRequest>,
    rx: tonic::Streaming<pb::AttachResponse>,
    pub parser: vt100::Parser,
    pub snapshots: usize,
    pub first: pb::ScreenSnapshot,
    pub exit: Option<pb::TerminalExit>,
}

impl Attached {
    pub async fn start(g: &Grpc, start: pb::AttachStart) -> Attached {
        let (tx, req_rx) = mpsc::channel(64);
        tx.send(pb::AttachRequest {
            msg: Some(Req::Start(start)),
        })
        .await
        .unwrap();
        let mut rx = within("Attach", g.terminals().attach(ReceiverStream::new(req_rx)))
            .await
            .expect("attach")
            .into_inner();
        let first = match within("first attach message", rx.message()).await {
            Ok(Some(pb::AttachResponse {
                msg: Some(Resp::Snapshot(s)),
            })) => s,
            other => panic!("the first attach message is not a snapshot: {other:?}"),
        };
        let mut parser = vt100::Parser::new(
            std::num::NonZeroU16::new(first.rows as u16).unwrap(),
            std::num::NonZeroU16::new(first.cols as u16).unwrap(),
            0,
        );
        parser.process(&first.screen);
        Attached {
            tx,
            rx,
            parser,
            snapshots: 1,
            first,
            exit: None,
        }
    }

    pub async fn attach(g: &Grpc, id: &str, rows: u32, cols: u32) -> Attached {
        Attached::start(
            g,
            pb::AttachStart {
                terminal_id: id.into(),
                rows,
                cols,
                ..Default::default()
            },
        )
        .await
    }

    pub async fn input(&self, text: &str) {
        self.tx
            .send(pb::AttachRequest {
                msg: Some(Req::Input(text.as_bytes().to_vec())),
            })
            .await
            .unwrap();
    }

    pub async fn resize(&self, rows: u32, cols: u32) {
        self.tx
            .send(pb::AttachRequest {
                msg: Some(Req::Resize(pb::TerminalSize { rows, cols })),
            })
            .await
            .unwrap();
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Applies one message; false when the stream ended.
    pub async fn step(&mut self) -> bool {
        match within("attach output", self.rx.message()).await {
            Ok(Some(pb::AttachResponse { msg: Some(m) })) => {
                match m {
                    Resp::Snapshot(s) => {
                        self.snapshots += 1;
                        self.parser = vt100::Parser::new(
                            std::num::NonZeroU16::new(s.rows as u16).unwrap(),
                            std::num::NonZeroU16::new(s.cols as u16).unwrap(),
                            0,
                        );
                        self.parser.process(&s.screen);
                    }
                    Resp::Output(b) => self.parser.process(&b),
                    Resp::Exited(e) => self.exit = Some(e),
                }
                true
            }
            Ok(Some(pb::AttachResponse { msg: None })) => true,
            Ok(None) => false,
            Err(s) => panic!("attach stream failed: {s}"),
        }
    }

    /// Reads until the screen contains `needle`; panics with the screen after `timeout`.
    pub async fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                t0.elapsed() < timeout,
                "screen never showed {needle:?}; it shows:\n{screen}"
            );
            match tokio::time::timeout(timeout, self.step()).await {
                Ok(true) => {}
                Ok(false) => panic!("attach ended before {needle:?}; screen:\n{}", self.screen()),
                Err(_) => panic!("no output for {timeout:?}; screen:\n{}", self.screen()),
            }
        }
    }

    /// Reads until the exit message.
    pub async fn wait_exit(&mut self) -> pb::TerminalExit {
        while self.exit.is_none() {
            assert!(self.step().await, "attach ended without an exit message");
        }
        self.exit.clone().unwrap()
    }
}
