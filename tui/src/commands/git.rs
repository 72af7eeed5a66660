//! `agentmux git status|diff|log|branches|commit|stage|unstage|discard|merge|push|pull|checkout
//! SESSION` and `agentmux workspace ls|gc`.

use crate::cli::{GitCmd, WorkspaceCmd};
use crate::client::Client;
use crate::exit::{Exit, Failure};
use crate::output::{self, Out};
use agentmux_shared::types::{
    GitConflict, GitDiff, GitDiffQuery, GitMergeRequest, GitRemoteRequest, GitRemoteResult,
    GitStatus,
};
use agentmux_shared::{Error, ErrorKind, Result};

pub async fn run(c: &Client, out: &mut Out, cmd: GitCmd) -> std::result::Result<(), Failure> {
    match cmd {
        GitCmd::Merge {
            session,
            into,
            strategy,
            message,
        } => {
            let r = c
                .git_merge(
                    &session,
                    &GitMergeRequest {
                        target: into.unwrap_or_default(),
                        strategy,
                        message: message.unwrap_or_default(),
                    },
                )
                .await?;
            if out.json {
                out.json_value(&r)?;
            } else {
                out.line(&r.message)?;
                if r.merged {
                    out.line(&format!("{} is now {}", r.target, short(&r.commit)))?;
                }
                if !r.updated_worktree.is_empty() {
                    out.line(&format!("brought forward: {}", r.updated_worktree))?;
                }
                out.raw(&conflicts(&r.conflicts))?;
            }
            stopped_by(&r.conflicts)
        }
        GitCmd::Pull {
            session,
            remote,
            branch,
            strategy,
        } => {
            let req = GitRemoteRequest {
                remote: remote.unwrap_or_default(),
                branch: branch.unwrap_or_default(),
                strategy,
                ..GitRemoteRequest::default()
            };
            let r = c.git_pull(&session, &req).await?;
            remote_result(out, &r)?;
            stopped_by(&r.conflicts)
        }
        other => Ok(plain(c, out, other).await?),
    }
}

fn stopped_by(c: &[GitConflict]) -> std::result::Result<(), Failure> {
    if c.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Conflict,
        Error::new(
            ErrorKind::FailedPrecondition,
            format!("{} conflict(s); nothing was changed", c.len()),
        ),
    ))
}

async fn plain(c: &Client, out: &mut Out, cmd: GitCmd) -> Result<()> {
    match cmd {
        GitCmd::Status { session } => {
            let st = c.git_status(&session).await?;
            status_out(out, &st)
        }
        GitCmd::Diff {
            session,
            path,
            against,
            stat,
            max_lines,
            no_untracked,
        } => {
            let q = GitDiffQuery {
                against,
                path: path.unwrap_or_default(),
                raw: !stat && !out.json,
                max_lines,
                no_untracked,
            };
            let d = c.git_diff(&session, &q).await?;
            if out.json {
                return out.json_value(&d);
            }
            if stat {
                return out.raw(&diff_stat(&d));
            }
            out.raw(&d.raw)
        }
        GitCmd::Log { session, limit } => {
            let log = c.git_log(&session, limit).await?;
            if out.json {
                return out.json_value(&log);
            }
            let now = output::now_ms();
            let rows: Vec<Vec<String>> = log
                .commits
                .iter()
                .map(|k| {
                    vec![
                        k.short.clone(),
                        output::ago(now, k.time_ms),
                        k.author_name.clone(),
                        k.subject.clone(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                return out.line("no commits since the base");
            }
            out.raw(&output::table(
                &["COMMIT", "WHEN", "AUTHOR", "SUBJECT"],
                &rows,
            ))
        }
        GitCmd::Branches { session } => {
            let b = c.git_branches(&session).await?;
            if out.json {
                return out.json_value(&b);
            }
            let rows: Vec<Vec<String>> = b
                .branches
                .iter()
                .map(|b| {
                    vec![
                        format!("{}{}", if b.current { "* " } else { "  " }, b.name),
                        short(&b.commit),
                        match (b.upstream.as_str(), b.ahead, b.behind) {
                            ("", _, _) => "-".into(),
                            (u, 0, 0) => u.to_string(),
                            (u, a, z) => format!("{u} +{a} -{z}"),
                        },
                        or_dash(&b.worktree),
                    ]
                })
                .collect();
            out.raw(&output::table(
                &["BRANCH", "COMMIT", "UPSTREAM", "CHECKED OUT IN"],
                &rows,
            ))
        }
        GitCmd::Commit {
            session,
            message,
            paths,
            staged,
        } => {
            let k = c.git_commit(&session, &message, &paths, staged).await?;
            if out.json {
                return out.json_value(&k);
            }
            out.line(&format!("{} {}", k.short, k.subject))
        }
        GitCmd::Stage { session, paths } => {
            let st = c.git_stage(&session, &paths).await?;
            status_out(out, &st)
        }
        GitCmd::Unstage { session, paths } => {
            let st = c.git_unstage(&session, &paths).await?;
            status_out(out, &st)
        }
        GitCmd::Discard {
            session,
            paths,
            all: _,
        } => {
            // `--all` sends no paths: every change.
            let st = c.git_discard(&session, &paths).await?;
            status_out(out, &st)
        }
        GitCmd::Push {
            session,
            remote,
            branch,
            set_upstream,
            force,
        } => {
            let req = GitRemoteRequest {
                remote: remote.unwrap_or_default(),
                branch: branch.unwrap_or_default(),
                set_upstream,
                force,
                ..GitRemoteRequest::default()
            };
            let r = c.git_push(&session, &req).await?;
            remote_result(out, &r)
        }
        GitCmd::Checkout {
            session,
            r#ref,
            create,
        } => {
            let st = c.git_checkout(&session, &r#ref, create).await?;
            status_out(out, &st)
        }
        GitCmd::Merge { .. } | GitCmd::Pull { .. } => Err(Error::internal("handled in run")),
    }
}

pub async fn workspace(c: &Client, out: &mut Out, cmd: WorkspaceCmd) -> Result<()> {
    match cmd {
        WorkspaceCmd::Ls => {
            let all = c.list_workspaces().await?;
            if out.json {
                return out.json_value(&all);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|w| {
                    vec![
                        w.path.clone(),
                        or_dash(&w.session_name),
                        or_dash(&w.branch),
                        w.state.clone(),
                        megabytes(w.size_bytes),
                    ]
                })
                .collect();
            out.raw(&output::table(
                &["PATH", "SESSION", "BRANCH", "STATE", "SIZE"],
                &rows,
            ))
        }
        WorkspaceCmd::Gc { dry_run, force } => {
            let r = c.collect_workspaces(dry_run, force).await?;
            if out.json {
                return out.json_value(&r);
            }
            let verb = if dry_run { "would remove" } else { "removed" };
            for w in &r.removed {
                out.line(&format!("{verb} {} ({})", w.path, megabytes(w.size_bytes)))?;
            }
            for w in &r.kept {
                out.line(&format!("kept {}: {}", w.path, w.state))?;
            }
            out.line(&format!(
                "{} {} worktree(s), {}",
                verb,
                r.removed.len(),
                megabytes(r.freed_bytes)
            ))
        }
    }
}

fn status_out(out: &mut Out, st: &GitStatus) -> Result<()> {
    if out.json {
        return out.json_value(st);
    }
    out.raw(&git_status(st))
}

fn remote_result(out: &mut Out, r: &GitRemoteResult) -> Result<()> {
    if out.json {
        return out.json_value(r);
    }
    if !r.output.is_empty() {
        out.line(&r.output)?;
    }
    out.raw(&conflicts(&r.conflicts))
}

fn conflicts(c: &[GitConflict]) -> String {
    c.iter()
        .map(|k| format!("CONFLICT ({}) {}\n", k.kind, k.path))
        .collect()
}

fn short(sha: &str) -> String {
    sha.chars().take(10).collect()
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

fn megabytes(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// `git diff --stat`-like: one line per file with its counts.
pub fn diff_stat(d: &GitDiff) -> String {
    let mut out = String::new();
    for f in &d.files {
        let name = if f.old_path.is_empty() {
            f.path.clone()
        } else {
            format!("{} => {}", f.old_path, f.path)
        };
        let counts = if f.binary {
            "binary".to_string()
        } else {
            format!("+{} -{}", f.added, f.removed)
        };
        out.push_str(&format!("{:<9} {name} {counts}\n", f.status));
    }
    out.push_str(&format!(
        "{} file(s), +{} -{}{}\n",
        d.files.len(),
        d.added,
        d.removed,
        if d.truncated { " (truncated)" } else { "" }
    ));
    out
}

pub fn git_status(s: &GitStatus) -> String {
    let branch = if s.branch.is_empty() {
        "(detached)"
    } else {
        s.branch.as_str()
    };
    let mut out = if s.base_commit.is_empty() {
        format!("on {branch}\n")
    } else {
        let base = if s.base_branch.is_empty() {
            short(&s.base_commit)
        } else {
            s.base_branch.clone()
        };
        format!(
            "on {branch}, {} ahead and {} behind its base {base}\n",
            s.ahead, s.behind
        )
    };
    if !s.upstream.is_empty() {
        out.push_str(&format!(
            "upstream {}: {} ahead, {} behind\n",
            s.upstream, s.upstream_ahead, s.upstream_behind
        ));
    }
    if s.files.is_empty() {
        out.push_str("nothing changed\n");
    }
    for f in &s.files {
        let letters = if f.untracked {
            "??".to_string()
        } else {
            let l = |x: &str| {
                if x.is_empty() {
                    " ".to_string()
                } else {
                    x.to_string()
                }
            };
            format!("{}{}", l(&f.staged), l(&f.unstaged))
        };
        if f.old_path.is_empty() {
            out.push_str(&format!("{letters} {}\n", f.path));
        } else {
            out.push_str(&format!("{letters} {} -> {}\n", f.old_path, f.path));
        }
    }
    out
}
