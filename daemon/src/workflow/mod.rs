//! Workflows: definitions (TOML files in `<config dir>/workflows`, built-ins shipped with the
//! daemon, or JSON in a request), checked before anything runs (`check`), with the condition
//! language of `when` and `loop.until` (`expr`).

pub mod check;
pub mod expr;

use agentmux_shared::types::{WorkflowDef, WorkflowInfo};
use agentmux_shared::{Error, Result};
use std::path::Path;

/// The workflows shipped with the daemon, by file name.
const BUILTIN: [(&str, &str); 3] = [
    (
        "implement-review",
        include_str!("builtin/implement-review.toml"),
    ),
    ("best-of-n", include_str!("builtin/best-of-n.toml")),
    ("plan-fanout", include_str!("builtin/plan-fanout.toml")),
];

/// A definition from TOML; its name defaults to the file's.
pub fn parse(text: &str, default_name: &str) -> Result<WorkflowDef> {
    WorkflowDef::from_toml(text, default_name)
}

/// Every workflow there is: the files in `dir` (a file's definition wins over a built-in of
/// the same name), then the built-ins; a file that does not parse is listed with its error.
pub fn all(dir: &Path) -> Vec<(WorkflowInfo, Option<WorkflowDef>)> {
    let mut out: Vec<(WorkflowInfo, Option<WorkflowDef>)> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for p in files {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = std::fs::read_to_string(&p)
            .map_err(|e| Error::invalid(format!("cannot read it: {e}")))
            .and_then(|t| parse(&t, &stem));
        let source = p.display().to_string();
        out.push(match read {
            Ok(def) => (info(&def, &source), Some(def)),
            Err(e) => (
                WorkflowInfo {
                    name: stem,
                    source,
                    error: e.message,
                    ..WorkflowInfo::default()
                },
                None,
            ),
        });
    }
    for (name, text) in BUILTIN {
        if out.iter().any(|(i, _)| i.name == name) {
            continue;
        }
        match parse(text, name) {
            Ok(def) => out.push((info(&def, "builtin"), Some(def))),
            Err(e) => {
                tracing::error!(workflow = name, error = %e.message, "a built-in workflow does not parse")
            }
        }
    }
    out
}

fn info(def: &WorkflowDef, source: &str) -> WorkflowInfo {
    WorkflowInfo {
        name: def.name.clone(),
        description: def.description.clone(),
        source: source.to_string(),
        nodes: u32::try_from(def.nodes.len()).unwrap_or(u32::MAX),
        error: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_parse_and_pass_the_check() {
        let providers: Vec<String> = ["claude", "codex", "gemini"]
            .into_iter()
            .map(String::from)
            .collect();
        let known = check::Known {
            providers: &providers,
        };
        for (name, text) in BUILTIN {
            let def = parse(text, name).unwrap();
            assert_eq!(def.name, name);
            let p = check::check(&def, &known).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(p.order.len(), def.nodes.len());
        }
        let ir = parse(BUILTIN[0].1, "x").unwrap();
        let p = check::check(&ir, &known).unwrap();
        assert_eq!(
            p.layers,
            [
                vec!["implement"],
                vec!["review"],
                vec!["fix"],
                vec!["gate"],
                vec!["merge"]
            ]
        );
    }

    #[test]
    fn every_error_comes_back_with_where_it_is() {
        let def = parse(
            r#"
name = "bad"
[[nodes]]
id = "a"
provider = "nope"
prompt = "{{nodes.b.output}} {{item}} {{ nodes.zzz.json.x }}"
needs = ["b"]
[[nodes]]
id = "b"
needs = ["a"]
prompt = "x {{input"
provider = "claude"
when = "nodes.a.json.ok =="
workspace = "node:c"
[[nodes]]
id = "c"
prompt = "hi"
loop = { back_to = "a", until = "true", max = 0 }
"#,
            "f",
        )
        .unwrap();
        let providers = vec!["claude".to_string()];
        let errs = check::check(
            &def,
            &check::Known {
                providers: &providers,
            },
        )
        .unwrap_err();
        let at: Vec<&str> = errs.iter().map(|e| e.location.as_str()).collect();
        for want in [
            "nodes[0].provider",
            "nodes[0].prompt",
            "nodes[1].prompt",
            "nodes[1].when",
            "nodes[1].workspace",
            "nodes[2].loop.back_to",
            "nodes[2].loop.max",
            "nodes",
        ] {
            assert!(at.contains(&want), "{want} missing from {errs:#?}");
        }
        assert!(
            errs.iter().any(|e| e.message.contains("cycle")),
            "{errs:#?}"
        );
        assert!(
            errs.iter().any(|e| e.message.contains("`item`")),
            "{errs:#?}"
        );
        assert!(
            parse("name = 1", "x").is_err()
                && parse("[[nodes]]\nid = \"a\"\nunknown = 1", "x").is_err()
        );
    }

    #[test]
    fn a_file_wins_over_a_builtin_and_a_broken_one_is_listed_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("best-of-n.toml"),
            "description = \"mine\"\n[[nodes]]\nid = \"x\"\nprompt = \"p\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.toml"), "[[nodes]\n").unwrap();
        let all = all(dir.path());
        let mine = all.iter().find(|(i, _)| i.name == "best-of-n").unwrap();
        assert_eq!(mine.0.description, "mine");
        assert!(mine.0.source.ends_with("best-of-n.toml"));
        let broken = all.iter().find(|(i, _)| i.name == "broken").unwrap();
        assert!(broken.1.is_none() && !broken.0.error.is_empty());
        assert!(
            all.iter()
                .any(|(i, _)| i.name == "plan-fanout" && i.source == "builtin")
        );
    }
}
