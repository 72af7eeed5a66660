//! The confined file operations over temp dirs: nothing leads out, listings page and honour
//! .gitignore, reads range and sniff, writes replace in one step.

use super::read::{MAX_READ, READ};
use super::thumb;
use super::tree::{Tree, parse};
use agentmux_shared::ErrorKind;
use agentmux_shared::types::FileListQuery;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn tree(dir: &Path) -> Tree {
    let data = tempfile::tempdir().unwrap();
    Tree::open(dir, data.path()).unwrap()
}

fn kind_of<T: std::fmt::Debug>(r: agentmux_shared::Result<T>) -> ErrorKind {
    r.expect_err("an error").kind
}

#[test]
fn paths_that_lead_out_are_refused_and_nothing_outside_changes() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("secret"), "s").unwrap();
    symlink(other.path(), dir.path().join("out")).unwrap();
    symlink(other.path().join("secret"), dir.path().join("s.txt")).unwrap();
    symlink(other.path().join("nothing"), dir.path().join("dangling")).unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let t = tree(dir.path());
    let denied = ErrorKind::PermissionDenied;

    for bad in ["../x", "a/../../x", "/etc/passwd", ".git/config", "a/.git"] {
        assert_eq!(parse(bad).unwrap_err().kind, denied, "{bad}");
    }
    assert_eq!(parse("a\0b").unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(
        parse(&"a".repeat(5000)).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(parse("./a//b/").unwrap().display(), "a/b");

    let p = |s: &str| parse(s).unwrap();
    assert_eq!(kind_of(t.read(&p("out/secret"), 0, 0)), denied);
    assert_eq!(kind_of(t.read(&p("s.txt"), 0, 0)), denied);
    assert_eq!(kind_of(t.write(&p("out/evil"), b"x")), denied);
    assert_eq!(kind_of(t.write(&p("s.txt"), b"x")), denied);
    assert_eq!(kind_of(t.write(&p("dangling"), b"x")), denied);
    assert_eq!(kind_of(t.write(&p("out/new/deep"), b"x")), denied);
    assert_eq!(
        kind_of(t.list(&p("out"), &FileListQuery::default())),
        denied
    );
    assert_eq!(kind_of(t.delete(&p("out/secret"), false)), denied);
    assert_eq!(
        kind_of(t.rename(&p("out/secret"), &p("mine"), false)),
        denied
    );
    std::fs::write(dir.path().join("mine"), "m").unwrap();
    assert_eq!(kind_of(t.rename(&p("mine"), &p("out/mine"), false)), denied);
    assert_eq!(
        std::fs::read_to_string(other.path().join("secret")).unwrap(),
        "s"
    );
    assert!(!other.path().join("evil").exists() && !other.path().join("new").exists());
    assert!(!other.path().join("nothing").exists() && !other.path().join("mine").exists());

    // A symlink itself is deleted, never what it points to.
    t.delete(&p("s.txt"), false).unwrap();
    t.delete(&p("out"), true).unwrap();
    assert!(other.path().join("secret").exists());
}

#[test]
fn agentmuxs_data_dir_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("journal"), "j").unwrap();
    let t = Tree::open(dir.path(), &data).unwrap();
    let p = |s: &str| parse(s).unwrap();
    assert_eq!(
        kind_of(t.read(&p("data/journal"), 0, 0)),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        kind_of(t.delete(&p("data"), true)),
        ErrorKind::PermissionDenied
    );
    assert!(data.join("journal").exists());
    // A worktree inside the data dir is a workspace like any other.
    let wt = data.join("worktrees/ses_1");
    std::fs::create_dir_all(&wt).unwrap();
    let t = Tree::open(&wt, &data).unwrap();
    t.write(&p("a.txt"), b"a").unwrap();
}

#[test]
fn listings_page_directories_first_and_hide_what_gitignore_hides() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(root)
        .status()
        .unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
    for d in ["src", "target", "b_dir"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    for f in ["a.txt", "z.txt", "run.log", "src/lib.rs", "src/x.log"] {
        std::fs::write(root.join(f), f).unwrap();
    }
    let t = tree(root);
    let names = |q: FileListQuery| -> (Vec<String>, String) {
        let l = t.list(&parse(&q.path).unwrap(), &q).unwrap();
        let n = l.entries.iter().map(|e| e.name.clone()).collect();
        (n, l.next_page_token)
    };
    let (all, next) = names(FileListQuery::default());
    assert_eq!(all, ["b_dir", "src", ".gitignore", "a.txt", "z.txt"]);
    assert!(next.is_empty());
    // Nested: the root's rules hold below it.
    let (src, _) = names(FileListQuery {
        path: "src".into(),
        ..Default::default()
    });
    assert_eq!(src, ["lib.rs"]);
    // all=true shows (and flags) what is hidden; .git never.
    let l = t
        .list(
            &parse("").unwrap(),
            &FileListQuery {
                all: true,
                ..Default::default()
            },
        )
        .unwrap();
    let flagged: Vec<(&str, bool)> = l
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.ignored))
        .collect();
    assert_eq!(
        flagged,
        [
            ("b_dir", false),
            ("src", false),
            ("target", true),
            (".gitignore", false),
            ("a.txt", false),
            ("run.log", true),
            ("z.txt", false)
        ]
    );
    assert_eq!(l.entries[1].kind, "dir");
    assert_eq!(l.entries[4].size, 5);
    assert_eq!(l.entries[4].path, "a.txt");
    // Two at a time.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = names(FileListQuery {
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        });
        assert!(page.len() <= 2);
        seen.extend(page);
        if next.is_empty() {
            break;
        }
        token = next;
    }
    assert_eq!(seen, all);
    let bad = FileListQuery {
        page_token: "nonsense".into(),
        ..Default::default()
    };
    assert_eq!(
        kind_of(t.list(&parse("").unwrap(), &bad)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind_of(t.list(&parse("a.txt").unwrap(), &FileListQuery::default())),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.list(&parse("nope").unwrap(), &FileListQuery::default())),
        ErrorKind::NotFound
    );
}

#[test]
fn reads_range_sniff_and_cap() {
    let dir = tempfile::tempdir().unwrap();
    let t = tree(dir.path());
    let p = |s: &str| parse(s).unwrap();
    std::fs::write(dir.path().join("t.txt"), "hello world").unwrap();
    let c = t.read(&p("t.txt"), 6, 3).unwrap();
    assert_eq!(
        (c.content.as_slice(), c.offset, c.size),
        (&b"wor"[..], 6, 11)
    );
    assert!(c.truncated && !c.binary);
    assert_eq!(c.mime, "text/plain; charset=utf-8");
    let c = t.read(&p("t.txt"), 6, 0).unwrap();
    assert_eq!((c.content.as_slice(), c.truncated), (&b"world"[..], false));
    let c = t.read(&p("t.txt"), 100, 0).unwrap();
    assert!(c.content.is_empty() && !c.truncated && c.offset == 11);

    let mut bin = vec![b'a'; 7000];
    bin.push(0);
    bin.extend(vec![b'b'; (READ as usize) + 10]);
    std::fs::write(dir.path().join("b.bin"), &bin).unwrap();
    let c = t.read(&p("b.bin"), 0, 0).unwrap();
    assert!(c.binary && c.truncated);
    assert_eq!(c.content.len() as u64, READ);
    assert_eq!(c.mime, "application/octet-stream");
    // Binary is judged by the file's start, whatever range is read.
    assert!(t.read(&p("b.bin"), 8000, 5).unwrap().binary);
    let c = t.read(&p("b.bin"), 0, u64::MAX).unwrap();
    assert_eq!(c.content.len(), bin.len().min(MAX_READ as usize));

    assert_eq!(kind_of(t.read(&p(""), 0, 0)), ErrorKind::FailedPrecondition);
    assert_eq!(kind_of(t.read(&p("missing"), 0, 0)), ErrorKind::NotFound);
    assert_eq!(kind_of(t.read(&p("t.txt/x"), 0, 0)), ErrorKind::NotFound);
}

#[test]
fn writes_replace_in_one_step_keep_the_mode_and_never_replace_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let t = tree(dir.path());
    let p = |s: &str| parse(s).unwrap();
    let e = t.write(&p("a/b/c.sh"), b"echo 1\n").unwrap();
    assert_eq!(
        (e.path.as_str(), e.name.as_str(), e.kind.as_str(), e.size),
        ("a/b/c.sh", "c.sh", "file", 7)
    );
    let f = dir.path().join("a/b/c.sh");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.write(&p("a/b/c.sh"), b"echo 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "echo 2\n");
    assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o755);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
    assert_eq!(left.len(), 1);
    // Through a symlink inside: its target is written.
    symlink("a/b/c.sh", dir.path().join("link")).unwrap();
    t.write(&p("link"), b"echo 3\n").unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "echo 3\n");
    assert!(
        dir.path()
            .join("link")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );

    assert_eq!(
        kind_of(t.write(&p("a"), b"x")),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.write(&p(""), b"x")),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.write(&p("a/b/c.sh/d"), b"x")),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.write(&p(&"n".repeat(300)), b"x")),
        ErrorKind::FailedPrecondition
    );
}

#[test]
fn deletes_and_moves_stay_inside() {
    let dir = tempfile::tempdir().unwrap();
    let t = tree(dir.path());
    let p = |s: &str| parse(s).unwrap();
    t.write(&p("d/one.txt"), b"1").unwrap();
    t.write(&p("two.txt"), b"2").unwrap();
    assert_eq!(
        kind_of(t.delete(&p("d"), false)),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.delete(&p(""), true)),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(kind_of(t.delete(&p("nope"), false)), ErrorKind::NotFound);

    assert_eq!(
        kind_of(t.rename(&p("two.txt"), &p("d/one.txt"), false)),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind_of(t.rename(&p("two.txt"), &p("d"), true)),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.rename(&p("d"), &p("d/sub/d"), false)),
        ErrorKind::FailedPrecondition
    );
    assert_eq!(
        kind_of(t.rename(&p("nope"), &p("x"), false)),
        ErrorKind::NotFound
    );
    let e = t.rename(&p("two.txt"), &p("d/one.txt"), true).unwrap();
    assert_eq!((e.path.as_str(), e.size), ("d/one.txt", 1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d/one.txt")).unwrap(),
        "2"
    );
    let e = t.rename(&p("d"), &p("e/f"), false).unwrap();
    assert_eq!(e.kind, "dir");
    assert!(dir.path().join("e/f/one.txt").exists());

    let e = t.delete(&p("e"), true).unwrap();
    assert_eq!(e.kind, "dir");
    assert!(!dir.path().join("e").exists());
}

#[test]
fn thumbnails_fit_the_box_and_refuse_what_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let t = tree(dir.path());
    let p = |s: &str| parse(s).unwrap();
    let img = image::RgbImage::from_fn(300, 100, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
    img.save(dir.path().join("wide.png")).unwrap();
    let c = t.thumb(&p("wide.png"), 64, 64).unwrap();
    assert_eq!(c.mime, "image/png");
    let back = image::load_from_memory(&c.content).unwrap();
    assert_eq!((back.width(), back.height()), (64, 21));
    // Never scaled up.
    let c = t.thumb(&p("wide.png"), 1024, 1024).unwrap();
    let back = image::load_from_memory(&c.content).unwrap();
    assert_eq!((back.width(), back.height()), (300, 100));
    std::fs::write(dir.path().join("fake.png"), "not an image").unwrap();
    assert_eq!(
        kind_of(t.thumb(&p("fake.png"), 8, 8)),
        ErrorKind::FailedPrecondition
    );

    assert_eq!(thumb::size("256x128").unwrap(), (256, 128));
    for bad in [
        "", "0x5", "5x0", "1025x5", "5", "x5", "+5x5", "5x5x5", "axb",
    ] {
        assert_eq!(
            thumb::size(bad).unwrap_err().kind,
            ErrorKind::InvalidArgument,
            "{bad}"
        );
    }
}
