//! Writing a long message in the user's editor (Ctrl-G in the composer): the draft goes to a
//! private temp file, `$VISUAL` / `$EDITOR` (else `vi`) runs on it with the terminal handed
//! over, and what it leaves there becomes the draft.

use std::io::Write;
use std::path::PathBuf;

/// The editor command, as the shell would run it (`code --wait` works).
pub fn command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Runs `editor` on a file holding `text`; what the file holds afterwards, or why not.
/// Blocks until the editor exits: call it with the terminal released.
pub fn edit(editor: &str, text: &str) -> std::io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = temp_path();
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("agentmux-editor")
        .arg(&path)
        .status();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path),
        Ok(s) => Err(std::io::Error::other(format!("{editor} exited with {s}"))),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&path);
    // Editors end a file with a newline the user did not mean to send.
    result.map(|t| t.strip_suffix('\n').unwrap_or(&t).to_string())
}

fn temp_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "agentmux-message-{}-{nanos}.md",
        std::process::id()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_changes_the_text_and_a_failing_one_changes_nothing() {
        let got = edit("sed -i 's/draft/final text/'", "a draft").unwrap();
        assert_eq!(got, "a final text");
        assert!(edit("false", "kept").is_err());
    }
}
