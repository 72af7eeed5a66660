//! Landing a branch on another without a work tree: `git merge-tree --write-tree` computes
//! the result (conflicts included) from objects alone, `commit-tree` records it, and the target
//! moves in one compare-and-swap. Nothing is half-applied at any point; a crash leaves only
//! unreferenced objects. A target checked out somewhere is brought forward only when that
//! checkout is clean, by git's own fast-forward.

use super::{exec, identity, run, run_env};
use agentmux_shared::types::{GitConflict, GitMergeResult};
use agentmux_shared::{Error, Result};
use std::path::Path;

pub struct MergePlan<'a> {
    /// Any work tree of the repository (the session's worktree).
    pub dir: &'a Path,
    pub branch: &'a str,
    pub target: &'a str,
    pub strategy: &'a str,
    pub message: &'a str,
}

pub async fn merge(p: &MergePlan<'_>) -> Result<GitMergeResult> {
    let strategy = match p.strategy {
        "" => "merge",
        s @ ("merge" | "squash" | "rebase") => s,
        other => {
            return Err(Error::invalid(format!(
                "merge strategy {other:?}: use merge, squash or rebase"
            )));
        }
    };
    let target_ref = format!("refs/heads/{}", p.target);
    let old = super::commit_of(p.dir, &target_ref)
        .await
        .map_err(|_| Error::invalid(format!("{} is not a local branch", p.target)))?;
    let tip = super::commit_of(p.dir, &format!("refs/heads/{}", p.branch)).await?;
    let mut result = GitMergeResult {
        strategy: strategy.into(),
        target: p.target.into(),
        commit: old.clone(),
        ..GitMergeResult::default()
    };
    if is_ancestor(p.dir, &tip, &old).await? {
        result.up_to_date = true;
        result.message = format!("{} has every commit of {} already", p.target, p.branch);
        return Ok(result);
    }
    let env = identity(p.dir).await;
    let message = match p.message.trim() {
        "" if strategy == "squash" => squash_message(p.dir, p.branch, &old, &tip).await,
        "" => format!("Merge {} into {}", p.branch, p.target),
        m => m.to_string(),
    };
    let new = match strategy {
        "rebase" => match rebase(p.dir, &old, &tip, &env).await? {
            Ok(c) => c,
            Err(conflicts) => return Ok(stopped(result, conflicts, p)),
        },
        _ => {
            let tree = match merge_tree(p.dir, None, &old, &tip).await? {
                Ok(t) => t,
                Err(conflicts) => return Ok(stopped(result, conflicts, p)),
            };
            let mut args = vec!["commit-tree", tree.as_str(), "-p", old.as_str()];
            if strategy == "merge" {
                args.extend(["-p", tip.as_str()]);
            }
            args.extend(["-m", message.as_str()]);
            run_env(p.dir, &args, &env).await?.trim().to_string()
        }
    };
    result.updated_worktree = move_target(p.dir, p.target, &target_ref, &old, &new).await?;
    result.merged = true;
    result.commit = new;
    result.message = format!("{} landed on {} ({strategy})", p.branch, p.target);
    Ok(result)
}

/// A squash commit says what it holds: the one commit's subject and body, or the subjects of
/// all of them (at most 50) under a line naming the branch.
async fn squash_message(dir: &Path, branch: &str, old: &str, tip: &str) -> String {
    let range = format!("{old}..{tip}");
    let subjects = run(
        dir,
        &["log", "--reverse", "--format=%s", "--max-count=51", &range],
    )
    .await
    .unwrap_or_default();
    let subjects: Vec<&str> = subjects.lines().filter(|s| !s.trim().is_empty()).collect();
    match subjects.as_slice() {
        [only] => run(dir, &["log", "-1", "--format=%B", tip])
            .await
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|_| only.to_string()),
        [] => format!("Squash {branch}"),
        many => {
            let mut m = format!("{branch} ({} commits)\n", many.len().min(50));
            for s in many.iter().take(50) {
                m.push_str(&format!("\n- {s}"));
            }
            m
        }
    }
}

fn stopped(
    mut r: GitMergeResult,
    conflicts: Vec<GitConflict>,
    p: &MergePlan<'_>,
) -> GitMergeResult {
    r.message = format!(
        "{} conflict(s) merging {} into {}: nothing was changed",
        conflicts.len(),
        p.branch,
        p.target
    );
    r.conflicts = conflicts;
    r
}

async fn is_ancestor(dir: &Path, a: &str, b: &str) -> Result<bool> {
    Ok(exec(dir, &["merge-base", "--is-ancestor", a, b], &[], 1024)
        .await?
        .ok)
}

/// The merged tree, or the conflicts that stop it.
async fn merge_tree(
    dir: &Path,
    base: Option<&str>,
    ours: &str,
    theirs: &str,
) -> Result<std::result::Result<String, Vec<GitConflict>>> {
    let base_arg = base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--name-only", "-z"];
    if let Some(b) = &base_arg {
        args.push(b);
    }
    args.extend([ours, theirs]);
    let out = exec(dir, &args, &[], 64 * 1024 * 1024).await?;
    let text = out.text();
    let mut fields = text.split('\0');
    let tree = fields.next().unwrap_or("").trim().to_string();
    if out.ok && !tree.is_empty() {
        return Ok(Ok(tree));
    }
    if out.stderr.contains("unknown option") || out.stderr.contains("usage:") {
        return Err(Error::precondition(
            "merging needs git 2.40 or newer (git merge-tree --write-tree --merge-base)",
        ));
    }
    let conflicts = parse_conflicts(&mut fields);
    if conflicts.is_empty() {
        return Err(Error::precondition(format!(
            "git merge-tree failed: {}",
            out.stderr
        )));
    }
    Ok(Err(conflicts))
}

/// After the tree: conflicted paths up to an empty field, then messages, each
/// `<n>\0<n paths>\0<type>\0<message>\0`.
fn parse_conflicts<'a>(fields: &mut impl Iterator<Item = &'a str>) -> Vec<GitConflict> {
    let mut out: Vec<GitConflict> = Vec::new();
    for path in fields.by_ref() {
        if path.is_empty() {
            break;
        }
        if !out.iter().any(|c| c.path == path) {
            out.push(GitConflict {
                path: path.into(),
                kind: "content".into(),
                message: String::new(),
            });
        }
    }
    while let Some(n) = fields.next().and_then(|n| n.parse::<usize>().ok()) {
        let paths: Vec<&str> = fields.by_ref().take(n).collect();
        let (Some(kind), Some(message)) = (fields.next(), fields.next()) else {
            break;
        };
        if !kind.starts_with("CONFLICT") {
            continue;
        }
        // The message names the kind more finely than the type does (`add/add` is `contents`).
        let named = |s: &str| {
            s.strip_prefix("CONFLICT (")
                .and_then(|k| k.split_once(')'))
                .map(|(k, _)| k.to_string())
        };
        let kind = named(message).or_else(|| named(kind)).unwrap_or_default();
        let kind = if kind == "contents" {
            "content"
        } else {
            kind.as_str()
        };
        for path in paths {
            match out.iter_mut().find(|c| c.path == path) {
                Some(c) => {
                    c.kind = kind.into();
                    c.message = message.trim().to_string();
                }
                None => out.push(GitConflict {
                    path: path.into(),
                    kind: kind.into(),
                    message: message.trim().to_string(),
                }),
            }
        }
    }
    out
}

/// Replays the commits of `tip` not in `onto` on top of it, keeping their authors and
/// messages; the new tip, or the conflicts of the first commit that does not apply.
async fn rebase(
    dir: &Path,
    onto: &str,
    tip: &str,
    env: &[(&str, &str)],
) -> Result<std::result::Result<String, Vec<GitConflict>>> {
    let range = format!("{onto}..{tip}");
    let list = run(
        dir,
        &["rev-list", "--reverse", "--topo-order", "--parents", &range],
    )
    .await?;
    let mut new = onto.to_string();
    for line in list.lines() {
        let mut ids = line.split_whitespace();
        let Some(c) = ids.next() else {
            continue;
        };
        let Some(parent) = ids.next() else {
            return Err(Error::precondition(format!(
                "{c} is a root commit, which rebase does not replay: use merge or squash"
            )));
        };
        if ids.next().is_some() {
            return Err(Error::precondition(format!(
                "{c} is a merge commit, which rebase does not replay: use merge or squash"
            )));
        }
        let tree = match merge_tree(dir, Some(parent), &new, c).await? {
            Ok(t) => t,
            Err(mut conflicts) => {
                for k in conflicts.iter_mut() {
                    k.message = format!("replaying {}: {}", &c[..c.len().min(12)], k.message);
                }
                return Ok(Err(conflicts));
            }
        };
        let meta = run(
            dir,
            &[
                "log",
                "-1",
                "--format=%an%x1f%ae%x1f%ad%x1f%B",
                "--date=raw",
                c,
            ],
        )
        .await?;
        let mut f = meta.splitn(4, '\u{1f}');
        let (name, email, date, body) = (
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or("").trim_end(),
        );
        let mut with = env.to_vec();
        with.retain(|(k, _)| !k.starts_with("GIT_AUTHOR"));
        with.extend([
            ("GIT_AUTHOR_NAME", name),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_AUTHOR_DATE", date),
        ]);
        new = run_env(dir, &["commit-tree", &tree, "-p", &new, "-m", body], &with)
            .await?
            .trim()
            .to_string();
    }
    Ok(Ok(new))
}

/// Moves `target` from `old` to `new`. Where it is checked out, that checkout must be clean
/// and is fast-forwarded by git; else the ref moves alone, only if it is still `old`.
/// Returns the checkout brought forward, if any.
async fn move_target(
    dir: &Path,
    target: &str,
    target_ref: &str,
    old: &str,
    new: &str,
) -> Result<String> {
    let list = run(dir, &["worktree", "list", "--porcelain"]).await?;
    let checked_out = list.split("\n\n").find_map(|block| {
        let mut path = None;
        let mut on = false;
        for l in block.lines() {
            if let Some(p) = l.strip_prefix("worktree ") {
                path = Some(p.to_string());
            }
            on |= l.strip_prefix("branch ") == Some(target_ref);
        }
        path.filter(|_| on)
    });
    let Some(w) = checked_out else {
        let msg = format!("agentmux: land on {target}");
        run(dir, &["update-ref", "-m", &msg, target_ref, new, old]).await?;
        return Ok(String::new());
    };
    let wp = Path::new(&w);
    let dirty = run(wp, &["status", "--porcelain", "--untracked-files=no"]).await?;
    if !dirty.trim().is_empty() {
        let files: Vec<&str> = dirty
            .lines()
            .take(5)
            .map(|l| l.get(3..).unwrap_or(l))
            .collect();
        return Err(Error::precondition(format!(
            "{target} is checked out in {w} with uncommitted changes ({}): commit or stash them \
             there, or merge into another branch; nothing was changed",
            files.join(", ")
        )));
    }
    let out = exec(
        wp,
        &["merge", "--ff-only", "--no-edit", new],
        &[],
        1024 * 1024,
    )
    .await?;
    if !out.ok {
        return Err(Error::precondition(format!(
            "{target} is checked out in {w}, which git would not bring forward ({}); nothing \
             was changed",
            out.stderr
        )));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_name_their_paths_and_kinds() {
        let out = [
            "c33c",
            "d",
            "f",
            "",
            "1",
            "d",
            "CONFLICT (modify/delete)",
            "CONFLICT (modify/delete): d deleted in s1 and modified in main.\n",
            "1",
            "f",
            "Auto-merging",
            "Auto-merging f\n",
            "1",
            "f",
            "CONFLICT (contents)",
            "CONFLICT (content): Merge conflict in f\n",
            "1",
            "n",
            "CONFLICT (contents)",
            "CONFLICT (add/add): Merge conflict in n\n",
            "",
        ]
        .join("\0");
        let mut fields = out.split('\0');
        fields.next();
        let c = parse_conflicts(&mut fields);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.path.as_str(), c.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            [("d", "modify/delete"), ("f", "content"), ("n", "add/add")]
        );
        assert!(c[1].message.contains("Merge conflict in f"));
    }
}
