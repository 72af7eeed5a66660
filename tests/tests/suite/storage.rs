//! Disk use: what a streamed answer costs on disk, and what a deleted session gives back.

use super::{create_session, id_of, send_wait, start};
use agentmux_tests::fake_openai::Script;
use std::path::Path;
use std::time::Duration;

fn du(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            du(&e.path())
        } else {
            // Allocated blocks: sparse files count for what they hold.
            std::os::unix::fs::MetadataExt::blocks(&m) * 512
        };
    }
    n
}

#[tokio::test]
async fn a_long_streamed_answer_costs_the_store_about_its_size() {
    let (fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    let s = id_of(&create_session(&rest, "long").await);
    // A large input kept in the store while a 512 KB answer streams in 1,024 deltas.
    let input = "x".repeat(256 * 1024);
    let chunk = "y".repeat(512);
    let chunks: Vec<&str> = (0..1024).map(|_| chunk.as_str()).collect();
    fake.push(Script::chunks(&chunks, Duration::from_micros(200)));
    d.sigterm().await;
    let before = du(&d.data_dir.join("store"));
    d.restart().await;
    let rest = d.rest();
    let reply = send_wait(&rest, &s, &input).await;
    assert_eq!(
        reply["reply"]["content"].as_str().map(str::len),
        Some(512 * 1024)
    );
    d.sigterm().await;
    let grown = du(&d.data_dir.join("store")).saturating_sub(before);
    let streamed = (256 + 512) * 1024;
    eprintln!(
        "store grew {grown} bytes for {streamed} bytes of messages: {:.1} bytes per byte",
        grown as f64 / streamed as f64
    );
    assert!(
        grown < 8 * streamed,
        "the store grew {grown} bytes for {streamed} bytes of messages"
    );
}

#[tokio::test]
async fn a_disk_that_fills_mid_turn_fails_clearly_and_the_turn_is_recorded_when_space_returns() {
    use agentmux_tests::fake_openai::{Gate, Step};
    let Some(fs) = agentmux_tests::tmpfs::Tmpfs::mount(64 << 20) else {
        return;
    };
    let data = fs.join("data");
    let (fake, mut d) = start(|o| o.data_dir(&data)).await;
    let rest = d.rest();
    let s = id_of(&create_session(&rest, "full disk").await);
    let gate = Gate::new();
    // Large enough that recording it needs pages a full tmpfs does not have.
    let after = "y".repeat(100 * 1024);
    fake.push(Script::new(vec![
        Step::text("Before the disk filled. "),
        Step::Wait(gate.clone()),
        Step::text(&after),
    ]));
    let waiting = {
        let rest = d.rest();
        let s = s.clone();
        tokio::spawn(async move {
            rest.post(
                &format!("/v1/sessions/{s}/messages?wait=true"),
                serde_json::json!({"content": "go"}),
            )
            .await
        })
    };
    agentmux_tests::poll_until("the first delta", Duration::from_secs(20), || async {
        let m = super::messages(&rest, &s).await;
        (m.len() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let filler = fs.fill(0);
    gate.open();

    // The client waiting for the answer hears that the disk is full, at once.
    let r = agentmux_tests::within("the waiting client", waiting)
        .await
        .unwrap();
    r.assert_error(507, "insufficient_storage");
    assert!(r.text().contains("no space left"), "{}", r.text());
    // New input that needs space is refused the same way, and reads keep working.
    rest.post(
        &format!("/v1/sessions/{s}/messages"),
        serde_json::json!({"content": "z".repeat(200 * 1024)}),
    )
    .await
    .assert_error(507, "insufficient_storage");
    assert_eq!(rest.get(&format!("/v1/sessions/{s}")).await.status, 200);

    // Space returns: the turn's end is written, whole.
    std::fs::remove_file(filler).unwrap();
    let done = super::wait_session(&rest, &s, 30, "the turn to be recorded", |v| {
        v["busy"] == false && v["status"] == "idle"
    })
    .await;
    assert_eq!(done["message_count"], 2, "{done}");
    let m = super::messages(&rest, &s).await;
    assert_eq!(m[1]["status"], "complete", "{}", m[1]);
    assert_eq!(
        m[1]["content"].as_str().unwrap(),
        format!("Before the disk filled. {after}")
    );
    // And it stays so across a restart.
    d.sigterm().await;
    d.restart().await;
    let m = super::messages(&d.rest(), &s).await;
    assert_eq!(m[1]["status"], "complete", "{}", m[1]);
    assert_eq!(
        send_wait(&d.rest(), &s, "again").await["reply"]["content"],
        "echo: again"
    );
}

#[tokio::test]
async fn a_deleted_sessions_space_is_given_back_at_the_next_start() {
    let (_fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    let s = id_of(&create_session(&rest, "large").await);
    let big = "q".repeat(1024 * 1024);
    for _ in 0..14 {
        send_wait(&rest, &s, &big).await;
    }
    let keep = id_of(&create_session(&rest, "small").await);
    send_wait(&rest, &keep, "hello").await;
    d.sigterm().await;
    let full = du(&d.data_dir.join("store"));
    d.restart().await;
    let rest = d.rest();
    let r = rest.delete(&format!("/v1/sessions/{s}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    d.sigterm().await;
    let deleted = du(&d.data_dir.join("store"));
    d.restart().await;
    let after = du(&d.data_dir.join("store"));
    eprintln!(
        "store: {full} bytes with the session, {deleted} after deleting it, {after} after a restart"
    );
    assert!(full > 28 << 20, "{full}");
    assert!(
        after < full / 4,
        "{full} → {after}: the space was not given back"
    );
    let log = d.log_tail(200);
    assert!(log.contains("compacted the store"), "{log}");
    // Nothing that was kept is lost.
    let m = super::messages(&d.rest(), &keep).await;
    assert_eq!(m[1]["content"], "echo: hello");
    d.rest()
        .get(&format!("/v1/sessions/{s}"))
        .await
        .assert_error(404, "not_found");
}
