//! Finding pack.yaml in a materialized tree, in the order Attune uses: the root, `pack/`, then
//! a single first-level subdirectory (the layout of GitHub's archives, `repo-main/…`).

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Where the pack root is, relative to the tree root (`""` for the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub rel: String,
    pub dir: PathBuf,
}

impl Located {
    /// `name` inside the pack root, as a path relative to the source (`pack/pack.yaml`).
    pub fn rel_file(&self, name: &str) -> String {
        if self.rel.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.rel)
        }
    }
}

/// Finds the pack root in `tree`; `origin` names the source in errors.
pub fn locate(tree: &Path, origin: &str) -> Result<Located> {
    let mut searched = Vec::new();
    for rel in ["", "pack"] {
        let dir = if rel.is_empty() {
            tree.to_owned()
        } else {
            tree.join(rel)
        };
        searched.push(dir.join("pack.yaml"));
        if is_regular(&dir.join("pack.yaml")) {
            return Ok(Located {
                rel: rel.to_owned(),
                dir,
            });
        }
    }
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(tree).ctx(|| format!("reading {}", tree.display()))? {
        let entry = entry.ctx(|| format!("reading {}", tree.display()))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            if let Some(name) = entry.file_name().to_str() {
                subdirs.push(name.to_owned());
            }
        }
    }
    subdirs.sort();
    let mut found = Vec::new();
    for sub in &subdirs {
        if sub == "pack" {
            continue;
        }
        for rel in [sub.clone(), format!("{sub}/pack")] {
            let candidate = tree.join(&rel).join("pack.yaml");
            searched.push(candidate.clone());
            if is_regular(&candidate) {
                found.push(rel);
                break;
            }
        }
    }
    match found.len() {
        1 => {
            let rel = found.remove(0);
            Ok(Located {
                dir: tree.join(&rel),
                rel,
            })
        }
        0 => Err(Error::PackYamlMissing {
            origin: origin.to_owned(),
            searched: searched
                .iter()
                .map(|p| {
                    p.strip_prefix(tree)
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|_| p.clone())
                })
                .collect(),
        }),
        _ => {
            Err(Error::InvalidPack(format!(
            "{origin}: ambiguous pack location: pack.yaml found in {}; a source must hold one pack",
            found.iter().map(|f| format!("`{f}/`")).collect::<Vec<_>>().join(" and ")
        )))
        }
    }
}

/// A regular file, not a symlink (a pack.yaml behind a link could name another pack's file).
fn is_regular(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.is_file())
        .unwrap_or(false)
}
