//! Reading history: commits since a base, branches with their upstreams and checkouts.

use super::run;
use agentmux_shared::Result;
use agentmux_shared::types::{GitBranch, GitCommit};
use std::path::Path;

const SEP: char = '\u{1f}';

/// Commits reachable from `HEAD` and not from `since` (all of them when empty), newest first,
/// at most `limit`; whether there were more.
pub async fn log(dir: &Path, since: &str, limit: usize) -> Result<(Vec<GitCommit>, bool)> {
    let max = format!("--max-count={}", limit + 1);
    let range = if since.is_empty() {
        "HEAD".to_string()
    } else {
        format!("{since}..HEAD")
    };
    let out = run(
        dir,
        &[
            "log",
            "-z",
            &max,
            "--format=%H%x1f%h%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%s%x1f%b",
            &range,
            "--",
        ],
    )
    .await?;
    let mut commits: Vec<GitCommit> = out
        .split('\0')
        .filter(|r| !r.trim().is_empty())
        .filter_map(parse_commit)
        .collect();
    let more = commits.len() > limit;
    commits.truncate(limit);
    Ok((commits, more))
}

fn parse_commit(record: &str) -> Option<GitCommit> {
    let mut f = record.trim_start_matches('\n').splitn(8, SEP);
    let sha = f.next()?.to_string();
    let short = f.next()?.to_string();
    let parents = f.next()?.split_whitespace().map(str::to_string).collect();
    let author_name = f.next()?.to_string();
    let author_email = f.next()?.to_string();
    let time_ms = f.next()?.parse::<i64>().unwrap_or(0).saturating_mul(1000);
    let subject = f.next()?.to_string();
    let body = f.next().unwrap_or("").trim().to_string();
    Some(GitCommit {
        sha,
        short,
        subject,
        body,
        author_name,
        author_email,
        time_ms,
        parents,
    })
}

/// The commit `HEAD` is, as `git log` shows it.
pub async fn head_commit(dir: &Path) -> Result<GitCommit> {
    let (mut c, _) = log(dir, "", 1).await?;
    c.pop()
        .ok_or_else(|| agentmux_shared::Error::precondition("the branch has no commits yet"))
}

/// Local and remote branches; `current` is the one checked out at `dir`.
pub async fn branches(dir: &Path) -> Result<Vec<GitBranch>> {
    let out = run(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname)%1f%(objectname)%1f%(HEAD)%1f%(upstream:short)%1f%(upstream:track,nobracket)%1f%(worktreepath)",
            "refs/heads",
            "refs/remotes",
        ],
    )
    .await?;
    Ok(out.lines().filter_map(parse_branch).collect())
}

fn parse_branch(line: &str) -> Option<GitBranch> {
    let mut f = line.split(SEP);
    let refname = f.next()?;
    let commit = f.next()?.to_string();
    let current = f.next()? == "*";
    let upstream = f.next()?.to_string();
    let (ahead, behind) = track(f.next()?);
    let worktree = f.next().unwrap_or("").to_string();
    let (name, remote) = match refname.strip_prefix("refs/heads/") {
        Some(n) => (n, false),
        None => (refname.strip_prefix("refs/remotes/")?, true),
    };
    // `origin/HEAD` only points at another remote branch.
    if remote && name.ends_with("/HEAD") {
        return None;
    }
    Some(GitBranch {
        name: name.to_string(),
        commit,
        current,
        remote,
        upstream,
        ahead,
        behind,
        worktree,
    })
}

/// `ahead 1, behind 2` (either part may be missing; `gone` is neither).
pub(super) fn track(s: &str) -> (u32, u32) {
    let mut ahead = 0;
    let mut behind = 0;
    for part in s.split(',') {
        let mut w = part.split_whitespace();
        match (w.next(), w.next().and_then(|n| n.parse().ok())) {
            (Some("ahead"), Some(n)) => ahead = n,
            (Some("behind"), Some(n)) => behind = n,
            _ => {}
        }
    }
    (ahead, behind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_and_branches_parse() {
        let c = parse_commit(
            "\nabc123\u{1f}abc\u{1f}p1 p2\u{1f}Ann\u{1f}ann@x\u{1f}1700000000\u{1f}Fix it\u{1f}Body\nmore\n",
        )
        .unwrap();
        assert_eq!(c.parents, ["p1", "p2"]);
        assert_eq!(c.time_ms, 1_700_000_000_000);
        assert_eq!(
            (c.subject.as_str(), c.body.as_str()),
            ("Fix it", "Body\nmore")
        );
        let b = parse_branch(
            "refs/heads/agentmux/x\u{1f}c0ffee\u{1f}*\u{1f}origin/agentmux/x\u{1f}ahead 2, behind 1\u{1f}/wt",
        )
        .unwrap();
        assert_eq!(
            (
                b.name.as_str(),
                b.current,
                b.ahead,
                b.behind,
                b.worktree.as_str()
            ),
            ("agentmux/x", true, 2, 1, "/wt")
        );
        assert!(parse_branch("refs/remotes/origin/HEAD\u{1f}c\u{1f} \u{1f}\u{1f}\u{1f}").is_none());
        let r = parse_branch("refs/remotes/origin/main\u{1f}c\u{1f} \u{1f}\u{1f}\u{1f}").unwrap();
        assert!(r.remote && r.name == "origin/main");
        assert_eq!(track("gone"), (0, 0));
    }
}
