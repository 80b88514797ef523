//! Which indices are searched, in which order, and which entry of an index a reference picks.

use crate::config::{IndexConfig, RegistryConfig};
use crate::error::{Error, Result};
use crate::model::pack_ref::PackRef;
use crate::source::VersionSpec;
use crate::util::redact::redact_url;

use super::index::{Index, Summary};

/// The name an index is known by: its config `name`, else its (redacted) URL.
pub fn index_name(config: &IndexConfig) -> String {
    config
        .name
        .clone()
        .unwrap_or_else(|| redact_url(&config.url))
}

/// The enabled indices in search order: lower priority first, ties in config order. `pinned`
/// (`index/name` or `--registry`) keeps only the index of that name.
pub fn search_order<'a>(
    registry: &'a RegistryConfig,
    pinned: Option<&str>,
) -> Result<Vec<&'a IndexConfig>> {
    if !registry.enabled {
        return Err(Error::NoRegistry { disabled: true });
    }
    let mut order: Vec<&IndexConfig> = registry.indices.iter().filter(|i| i.enabled).collect();
    // A stable sort, so equal priorities keep the order of the config file.
    order.sort_by_key(|i| i.priority);
    if let Some(name) = pinned {
        let known: Vec<String> = registry.indices.iter().map(index_name).collect();
        order.retain(|i| index_name(i) == name);
        if order.is_empty() {
            let disabled = registry
                .indices
                .iter()
                .any(|i| !i.enabled && index_name(i) == name);
            return Err(match disabled {
                true => Error::Usage(format!("index `{name}` is disabled in the config")),
                false => Error::UnknownIndex {
                    name: name.to_owned(),
                    configured: known,
                },
            });
        }
    }
    if order.is_empty() {
        return Err(Error::NoRegistry { disabled: false });
    }
    Ok(order)
}

/// The highest version of `pack_ref` in `index` that `spec` accepts.
pub fn best<'a>(index: &'a Index, pack_ref: &str, spec: &VersionSpec) -> Option<Summary<'a>> {
    index
        .versions_of(pack_ref)
        .filter(|e| spec.matches(&e.version))
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// What a search that found nothing saw: per index searched, the versions of the pack it has
/// (`None` when the index could not be read).
#[derive(Debug, Default)]
pub struct Misses {
    pub searched: Vec<(String, Option<Vec<semver::Version>>)>,
}

impl Misses {
    pub fn record(&mut self, index_name: String, index: Option<&Index>, pack_ref: &str) {
        let versions = index.map(|i| {
            let mut v: Vec<_> = i.versions_of(pack_ref).map(|e| e.version).collect();
            v.sort();
            v
        });
        self.searched.push((index_name, versions));
    }

    /// `IndexUnavailable` when no index could be read, else `NotFound` naming the pack, the
    /// requirement, the indices searched and the versions that exist.
    pub fn into_error(self, pack_ref: &PackRef, spec: &VersionSpec) -> Error {
        let names: Vec<&str> = self.searched.iter().map(|(n, _)| n.as_str()).collect();
        if self.searched.iter().all(|(_, v)| v.is_none()) {
            return Error::IndexUnavailable(format!(
                "could not read any of the indices searched for `{pack_ref}` ({}); see the warnings above",
                names.join(", ")
            ));
        }
        let existing: Vec<String> = self
            .searched
            .iter()
            .filter_map(|(n, v)| match v {
                Some(v) if !v.is_empty() => Some(format!(
                    "{n}: {}",
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                _ => None,
            })
            .collect();
        let wanted = match spec {
            VersionSpec::Latest => "any release version".to_owned(),
            other => format!("version {other}"),
        };
        let mut msg = format!(
            "pack `{pack_ref}` ({wanted}) not found in the indices searched: {}",
            names.join(", ")
        );
        if existing.is_empty() {
            msg.push_str("\n  no index has any version of it");
        } else {
            msg.push_str(&format!("\n  versions that exist: {}", existing.join("; ")));
        }
        let only_prereleases = !existing.is_empty()
            && *spec == VersionSpec::Latest
            && self
                .searched
                .iter()
                .flat_map(|(_, v)| v.iter().flatten())
                .all(|v| !v.pre.is_empty());
        Error::PackNotFound {
            pack_ref: pack_ref.clone(),
            detail: msg,
            only_prereleases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PackRef {
        PackRef::new("p").unwrap()
    }

    fn cfg(yaml: &str) -> RegistryConfig {
        crate::config::Config::from_yaml(yaml, "t")
            .unwrap()
            .pack_registry
    }

    fn index(versions: &[&str]) -> Index {
        let packs: Vec<String> = versions
            .iter()
            .map(|v| {
                format!(
                    r#"{{"ref":"p","version":"{v}","install_sources":[{{"type":"archive","url":"u"}}]}}"#
                )
            })
            .collect();
        let (index, warnings) = Index::parse(
            format!(r#"{{"packs":[{}]}}"#, packs.join(",")).as_bytes(),
            "t",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        index
    }

    fn spec(s: &str) -> VersionSpec {
        VersionSpec::parse(s).unwrap()
    }

    #[test]
    fn order_is_priority_then_config_order_and_skips_disabled() {
        let r = cfg("pack_registry:\n  indices:\n    - {url: a, name: a}\n    - {url: b, name: b, priority: 1}\n    - {url: c, name: c, priority: 1}\n    - {url: d, name: d, priority: 0, enabled: false}\n");
        let names: Vec<_> = search_order(&r, None)
            .unwrap()
            .into_iter()
            .map(index_name)
            .collect();
        assert_eq!(names, ["b", "c", "a"]);
        assert_eq!(search_order(&r, Some("a")).unwrap().len(), 1);
        assert!(search_order(&r, Some("d"))
            .unwrap_err()
            .to_string()
            .contains("disabled"));
        assert!(search_order(&r, Some("zz"))
            .unwrap_err()
            .to_string()
            .contains("configured: a, b, c, d"));
        let off = cfg("pack_registry:\n  enabled: false\n  indices: [{url: a}]\n");
        assert_eq!(search_order(&off, None).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn best_picks_the_highest_matching_version() {
        let i = index(&["1.0.0", "1.2.3", "1.2.9", "1.10.0", "2.0.0", "3.0.0-rc.1"]);
        let v = |s: &str| best(&i, "p", &spec(s)).map(|e| e.version.to_string());
        assert_eq!(v("latest").as_deref(), Some("2.0.0"));
        assert_eq!(v("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(v("^1").as_deref(), Some("1.10.0"));
        assert_eq!(v("~1.2").as_deref(), Some("1.2.9"));
        assert_eq!(v(">=1.1,<1.3").as_deref(), Some("1.2.9"));
        assert_eq!(v("3.0.0-rc.1").as_deref(), Some("3.0.0-rc.1"));
        assert_eq!(v("4"), None);
        assert!(best(&i, "other", &VersionSpec::Latest).is_none());
    }

    #[test]
    fn misses_name_everything_needed() {
        let i = index(&["1.0.0", "2.0.0-rc.1"]);
        let mut m = Misses::default();
        m.record("main".into(), Some(&i), "p");
        m.record("down".into(), None, "p");
        let e = m.into_error(&p(), &spec("^3"));
        assert_eq!(e.exit_code(), 4);
        let msg = e.to_string();
        for needle in ["`p`", "^3", "main, down", "main: 1.0.0, 2.0.0-rc.1"] {
            assert!(msg.contains(needle), "{needle} in {msg}");
        }
        let pre = index(&["2.0.0-rc.1"]);
        let mut m = Misses::default();
        m.record("main".into(), Some(&pre), "p");
        assert!(matches!(
            m.into_error(&p(), &VersionSpec::Latest),
            Error::PackNotFound {
                only_prereleases: true,
                ..
            }
        ));
        let mut m = Misses::default();
        m.record("down".into(), None, "p");
        assert_eq!(
            m.into_error(&p(), &VersionSpec::Latest).code(),
            "index_unavailable"
        );
    }
}
