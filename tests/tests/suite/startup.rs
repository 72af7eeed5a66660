//! Finding and starting the daemon: one rule for the socket, a running daemon found through
//! its data dir's lock file, start-up refusals that say why (in the client and the log), and
//! no daemon grown at a socket path someone typed.

use super::start;
use agentmux_tests::daemon::client_bin;
use pretty_assertions::assert_eq;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::Command;

/// `agentmux ARGS…` with an environment that names no socket or data dir.
async fn agentmux(args: &[&str], home: &Path) -> Output {
    let mut cmd = Command::new(client_bin());
    cmd.args(args)
        .env_remove("AGENTMUX_SOCKET")
        .env_remove("AGENTMUX_DATA_DIR")
        .env("HOME", home)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("agentmux finished in time")
        .expect("agentmux ran")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn a_daemon_listening_elsewhere_is_found_and_a_second_one_says_who_holds_the_lock() {
    let (_fake, d) = start(|o| o).await;
    let home = tempfile::tempdir().unwrap();
    let data = d.data_dir.to_str().unwrap();
    // The harness's daemon listens outside its data dir; the lock file leads the client there.
    let o = agentmux(&["--data-dir", data, "daemon", "status"], home.path()).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains(&d.socket.display().to_string()),
        "{}",
        text(&o.stdout)
    );

    // A daemon asked for at another socket of the same data dir cannot start, and the client
    // says exactly why and what to do.
    let other = home.path().join("other.sock");
    let o = agentmux(
        &[
            "--data-dir",
            data,
            "--socket",
            other.to_str().unwrap(),
            "daemon",
            "start",
        ],
        home.path(),
    )
    .await;
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    let pid = d.pid();
    assert!(
        err.contains(&format!(
            "another agentmuxd (pid {pid}, listening on {})",
            d.socket.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("--socket {}", d.socket.display())),
        "{err}"
    );
    assert!(err.contains(&format!("kill {pid}")), "{err}");
    // The refusal is in the data dir's log too.
    let log = std::fs::read_to_string(d.data_dir.join("agentmuxd.log")).unwrap();
    assert!(log.contains("cannot run: another agentmuxd"), "{log}");
}

#[tokio::test]
async fn a_named_socket_with_no_daemon_is_an_error_not_a_new_daemon() {
    let home = tempfile::tempdir().unwrap();
    let sock = home.path().join("typo/agentmuxd.sock");
    let o = agentmux(
        &["--socket", sock.to_str().unwrap(), "session", "ls"],
        home.path(),
    )
    .await;
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("no agentmuxd socket at {}", sock.display())),
        "{err}"
    );
    assert!(err.contains("daemon start"), "{err}");
    assert!(
        !sock.exists() && !sock.parent().unwrap().exists(),
        "nothing was started"
    );
}

#[tokio::test]
async fn the_default_socket_lives_in_the_data_dir() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let data_s = data.to_str().unwrap();
    let o = agentmux(
        &["--data-dir", data_s, "--json", "daemon", "start"],
        home.path(),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let _guard = KillOnDrop(info["pid"].as_i64().unwrap_or(0) as i32);
    assert_eq!(
        Path::new(info["socket"].as_str().unwrap()),
        data.join("agentmuxd.sock")
    );
    let o = agentmux(&["--data-dir", data_s, "daemon", "stop"], home.path()).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// A daemon the test started detached, killed if the test ends early.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's (or gone).
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// A daemon auto-started by a client run with almost no environment (cron, a script) still
/// answers with the provider key its config file gives.
#[tokio::test]
async fn a_daemon_started_from_a_bare_environment_uses_the_keys_in_its_config() {
    let fake = agentmux_tests::fake_openai::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        format!(
            "[providers.openai]\nbase_url = {:?}\napi_key = \"from-config\"\nmodel = {:?}\n",
            fake.base_url(),
            agentmux_tests::fake_openai::MODEL
        ),
    )
    .unwrap();
    let data_s = data.to_str().unwrap();
    let bare = |args: Vec<&str>| {
        let mut cmd = Command::new(client_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    };
    let o = bare(vec![
        "--data-dir",
        data_s,
        "--json",
        "session",
        "new",
        "--title",
        "bare",
    ])
    .output()
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let info = bare(vec!["--data-dir", data_s, "--json", "daemon", "status"])
        .output()
        .await
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let _guard = KillOnDrop(info["pid"].as_i64().unwrap_or(0) as i32);
    let o = bare(vec![
        "--data-dir",
        data_s,
        "send",
        "bare",
        "hello",
        "--wait",
    ])
    .output()
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "echo: hello\n");
    assert_eq!(fake.requests()[0].authorization, "Bearer from-config");
    let o = bare(vec!["--data-dir", data_s, "daemon", "stop"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// The agent a client's session starts sees that client's listed variables (PATH, locale,
/// what AGENTMUX_UPDATE_ENVIRONMENT names), under the provider's configured env, and never a
/// secret-looking one, however the daemon was started.
#[tokio::test]
async fn an_agent_sees_the_clients_environment_but_not_its_secrets() {
    let agent = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/acp_echo_env.py")
        .display()
        .to_string();
    let d = agentmux_tests::daemon::Daemon::start(
        agentmux_tests::daemon::DaemonOptions::default()
            .toml("[providers.acp.echoenv]")
            .toml(r#"command = "python3""#)
            .toml(&format!("args = [{agent:?}]"))
            .toml(r#"env = { FROM_CONFIG = "config", SHARED = "config wins" }"#),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(client_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args([
            "--json",
            "session",
            "new",
            "--provider",
            "echoenv",
            "--title",
            "env",
        ])
        .env(
            "AGENTMUX_UPDATE_ENVIRONMENT",
            "PATH CLIENT_MARK SHARED MY_API_TOKEN",
        )
        .env("CLIENT_MARK", "from the client")
        .env("SHARED", "client")
        .env("MY_API_TOKEN", "sk-never")
        .current_dir(home.path())
        .stdin(Stdio::null());
    let o = cmd.output().await.unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["env"]["CLIENT_MARK"], "from the client");
    assert!(s["env"].get("MY_API_TOKEN").is_none(), "{s}");
    let id = s["id"].as_str().unwrap();
    let r = super::send_wait(&d.rest(), id, "CLIENT_MARK SHARED FROM_CONFIG MY_API_TOKEN").await;
    assert_eq!(
        r["reply"]["content"],
        "CLIENT_MARK=from the client SHARED=config wins FROM_CONFIG=config MY_API_TOKEN unset"
    );
}
