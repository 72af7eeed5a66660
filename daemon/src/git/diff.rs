//! Diffs, parsed: one `git diff --raw --numstat -z -p` run gives git's own view of every file
//! (status, renames, binary, counts) and the patch, whose hunks are read here; untracked files
//! are shown as added, read from disk. Everything is capped: lines, bytes, and what is read.

use super::{Output, exec, failed};
use agentmux_shared::Result;
use agentmux_shared::types::{DiffFile, DiffHunk, DiffLine, GitDiff};
use std::path::{Path, PathBuf};

/// Most bytes of patch read from git; past it the rest is `truncated`.
const BYTE_CAP: usize = 32 * 1024 * 1024;
/// How much of an untracked file is read to show it.
const FILE_CAP: u64 = 8 * 1024 * 1024;
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
        let letter = meta
            .rsplit(' ')
            .next()
            .and_then(|s| s.chars().next())
            .unwrap_or('M');
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
    for f in d.files.iter_mut() {
        let counts = field(out, &mut pos);
        let mut n = counts.split('\t');
        let (a, r) = (n.next().unwrap_or("-"), n.next().unwrap_or("-"));
        f.binary = a == "-" && r == "-";
        f.added = a.parse().unwrap_or(0);
        f.removed = r.parse().unwrap_or(0);
        // A rename's numstat has its two paths after an empty one.
        if n.next() == Some("") {
            field(out, &mut pos);
            field(out, &mut pos);
        }
        d.added += u64::from(f.added);
        d.removed += u64::from(f.removed);
    }
    if out.get(pos) == Some(&0) {
        pos += 1;
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
    let mut blocks = 0;
    for raw_line in patch.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(raw_line);
        let in_hunk = r.old_left > 0 || r.new_left > 0;
        if !in_hunk && line.starts_with("diff --git ") {
            r.file = (blocks < d.files.len()).then_some(blocks);
            blocks += 1;
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
    // Files whose block the cap cut off, or never came.
    let complete = if cut {
        blocks.saturating_sub(1)
    } else {
        blocks
    };
    for f in d.files.iter_mut().skip(complete) {
        f.truncated |= !f.binary && f.added + f.removed > 0;
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

/// Untracked files as added, with git's unified text for them when `raw`.
fn added_files(
    dir: &Path,
    paths: Vec<String>,
    mut left: usize,
    raw: bool,
) -> Vec<(DiffFile, String)> {
    use std::io::Read;
    let mut out = Vec::new();
    for path in paths {
        let full: PathBuf = dir.join(&path);
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&full)
            .and_then(|f| f.take(FILE_CAP).read_to_end(&mut bytes))
            .is_ok();
        let binary = !read || bytes.iter().take(BINARY_PROBE).any(|b| *b == 0);
        let mut f = DiffFile {
            path: path.clone(),
            status: "added".into(),
            untracked: true,
            binary,
            truncated: bytes.len() as u64 >= FILE_CAP,
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
}
