//! A session's files over REST, gRPC and the CLI against real directories and a real worktree:
//! gitignore-aware paged listings, ranged reads with binary detection, raw and multipart
//! writes, moves and deletes, thumbnails, and no path that leads out of the workspace.

use super::start;
use super::workspaces::{create, git, repo};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Reply, Rest};
use agentmux_tests::daemon::{Daemon, client_bin};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A session working in `dir` (no worktree); its id.
async fn plain_session(rest: &Rest, dir: &Path, title: &str) -> String {
    let (status, s) = create(rest, json!({"title": title, "cwd": dir})).await;
    assert_eq!(status, 201, "{s}");
    s["id"].as_str().unwrap().to_string()
}

fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn header(r: &Reply, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn put(rest: &Rest, id: &str, path: &str, body: &[u8]) -> Reply {
    let url = format!("/v1/sessions/{id}/files/content?path={}", q(path));
    rest.raw(Method::PUT, &url, "application/octet-stream", body.to_vec())
        .await
}

async fn content(rest: &Rest, id: &str, query: &str) -> Reply {
    rest.get(&format!("/v1/sessions/{id}/files/content?{query}"))
        .await
}

async fn names(rest: &Rest, id: &str, query: &str) -> Vec<String> {
    let l = rest
        .get_ok(&format!("/v1/sessions/{id}/files?{query}"))
        .await;
    l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "agentmuxTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_worktree_sessions_files_are_listed_read_written_moved_and_deleted() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    std::fs::write(repo.path().join(".gitignore"), "target/\n*.log\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "ignore"]);
    let (status, s) = create(
        &rest,
        json!({"title": "files", "cwd": repo.path().join("src"), "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let id = s["id"].as_str().unwrap().to_string();
    let wt = PathBuf::from(s["workspace"]["path"].as_str().unwrap());
    std::fs::create_dir(wt.join("target")).unwrap();
    std::fs::write(wt.join("build.log"), "log").unwrap();
    std::fs::write(wt.join("notes.txt"), "0123456789").unwrap();

    // Paths are relative to the worktree's top, not the session's cwd inside it; what
    // .gitignore hides and .git are left out.
    assert_eq!(
        names(&rest, &id, "").await,
        ["src", ".gitignore", "notes.txt"]
    );
    let all = rest
        .get_ok(&format!("/v1/sessions/{id}/files?all=true"))
        .await;
    let flagged: Vec<(String, bool)> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().into(), e["ignored"] == true))
        .collect();
    assert!(flagged.contains(&("target".into(), true)), "{all}");
    assert!(flagged.contains(&("build.log".into(), true)), "{all}");
    assert!(flagged.contains(&("notes.txt".into(), false)), "{all}");
    assert!(!flagged.iter().any(|(n, _)| n == ".git"), "{all}");
    let src = rest
        .get_ok(&format!("/v1/sessions/{id}/files?path=src"))
        .await;
    assert_eq!(src["entries"][0]["path"], "src/main.rs", "{src}");
    assert_eq!(src["entries"][0]["kind"], "file");
    assert_eq!(src["entries"][0]["size"], 13);
    // Paged one at a time, the same entries in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let page = rest
            .get_ok(&format!(
                "/v1/sessions/{id}/files?page_size=1&page_token={}",
                q(&token)
            ))
            .await;
        paged.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string()),
        );
        token = page["next_page_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(paged, ["src", ".gitignore", "notes.txt"]);

    // Ranged reads, with what the headers say.
    let r = content(&rest, &id, "path=notes.txt&offset=2&length=3").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "234");
    assert_eq!(header(&r, "x-agentmux-size"), "10");
    assert_eq!(header(&r, "x-agentmux-offset"), "2");
    assert_eq!(header(&r, "x-agentmux-truncated"), "true");
    assert_eq!(header(&r, "x-agentmux-binary"), "false");
    assert!(header(&r, "content-type").starts_with("text/plain"));
    let r = content(&rest, &id, "path=notes.txt&offset=7").await;
    assert_eq!(
        (
            r.text().as_str(),
            header(&r, "x-agentmux-truncated").as_str()
        ),
        ("789", "false")
    );

    // Raw writes (directories made), binary detection, and the user's checkout untouched.
    let bin = [b'P', b'K', 0, 1, 2, 3, 0, 255];
    let r = put(&rest, &id, "out/data.bin", &bin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "out/data.bin");
    assert_eq!(r.json()["size"], 8);
    let r = content(&rest, &id, "path=out/data.bin").await;
    assert_eq!(&r.body[..], &bin);
    assert_eq!(header(&r, "x-agentmux-binary"), "true");
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    let r = put(&rest, &id, "src/main.rs", b"fn main() { files(); }\n").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        std::fs::read_to_string(wt.join("src/main.rs")).unwrap(),
        "fn main() { files(); }\n"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(!repo.path().join("out").exists());
    let r = put(&rest, &id, "src", b"x").await;
    r.assert_error(409, "failed_precondition");

    // Multipart: each part under the directory by its filename.
    let (ct, body) = multipart(&[("a.txt", b"alpha"), ("deep/b.txt", b"beta")]);
    let r = rest
        .raw(
            Method::POST,
            &format!("/v1/sessions/{id}/files/upload?path=up"),
            &ct,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = r.json();
    let paths: Vec<&str> = up["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["up/a.txt", "up/deep/b.txt"]);
    assert_eq!(
        content(&rest, &id, "path=up/deep/b.txt").await.text(),
        "beta"
    );
    let (ct, body) = multipart(&[("../escape.txt", b"x")]);
    let r = rest
        .raw(
            Method::POST,
            &format!("/v1/sessions/{id}/files/upload"),
            &ct,
            body,
        )
        .await;
    r.assert_error(403, "permission_denied");

    // Moves and deletes.
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/files/rename"),
            json!({"from": "up/a.txt", "to": "moved/a.txt"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(wt.join("moved/a.txt").exists() && !wt.join("up/a.txt").exists());
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/files/rename"),
            json!({"from": "notes.txt", "to": "moved/a.txt"}),
        )
        .await;
    r.assert_error(409, "already_exists");
    let r = rest
        .delete(&format!("/v1/sessions/{id}/files?path=up"))
        .await;
    r.assert_error(409, "failed_precondition");
    let r = rest
        .delete(&format!("/v1/sessions/{id}/files?path=up&recursive=true"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["kind"], "dir");
    assert!(!wt.join("up").exists());
    let r = rest
        .delete(&format!("/v1/sessions/{id}/files?path=up"))
        .await;
    r.assert_error(404, "not_found");
    // git's own data is not the files API's to change.
    let r = rest
        .delete(&format!("/v1/sessions/{id}/files?path=.git&recursive=true"))
        .await;
    r.assert_error(403, "permission_denied");
    assert!(wt.join(".git").exists());
}

#[tokio::test]
async fn paths_that_lead_out_of_the_workspace_are_refused_and_nothing_outside_is_touched() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("s.txt")).unwrap();
    std::fs::write(dir.path().join("inside.txt"), "inside").unwrap();
    let id = plain_session(&rest, dir.path(), "escape").await;
    let abs = secret.display().to_string();
    let parent = format!(
        "../{}/secret.txt",
        outside.path().file_name().unwrap().to_string_lossy()
    );

    for p in [
        abs.as_str(),
        parent.as_str(),
        "out/secret.txt",
        "s.txt",
        "a/../../x",
    ] {
        let r = content(&rest, &id, &format!("path={}", q(p))).await;
        r.assert_error(403, "permission_denied");
        let r = put(&rest, &id, p, b"pwned").await;
        r.assert_error(403, "permission_denied");
        if p == "s.txt" {
            // A link itself may be moved or deleted: that touches nothing it points to.
            continue;
        }
        let r = rest
            .delete(&format!(
                "/v1/sessions/{id}/files?path={}&recursive=true",
                q(p)
            ))
            .await;
        r.assert_error(403, "permission_denied");
        let r = rest
            .post(
                &format!("/v1/sessions/{id}/files/rename"),
                json!({"from": "inside.txt", "to": p}),
            )
            .await;
        r.assert_error(403, "permission_denied");
    }
    for p in ["out", "..", "/"] {
        let r = rest
            .get(&format!("/v1/sessions/{id}/files?path={}", q(p)))
            .await;
        r.assert_error(403, "permission_denied");
    }
    let r = content(&rest, &id, "path=out/new.txt").await;
    r.assert_error(403, "permission_denied");
    let r = put(&rest, &id, "out/new.txt", b"pwned").await;
    r.assert_error(403, "permission_denied");
    let r = rest
        .delete(&format!("/v1/sessions/{id}/files?path=s.txt"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["kind"], "symlink");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
    let left: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing made outside");
    assert!(dir.path().join("inside.txt").exists());
    // A link is listed as what it is, never followed.
    let l = rest.get_ok(&format!("/v1/sessions/{id}/files")).await;
    let out = l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "out")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(out["kind"], "symlink", "{l}");

    // The same over gRPC.
    let g = d.grpc().await;
    let mut files = pb::file_service_client::FileServiceClient::new(g.channel());
    let err = files
        .read_file(pb::ReadFileRequest {
            session_id: id.clone(),
            path: "out/secret.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    let e = files
        .write_file(pb::WriteFileRequest {
            session_id: id.clone(),
            path: "g/new.txt".into(),
            content: b"grpc".to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((e.path.as_str(), e.size), ("g/new.txt", 4));
    let c = files
        .read_file(pb::ReadFileRequest {
            session_id: id.clone(),
            path: "g/new.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (c.content.as_slice(), c.size, c.truncated),
        (&b"grpc"[..], 4, false)
    );
}

#[tokio::test]
async fn a_thumbnail_of_an_image_fits_the_asked_bounds() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbaImage::from_fn(400, 200, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
    });
    img.save(dir.path().join("pic.png")).unwrap();
    image::RgbImage::from_fn(120, 240, |x, _| image::Rgb([x as u8, 0, 0]))
        .save(dir.path().join("tall.jpg"))
        .unwrap();
    std::fs::write(dir.path().join("text.txt"), "not an image").unwrap();
    let id = plain_session(&rest, dir.path(), "thumbs").await;

    for (path, thumb, want) in [
        ("pic.png", "100x100", (100, 50)),
        ("pic.png", "1024x1024", (400, 200)),
        ("tall.jpg", "64x64", (32, 64)),
    ] {
        let r = content(&rest, &id, &format!("path={path}&thumb={thumb}")).await;
        assert_eq!(r.status, 200, "{path} {thumb}: {}", r.text());
        assert_eq!(header(&r, "content-type"), "image/png");
        let t = image::load_from_memory_with_format(&r.body, image::ImageFormat::Png).unwrap();
        assert_eq!((t.width(), t.height()), want, "{path} {thumb}");
    }
    let r = content(&rest, &id, "path=pic.png").await;
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(
        r.body.len() as u64,
        std::fs::metadata(dir.path().join("pic.png")).unwrap().len()
    );
    for bad in ["0x10", "2000x10", "10", "ax b"] {
        let r = content(&rest, &id, &format!("path=pic.png&thumb={}", q(bad))).await;
        r.assert_error(400, "invalid_argument");
    }
    let r = content(&rest, &id, "path=text.txt&thumb=10x10").await;
    r.assert_error(409, "failed_precondition");
    let r = content(&rest, &id, "path=nope.png&thumb=10x10").await;
    r.assert_error(404, "not_found");
}

async fn cli(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> (i32, Vec<u8>, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(client_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .current_dir(d.work_dir())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn agentmux");
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes).await.unwrap();
        drop(pipe);
    }
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_puts_lists_gets_moves_and_removes_files() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let dir = tempfile::tempdir().unwrap();
    let id = plain_session(&rest, dir.path(), "cli-files").await;
    let local = tempfile::tempdir().unwrap();
    // Over a megabyte, so `get` reads it in more than one range.
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(local.path().join("big.bin"), &big).unwrap();
    let big_local = local.path().join("big.bin").display().to_string();

    let (code, _, err) = cli(
        &d,
        &["files", "put", "cli-files", "data/big.bin", &big_local],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(
        &d,
        &["files", "put", "cli-files", "hello.txt"],
        Some(b"hi there\n"),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(dir.path().join("data/big.bin")).unwrap(), big);

    let (code, out, err) = cli(&d, &["files", "ls", "cli-files", "--json"], None).await;
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_slice(&out).unwrap();
    let got: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["data", "hello.txt"]);
    let (code, out, _) = cli(&d, &["files", "ls", "cli-files", "data"], None).await;
    assert_eq!(code, 0);
    assert!(String::from_utf8_lossy(&out).contains("big.bin"));

    let (code, out, err) = cli(&d, &["files", "get", "cli-files", "hello.txt"], None).await;
    assert_eq!((code, out.as_slice()), (0, &b"hi there\n"[..]), "{err}");
    let copy = local.path().join("copy.bin");
    let copy_s = copy.display().to_string();
    let (code, _, err) = cli(
        &d,
        &["files", "get", &id, "data/big.bin", "-o", &copy_s],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), big);
    let (code, out, _) = cli(
        &d,
        &[
            "files",
            "get",
            "cli-files",
            "hello.txt",
            "--offset",
            "3",
            "--length",
            "5",
        ],
        None,
    )
    .await;
    assert_eq!((code, out.as_slice()), (0, &b"there"[..]));

    let (code, _, err) = cli(
        &d,
        &["files", "mv", "cli-files", "hello.txt", "greet/hello.txt"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("greet/hello.txt").exists());
    let (code, _, err) = cli(&d, &["files", "rm", "cli-files", "data"], None).await;
    assert_ne!(code, 0, "a full directory needs -r");
    assert!(err.contains("recursive"), "{err}");
    let (code, _, err) = cli(&d, &["files", "rm", "-r", "cli-files", "data"], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(!dir.path().join("data").exists());
    let (code, _, err) = cli(&d, &["files", "get", "cli-files", "../etc/passwd"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains(".."), "{err}");
}

/// A session working in a directory that holds agentmux's data dir cannot delete or move it,
/// and one working in the data dir itself is refused; a `.gitignore` that is a FIFO or a link
/// to /dev/zero does not hang or exhaust a listing.
#[tokio::test]
async fn the_data_dir_is_never_reachable_and_odd_ignore_files_cannot_stall_a_listing() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    // The directory two levels up: the one it names holds the data dir, it is not it.
    let root = d.data_dir.parent().unwrap().to_path_buf();
    let above = root.parent().unwrap().to_path_buf();
    let name = root.file_name().unwrap().to_str().unwrap().to_string();
    let id = plain_session(&rest, &above, "above").await;
    let r = rest
        .request(
            Method::DELETE,
            &format!("/v1/sessions/{id}/files?path={name}&recursive=true"),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/files/rename"),
            json!({"from": name, "to": format!("{name}-moved")}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(d.data_dir.exists());
    let inside = plain_session(&rest, &d.data_dir, "inside").await;
    let r = rest.get(&format!("/v1/sessions/{inside}/files")).await;
    assert_eq!(r.status, 403, "{}", r.text());

    let odd = tempfile::tempdir().unwrap();
    std::fs::write(odd.path().join("a.txt"), "a").unwrap();
    let fifo = std::ffi::CString::new(odd.path().join(".gitignore").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::create_dir(odd.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", odd.path().join("sub/.gitignore")).unwrap();
    let sid = plain_session(&rest, odd.path(), "odd").await;
    for dir in ["", "sub"] {
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            rest.get(&format!("/v1/sessions/{sid}/files?path={dir}")),
        )
        .await
        .expect("a listing ends");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// Dangling links say where they point: missing inside the workspace (404), refused outside
/// (403); a write through a link to the workspace itself is a conflict (409), not a failure.
#[tokio::test]
async fn dangling_links_and_a_link_to_the_workspace_answer_what_they_are() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("missing.txt", dir.path().join("in")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("here")).unwrap();
    let id = plain_session(&rest, dir.path(), "links").await;
    assert_eq!(content(&rest, &id, "path=in").await.status, 404);
    assert_eq!(content(&rest, &id, "path=out").await.status, 403);
    let r = put(&rest, &id, "here", b"x").await;
    assert_eq!(r.status, 409, "{}", r.text());
}
