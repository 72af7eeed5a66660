//! Diffs, parsed: one `git diff --raw --numstat -z -p` run gives git's own view of every file
//! (status, renames, binary, counts) and the patch, whose hunks are read here; untracked files
//! are shown as added, read from disk. Everything is capped: lines, bytes, and what is read.

use super::{Output, exec, failed};
use agentmux_shared::Result;
use agentmux_shared::types::{DiffFile, DiffHunk, DiffLine, GitDiff};
use std::path::{Path, PathBuf};

/// Most bytes of patch read from git; past it the rest is `truncated`.
const BYTE_CAP: usize = 32 * 1024 * 1024;
/// How much of an untracked file is read to show it, and of all of them together.
const FILE_CAP: u64 = 8 * 1024 * 1024;
const TOTAL_CAP: u64 = 64 * 1024 * 1024;
/// git's own test: a NUL in the first 8,000 bytes makes a file binary.
const BINARY_PROBE: usize = 8000;

pub struct DiffSpec {
    /// `git diff` arguments before the paths: `[commit]`, `["--cached", "HEAD"]`, `[]`.
    pub revs: Vec<String>,
    pub path: String,
    pub max_lines: usize,
    pub raw: bool,
    pub untracked: bool,
}

pub async fn diff(dir: &Path, spec: &DiffSpec) -> Result<GitDiff> {
    let mut args = vec![
        "-c",
        "core.quotePath=false",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "-M",
        "--raw",
        "--numstat",
        "-z",
        "-p",
    ];
    args.extend(spec.revs.iter().map(String::as_str));
    args.push("--");
    let pathspec = literal(&spec.path);
    if !spec.path.is_empty() {
        args.push(&pathspec);
    }
    let patch = exec(dir, &args, &[], BYTE_CAP);
    let untracked = async {
        if !spec.untracked {
            return Ok(Vec::new());
        }
        super::untracked(dir, &spec.path).await
    };
    let (patch, untracked) = tokio::join!(patch, untracked);
    let patch: Output = patch?;
    if !patch.ok && !patch.cut {
        return Err(failed(&args, &patch.stderr));
    }
    let mut d = parse(&patch.stdout, patch.cut, spec.max_lines, spec.raw);
    let untracked = untracked?;
    if !untracked.is_empty() {
        let dir = dir.to_path_buf();
        let left = spec.max_lines.saturating_sub(lines_in(&d));
        let raw = spec.raw;
        let added = tokio::task::spawn_blocking(move || added_files(&dir, untracked, left, raw))
            .await
            .map_err(|e| agentmux_shared::Error::internal(format!("reading new files: {e}")))?;
        for (f, text) in added {
            d.truncated |= f.truncated;
            d.added += u64::from(f.added);
            d.raw.push_str(&text);
            d.files.push(f);
        }
        d.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(d)
}

/// A path given by a client, for git to take literally (no globs, no magic).
pub(super) fn literal(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(":(literal){path}")
    }
}

fn lines_in(d: &GitDiff) -> usize {
    d.files
        .iter()
        .flat_map(|f| &f.hunks)
        .map(|h| h.lines.len())
        .sum()
}

/// Reads the NUL-terminated field at `*pos`.
fn field(out: &[u8], pos: &mut usize) -> String {
    let rest = out.get(*pos..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    *pos += end + 1;
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

fn status_word(letter: char) -> &'static str {
    match letter {
        'A' => "added",
        'D' => "deleted",
        'R' => "renamed",
        'C' => "copied",
        'T' => "type_changed",
        'U' => "unmerged",
        _ => "modified",
    }
}

/// `--raw` entries, then as many `--numstat` entries, a NUL, then the patch, whose
/// `diff --git` blocks come in the same order as the entries.
fn parse(out: &[u8], cut: bool, max_lines: usize, want_raw: bool) -> GitDiff {
    let mut d = GitDiff::default();
    let mut pos = 0;
    while out.get(pos) == Some(&b':') {
        let meta = field(out, &mut pos);
        // `::…` is a combined entry: a file with unresolved conflicts.
        let letter = if meta.starts_with("::") {
            'U'
        } else {
            meta.rsplit(' ')
                .next()
                .and_then(|s| s.chars().next())
                .unwrap_or('M')
        };
        let first = field(out, &mut pos);
        let (path, old_path) = if matches!(letter, 'R' | 'C') {
            (field(out, &mut pos), first)
        } else {
            (first, String::new())
        };
        d.files.push(DiffFile {
            path,
            old_path,
            status: status_word(letter).into(),
            ..DiffFile::default()
        });
    }
    // `--numstat` entries up to an empty field, matched to files by path: a conflicted file
    // has none, so their order is not the files'.
    let mut counts = std::collections::HashMap::new();
    while pos < out.len() && out.get(pos) != Some(&0) {
        let entry = field(out, &mut pos);
        let mut n = entry.splitn(3, '\t');
        let (a, r, rest) = (
            n.next().unwrap_or("-").to_string(),
            n.next().unwrap_or("-").to_string(),
            n.next().unwrap_or(""),
        );
        // A rename's paths come after an empty one.
        let path = if rest.is_empty() {
            field(out, &mut pos);
            field(out, &mut pos)
        } else {
            rest.to_string()
        };
        counts.insert(path, (a, r));
    }
    if out.get(pos) == Some(&0) {
        pos += 1;
    }
    for f in d.files.iter_mut() {
        let Some((a, r)) = counts.get(&f.path) else {
            continue;
        };
        f.binary = a == "-" && r == "-";
        f.added = a.parse().unwrap_or(0);
        f.removed = r.parse().unwrap_or(0);
        d.added += u64::from(f.added);
        d.removed += u64::from(f.removed);
    }
    read_hunks(
        &mut d,
        out.get(pos..).unwrap_or_default(),
        cut,
        max_lines,
        want_raw,
    );
    d
}

struct Reading {
    file: Option<usize>,
    old_left: u32,
    new_left: u32,
    old_line: u32,
    new_line: u32,
    lines: usize,
}

fn read_hunks(d: &mut GitDiff, patch: &[u8], cut: bool, max_lines: usize, want_raw: bool) {
    let mut r = Reading {
        file: None,
        old_left: 0,
        new_left: 0,
        old_line: 0,
        new_line: 0,
        lines: 0,
    };
    // Files a block was found for, and the next one in order (the fallback when a header's
    // paths are quoted and match no file as written).
    let mut seen = vec![false; d.files.len()];
    let mut next = 0;
    for raw_line in patch.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(raw_line);
        let in_hunk = r.old_left > 0 || r.new_left > 0;
        if !in_hunk && line.starts_with("diff --") {
            r.file = block_file(&d.files, &line, &mut seen, &mut next);
        } else if !in_hunk && line.starts_with("@@ ") {
            if let Some(h) = hunk_header(&line) {
                r.old_left = h.old_lines;
                r.new_left = h.new_lines;
                r.old_line = h.old_start;
                r.new_line = h.new_start;
                if let Some(f) = r.file.and_then(|i| d.files.get_mut(i)) {
                    if r.lines >= max_lines {
                        f.truncated = true;
                    } else {
                        f.hunks.push(h);
                    }
                }
            }
        } else if in_hunk {
            let (kind, text) = match line.split_at_checked(1) {
                Some(("+", t)) => ("added", t),
                Some(("-", t)) => ("removed", t),
                Some((" ", t)) => ("context", t),
                // "\ No newline at end of file" belongs to the line before it.
                Some(("\\", _)) => {
                    push_raw(d, want_raw, &r, max_lines, &line);
                    continue;
                }
                _ => ("context", ""),
            };
            let (old, new) = match kind {
                "added" => (0, r.new_line),
                "removed" => (r.old_line, 0),
                _ => (r.old_line, r.new_line),
            };
            if kind != "added" {
                r.old_left = r.old_left.saturating_sub(1);
                r.old_line += 1;
            }
            if kind != "removed" {
                r.new_left = r.new_left.saturating_sub(1);
                r.new_line += 1;
            }
            let Some(f) = r.file.and_then(|i| d.files.get_mut(i)) else {
                continue;
            };
            if r.lines >= max_lines {
                f.truncated = true;
                continue;
            }
            if let Some(h) = f.hunks.last_mut() {
                h.lines.push(DiffLine {
                    kind: kind.into(),
                    text: text.to_string(),
                    old_line: old,
                    new_line: new,
                });
                r.lines += 1;
            }
        }
        push_raw(d, want_raw, &r, max_lines, &line);
    }
    // Cut by the size cap: the last block read is partial, and files never reached lost theirs.
    if cut {
        for (i, f) in d.files.iter_mut().enumerate() {
            let unread = !seen.get(i).copied().unwrap_or(false) || r.file == Some(i);
            f.truncated |= unread && !f.binary && f.added + f.removed > 0;
        }
    }
    if r.lines >= max_lines {
        for f in d.files.iter_mut() {
            let shown: usize = f.hunks.iter().map(|h| h.lines.len()).sum();
            f.truncated |= !f.binary && shown < (f.added + f.removed) as usize;
        }
    }
    d.truncated = d.files.iter().any(|f| f.truncated);
    if want_raw && d.truncated {
        d.raw
            .push_str("\n[agentmux: diff truncated: hunks past the line or size cap left out]\n");
    }
}

/// The file a `diff --git a/X b/Y` (or, for a conflict, `diff --cc X`) block is about; a
/// combined block gets none (its hunks are not a two-way diff).
fn block_file(
    files: &[DiffFile],
    header: &str,
    seen: &mut [bool],
    next: &mut usize,
) -> Option<usize> {
    if let Some(path) = header
        .strip_prefix("diff --cc ")
        .or_else(|| header.strip_prefix("diff --combined "))
    {
        if let Some(i) = files.iter().position(|f| f.path == path)
            && let Some(s) = seen.get_mut(i)
        {
            *s = true;
        }
        return None;
    }
    let rest = header.strip_prefix("diff --git ")?;
    let exact = files.iter().enumerate().position(|(i, f)| {
        let old = if f.old_path.is_empty() {
            &f.path
        } else {
            &f.old_path
        };
        !seen.get(i).copied().unwrap_or(true) && rest == format!("a/{old} b/{}", f.path)
    });
    let i =
        exact.or_else(|| (*next..files.len()).find(|i| !seen.get(*i).copied().unwrap_or(true)))?;
    if let Some(s) = seen.get_mut(i) {
        *s = true;
    }
    *next = i + 1;
    Some(i)
}

fn push_raw(d: &mut GitDiff, want: bool, r: &Reading, max_lines: usize, line: &str) {
    if want && r.lines < max_lines {
        d.raw.push_str(line);
        d.raw.push('\n');
    }
}

/// `@@ -a,b +c,d @@ section` (a count left out is 1).
fn hunk_header(line: &str) -> Option<DiffHunk> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, section) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |s: &str| -> Option<(u32, u32)> {
        match s.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    let (old_start, old_lines) = range(old)?;
    let (new_start, new_lines) = range(new)?;
    Some(DiffHunk {
        old_start,
        old_lines,
        new_start,
        new_lines,
        section: section.trim().to_string(),
        lines: Vec::new(),
    })
}

/// A new file's bytes as git would show them: a regular file's content (up to the cap, opened
/// without following a link and without blocking on a FIFO), a symlink's target (never what it
/// points at); anything else is shown as binary. `false`: nothing readable.
fn read_new_file(full: &Path, budget: u64) -> (bool, Vec<u8>) {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(meta) = std::fs::symlink_metadata(full) else {
        return (false, Vec::new());
    };
    if meta.file_type().is_symlink() {
        return match std::fs::read_link(full) {
            Ok(t) => (true, t.as_os_str().as_encoded_bytes().to_vec()),
            Err(_) => (false, Vec::new()),
        };
    }
    if !meta.is_file() || budget == 0 {
        return (false, Vec::new());
    }
    let mut bytes = Vec::new();
    let read = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(full)
        .and_then(|f| f.take(FILE_CAP.min(budget)).read_to_end(&mut bytes))
        .is_ok();
    (read, bytes)
}

/// Untracked files as added, with git's unified text for them when `raw`.
fn added_files(
    dir: &Path,
    paths: Vec<String>,
    mut left: usize,
    raw: bool,
) -> Vec<(DiffFile, String)> {
    let mut out = Vec::new();
    let mut budget = TOTAL_CAP;
    for path in paths {
        let full: PathBuf = dir.join(&path);
        // Past what all new files may take, a file is listed without its content.
        let over = budget == 0;
        let (read, bytes) = read_new_file(&full, budget);
        budget = budget.saturating_sub(bytes.len() as u64);
        let binary = !over && (!read || bytes.iter().take(BINARY_PROBE).any(|b| *b == 0));
        let mut f = DiffFile {
            path: path.clone(),
            status: "added".into(),
            untracked: true,
            binary,
            truncated: over || bytes.len() as u64 >= FILE_CAP,
            ..DiffFile::default()
        };
        let mut text = String::new();
        if raw {
            text = format!("diff --git a/{path} b/{path}\nnew file mode 100644\n");
        }
        if binary {
            if raw {
                text.push_str(&format!("Binary files /dev/null and b/{path} differ\n"));
            }
            out.push((f, text));
            continue;
        }
        let body = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = body.lines().collect();
        f.added = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        if lines.is_empty() {
            out.push((f, text));
            continue;
        }
        if raw {
            text.push_str(&format!(
                "--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
                lines.len()
            ));
        }
        let mut hunk = DiffHunk {
            new_start: 1,
            new_lines: f.added,
            ..DiffHunk::default()
        };
        for (i, l) in lines.iter().enumerate() {
            if left == 0 {
                f.truncated = true;
                break;
            }
            left -= 1;
            hunk.lines.push(DiffLine {
                kind: "added".into(),
                text: l.to_string(),
                old_line: 0,
                new_line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            });
            if raw {
                text.push('+');
                text.push_str(l);
                text.push('\n');
            }
        }
        if !hunk.lines.is_empty() {
            f.hunks.push(hunk);
        }
        out.push((f, text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &[u8] = b":000000 100644 0000000 8ba3a16 A\0added.txt\0:100644 100644 d5d0b8b 0000000 M\0bin.dat\0:100644 100644 de98044 0000000 M\0f.txt\0:100644 100644 2fa992c 2fa992c R100\0old.txt\0new name.txt\0\
1\t0\tadded.txt\0-\t-\tbin.dat\x002\t1\tf.txt\x000\t0\t\0old.txt\0new name.txt\0\0\
diff --git a/added.txt b/added.txt\nnew file mode 100644\nindex 0000000..8ba3a16\n--- /dev/null\n+++ b/added.txt\n@@ -0,0 +1 @@\n+n\n\
diff --git a/bin.dat b/bin.dat\nindex d5d0b8b..4a27031 100644\nBinary files a/bin.dat and b/bin.dat differ\n\
diff --git a/f.txt b/f.txt\nindex de98044..a7bc997 100644\n--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,4 @@ fn main\n a\n-b\n+B\n c\n+d\n\
diff --git a/old.txt b/new name.txt\nsimilarity index 100%\nrename from old.txt\nrename to new name.txt\n";

    #[test]
    fn files_statuses_counts_and_hunks() {
        let d = parse(OUT, false, 10_000, true);
        let names: Vec<_> = d
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.status.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("added.txt", "added"),
                ("bin.dat", "modified"),
                ("f.txt", "modified"),
                ("new name.txt", "renamed")
            ]
        );
        assert!(d.files[1].binary && d.files[1].hunks.is_empty());
        assert_eq!(d.files[3].old_path, "old.txt");
        let f = &d.files[2];
        assert_eq!((f.added, f.removed), (2, 1));
        assert_eq!(f.hunks.len(), 1);
        let h = &f.hunks[0];
        assert_eq!(
            (h.old_start, h.old_lines, h.new_start, h.new_lines),
            (1, 3, 1, 4)
        );
        assert_eq!(h.section, "fn main");
        let kinds: Vec<_> = h
            .lines
            .iter()
            .map(|l| (l.kind.as_str(), l.text.as_str(), l.old_line, l.new_line))
            .collect();
        assert_eq!(
            kinds,
            [
                ("context", "a", 1, 1),
                ("removed", "b", 2, 0),
                ("added", "B", 0, 2),
                ("context", "c", 3, 3),
                ("added", "d", 0, 4)
            ]
        );
        assert_eq!((d.added, d.removed), (3, 1));
        assert!(!d.truncated);
        assert!(d.raw.contains("@@ -1,3 +1,4 @@ fn main\n a\n-b\n"));
    }

    #[test]
    fn the_line_cap_truncates_and_says_so() {
        let d = parse(OUT, false, 3, true);
        assert!(d.truncated);
        assert_eq!(d.files[0].hunks[0].lines.len(), 1);
        let f = &d.files[2];
        assert!(f.truncated);
        assert_eq!(f.hunks.iter().map(|h| h.lines.len()).sum::<usize>(), 2);
        assert!(!d.files[1].truncated, "a binary file has no lines to cut");
        assert!(d.raw.contains("[agentmux: diff truncated"));
    }

    #[test]
    fn output_cut_short_marks_the_files_it_did_not_reach() {
        let at = OUT.windows(10).position(|w| w == b"diff --git").unwrap() + 60;
        let d = parse(&OUT[..at], true, 10_000, false);
        assert_eq!(d.files.len(), 4);
        assert!(d.files[2].truncated && d.truncated);
    }

    /// A conflicted tree (a merge stopped): every diff names each file's own hunks.
    #[tokio::test]
    async fn a_conflicted_file_does_not_shift_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let g = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        g(&["init", "-q", "-b", "main"]);
        for f in ["a.txt", "c.txt", "e.txt"] {
            std::fs::write(dir.path().join(f), "one\n").unwrap();
        }
        g(&["add", "."]);
        g(&["commit", "-qm", "base"]);
        g(&["switch", "-qc", "other"]);
        std::fs::write(dir.path().join("c.txt"), "theirs\n").unwrap();
        g(&["commit", "-qam", "theirs"]);
        g(&["switch", "-q", "main"]);
        std::fs::write(dir.path().join("c.txt"), "ours\n").unwrap();
        g(&["commit", "-qam", "ours"]);
        g(&["merge", "-q", "other"]);
        std::fs::write(dir.path().join("a.txt"), "A\n").unwrap();
        std::fs::write(dir.path().join("e.txt"), "E\n").unwrap();
        g(&["add", "e.txt"]);
        for revs in [
            vec![],
            vec!["--cached".to_string()],
            vec!["HEAD".to_string()],
        ] {
            let spec = DiffSpec {
                revs: revs.clone(),
                path: String::new(),
                max_lines: 1000,
                raw: false,
                untracked: false,
            };
            let d = diff(dir.path(), &spec).await.unwrap();
            for f in &d.files {
                let texts: Vec<&str> = f
                    .hunks
                    .iter()
                    .flat_map(|h| &h.lines)
                    .filter(|l| l.kind == "added")
                    .map(|l| l.text.as_str())
                    .collect();
                match f.path.as_str() {
                    "a.txt" => assert!(texts.is_empty() || texts == ["A"], "{revs:?} {d:?}"),
                    "e.txt" => assert!(texts.is_empty() || texts == ["E"], "{revs:?} {d:?}"),
                    "c.txt" => assert!(
                        texts.iter().all(|t| !["A", "E"].contains(t)),
                        "{revs:?} {d:?}"
                    ),
                    other => panic!("{other} in {d:?}"),
                }
            }
        }
    }
}
