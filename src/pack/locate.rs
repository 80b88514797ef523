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

/// The directory of a pack inside a repository or archive of many (`--subdir`, an index
/// source's `subdir`): relative, `/`-separated, with no `.`, `..` or empty component, so it
/// can only name a directory inside the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subdir(String);

impl Subdir {
    /// Reads `packs/core` (a trailing `/` is dropped); anything that could leave the source
    /// is refused, saying why.
    pub fn parse(s: &str) -> std::result::Result<Subdir, String> {
        let trimmed = s.trim_end_matches('/');
        let bad = trimmed.is_empty()
            || trimmed.starts_with('/')
            || trimmed.contains('\\')
            || trimmed.split('/').any(|c| matches!(c, "" | "." | ".."));
        match bad {
            true => Err(format!(
                "subdir `{s}` must be a relative path inside the source (like packs/core), without `.`, `..` or empty parts"
            )),
            false => Ok(Subdir(trimmed.to_owned())),
        }
    }

    /// The path, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Subdir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Subdir {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Subdir, String> {
        Subdir::parse(s)
    }
}

/// Finds the pack root in `subdir` of `tree` (the whole tree when none); the root's `rel`
/// stays relative to `tree`.
pub fn locate_in(tree: &Path, subdir: Option<&Subdir>, origin: &str) -> Result<Located> {
    let Some(subdir) = subdir else {
        return locate(tree, origin);
    };
    // An archive of a repository wraps it in one folder (`repo-v1.2.0/`), named after the
    // release: the subdir is also looked for inside it.
    let rel = match real_dir(tree, &subdir.0) {
        true => subdir.0.clone(),
        false => match single_dir(tree) {
            Some(top) if real_dir(tree, &format!("{top}/{subdir}")) => format!("{top}/{subdir}"),
            _ => {
                return Err(Error::NotFound(format!(
                "{origin}: no directory `{subdir}` in it (--subdir, or the index source's subdir)"
            )))
            }
        },
    };
    let found = locate(&tree.join(&rel), &format!("{origin} (subdir {subdir})"))?;
    Ok(Located {
        rel: match found.rel.is_empty() {
            true => rel,
            false => format!("{rel}/{}", found.rel),
        },
        dir: found.dir,
    })
}

/// `rel` under `tree` is a directory, and so is every component on the way: a link could
/// lead elsewhere in the tree.
fn real_dir(tree: &Path, rel: &str) -> bool {
    let mut dir = tree.to_owned();
    rel.split('/').all(|part| {
        dir.push(part);
        std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
    })
}

/// The name of the only entry of `tree`, when it is a directory.
fn single_dir(tree: &Path) -> Option<String> {
    let mut entries = std::fs::read_dir(tree).ok()?.filter_map(|e| e.ok());
    let only = entries.next()?;
    if entries.next().is_some() || !only.file_type().is_ok_and(|t| t.is_dir()) {
        return None;
    }
    only.file_name().into_string().ok()
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
            deeper: deeper_packs(tree),
            searched: searched
                .iter()
                .map(|p| {
                    p.strip_prefix(tree)
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|_| p.clone())
                })
                .collect(),
        }),
        _ => Err(Error::AmbiguousPackLocation {
            origin: origin.to_owned(),
            found,
        }),
    }
}

/// A few of the [`pack_dirs`] below the first level, for a message.
fn deeper_packs(tree: &Path) -> Vec<String> {
    let mut found = pack_dirs(tree);
    found.retain(|d| d.contains('/'));
    found.truncate(5);
    found
}

/// Every directory at most four levels down that holds a pack.yaml (a regular file), as a
/// path relative to `tree`, sorted: where the packs of a repository of many are.
pub fn pack_dirs(tree: &Path) -> Vec<String> {
    let mut found: Vec<String> = walkdir::WalkDir::new(tree)
        .max_depth(4)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() == "pack.yaml" && e.file_type().is_file())
        .filter_map(|e| {
            let dir = e.path().parent()?.strip_prefix(tree).ok()?;
            Some(dir.to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    found
}

/// A regular file, not a symlink (a pack.yaml behind a link could name another pack's file).
fn is_regular(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.is_file())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdirs_stay_inside_the_source() {
        assert_eq!(Subdir::parse("packs/core/").unwrap().as_str(), "packs/core");
        for bad in ["", "/", "/etc", "../x", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(Subdir::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_root_is_found_inside_the_subdir_and_named_from_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let core = tmp.path().join("packs/core");
        std::fs::create_dir_all(core.join("pack")).unwrap();
        std::fs::write(core.join("pack/pack.yaml"), "ref: core\n").unwrap();
        std::fs::write(tmp.path().join("pack.yaml"), "ref: root\n").unwrap();
        let sub = Subdir::parse("packs/core").unwrap();
        let found = locate_in(tmp.path(), Some(&sub), "src").unwrap();
        assert_eq!(found.rel, "packs/core/pack");
        assert_eq!(found.dir, core.join("pack"));
        std::os::unix::fs::symlink("packs", tmp.path().join("link")).unwrap();
        let through_link = Subdir::parse("link/core").unwrap();
        let err = locate_in(tmp.path(), Some(&through_link), "src").unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
    }
}
