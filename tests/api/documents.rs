//! The repository's own documents: they link nothing outside the repository,
//! and every file they link to exists, so a clone reads whole.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README, BENCHMARKS and every page under docs/.
fn documents() -> Vec<PathBuf> {
    let root = repository();
    let mut documents = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    documents.extend(pages);
    documents
}

/// The targets of the Markdown links `[text](target)` in `text`, without
/// their `#fragment`. Code blocks are skipped: what they hold is typed, not
/// followed.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn the_documents_link_nothing_outside_the_repository() {
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("a readable document");
        for target in link_targets(&text) {
            assert!(
                !target.contains("://") && !target.starts_with("//"),
                "{} links outside the repository: {target}",
                document.display()
            );
        }
    }
}

#[test]
fn every_file_a_document_links_to_exists() {
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("a readable document");
        let directory = document.parent().expect("a document's directory");
        for target in link_targets(&text) {
            let path = target.split('#').next().unwrap_or_default();
            // Outside links are the other test's concern.
            if path.is_empty() || path.contains("://") {
                continue;
            }
            assert!(
                directory.join(path).exists(),
                "{} links to {path}, which is not in the repository",
                document.display()
            );
        }
    }
}
